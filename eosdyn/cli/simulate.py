"""``eosdyn simulate``: one run, a summary table, optional file and plot."""

from __future__ import annotations

import sys

import click

from ._options import parameter_options, run_params, scenario_option
from ._output import FIGURE_HELP, OVERWRITE_HELP, echo_json, parse_window, prefetch


@click.command()
@parameter_options()
@scenario_option()
@click.option("--out", type=click.Path(), help="Save the run: PATH.nc (netCDF) or PATH.zarr.")
@click.option("--overwrite", is_flag=True, help=OVERWRITE_HELP)
@click.option("--plot", type=click.Path(), help=f"Draw Figure-1-style plot: PATH.png/.pdf/.svg {FIGURE_HELP}.")
@click.option("--window", help="With --plot: only steps START:STOP.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON (strict: null for NaN).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def simulate(scenario, out, overwrite, plot, window, as_json, quiet, **options):
    """Run GD on the two-layer linear network and print a summary.

    With no options this runs the default scenario: progressive sharpening up to 2/eta,
    then the edge of stability (phases I-IV recurring), at m = 4096, eta = 0.01.
    """
    from .. import api
    from ..analysis import summary

    params = run_params(options, scenario)
    if out is not None:
        from ..io import files as io

        io.check_target(out, "run", overwrite, name="out")
    if plot is not None:
        from ..plot.common import check_path

        check_path(plot, name="plot")
    win = parse_window(window)
    prefetch()
    ds = api.simulate(params, progress=not quiet)
    info = summary.summarize(ds)
    if out is not None:
        io.save(ds, out, overwrite=overwrite)
    if plot is not None:
        from ..plot import run as plotting

        plotting.plot_timeseries(ds, plot, window=win)
    if as_json:
        echo_json(info)
    else:
        _print_summary(info, out, plot)


#: library parameter names that this command spells differently
simulate.param_aliases = {"path": "out"}


def _print_summary(info, out, plot) -> None:
    from rich.console import Console

    console = Console(file=sys.stdout, highlight=False)
    console.print(info)
    if info["status"] == "diverged":
        console.print(f"[bold red]diverged:[/] {info['message']}")
    if out:
        console.print(f"saved {out}")
    if plot:
        console.print(f"plotted {plot}")
