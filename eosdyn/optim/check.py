"""``eosdyn check`` on a run of another optimizer than full-batch GD.

The paper's statements (:mod:`eosdyn.analysis.check`) are about the full-batch GD map and are
checked by replaying it, so they do not apply to momentum, Nesterov, RMSProp, Adam or mini-batch
runs: they are reported ``n/a``. What does apply is the edge of stability of the run's optimizer
(:mod:`eosdyn.optim`): one row says whether the relevant sharpness reached the edge and whether,
over the second half of the run, its mean lies within ``EDGE_RTOL`` of the edge (the sharpness
"settles at its own edge", as Cohen et al. 2021/2022 and Andreyev & Beneventano 2024 report).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ..analysis.check.core import Report, Row, _fmt
from ..analysis.summary import late_edge_ratio

#: the late-time mean of (relevant sharpness) / edge must lie in [1 - EDGE_RTOL, 1 + EDGE_RTOL]
EDGE_RTOL = 0.1


def applies(ds: xr.Dataset) -> bool:
    """Whether ``ds`` is a run of another optimizer than full-batch GD."""
    return ds.attrs.get("optimizer", "gd") != "gd" or "batch_size" in ds.attrs


def edge_row(ds: xr.Dataset) -> Row:
    """The relevant sharpness crosses the optimizer's edge and settles at it."""
    a = ds.attrs
    rel, edge = a.get("edge_sharpness", "sharpness"), float(a["edge"])
    stmt = f"{rel} reaches the edge {edge:.6g} of {a.get('optimizer', 'gd')} and settles at it"
    ratio = ds["edge_ratio"].values
    steps = ds["step"].values
    above = np.flatnonzero(ratio > 1.0)
    late = late_edge_ratio(ds)
    if not above.size:
        return Row("edge", stmt, False, f"never above the edge; max ratio {_fmt(np.nanmax(ratio))}",
                   source="run", values={"late_edge_ratio": late})
    ok = abs(late - 1.0) <= EDGE_RTOL
    return Row("edge", stmt, bool(ok),
               f"first above at step {int(steps[above[0]])}; late-time mean {rel}/edge = {_fmt(late)} "
               f"(within {EDGE_RTOL:g}: {'yes' if ok else 'no'})",
               source="run", values={"late_edge_ratio": late, "first_above": int(steps[above[0]])})


def report(ds: xr.Dataset, opts, checks) -> Report:
    """The check report of a non-GD run: the edge row, the paper's statements ``n/a``."""
    a = ds.attrs
    why = f"n/a: a statement about full-batch GD; the run uses {a.get('optimizer', 'gd')}" + (
        f" with batch_size {a['batch_size']}" if "batch_size" in a else "")
    rows = [edge_row(ds)] + [Row(f.__name__, _title(f.__name__), None, why, source="run") for f in checks]
    run = {"engine": a["engine"], "m": a["m"], "eta": a["eta"], "n": a["n"], "rank": int(ds.sizes["mode"]),
           "steps": int(ds["step"].values[-1]), "status": a["status"], "optimizer": a.get("optimizer", "gd"),
           "edge": float(a["edge"])}
    notes = ["the paper's statements are about the full-batch GD map (eosdyn.analysis.check); this run's "
             f"optimizer has its own edge, {a.get('edge_sharpness', 'sharpness')} against {float(a['edge']):.6g}"]
    return Report(rows, run, notes, opts)


def _title(key: str) -> str:
    head, _, rest = key.partition("_")
    return f"{head.capitalize()} {rest.replace('_', '.').upper() if rest.isalpha() else rest.replace('_', '.')}"
