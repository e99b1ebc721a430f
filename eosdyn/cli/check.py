"""``eosdyn check``: the paper's assumptions and results checked on a run, as a table."""

from __future__ import annotations

import sys

import click

from ._options import given, parameter_options, run_params, scenario_option
from ._output import OVERWRITE_HELP, echo_json

TABLE_WIDTH = 170  # when not writing to a terminal


@click.command()
@click.argument("run", required=False, type=click.Path(exists=True))
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--strict", is_flag=True, help="Exit with status 1 if any statement fails.")
@click.option("--eps2-max", type=float, default=1e-2, show_default=True,
              help="Assumption 3.5(iii): largest eps_2 = 1 - <v1(t), v1(t+1)> counted as small.")
@click.option("--rho", type=float, default=None,
              help="Theorem 2: margin rho of the threshold (2/eta)(1 + rho)  [default: the smallest "
                   "rho for which Theorem 2(2) holds on the run]")
@click.option("--r-tol", type=float, default=0.1, show_default=True,
              help="Lemma 3.5: ||R - R'|| <= r_tol ||R|| counts as close.")
@click.option("--hessian-rtol", type=float, default=0.05, show_default=True,
              help="Appendix F: |lambda_max(Hessian)/Lambda - 1| <= this counts as equal.")
@click.option("--flow-tol", type=float, default=0.01, show_default=True,
              help="Assumption 3.3: ||D_GD - D_flow|| <= flow_tol ||D_flow|| before 2/eta.")
@click.option("--eps-d", type=float, default=1e-2, show_default=True,
              help="Theorem 1: t0 is also reached when ||D||^2 <= eps_d ||Y||^2.")
@click.option("--max-replay", type=int, default=200_000, show_default=True,
              help="Replay (for per-step statements) at most this many steps.")
@click.option("--no-flow", is_flag=True, help="Skip the gradient-flow integration (Assumption 3.3).")
@click.option("--show", type=click.IntRange(0), default=5, show_default=True,
              help="Failing steps listed per statement (all are counted).")
@parameter_options()
@scenario_option()
@click.option("--out", type=click.Path(), help="Without RUN: save the run it simulates (.nc/.zarr).")
@click.option("--overwrite", is_flag=True, help=OVERWRITE_HELP)
@click.option("--quiet", is_flag=True, help="No progress bars.")
def check(run, as_json, strict, eps2_max, rho, r_tol, hessian_rtol, flow_tol, eps_d, max_replay,
          no_flow, show, scenario, out, overwrite, quiet, **options):
    """Check the paper's statements on RUN (a .nc/.zarr file from `eosdyn simulate --out`).

    Without RUN, simulates first: the default scenario, or the one given by the run options
    (the same as `eosdyn simulate`'s). Prints one row per statement -- Assumptions 3.1, 3.3,
    3.5(iii), 3.7, 4.1, 4.2; Lemmas 3.2, 3.3, 3.5; Propositions 3.1, 3.2; Section 3.4;
    Theorems 1, 2(1), 2(2); Appendix F (Hessian vs NTK sharpness) -- with the verdict, the
    measured figure and the steps where it fails. Exit status 0 (1 with --strict if a
    statement fails).
    """
    from .. import api
    from ..analysis.check import CheckOptions, run_checks
    from ..errors import EosdynError
    from ..io import files as io
    from ..progress import progress_bar

    opts = CheckOptions(eps2_max=eps2_max, rho=rho, r_tol=r_tol, hessian_rtol=hessian_rtol,
                        flow_tol=flow_tol, eps_D=eps_d, max_replay=max_replay, flow=not no_flow,
                        show=show)
    options = given(options)
    if run is not None and (options or scenario):
        names = [*options, *(["scenario"] if scenario else [])]
        raise EosdynError(f"give a RUN file or run options ({', '.join('--' + k.replace('_', '-') for k in names)}), "
                          "not both")
    if run is not None and out is not None:
        raise EosdynError("--out saves a simulated run; with a RUN file there is nothing to save")
    if run is not None:
        kind = io.kind_of(run)
        if kind is not None and kind != "run":
            raise EosdynError(f"RUN {run!r} holds an eosdyn {kind}, not a run: eosdyn check reads the runs of "
                              f"`eosdyn simulate --out`; `eosdyn plot {run} --out FIG.png` draws this file")
        ds = io.open_run(run)
    else:
        params = run_params(options, scenario)
        if out is not None:
            io.check_target(out, "run", overwrite, name="out")
        ds = api.simulate(params, progress=not quiet and not as_json)
        if out is not None:
            io.save(ds, out, overwrite=overwrite)
    last = int(ds["step"].values[-1]) if "step" in ds.coords and ds.sizes.get("step") else 0
    total = min(last, max_replay) + 1
    with progress_bar(total, enabled=not quiet and not as_json, label="replay", unit="steps") as bar:
        report = run_checks(ds, opts, progress=bar)
    if as_json:
        echo_json(report.to_dict(show=None))
    else:
        print_report(report, show)
    if strict and any(r.holds is False for r in report.rows):
        sys.exit(1)


def print_report(report, show: int) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console(file=sys.stdout, highlight=False)
    if not console.is_terminal:
        console.width = TABLE_WIDTH
    r = report.run
    title = (f"eosdyn check: {r['engine']}, m={r['m']}, eta={r['eta']:g}, n={r['n']}, r={r['rank']}, "
             f"{r['steps']} steps ({r['status']})")
    table = Table(title=title, show_lines=False)
    table.add_column("statement", ratio=4)
    table.add_column("verdict", no_wrap=True)
    table.add_column("measured", ratio=5)
    table.add_column("failing steps", ratio=2)
    table.add_column("from", no_wrap=True)
    colour = {True: "green", False: "red", None: "dim"}
    for row in report.rows:
        steps = ", ".join(str(int(s)) for s in row.failing[:show])
        if row.failing.size > show:
            steps += ", …"
        failing = f"{row.failing.size}: {steps}" if row.failing.size else ""
        table.add_row(escape(row.statement), f"[{colour[row.holds]}]{row.verdict}[/]", escape(row.measured),
                      failing, row.source)
    console.print(table)
    words = Table(title="What each row checks: the paper's wording and eosdyn's reading", show_lines=True)
    words.add_column("statement", ratio=2)
    words.add_column("the paper", ratio=5)
    words.add_column("eosdyn's reading", ratio=5)
    for row in report.rows:
        words.add_row(escape(row.statement.split(":")[0]), escape(row.paper), escape(row.reading))
    console.print(words)
    for note in report.notes:
        console.print(f"[dim]note: {note}[/]")


check.param_aliases = {"path": "out"}
