"""``eosdyn plot RUN... --kind K --out FILE``: figures from saved runs."""

from __future__ import annotations

import click

from ..plot.run import KINDS
from .simulate import _window


@click.command()
@click.argument("runs", nargs=-1, required=True, type=click.Path())
@click.option("--kind", type=click.Choice(KINDS), default="timeseries", show_default=True,
              help="timeseries (Fig. 1), indicator (Fig. 2), spectrum (Fig. 3a), decomposition "
              "(Fig. 3b), portrait (phase portraits), compare (several runs overlaid), edge (each run's "
              "relevant sharpness against its optimizer's edge).")
@click.option("--out", required=True, type=click.Path(), help="Figure file: PATH.png, .pdf or .svg.")
@click.option("--window", help="Only steps START:STOP.")
@click.option("--a-norm", type=click.Choice(["panel", "twin", "off"]),
              help="timeseries: ||A||^2 in its own panel (default), on a twin axis, or not at all.")
@click.option("--linear", is_flag=True, help="spectrum: linear instead of log eigenvalue axis.")
@click.option("--time", "time_axis", is_flag=True,
              help="compare: x axis eta*t (flow time), aligning runs with different eta.")
@click.option("--label", "labels", multiple=True, help="compare, edge: one label per run, in order.")
def plot(runs, kind, out, window, a_norm, linear, time_axis, labels):
    """Draw a figure of saved run(s) RUN (.nc or .zarr written by `eosdyn simulate --out`)."""
    from ..io import files as io
    from ..plot import run as plotting

    options = {}
    if a_norm is not None:
        _only(kind, "timeseries", "--a-norm")
        options["a_norm"] = a_norm
    if linear:
        _only(kind, "spectrum", "--linear")
        options["log"] = False
    if time_axis:
        _only(kind, "compare", "--time")
        options.update(time=time_axis)
    if labels:
        if kind not in ("compare", "edge"):
            raise click.UsageError("--label applies to --kind compare or edge only")
        options.update(labels=labels)
    plotting.check_path(out, option="--out")
    datasets = [io.open_run(r) for r in runs]
    result = plotting.plot_run(datasets, out, kind=kind, window=_window(window), **options)
    click.echo(f"plotted {result.path} ({kind}, {len(datasets)} run{'s' * (len(datasets) > 1)})")


def _only(kind: str, wanted: str, option: str) -> None:
    if kind != wanted:
        raise click.UsageError(f"{option} applies to --kind {wanted} only")
