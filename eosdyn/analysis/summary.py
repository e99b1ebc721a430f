"""Numbers that summarise a run: what `eosdyn simulate` prints."""

from __future__ import annotations

import numpy as np
import xarray as xr

from .summary_table import Summary, optional_summaries


def eos_crossings(ds: xr.Dataset) -> np.ndarray:
    """Recorded steps where the sharpness goes from <= 2/eta to > 2/eta (start of an EoS cycle);
    for other optimizers the relevant sharpness crossing the run's edge (``edge_ratio > 1``)."""
    gd = ds.attrs.get("optimizer", "gd") == "gd" and ds.attrs.get("edge_sharpness", "sharpness") == "sharpness"
    above = ds["eta_sharpness"].values > 2.0 if gd or "edge_ratio" not in ds else ds["edge_ratio"].values > 1.0
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
    } | edge_summary(ds) | optional_summaries(ds))


def late_edge_ratio(ds: xr.Dataset, start: float = 0.5) -> float:
    """Mean of ``edge_ratio`` (relevant sharpness / edge) over the recorded steps ``>= start * last``."""
    if "edge_ratio" not in ds or not ds["step"].size:
        return float("nan")
    steps = ds["step"].values
    x = ds["edge_ratio"].values[steps >= start * steps[-1]]
    x = x[np.isfinite(x)]
    return float(np.mean(x)) if x.size else float("nan")


def edge_summary(ds: xr.Dataset) -> dict:
    """The optimizer, its edge, which sharpness is compared with it, and the late-time ratio."""
    a = ds.attrs
    return {"optimizer": a.get("optimizer", "gd"), "edge": float(a.get("edge", 2.0 / float(a["eta"]))),
            "edge_sharpness": a.get("edge_sharpness", "sharpness"), "late_edge_ratio": late_edge_ratio(ds)}
