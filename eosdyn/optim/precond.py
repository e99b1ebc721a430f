r"""The preconditioned sharpness ``lambda_max(P_t^{-1} H_t)`` of RMSProp and Adam, exactly.

Cohen et al. (2022) write Adam as preconditioned EMA momentum, ``theta_{t+1} = theta_t - eta P_t^{-1}
m_{t+1}`` (:mod:`eosdyn.optim`), and show that with ``P`` frozen the iteration on a quadratic with
Hessian ``H`` is stable iff ``lambda_max(P^{-1} H) < (2 + 2 beta1) / ((1 - beta1) eta)``; during
training this *preconditioned sharpness* rises to that edge and hovers there (the "adaptive edge of
stability"). Here:

* ``P_t`` is the preconditioner of the step from the recorded state ``theta_t``: it contains the
  second moment ``nu_{t+1}`` that already includes ``g_t^2`` (the gradient of step ``t``'s batch)
  and both bias-correction factors, so the edge is a constant;
* ``H_t`` is the full Hessian of the (full-batch) training loss at ``theta_t`` -- as in the paper,
  whose stability argument linearises the update, which involves ``grad^2 L``, not only its
  Gauss-Newton part (at the edge the residual ``D`` does not vanish, so they differ);
* ``lambda_max(P^{-1} H) = lambda_max(P^{-1/2} H P^{-1/2})`` (``P`` diagonal, positive) is found by
  Lanczos (ARPACK's ``eigsh``, ``which="LA"``, tolerance 0: machine precision) on exact products
  (:mod:`eosdyn.kernels.precond_numba`), warm-started from the previous row's eigenvector.

:class:`PreconditionedRecorder` measures it at every recorded step (it drives the engine row by row,
:class:`~eosdyn.engines.recorder.RowRecorder`) and adds the variable ``preconditioned_sharpness``.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse.linalg import ArpackNoConvergence, LinearOperator, eigsh

from ..engines.recorder import RowRecorder
from ..kernels import precond_numba as K
from ..kernels.sgd_numba import batch_start
from ..kernels import optim_layout as O
from . import outputs


def inverse_sqrt_preconditioner(engine, t: int) -> np.ndarray:
    """``P_t^{-1/2}`` (flat ``[A, W.ravel()]``) of a :class:`~eosdyn.engines.full_optim.FullOptimEngine`
    sitting at step ``t``."""
    b = int(engine.ihyp[O.I_BATCH])
    perm = np.arange(engine.pb.data.n, dtype=np.int64)
    start = batch_start(t, int(engine.ihyp[O.I_SEED]), b, perm, np.array([-1], dtype=np.int64)) if b else 0
    q = np.empty(engine.A.size + engine.W.size)
    K.inverse_sqrt_preconditioner(t, engine.A, engine.W, engine.h, engine.bA2, engine.bW2, engine.XT,
                                  engine.pb.data.Y, engine.hyp, engine.ihyp, perm, start,
                                  np.zeros(engine.W.shape[1]), q)
    return q


def preconditioned_sharpness(A, W, XT, Y, q, v0=None, dense_below: int = 64):
    """``(lambda_max(Q H Q), eigenvector)`` at ``(A, W)``, ``Q = diag(q)`` (``q = P^{-1/2}``).

    ``v0`` warm-starts Lanczos; problems with fewer than ``dense_below`` parameters are solved
    densely from the products with the unit vectors.
    """
    m, d = W.shape
    N = m * (d + 1)
    h = np.zeros(d)
    for k in range(d):
        h[k] = W[:, k] @ A
    p = np.zeros(d)
    K.full_residual_vector(h, XT, Y, float(m), np.zeros(1, dtype=np.int64), p)
    scr = (np.zeros(d), np.zeros(XT.shape[0]), np.zeros(d))

    def matvec(x):
        out = np.empty(N)
        K.scaled_hvp(A, W, XT, p, q, np.ascontiguousarray(np.ravel(x), dtype=float), out, *scr)
        return out

    if N < dense_below:
        M = np.column_stack([matvec(e) for e in np.eye(N)])
        ev, vec = np.linalg.eigh((M + M.T) / 2)
        return float(ev[-1]), vec[:, -1]
    if v0 is None or v0.size != N or not np.all(np.isfinite(v0)) or not np.any(v0):
        v0 = np.concatenate([A, W.ravel()]) / q
        if not (np.all(np.isfinite(v0)) and np.any(v0)):
            v0 = np.ones(N)
    op = LinearOperator((N, N), matvec=matvec, dtype=float)
    try:
        vals, vecs = eigsh(op, k=1, which="LA", v0=v0, tol=0.0, ncv=min(N - 1, 24), maxiter=100 * N)
    except ArpackNoConvergence as exc:  # pragma: no cover - not seen in practice
        if exc.eigenvalues.size == 0:
            return float("nan"), None
        vals, vecs = exc.eigenvalues, exc.eigenvectors
    return float(vals[0]), vecs[:, 0]


class PreconditionedRecorder(RowRecorder):
    """Wraps a RMSProp/Adam :class:`~eosdyn.engines.full_optim.FullOptimEngine` and records
    ``preconditioned_sharpness`` at every recorded step (the engine's state sits exactly there)."""

    def __init__(self, engine):
        super().__init__(engine, self._measure)
        self.v0 = None

    def _measure(self, engine) -> float:
        A, W = engine.A, engine.W
        if not (np.all(np.isfinite(A)) and np.all(np.isfinite(W))):
            return np.nan
        t = int(self.pb.status[3])
        q = inverse_sqrt_preconditioner(engine, t)
        if not np.all(np.isfinite(q)):
            return np.nan
        lam, v = preconditioned_sharpness(A, W, engine.XT, self.pb.data.Y, q, v0=self.v0)
        self.v0 = v
        return lam

    def finish(self, ds):
        nrow = ds.sizes["step"]
        ds = outputs.finish_run(ds, self.pb.params, extra=self.engine.extra, precond=self.values[:nrow, 0])
        ds.attrs["preconditioned_sharpness_method"] = (
            "lambda_max(P^-1/2 H P^-1/2): Lanczos (scipy eigsh, tol 0) on exact products, warm-started")
        return ds
