"""The recording contract shared by every step-by-step kernel (layout in :mod:`.layout`).

A run kernel processes steps ``t`` in order; for each it calls :func:`classify` (loss window,
stop code), and at recorded steps :func:`write_row` with the diagnostics of step ``t``, then
:func:`write_next` with those of step ``t + 1`` (the forward differences of phases and
anomalies), and :func:`finish` when it stops.
"""

import math

from . import layout as L
from ._numba import jit


@jit
def classify(loss, reducible, a, t, steps, loss_tol, max_loss, carry):
    """Fold ``loss`` into the window extremes; the stop code at step ``t`` (-1: go on)."""
    if loss < carry[L.C_WMIN]:
        carry[L.C_WMIN] = loss
    if loss > carry[L.C_WMAX]:
        carry[L.C_WMAX] = loss
    if not (loss < max_loss and math.isfinite(a) and abs(a) < max_loss):
        return L.DIVERGED
    if reducible <= loss_tol:
        return L.CONVERGED
    if t == steps:
        return L.MAX_STEPS
    return -1


@jit
def write_row(rec, rec_step, nrow, row, carry, t, code):
    """Row ``nrow`` = diagnostics ``row`` of step ``t`` and the loss window (then reset)."""
    for k in range(L.NDIAG):
        rec[nrow, k] = row[k]
    rec[nrow, L.LOSS_MIN] = carry[L.C_WMIN]
    rec[nrow, L.LOSS_MAX] = carry[L.C_WMAX]
    carry[L.C_WMIN] = math.inf
    carry[L.C_WMAX] = -math.inf
    rec_step[nrow] = t
    if code == L.DIVERGED:  # no step t + 1
        rec[nrow, L.SHARP_NEXT] = math.nan
        rec[nrow, L.A_NEXT] = math.nan


@jit
def write_next(rec, nrow, row_next, carry, reusable):
    """Lambda and ||A||^2 of step ``t + 1`` into row ``nrow``; ``row_next`` stays cached in
    ``carry`` for step ``t + 1`` when it is the engine's actual next state (``reusable``)."""
    rec[nrow, L.SHARP_NEXT] = row_next[L.SHARP]
    rec[nrow, L.A_NEXT] = row_next[L.A_NORM2]
    carry[L.C_HAVE] = 1.0 if reusable else 0.0


@jit
def finish(status, code, t):
    """Record the stop ``code`` at step ``t`` in ``status = [code, step, rows, next t]``."""
    status[0] = code
    status[1] = t
    status[3] = t
