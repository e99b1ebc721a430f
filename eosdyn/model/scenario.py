"""Scenario files: TOML in, a frozen validated :class:`~eosdyn.model.params.Params` out.

A scenario file is flat or grouped in tables; table names are ignored, keys are the
parameter names (with ``-`` or ``_``)::

    name = "default"
    description = "progressive sharpening into EoS"
    [data]
    n = 100
    rank = 5
    [run]
    m = 4096
    eta = 0.01
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from ..errors import EosdynError
from . import datasets
from .params import FIELDS, Params, make_params

#: tables that are not run parameters: how `eosdyn figures` draws the scenario
#: (:mod:`eosdyn.plot.gallery`) and the axes of `eosdyn scan` (:mod:`eosdyn.analysis.scan`)
EXTRA_TABLES = ("figure", "scan")


def read_tables(path) -> tuple[dict, dict]:
    """The parameter key/value pairs of a scenario file (tables flattened, validated by name
    only) and its extra tables (:data:`EXTRA_TABLES`) as they are."""
    p = Path(path)
    if not p.exists():
        raise EosdynError(f"scenario file {str(p)!r} does not exist")
    try:
        raw = tomllib.loads(p.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise EosdynError(f"scenario file {p.name!r} is not valid TOML: {exc}") from None
    flat: dict = {}
    extra = {key: raw.pop(key) for key in EXTRA_TABLES if isinstance(raw.get(key), dict)}
    for key, value in raw.items():
        items = value.items() if isinstance(value, dict) else [(key, value)]
        for k, v in items:
            k = k.replace("-", "_")
            if k == "description":
                continue
            if k not in FIELDS:
                raise EosdynError(f"scenario file {p.name!r}: unknown key {k!r}")
            flat[k] = v
    flat.setdefault("name", p.stem)
    return flat, extra


def read_scenario(path) -> dict:
    """The parameter key/value pairs of a scenario file (see :func:`read_tables`)."""
    return read_tables(path)[0]


def params_from(values: dict, path, **overrides) -> Params:
    """:class:`Params` from a scenario's values: ``data``/``init`` paths taken relative to the
    file, dataset names (``digits``, ``cifar10:PATH``) resolved, ``overrides`` applied."""
    values = dict(values)
    base = Path(path).resolve().parent
    for key in ("data", "init"):
        v = values.get(key)
        if key == "data" and datasets.is_named(v):
            values[key] = datasets.resolve(v, base)
        elif v is not None and not Path(v).is_absolute():
            values[key] = str(base / v)
    values.update({k: v for k, v in overrides.items() if v is not None})
    return make_params(**values)


def load_scenario(path, **overrides) -> Params:
    """Parse a scenario file into :class:`Params`; ``overrides`` replace its values."""
    return params_from(read_scenario(path), path, **overrides)
