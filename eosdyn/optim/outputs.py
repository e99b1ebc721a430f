"""The optimizer variables of a run: edge, edge ratio, batch and preconditioned sharpness, phases.

:func:`eosdyn.api.to_dataset` writes the attr ``edge`` and ``edge_ratio = Lambda / edge`` for every
run, and its phases and summaries (per-step tracker, :mod:`eosdyn.kernels.edge_numba`) read "above
the edge" as ``Lambda > edge``. An optimizer whose relevant sharpness is not ``Lambda`` (SGD:
``batch_sharpness``; RMSProp/Adam: ``preconditioned_sharpness``) knows that sharpness only at the
recorded rows: it gets ``edge_ratio``, ``phase``, ``anomaly`` and the summary attrs (first step
above the edge, excursions, flips, phase steps) from it here, over the recorded steps
(``summaries_over = "recorded steps"``): above/below from ``edge_ratio > 1``, rising/not from its
difference to the next recorded row (exact forward differences when every step is recorded).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ..io.schema import annotate
from ..kernels import optim_layout as O
from . import MOMENTUM, is_minibatch, relevant_sharpness


def finish_run(ds: xr.Dataset, p, extra: np.ndarray | None = None, precond: np.ndarray | None = None):
    """Add the optimizer's recorded series to ``ds`` and base ``edge_ratio``/``phase`` on the
    relevant sharpness (module docstring)."""
    nrow = ds.sizes["step"]
    if extra is not None:
        if p.optimizer in MOMENTUM:
            ds["velocity_norm2"] = (("step",), extra[:nrow, O.X_VEL2].copy())
        if is_minibatch(p):
            ds["batch_sharpness"] = (("step",), extra[:nrow, O.X_BATCH_SHARP].copy())
            ds["batch_sharpness_step"] = (("step",), extra[:nrow, O.X_STEP_CURV].copy())
    if precond is not None:
        ds["preconditioned_sharpness"] = (("step",), precond[:nrow].copy())
    rel = relevant_sharpness(p)
    ds.attrs["edge_sharpness"] = rel
    if rel != "sharpness" and rel in ds:
        relevant_rows(ds, ds[rel].values)
    return annotate(ds)


def relevant_rows(ds: xr.Dataset, x: np.ndarray) -> None:
    """``edge_ratio``, ``phase``, ``anomaly`` and the summary attrs of ``ds`` from the relevant
    sharpness ``x`` at the recorded rows (module docstring); in place."""
    from ..analysis.summary import row_phases, summaries_of_rows, untracked_rows

    edge = float(ds.attrs["edge"])
    ratio = x / edge
    x_next = np.append(x[1:], np.nan)
    a = ds["a_norm2"].values
    phase, anomaly = row_phases(x, x_next, a, np.append(a[1:], np.nan), edge)
    ds["edge_ratio"] = (("step",), ratio)
    ds["phase"] = (("step",), phase)
    ds["anomaly"] = (("step",), anomaly)
    steps = ds["step"].values
    ds["window_steps"] = (("step",), np.diff(steps, prepend=-1).astype(np.int64))
    for name, value in untracked_rows(steps.size).items():
        ds[name] = (ds[name].dims, value)
    with np.errstate(invalid="ignore"):
        above = ratio > 1.0
    ds.attrs.update(summaries_of_rows(steps, above, phase, anomaly, ds["eta_sharpness"].values,
                                      ds["loss_window_min"].values, ds["loss_window_max"].values,
                                      ratio=ratio))
