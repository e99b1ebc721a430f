"""Options shared by ``eosdyn scan`` and ``eosdyn bifurcation``: the base run parameters.

They are generated from the parameter table (:mod:`eosdyn.cli._options`); any other run
parameter is given with ``--set KEY=VALUE``.
"""

from __future__ import annotations

import click

from ._options import parameter_options, scenario_option

#: the run parameters offered as options (the rest through --set)
BASE = ("m", "eta", "steps", "engine", "model", "parameterization", "seed", "n", "rank", "lambda_max",
        "lambda_min", "init_scale", "init_sampler", "data")
#: the engines a scan or an orbit diagram runs (eosdyn.analysis.scan.grid.SCAN_ENGINES)
SCAN_ENGINES = ("reduced", "first-order", "network")


def base_options(func):
    func = click.option("--set", "extra", multiple=True, metavar="KEY=VALUE",
                        help="Any other run parameter (repeatable), e.g. --set label_fraction=0.5.")(func)
    func = parameter_options(BASE, choices={"engine": SCAN_ENGINES})(func)
    return scenario_option("TOML scenario file (a [scan] table adds axes); options override it.")(func)


def _value(text: str):
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    if "," in text:  # a list, e.g. --set eigenvalues=1e6,100,10
        return [_value(v.strip()) for v in text.split(",")]
    return text


def base_params(scenario, extra, options, loss_tol=None):
    """The base :class:`Params` and the scenario's axes from the CLI options."""
    from ..analysis.scan import load_scan_scenario
    from ..model.params import make_params

    given = {k: v for k, v in options.items() if v is not None}
    for item in extra:
        if "=" not in item:
            raise click.BadParameter(f"must be KEY=VALUE, got {item!r}", param_hint="--set")
        key, value = item.split("=", 1)
        given[key.strip().replace("-", "_")] = _value(value.strip())
    if loss_tol is not None:
        given["loss_tol"] = loss_tol
    if scenario:
        return load_scan_scenario(scenario, **given)
    return make_params(**given), []
