"""``eosdyn simulate``: one run, a summary table, optional file and plot."""

from __future__ import annotations

import json
import sys

import click

from .data_info import data_options


def _window(value):
    """``--window START:STOP`` as a pair of ints (None when not given)."""
    if value is None:
        return None
    try:
        a, b = (int(v) for v in value.split(":"))
    except ValueError:
        raise click.BadParameter("must be START:STOP (integers)", param_hint="--window") from None
    return a, b


def _floats(value, name):
    if value is None:
        return None
    try:
        return tuple(float(v) for v in value.split(","))
    except ValueError:
        raise click.BadParameter("must be comma-separated numbers", param_hint=name) from None


@click.command()
@click.option("--m", type=int, help="Width of the hidden layer (>= 1). [default: 4096]")
@click.option("--eta", type=float, help="Learning rate eta (> 0). [default: 0.01]")
@click.option("--steps", type=int, help="Number of GD steps (>= 1). [default: 100000]")
@click.option(
    "--engine", type=click.Choice(["reduced", "first-order", "full", "flow"]),
    help="reduced: exact GD on m-independent statistics, O(r^2)/step (default, fastest); "
    "first-order: the paper's Assumption 3.2 map (eta^2 terms dropped); "
    "full: exact GD on the parameters A, W, O(m d)/step; "
    "flow: the gradient flow (scipy.integrate), sampled at flow time t*eta for step t.",
)
@click.option("--method", type=click.Choice(["RK45", "DOP853", "Radau", "LSODA"]),
              help="Flow engine: scipy.integrate solver; the implicit Radau/LSODA get the exact "
              "Jacobian and suit stiff data (spread spectrum of X^T X). [default: Radau]")
@click.option("--rtol", type=float, help="Flow engine: relative tolerance. [default: 1e-10]")
@click.option("--atol", type=float, help="Flow engine: absolute tolerance. [default: 1e-12]")
@click.option("--hessian", is_flag=True, default=None,
              help="Also record sharpness_hessian = lambda_max of the loss Hessian (exact; "
              "Lanczos for engine full) at every recorded step.")
@click.option("--seed", type=int, help="Seed of the initialisation and synthetic data. [default: 0]")
@click.option("--n", type=int, help="Synthetic data: number of samples. [default: 100]")
@click.option("--rank", type=int, help="Synthetic data: rank r of X^T X. [default: 5]")
@click.option("--lambda-max", type=float, help="Synthetic data: largest eigenvalue of X^T X.")
@click.option("--lambda-min", type=float, help="Synthetic data: smallest nonzero eigenvalue.")
@click.option("--eigenvalues", help="Synthetic data: explicit eigenvalues of X^T X, comma-separated.")
@click.option("--label-fraction", type=float, help="Synthetic data: ||z||^2/n in [0, 1].")
@click.option("--d", type=int, help="Synthetic data: ambient dimension d >= rank.")
@click.option("--init-scale", type=float, help="Std of the Gaussian init of A and W. [default: 0.01]")
@click.option("--sigma-a", type=float, help="Std of A's init (overrides --init-scale).")
@click.option("--sigma-w", type=float, help="Std of W's init (overrides --init-scale).")
@click.option(
    "--init-sampler", type=click.Choice(["auto", "parameters", "wishart"]),
    help="How the reduced engines draw their initial statistics: materialise A, W "
    "(identical to engine full for the same seed) or sample the Wishart law in O(r^2) "
    "(any m). auto: materialise when m*d <= 5e7.",
)
@click.option("--data", type=click.Path(dir_okay=False),
              help=".npz with X (d, n) and Y (n,), .csv (one sample per row, label last), or a "
              "real dataset: digits, cifar10:PATH, mnist:PATH (nothing is downloaded).")
@data_options
@click.option("--init", "init", type=click.Path(dir_okay=False),
              help=".npz with initial A (m,) and W (m, d).")
@click.option("--scenario", type=click.Path(dir_okay=False),
              help="TOML scenario file; options given here override its values.")
@click.option("--record-every", type=int,
              help="Record every k-th step (default 1 up to 2e5 steps, else steps/1e5).")
@click.option("--loss-tol", type=float, help="Stop as converged below this reducible loss.")
@click.option("--out", type=click.Path(), help="Save the run: PATH.nc (netCDF) or PATH.zarr.")
@click.option("--plot", type=click.Path(), help="Draw Figure-1-style plot: PATH.png/.pdf/.svg.")
@click.option("--window", help="With --plot: only steps START:STOP.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def simulate(scenario, out, plot, window, as_json, quiet, **options):
    """Run GD on the two-layer linear network and print a summary.

    With no options this runs the default scenario: progressive sharpening up to 2/eta,
    then the edge of stability (phases I-IV recurring), at m = 4096, eta = 0.01.
    """
    from .. import api
    from ..analysis import summary
    from ..io import files as io
    from ..model.params import make_params
    from ..model.scenario import load_scenario
    from ..plot import run as plotting

    options["eigenvalues"] = _floats(options["eigenvalues"], "--eigenvalues")
    given = {k: v for k, v in options.items() if v is not None}
    params = load_scenario(scenario, **given) if scenario else make_params(**given)
    if out is not None:
        io.check_path(out)
    if plot is not None:
        plotting.check_path(plot, option="--plot")
    win = _window(window)
    ds = api.simulate(params, progress=not quiet)
    info = summary.summarize(ds)
    if out is not None:
        io.save(ds, out)
    if plot is not None:
        plotting.plot_timeseries(ds, plot, window=win)
    if as_json:
        click.echo(json.dumps(info, indent=2))
    else:
        _print_summary(info, out, plot)


def _print_summary(info: dict, out, plot) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(file=sys.stdout, highlight=False)
    title = f"eosdyn {info['engine']}: m={info['m']}, eta={info['eta']:g}"
    table = Table(title=title, show_header=False)
    table.add_column("quantity")
    table.add_column("value", justify="right")
    first = info["first_cross_step"]
    rows = [
        ("initial eta*Lambda", f"{info['initial_eta_sharpness']:.4g}"),
        ("max eta*Lambda", f"{info['max_eta_sharpness']:.4g}"),
        ("first step with Lambda > 2/eta", "never" if first is None else str(first)),
        ("EoS excursions (>= 2 steps above 2/eta)", str(info["n_eos_excursions"])),
        ("period-2 flips around 2/eta", str(info["n_period2_flips"])),
        ("phases seen", " ".join(["I", "II", "III", "IV"][p - 1] for p in info["phases"])),
        ("steps with anomaly (Fig. 2)", str(info["anomalies"])),
        ("initial loss", f"{info['initial_loss']:.4g}"),
        ("final loss", f"{info['final_loss']:.4g}"),
        ("status", f"{info['status']} at step {info['status_step']}"),
        ("wall time", f"{info['wall_time']:.2f} s"),
    ]
    for row in rows:
        table.add_row(*row)
    console.print(table)
    if info["status"] == "diverged":
        console.print(f"[bold red]diverged:[/] {info['message']}")
    if out:
        console.print(f"saved {out}")
    if plot:
        console.print(f"plotted {plot}")
