"""The run options of ``eosdyn simulate``, shared by commands that can run a scenario themselves
(``check``, ``compare``): the same names, help and validation, kept in sync automatically."""

from __future__ import annotations

import copy

from .simulate import _floats
from .simulate import simulate as _simulate

#: simulate's options that are about its own output, not about the run
OUTPUT_OPTIONS = ("out", "plot", "window", "as_json", "quiet")


def add_run_options(command, exclude=OUTPUT_OPTIONS):
    """Append copies of ``simulate``'s run options (``--m``, ``--eta``, ..., ``--scenario``)."""
    names = {p.name for p in command.params}
    for p in _simulate.params:
        if p.name not in exclude and p.name not in names:
            command.params.append(copy.copy(p))
    return command


def given_options(options: dict) -> dict:
    """The run options actually given (not None), with ``scenario`` left in."""
    return {k: v for k, v in options.items() if v is not None}


def params_from(options: dict):
    """:class:`~eosdyn.model.params.Params` from run options, as ``eosdyn simulate`` builds them."""
    from ..model.params import make_params
    from ..model.scenario import load_scenario

    options = dict(options)
    scenario = options.pop("scenario", None)
    if "eigenvalues" in options:
        options["eigenvalues"] = _floats(options["eigenvalues"], "--eigenvalues")
    given = given_options(options)
    return load_scenario(scenario, **given) if scenario else make_params(**given)
