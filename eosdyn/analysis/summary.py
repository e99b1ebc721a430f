"""Numbers that summarise a run: what `eosdyn simulate` prints."""

from __future__ import annotations

import numpy as np
import xarray as xr

from .summary_table import Summary, optional_summaries


def eos_crossings(ds: xr.Dataset) -> np.ndarray:
    """Recorded steps where the sharpness goes from <= 2/eta to > 2/eta (start of an EoS cycle)."""
    above = ds["eta_sharpness"].values > 2.0
    idx = np.flatnonzero(above[1:] & ~above[:-1]) + 1
    if above.size and above[0]:
        idx = np.concatenate([[0], idx])
    return ds["step"].values[idx]


def summarize(ds: xr.Dataset) -> Summary:
    """Initial and maximal eta*Lambda, first step above 2/eta, EoS cycles, phases, loss, status.

    A dict (JSON-serialisable) that prints as the ``eosdyn simulate`` table (:class:`Summary`).
    """
    es = ds["eta_sharpness"].values
    finite = np.isfinite(es)
    cross = eos_crossings(ds)
    phases = sorted({int(p) for p in np.unique(ds["phase"].values) if p > 0})
    loss = ds["loss"].values
    return Summary({
        "engine": ds.attrs["engine"],
        "m": int(ds.attrs["m"]),
        "eta": float(ds.attrs["eta"]),
        "steps": int(ds["step"].values[-1]) if ds["step"].size else 0,
        "initial_eta_sharpness": float(es[0]),
        "max_eta_sharpness": float(np.max(es[finite])) if finite.any() else float("nan"),
        "first_cross_step": int(cross[0]) if cross.size else None,
        "n_eos_cycles": int(cross.size),
        "phases": phases,
        "anomalies": int(ds["anomaly"].values.sum()),
        "initial_loss": float(loss[0]),
        "final_loss": float(loss[-1]),
        "status": ds.attrs["status"],
        "status_step": int(ds.attrs["status_step"]),
        "message": ds.attrs.get("status_message", ""),
        "wall_time": float(ds.attrs["wall_time"]),
    } | optional_summaries(ds))
