"""Scenario files: TOML in, a frozen validated :class:`~eosdyn.params.Params` out.

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

from . import datasets
from .errors import EosdynError
from .params import FIELDS, Params, make_params


def read_scenario(path) -> dict:
    """The key/value pairs of a scenario file (tables flattened), validated by name only."""
    p = Path(path)
    if not p.exists():
        raise EosdynError(f"scenario file {str(p)!r} does not exist")
    try:
        raw = tomllib.loads(p.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise EosdynError(f"scenario file {p.name!r} is not valid TOML: {exc}") from None
    flat: dict = {}
    for key, value in raw.items():
        if key == "figure":  # how `eosdyn figures` draws this scenario (eosdyn.figures)
            continue
        items = value.items() if isinstance(value, dict) else [(key, value)]
        for k, v in items:
            k = k.replace("-", "_")
            if k == "description":
                continue
            if k not in FIELDS:
                raise EosdynError(f"scenario file {p.name!r}: unknown key {k!r}")
            flat[k] = v
    flat.setdefault("name", p.stem)
    return flat


def load_scenario(path, **overrides) -> Params:
    """Parse a scenario file into :class:`Params`; ``overrides`` replace its values."""
    values = read_scenario(path)
    base = Path(path).resolve().parent
    for key in ("data", "init"):
        v = values.get(key)
        if key == "data" and datasets.is_named(v):
            values[key] = datasets.resolve(v, base)
        elif v is not None and not Path(v).is_absolute():
            values[key] = str(base / v)
    values.update({k: v for k, v in overrides.items() if v is not None})
    return make_params(**values)
