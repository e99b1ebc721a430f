"""The optimizer variables of a run: edge, edge ratio, batch and preconditioned sharpness, phases.

:func:`eosdyn.api.to_dataset` writes the attr ``edge`` and ``edge_ratio = Lambda / edge`` for every
run, and its phases read "above the edge" as ``Lambda > edge``. An optimizer whose relevant
sharpness is not ``Lambda`` (SGD: ``batch_sharpness``; RMSProp/Adam: ``preconditioned_sharpness``)
gets ``edge_ratio`` and ``phase`` from that sharpness here: above/below from ``edge_ratio > 1``,
rising/not from its difference to the next recorded row (exact forward differences when every step
is recorded).
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
        x = ds[rel].values
        ratio = x / float(ds.attrs["edge"])
        ds["edge_ratio"] = (("step",), ratio)
        ds["phase"] = (("step",), phases(ratio, x))
    return annotate(ds)


def phases(ratio: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Phases I-IV from ``edge_ratio`` and the forward difference of ``x`` between recorded rows
    (0 where either is unknown)."""
    dx = np.append(np.diff(x), np.nan)
    above = ratio > 1.0
    rising = dx > 0
    ph = np.where(above, np.where(rising, 2, 3), np.where(rising, 1, 4)).astype(np.int8)
    ph[~(np.isfinite(dx) & np.isfinite(ratio))] = 0
    return ph
