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
* ``lambda_max(P^{-1} H) = lambda_max(Q H Q)``, ``Q = P^{-1/2}`` (``P`` diagonal, positive: the
  symmetric form of the generalized eigenproblem ``H x = lambda P x``) is computed exactly from the
  structure of ``H`` (:func:`preconditioned_sharpness`, below), in ``O(m d r)``.

**Structure.** ``H = (2/n) J^T J + R``. With ``X = U S V^T``, ``J^T J = sum_k s_k^2 kappa_k kappa_k^T``,
``kappa_k = (W u_k, A u_k^T) / sqrt(m)`` (``u_k`` the columns of U): rank ``<= r``. The residual term
``R`` (quadratic form ``(4 / (n sqrt(m))) alpha^T Omega p``, ``p = X D``) couples only ``A_i`` with
row ``i`` of ``W``: block diagonal over the ``m`` hidden units. So

    Q H Q = B + Z Z^T,   Z = sqrt(2/n) Q [s_1 kappa_1, ..., s_r kappa_r]   (p x r),
    B_i = (2 / (n sqrt(m))) [[0, b_i^T], [b_i, 0]],   b_i = q_{A,i} q_{W,i} * p   (unit i),

and ``B_i`` has eigenvalues ``+-beta_i = +-(2 / (n sqrt m)) ||b_i||`` (eigenvectors in
``span(e_0, (0, bh_i))``) and 0. As ``Z Z^T >= 0``, ``lambda_max >= beta_max = max_i beta_i``; a
``mu > beta_max`` is an eigenvalue iff ``F(mu) = Z^T (mu I - B)^{-1} Z`` has the eigenvalue 1
(``det(I - F(mu)) = 0``), and ``phi(mu) = lambda_max(F(mu))`` decreases from its value at
``beta_max+`` to 0. Hence ``lambda_max(Q H Q)`` is the root of ``phi(mu) = 1`` on
``(beta_max, beta_max + lambda_max(Z^T Z)]`` if ``phi(beta_max+) > 1``, else ``beta_max``. With
``T_i = [Z_i e_0, Z_i^W bh_i]`` (2 x r), ``F(mu) = Z^T Z / mu + sum_i T_i^T C_i T_i`` where
``C_i = beta_i / (mu^2 - beta_i^2) [[beta_i / mu, 1], [1, beta_i / mu]]``: an r x r matrix in
``O(m r^2)``; the root is bracketed (warm start: around the previous row's value) and found by
Brent's method to machine precision. :func:`preconditioned_sharpness_lanczos` (ARPACK on exact
products, :mod:`eosdyn.kernels.precond_numba`) and a dense generalized eigensolver check it in the
tests.

:class:`PreconditionedRecorder` measures it at every recorded step (it drives the engine row by row,
:class:`~eosdyn.engines.recorder.RowRecorder`) and adds the variable ``preconditioned_sharpness``.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import brentq
from scipy.sparse.linalg import ArpackNoConvergence, LinearOperator, eigsh

from ..engines.recorder import RowRecorder
from ..kernels import optim_layout as O
from ..kernels import precond_numba as K
from ..kernels.sgd_numba import batch_start
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


def preconditioned_sharpness(A, W, XT, Y, U, s, q, warm: float | None = None) -> float:
    """``lambda_max(Q H Q)`` at ``(A, W)``, ``Q = diag(q)`` (``q = P^{-1/2}``), exactly from the
    secular equation (module docstring); ``warm``: a nearby value (the previous row's) to bracket."""
    m, d = W.shape
    n, r = XT.shape[0], U.shape[1]
    h = np.ascontiguousarray(W.T @ A)
    p = np.zeros(d)
    K.full_residual_vector(h, XT, Y, float(m), np.zeros(1, dtype=np.int64), p)
    T, ZtZ, beta, F = np.zeros((m, 2, r)), np.zeros((r, r)), np.zeros(m), np.zeros((r, r))
    K.secular_setup(A, W, np.ascontiguousarray(U), np.ascontiguousarray(s), q, p, float(n), T, ZtZ, beta,
                    np.zeros(r))
    bmax = float(beta.max())
    top = float(np.linalg.eigvalsh(ZtZ)[-1])
    if bmax == 0.0:
        return top   # B = 0 (D orthogonal to the data, e.g. at a minimum): the top of Z Z^T

    def excess(mu):
        K.secular_matrix(mu, T, beta, ZtZ, F)
        return float(np.linalg.eigvalsh(F)[-1]) - 1.0

    lo, hi = bmax * (1.0 + 4 * np.finfo(float).eps), bmax + top
    if not excess(lo) > 0.0:
        return bmax
    if warm is not None and lo < warm < hi:   # narrow the bracket around the previous value
        a, b = warm * (1 - 1e-3), warm * (1 + 1e-3)
        if lo < a and excess(a) > 0.0:
            lo = a
        if b < hi and excess(b) < 0.0:
            hi = b
    if not excess(hi) <= 0.0:
        return hi
    return brentq(excess, lo, hi, xtol=4 * np.finfo(float).eps * hi, rtol=4 * np.finfo(float).eps)


def preconditioned_sharpness_lanczos(A, W, XT, Y, q, v0=None, dense_below: int = 64):
    """``(lambda_max(Q H Q), eigenvector)`` at ``(A, W)``, ``Q = diag(q)``, by Lanczos on exact
    products (ARPACK, tolerance 0), for checking :func:`preconditioned_sharpness`.

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
        self.prev = None

    def _measure(self, engine) -> float:
        A, W = engine.A, engine.W
        if not (np.all(np.isfinite(A)) and np.all(np.isfinite(W))):
            return np.nan
        t = self.pb.progress.next_step
        q = inverse_sqrt_preconditioner(engine, t)
        if not np.all(np.isfinite(q)):
            return np.nan
        d = self.pb.data
        lam = preconditioned_sharpness(A, W, engine.XT, d.Y, d.U, d.s, q, warm=self.prev)
        self.prev = lam if np.isfinite(lam) else None
        return lam

    def finish(self, ds):
        nrow = ds.sizes["step"]
        ds = outputs.finish_run(ds, self.pb.params, extra=self.engine.extra, precond=self.values[:nrow, 0])
        ds.attrs["preconditioned_sharpness_method"] = (
            "lambda_max(P^-1/2 H P^-1/2): exact secular equation of Q H Q = B + Z Z^T (eosdyn.optim.precond)")
        return ds
