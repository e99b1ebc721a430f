"""``eosdyn data-info NAME``: how far a dataset is from the paper's Assumptions 4.1-4.2."""

from __future__ import annotations

import json
import sys

import click


def _classes(ctx, param, value):
    if value is None:
        return None
    try:
        return tuple(int(v) for v in value.split(","))
    except ValueError:
        raise click.BadParameter("must be two class labels, e.g. 3,5", param=param) from None


def data_options(f):
    """The real-dataset preprocessing options shared by ``simulate`` and ``data-info``."""
    options = [
        click.option("--classes", callback=_classes,
                     help="Real data: the class pair C0,C1 (labelled -1, +1). [default: 0,1]"),
        click.option("--subset", type=int,
                     help="Real data: keep this many samples, half per class, drawn with --data-seed."),
        click.option("--center/--no-center", default=None,
                     help="Real data: subtract the mean sample. [default: center]"),
        click.option("--normalize", type=click.Choice(["none", "unit", "global", "feature"]),
                     help="Real data: none (pixels in [0,1]), unit (||x_i|| = 1), global "
                     "(tr X^T X = n), feature (unit RMS per feature). [default: none]"),
        click.option("--data-seed", type=int, help="Real data: seed of the subset. [default: 0]"),
    ]
    for option in reversed(options):
        f = option(f)
    return f


@click.command("data-info")
@click.argument("name")
@data_options
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
        click.echo(json.dumps(info, indent=2))
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
