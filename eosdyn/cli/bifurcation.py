"""``eosdyn bifurcation`` (orbit diagram over a parameter) and ``eosdyn heatmap`` (phase diagram)."""

from __future__ import annotations

import math
import sys

import click

from ._output import FIGURE_HELP, OVERWRITE_HELP, echo_json
from ._scanopts import base_options, base_params


@click.command()
@click.option("--param", default="eta", show_default=True, help="The parameter varied (eta, m, ...).")
@click.option("--range", "values", required=True,
              help="Its values: START:STOP:NUM[:log] or a,b,c, e.g. 0.002:0.2:512:log.")
@base_options
@click.option("--mode", type=click.Choice(["fresh", "continuation"]), default="fresh",
              show_default=True, help="fresh: every value from the initial state; continuation: "
              "from the previous value's final state.")
@click.option("--observable", type=click.Choice(["eta_sharpness", "loss", "a_norm2", "Dv1"]),
              default="eta_sharpness", show_default=True, help="What the orbit diagram shows.")
@click.option("--keep", type=int, default=200, show_default=True, help="Orbit length per value.")
@click.option("--transient", type=int, help="First step of the Lyapunov window [default: steps/2].")
@click.option("--period-max", type=int, default=64, show_default=True)
@click.option("--period-tol", type=float, default=1e-6, show_default=True,
              help="Relative tolerance of the period test.")
@click.option("--loss-tol", type=float, default=0.0, show_default=True,
              help="Stop a value as converged below this reducible loss (0: run all steps).")
@click.option("--log-x/--linear-x", default=None, help="Parameter axis scale [default: log for :log ranges].")
@click.option("--xlim", help="With --plot: only parameter values START:STOP.")
@click.option("--workers", type=int, help="Parallel workers [default: all cores].")
@click.option("--backend", type=click.Choice(["auto", "serial", "threads", "processes", "prange"]),
              default="auto", show_default=True)
@click.option("--scheduler", help="Run on Dask: a scheduler ADDRESS, or 'local'.")
@click.option("--out", type=click.Path(), help="Save the diagram's data: PATH.nc or PATH.zarr.")
@click.option("--overwrite", is_flag=True, help=OVERWRITE_HELP)
@click.option("--plot", type=click.Path(), help=f"Draw the diagram: PATH.png/.pdf/.svg {FIGURE_HELP}.")
@click.option("--json", "as_json", is_flag=True, help="Print the regimes as JSON (strict: null for NaN).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def bifurcation(param, values, scenario, extra, mode, observable, keep, transient, period_max,
                period_tol, loss_tol, log_x, xlim, workers, backend, scheduler, out, overwrite, plot, as_json,
                quiet, **options):
    """Orbit diagram of the GD map over a parameter, with period and Lyapunov exponent.

    Example: eosdyn bifurcation --param eta --range 0.002:0.2:512:log --plot bif.png
    """
    from ..analysis.bifurcation import bifurcation as run
    from ..analysis.bifurcation import regimes
    from ..io import files as io
    from ..plot.scan import check_figure_path, plot_bifurcation

    base, _ = base_params(scenario, extra, options)
    lim = _xlim(xlim)
    if out is not None:
        io.check_target(out, "bifurcation", overwrite, name="out")
    if plot is not None:
        check_figure_path(plot, name="plot")
    ds = run(base, param, values, keep=keep, transient=transient, mode=mode, observable=observable,
             period_max=period_max, period_tol=period_tol, loss_tol=loss_tol, backend=backend,
             workers=workers, scheduler=scheduler, progress=not quiet)
    if out is not None:
        io.save(ds, out, overwrite=overwrite)
    if plot is not None:
        plot_bifurcation(ds, plot, log_x=log_x, xlim=lim)
    table = regimes(ds)
    if len(table) > 25:  # many short alternations: merge "aperiodic" with "not settled"
        table = regimes(ds, merge_unsettled=True)
    if as_json:
        echo_json({"wall_time": ds.attrs["wall_time"], "regimes": table})
        return
    _print(ds, table, out, plot)


bifurcation.param_aliases = {"path": "out"}


def _xlim(text):
    """``--xlim START:STOP`` as two finite floats with START < STOP (None when not given)."""
    if text is None:
        return None
    try:
        lim = tuple(float(v) for v in text.split(":"))
    except ValueError:
        lim = ()
    if len(lim) != 2 or not all(map(math.isfinite, lim)) or not lim[0] < lim[1]:
        raise click.BadParameter(f"must be START:STOP, finite numbers with START < STOP, got {text!r}",
                                 param_hint="--xlim")
    return lim


def _print(ds, table, out, plot):
    from rich.console import Console
    from rich.table import Table

    c = Console(file=sys.stdout, highlight=False)
    dim = ds.attrs["param"]
    t = Table(title=f"orbit diagram over {dim}: {ds.sizes[dim]} values, {ds.attrs['steps']:,} steps "
              f"each, {ds.attrs['wall_time']:.1f} s")
    for col in (f"{dim} from", "to", "values", "late orbit", "Lyapunov exp. (min, max)"):
        t.add_column(col, justify="right")
    for r in table:
        t.add_row(f"{r['start']:.4g}", f"{r['stop']:.4g}", str(r["count"]), r["regime"],
                  f"{r['lyapunov_min']:.2e}, {r['lyapunov_max']:.2e}")
    c.print(t)
    for path, what in ((out, "saved"), (plot, "plotted")):
        if path:
            c.print(f"{what} {path}")


@click.command()
@click.argument("store", type=click.Path())
@click.option("--out", required=True, type=click.Path(), help=f"Figure: PATH.png/.pdf/.svg {FIGURE_HELP}.")
@click.option("--x", "x", help="Scanned dimension on the x axis [default: the first of size > 1].")
@click.option("--y", "y", help="Scanned dimension on the y axis [default: the next one].")
def heatmap(store, out, x, y):
    """Heatmaps / phase diagram of a 2-D scan (SCAN.zarr): first EoS step, final eta*Lambda,
    EoS cycles and phase, with the lazy / catapult / EoS / divergent regions outlined."""
    from ..analysis.scan import open_scan
    from ..plot.scan import plot_heatmap

    ds = open_scan(store).load()
    plot_heatmap(ds, out, x=x, y=y)
    click.echo(f"plotted {out}")


heatmap.param_aliases = {"path": "out"}
