"""``eosdyn plot FILE... --out FIG``: figures from any saved eosdyn output."""

from __future__ import annotations

import click

from ._output import FIGURE_HELP, parse_window

#: the run figures (eosdyn.plot.common.KINDS; listed here so that --help needs no plotting stack)
KINDS = ("timeseries", "indicator", "spectrum", "decomposition", "portrait", "compare", "edge")


@click.command()
@click.argument("runs", nargs=-1, required=True, type=click.Path())
@click.option("--kind", type=click.Choice(KINDS),
              help="Runs: timeseries (Fig. 1), indicator (Fig. 2), spectrum (Fig. 3a), decomposition "
              "(Fig. 3b), portrait (phase portraits), compare (several runs overlaid), edge (each run's relevant "
              "sharpness against its optimizer's edge). [default: timeseries]")
@click.option("--out", required=True, type=click.Path(), help=f"Figure file: PATH.png, .pdf or .svg {FIGURE_HELP}.")
@click.option("--window", help="Runs: only steps START:STOP.")
@click.option("--a-norm", type=click.Choice(["panel", "twin", "off"]),
              help="timeseries: ||A||^2 in its own panel (default), on a twin axis, or not at all.")
@click.option("--linear", is_flag=True, help="spectrum: linear instead of log eigenvalue axis.")
@click.option("--time", "time_axis", is_flag=True,
              help="compare: x axis eta*t (flow time), aligning runs with different eta.")
@click.option("--label", "labels", multiple=True, help="compare, edge: one label per run, in order.")
def plot(runs, kind, out, window, a_norm, linear, time_axis, labels):
    """Draw a figure of saved eosdyn output(s) FILE (.nc or .zarr).

    Runs (`eosdyn simulate --out`) are drawn as --kind says; a bifurcation file
    (`eosdyn bifurcation --out`) as its orbit diagram, a scan store (`eosdyn scan --out`) as
    heatmaps (two scanned dimensions), a compare file (`eosdyn compare --out`) as the comparison
    of GD and the flow.
    """
    from ..io import files as io
    from ..plot import plot_output
    from ..plot.common import check_path

    check_path(out, name="out")
    datasets = [io.open_output(r, load=False) for r in runs]
    kinds = [d.attrs["eosdyn_kind"] for d in datasets]
    options = {}
    if a_norm is not None:
        _only(kind or "timeseries", "timeseries", "--a-norm")
        options["a_norm"] = a_norm
    if linear:
        _only(kind, "spectrum", "--linear")
        options["log"] = False
    if time_axis:
        _only(kind, "compare", "--time")
        options["time"] = True
    if labels:
        if kind not in ("compare", "edge"):
            raise click.UsageError("--label applies to --kind compare or edge only")
        options["labels"] = labels
    if any(k != "run" for k in kinds) and (kind or window or options):
        raise click.UsageError(f"--kind, --window and the run options apply to runs; {runs[0]} holds an "
                               f"eosdyn {kinds[0]}, drawn one way")
    path = plot_output(datasets, out, kind=kind, window=parse_window(window), **options)
    what = f"{kind or 'timeseries'}, {len(datasets)} run{'s' * (len(datasets) > 1)}" if kinds[0] == "run" \
        else f"{kinds[0]}"
    click.echo(f"plotted {path} ({what})")


plot.param_aliases = {"path": "out"}


def _only(kind: str, wanted: str, option: str) -> None:
    if kind != wanted:
        raise click.UsageError(f"{option} applies to --kind {wanted} only")
