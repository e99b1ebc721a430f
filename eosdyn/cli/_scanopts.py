"""Options shared by ``eosdyn scan`` and ``eosdyn bifurcation``: the base run parameters."""

from __future__ import annotations

import click

BASE_OPTIONS = [
    click.option("--scenario", type=click.Path(dir_okay=False),
                 help="TOML scenario file (a [scan] table adds axes); options override it."),
    click.option("--m", type=int, help="Width of the hidden layer. [default: 4096]"),
    click.option("--eta", type=float, help="Learning rate. [default: 0.01]"),
    click.option("--steps", type=int, help="GD steps per cell. [default: 100000]"),
    click.option("--engine", type=click.Choice(["reduced", "first-order", "network"]),
                 help="reduced: exact GD (default); first-order: the eta^2 terms dropped; network: any "
                 "--model, cells batched by jax.vmap."),
    click.option("--model", help="With --engine network: deep-linear:L, mlp:ACT:L, cnn, resnet18, linear2."),
    click.option("--parameterization", type=click.Choice(["ntk", "standard"]), help="With --engine network."),
    click.option("--seed", type=int, help="Seed of the initialisation and synthetic data."),
    click.option("--n", type=int, help="Synthetic data: samples."),
    click.option("--rank", type=int, help="Synthetic data: rank of X^T X."),
    click.option("--lambda-max", type=float, help="Synthetic data: largest eigenvalue of X^T X."),
    click.option("--lambda-min", type=float, help="Synthetic data: smallest nonzero eigenvalue."),
    click.option("--init-scale", type=float, help="Std of the Gaussian init of A and W."),
    click.option("--init-sampler", type=click.Choice(["auto", "parameters", "wishart"]),
                 help="Initial statistics: materialise A, W or sample the Wishart law."),
    click.option("--data", help="Data file (.npz with X, Y; .csv) or a named dataset."),
    click.option("--set", "extra", multiple=True, metavar="KEY=VALUE",
                 help="Any other run parameter (repeatable), e.g. --set label_fraction=0.5."),
]


def base_options(func):
    for option in reversed(BASE_OPTIONS):
        func = option(func)
    return func


def _value(text: str):
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def base_params(scenario, extra, options, loss_tol=None):
    """The base :class:`Params` and the scenario's axes from the CLI options."""
    from ..params import make_params
    from ..scan import load_scan_scenario

    given = {k: v for k, v in options.items() if v is not None}
    for item in extra:
        if "=" not in item:
            raise click.BadParameter("must be KEY=VALUE", param_hint="--set")
        key, value = item.split("=", 1)
        given[key.strip().replace("-", "_")] = _value(value.strip())
    if loss_tol is not None:
        given["loss_tol"] = loss_tol
    if scenario:
        return load_scan_scenario(scenario, **given)
    return make_params(**given), []
