"""Scenario files: TOML in, a frozen validated :class:`~eosdyn.model.params.Params` out.

A scenario file is flat or grouped in the tables of :data:`~eosdyn.model.params.TABLES`
(``[run]``, ``[data]``, ``[init]``, ``[flow]``; any of them accepts any parameter), and keys
are the parameter names (with ``-`` or ``_``)::

    name = "default"
    description = "progressive sharpening into EoS"
    [data]
    n = 100
    rank = 5
    [run]
    m = 4096
    eta = 0.01

An unknown table, an unknown key and a parameter set twice (in two tables) are errors that
name the file and the line.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from ..errors import EosdynError
from . import datasets
from .params import FIELDS, TABLES, Params, make_params

#: tables that are not run parameters: how `eosdyn figures` draws the scenario
#: (:mod:`eosdyn.plot.gallery`) and the axes of `eosdyn scan` (:mod:`eosdyn.analysis.scan`)
EXTRA_TABLES = ("figure", "scan")
#: top-level keys that describe the file rather than the run
META_KEYS = ("description",)

_HEADER = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(#.*)?$")
_KEY = re.compile(r"^\s*([\"']?)([A-Za-z0-9_-]+)\1\s*=")


def _locate(text: str, table: str | None, key: str | None = None) -> int | None:
    """The line (1-based) of ``[table]`` (``key`` None) or of ``key`` inside ``table``
    (None: top level), or None when it is written in another way (dotted keys, inline tables)."""
    current = None
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header:
            current = header.group(1).strip().strip("\"'")
            if key is None and current == table:
                return number
            continue
        match = _KEY.match(line)
        if match and current == table and key is not None and match.group(2) == key:
            return number
        if match and key is None and current is None and match.group(2) == table:  # table = {...}
            return number
    return None


def _where(p: Path, line: int | None) -> str:
    return f"scenario file {p.name!r}" + (f", line {line}" if line else "")


def read_tables(path) -> tuple[dict, dict]:
    """The parameter key/value pairs of a scenario file (tables flattened, validated by name
    only) and its extra tables (:data:`EXTRA_TABLES`) as they are."""
    p = Path(path)
    if not p.exists():
        raise EosdynError(f"scenario file {str(p)!r} does not exist")
    try:
        text = p.read_text()
        raw = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise EosdynError(f"scenario file {p.name!r} is not valid TOML: {exc}") from None
    flat: dict = {}
    seen: dict = {}  # parameter -> (table, spelling) where it was set
    extra = {key: raw.pop(key) for key in EXTRA_TABLES if isinstance(raw.get(key), dict)}
    for key, value in raw.items():
        if isinstance(value, dict):
            if key not in TABLES:
                known = ", ".join(f"[{t}]" for t in (*TABLES, *EXTRA_TABLES))
                raise EosdynError(f"{_where(p, _locate(text, key))}: unknown table [{key}]; known tables: {known}")
            items, table = value.items(), key
        else:
            items, table = [(key, value)], None
        for spelling, v in items:
            k = spelling.replace("-", "_")
            if table is None and k in META_KEYS:
                continue
            if k not in FIELDS:
                raise EosdynError(f"{_where(p, _locate(text, table, spelling))}: unknown key {k!r}")
            if k in seen:
                first_table, first_spelling = seen[k]
                first = f"[{first_table}]" if first_table else "the top level"
                line0 = _locate(text, first_table, first_spelling)
                raise EosdynError(f"{_where(p, _locate(text, table, spelling))}: {k} is set twice (also in "
                                  f"{first}{f', line {line0}' if line0 else ''})")
            seen[k] = (table, spelling)
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
