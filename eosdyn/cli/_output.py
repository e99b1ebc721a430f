"""What every command prints besides its table: strict JSON, the window option, saved files."""

from __future__ import annotations

import importlib
import json
import math
import threading

import click

#: what building a run's result imports after its kernels ran: xarray (about 0.5 s, loaded on
#: first use), which probes dask (about 0.6 s) for every Dataset it builds. Nothing the main
#: thread imports while the kernels run (the progress bar's rich), so no import waits on another
RESULT_IMPORTS = ("xarray", "dask.array")


def prefetch(modules=RESULT_IMPORTS) -> threading.Thread:
    """Import ``modules`` in a daemon thread: started just before a run, the imports overlap its
    kernels (which release the GIL), so the warm command does not wait for them afterwards.
    A module that cannot be imported is skipped here (the real import, if any, reports it)."""
    def work():
        for name in modules:
            try:
                importlib.import_module(name)
            except Exception:  # noqa: BLE001,S112  (optional: the real import raises)
                continue

    thread = threading.Thread(target=work, name="eosdyn-prefetch", daemon=True)
    thread.start()
    return thread


def jsonable(obj):
    """``obj`` with numpy scalars and arrays made plain and every non-finite float made None."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [jsonable(v) for v in obj]
    if hasattr(obj, "tolist") and not isinstance(obj, str):  # numpy scalars and arrays
        return jsonable(obj.tolist())
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    return obj


def echo_json(obj) -> None:
    """Print ``obj`` as strict JSON (``null`` where a number is NaN or infinite, never ``NaN``)."""
    click.echo(json.dumps(jsonable(obj), indent=2, allow_nan=False))


def parse_window(value):
    """``--window START:STOP`` as a pair of ints (None when not given)."""
    if value is None:
        return None
    try:
        a, b = (int(v) for v in value.split(":"))
    except ValueError:
        raise click.BadParameter("must be START:STOP (integers)", param_hint="--window") from None
    return a, b


OVERWRITE_HELP = "Replace an existing output of the same kind written by eosdyn (nothing else is ever replaced)."
FIGURE_HELP = "(an existing figure file is replaced)"
