"""``eosdyn compare``: GD against its gradient flow from the same start."""

from __future__ import annotations

import sys

import click

from ._options import parameter_options, run_params, scenario_option
from ._output import FIGURE_HELP, OVERWRITE_HELP, echo_json


@click.command()
@click.option("--against", type=click.Choice(["flow", "central-flow", "stable-flow"]), default="flow",
              show_default=True,
              help="The flow GD is compared with: the gradient flow (where they part), or an "
              "edge-of-stability theory (GD's moving averages vs its predictions).")
@click.option("--avg-window", type=click.IntRange(min=1), default=None,
              help="--against central-flow/stable-flow: moving-average window in steps "
              "[default: max(5 EoS cycles, 201)].")
@click.option("--tol", type=float, default=0.01, show_default=True,
              help="--against flow: parted when ||D_GD - D_flow|| > tol ||D_flow||.")
@parameter_options(exclude=("hessian",))
@scenario_option()
@click.option("--out", type=click.Path(), help="Save the comparison (PATH.nc or PATH.zarr).")
@click.option("--overwrite", is_flag=True, help=OVERWRITE_HELP)
@click.option("--plot", type=click.Path(),
              help="Plot the comparison (--against flow: eta*Lambda, loss, distance; else loss, eta*Lambda, "
              f"||A||^2 and errors): PATH.png/.pdf/.svg {FIGURE_HELP}.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON (strict: null for NaN).")
@click.option("--quiet", is_flag=True, help="No progress bars.")
def compare(against, avg_window, tol, scenario, out, overwrite, plot, as_json, quiet, **options):
    """Run GD and a flow from the same start and compare them.

    GD uses --engine (default reduced); the flow --method/--rtol/--atol. The flow is sampled at
    flow time t*eta for GD step t. With --against flow (default): the first 2/eta crossings of
    both, the distance ||D_GD - D_flow|| / ||D_flow|| (largest before GD's crossing, at the
    crossing, at the end) and the parting step (first step above --tol), expected near the first
    crossing. With --against central-flow or stable-flow: GD's loss, eta*Lambda and ||A||^2,
    averaged over a moving window of several EoS cycles, against the theory's predictions; the
    relative errors over the EoS phase.
    """
    from ..analysis.compare import compare as run_compare
    from ..analysis.compare import plot_compare, summary
    from ..io import files as io
    from ..plot.common import check_path

    params = run_params(options, scenario)
    if out is not None:
        io.check_target(out, "compare", overwrite, name="out")
    if plot is not None:
        check_path(plot, name="plot")
    if against != "flow":
        from .compare_edge import run_edge

        run_edge(params, against, avg_window, out, overwrite, plot, as_json, quiet)
        return
    cmp = run_compare(params, tol=tol, progress=not quiet and not as_json)
    if out is not None:
        io.save(cmp, out, overwrite=overwrite)
    if plot is not None:
        plot_compare(cmp, plot)
    info = summary(cmp)
    if as_json:
        echo_json(info)
        return
    _print(info, out, plot)


def _print(info, out, plot) -> None:
    from rich.console import Console
    from rich.table import Table

    def g(v, fmt="{:.4g}"):
        return "never" if v is None else fmt.format(v)

    console = Console(file=sys.stdout, highlight=False)
    table = Table(title=f"GD ({info['gd_engine']}) vs gradient flow ({info['flow_method']}), "
                        f"m={info['m']}, eta={info['eta']:g}", show_header=False)
    table.add_column("quantity")
    table.add_column("value", justify="right")
    rows = [
        ("first step with Lambda > 2/eta: GD", g(info["first_cross_gd"], "{}")),
        ("... flow (time t, flow time t*eta)", g(info["first_cross_flow"], "{:.6g}")),
        (f"parting step (distance > {info['tol']:g})", g(info["parting_step"], "{}")),
        ("max distance before GD's crossing", g(info["max_rel_distance_before_cross"])),
        ("distance at GD's crossing", g(info["rel_distance_at_first_cross"])),
        ("distance at the end", g(info["final_rel_distance"])),
        ("final loss: GD / flow", f"{info['final_loss_gd']:.4g} / {info['final_loss_flow']:.4g}"),
        ("status: GD / flow", f"{info['gd_status']} / {info['flow_status']}"),
        ("wall time: GD / flow", f"{info['wall_time_gd']:.2f} s / {info['wall_time_flow']:.2f} s"),
    ]
    for row in rows:
        table.add_row(*row)
    console.print(table)
    console.print("distance = ||D_GD - D_flow|| / ||D_flow|| (function space, exact)")
    if out:
        console.print(f"saved {out}")
    if plot:
        console.print(f"plotted {plot}")


compare.param_aliases = {"path": "out", "window": "avg_window"}
