"""``eosdyn data-info NAME``: how far a dataset is from the paper's Assumptions 4.1-4.2."""

from __future__ import annotations

import sys

import click

from ._options import parameter_options
from ._output import echo_json

#: the real-dataset preprocessing parameters (options generated from the parameter table)
DATA_OPTIONS = ("classes", "subset", "center", "normalize", "data_seed")


@click.command("data-info")
@click.argument("name")
@parameter_options(DATA_OPTIONS)
@click.option("--top", type=click.IntRange(1), default=10, show_default=True,
              help="How many eigenvalues of X^T X to print.")
@click.option("--json", "as_json", is_flag=True, help="Print the numbers as JSON.")
def data_info(name, top, as_json, **options):
    """Spectrum of X^T X and label projections of dataset NAME.

    NAME is digits, cifar10:PATH, mnist:PATH or a .npz/.csv file. Prints n, d, the rank r,
    the top eigenvalues of X^T X, chi = max lambda_i/lambda_(i+1) and lambda_1/lambda_2
    (Assumption 4.1: chi bounded, lambda_1 >= 2 lambda_2), kappa = min |z_i|/sqrt(n)
    (Assumption 4.2: kappa = Omega(1/r)) and ||Y_perp||^2.
    """
    from ..model import data, datasets
    from ..model.params import make_params

    given = {k: v for k, v in options.items() if v is not None}
    params = make_params(data=name, **given)  # validates the options, one-line errors
    info = datasets.describe(data.load(name, **datasets.options_from(params)), top=top)
    if as_json:
        echo_json(info)
    else:
        _print(info)


def _print(info: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=info["source"], show_header=False)
    table.add_column("quantity")
    table.add_column("value", justify="right")
    table.add_column("paper's assumption")
    lam = info["top_eigenvalues"]
    rows = [
        ("n (samples)", str(info["n"]), ""),
        ("d (features)", str(info["d"]), ""),
        ("rank r of X", str(info["rank"]), ""),
        (f"top {len(lam)} eigenvalues of X^T X", " ".join(f"{v:.4g}" for v in lam), ""),
        ("smallest nonzero eigenvalue", f"{info['lambda_min_nonzero']:.4g}", ""),
        ("chi = max lambda_i/lambda_(i+1)", f"{info['chi']:.4g}", "4.1: a constant > 1"),
        ("lambda_1/lambda_2", f"{info['lambda1_over_lambda2']:.4g}", "4.1: >= 2"),
        ("kappa = min |z_i|/sqrt(n)", f"{info['kappa']:.4g}", "4.2: Omega(1/r)"),
        ("r * kappa", f"{info['r_kappa']:.4g}", "4.2: of order 1"),
        ("||Y_perp||^2", f"{info['y_perp2']:.4g}", "loss floor ||Y_perp||^2/n"),
        ("||Y_perp||^2 / n", f"{info['y_perp2_over_n']:.4g}", ""),
    ]
    for row in rows:
        table.add_row(*row)
    Console(file=sys.stdout, highlight=False, width=120).print(table)
