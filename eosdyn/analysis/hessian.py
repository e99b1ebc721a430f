r"""The true sharpness: ``lambda_max`` of the loss Hessian, exactly and at any width.

Derivation
----------
Parameters ``theta = (A, W)``, ``A in R^m``, ``W in R^{m x d}``; ``F_j = A^T W x_j / sqrt(m)``,
``D = F - Y``, ``L = ||D||^2 / n``, ``p = X D``. Since ``F`` is bilinear in ``(A, W)``,

    grad^2 L = (2/n) J^T J + (2/n) sum_j D_j grad^2 F_j,

with the Jacobian ``J (alpha, Omega) = X^T (W^T alpha + Omega^T A) / sqrt(m)`` (a direction
``(alpha, Omega)``) and a residual term that only couples ``A`` with ``W``:
``sum_j D_j grad^2 F_j (alpha, Omega) = (Omega p, alpha p^T) / sqrt(m)``. So

    H (alpha, Omega) = (2/n) ( W X J / sqrt(m) + Omega p / sqrt(m),
                               A (X J)^T / sqrt(m) + alpha p^T / sqrt(m) ).       (1)

The quadratic form is ``(2/n) ||J||^2 + (4/(n sqrt(m))) alpha^T Omega p``; the first part is the
Gauss-Newton matrix, whose nonzero eigenvalues are those of the NTK ``M`` (the paper's
sharpness ``Lambda``); the second has eigenvalues ``+-(2/(n sqrt m)) ||X D||`` and zeros.

*Reduction.* Let ``X = U S V^T`` (rank r), ``delta = S u - z``, ``g = S delta`` so ``p = U g``.
(a) Directions ``Omega`` with ``Omega U = 0`` are in the kernel of (1). Write ``Omega = B U^T``,
``B in R^{m x r}``. (b) With ``P = [A, W U]`` (m x (r+1)) the subspace
``T = {alpha in col P, B's columns in col P}`` is invariant, and on its orthogonal complement
``w := (U^T W^T alpha + B^T A)/sqrt(m) = 0``, so (1) reduces to
``(alpha, B) -> (2/(n sqrt m)) (B g, alpha g^T)``, whose eigenvalues are
``+-nu_H = +-(2/(n sqrt m)) ||g||`` (eigenvectors ``(alpha, +-alpha g^T/||g||)``) and 0. This part
exists iff ``m > rank P``. (c) On ``T`` write ``alpha = Q x``, ``B = Q Y`` with ``Q = P/sqrt(m)``,
``Q^T Q = C = [[a/m, u^T/sqrt(m)], [u/sqrt(m), G]]`` -- the m-independent state
(``U^T W^T A = sqrt(m) u``). Factor ``C = R^T R``
(R: rho x (r+1), rho = rank C) and use orthonormal coordinates ``xh = R x``, ``Yh = R Y``:
with ``b = R e_0``, ``N = R [0; I_r]`` and ``w = N^T xh + Yh^T b``,

    H (xh, Yh) = (2/n) ( N S^2 w + Yh g / sqrt(m),  b w^T S^2 + xh g^T / sqrt(m) ),

symmetric, with Gauss-Newton part ``w^T S^2 w`` (``N^T N + (b^T b) I = G + (a/m) I``: exactly
``(n/2) S^{-1} K S^{-1}`` of the NTK ``K = (2/n) S ((a/m) I + G) S``). (d) Its range lies in
``Z = R^rho (+) {bh c^T} (+) {y gh^T: y perp bh}`` (``bh = b/||b||``, ``gh = g/||g||``), of
dimension ``2 rho + r - 1``; in the coordinates ``(xh, c, y)`` of ``Z``, with ``beta = ||b||``,
``nu = ||g||/sqrt(m)``, it is ``(2/n)`` times the symmetric matrix

    [ N S^2 N^T                   beta N S^2 + nu bh gh^T   nu (I - bh bh^T) ]
    [ beta S^2 N^T + nu gh bh^T   beta^2 S^2                0                ]
    [ nu (I - bh bh^T)            0                         0                ]

(``y`` taken in ``R^rho``: the extra direction ``y = bh`` is decoupled, eigenvalue 0). Since the
Hessian's trace ``(2/n) ||J||_F^2 >= 0``, its top eigenvalue is ``>= 0`` and

    lambda_max(grad^2 L) = (2/n) max( lambda_max(above), nu [m > rho] ).

Cost ``O(r^3)`` per state, independent of m: :func:`sharpness_reduced`. In parameter space,
:func:`sharpness_lanczos` runs ``scipy.sparse.linalg.eigsh`` on the exact products (1)
(``O(m d + n d)`` each), warm-started from a previous eigenvector.

With ``hessian=True`` a run records ``sharpness_hessian`` at every recorded step
(:class:`HessianRecorder`), by the reduced formula for every engine: the ``full`` engine's state
``(a, u, G)`` comes from its parameters through the running statistics ``h = W^T A``,
``Ghat = U^T W^T W U`` its kernel keeps (``O(d r)`` per recorded step, refreshed from ``W`` in
``O(m d r)`` every few thousand steps); :func:`sharpness_lanczos` stays as the parameter-space
cross-check (tests).
"""

from __future__ import annotations

import numpy as np
from scipy.sparse.linalg import LinearOperator, eigsh

from ..engines.recorder import RowRecorder, current_statistics
from ..io.schema import annotate
from ..kernels import hessian_numba


def scratch(r: int):
    """Workspace for :func:`hessian_numba.sharpness` at rank r (carries a warm eigenvector)."""
    return hessian_numba.workspace(r)


def sharpness_reduced(a, u, G, s, z, n, m, ws=None) -> float:
    """``lambda_max`` of the loss Hessian from the m-independent state (see the module doc).

    Parameters
    ----------
    a, u, G : float, (r,), (r, r)
        ``||A||^2``, ``U^T W^T A / sqrt(m)``, ``U^T W^T W U / m``.
    s, z : (r,)
        Singular values of X and label projections ``V^T Y``.
    n, m : number of samples, width.
    ws : optional
        :func:`scratch` workspace, reused along a trajectory (warm start).
    """
    u = np.ascontiguousarray(u, dtype=float)
    G = np.ascontiguousarray(G, dtype=float)
    ws = scratch(u.size) if ws is None else ws
    return float(hessian_numba.sharpness(float(a), u, G, np.ascontiguousarray(s, float),
                                         np.ascontiguousarray(z, float), float(n), float(m), ws))


def hvp(A, W, X, Y, v) -> np.ndarray:
    """Exact Hessian-vector product (1) at ``(A, W)`` for ``v = [alpha, Omega.ravel()]``."""
    m, d = W.shape
    n = X.shape[1]
    sq = np.sqrt(m)
    alpha, Om = v[:m], v[m:].reshape(m, d)
    D = X.T @ (W.T @ A) / sq - Y
    p = X @ D
    J = X.T @ (W.T @ alpha + Om.T @ A) / sq
    XJ = X @ J
    c = 2.0 / (n * sq)
    out = np.empty_like(v)
    out[:m] = c * (W @ XJ + Om @ p)
    out[m:] = (c * (np.outer(A, XJ) + np.outer(alpha, p))).ravel()
    return out


def sharpness_lanczos(A, W, X, Y, v0=None, tol: float = 0.0):
    """``lambda_max`` of the loss Hessian at ``(A, W)`` by Lanczos on exact products.

    Returns ``(lambda_max, eigenvector)``; pass the eigenvector back as ``v0`` at the next
    step (warm start). ``tol = 0`` asks ``eigsh`` for machine precision.
    """
    m, d = W.shape
    N = m * (d + 1)
    op = LinearOperator((N, N), matvec=lambda v: hvp(A, W, X, Y, np.ravel(v)), dtype=float)
    if v0 is None or v0.size != N or not np.all(np.isfinite(v0)):
        v0 = np.concatenate([A, W.ravel()])
        if not np.any(v0):
            v0 = np.ones(N)
    if N <= 64:  # small: dense from N products (eigsh needs k < ncv < N)
        Hd = np.column_stack([op.matvec(e) for e in np.eye(N)])
        ev, vec = np.linalg.eigh((Hd + Hd.T) / 2)
        return float(ev[-1]), vec[:, -1]
    vals, vecs = eigsh(op, k=1, which="LA", v0=v0, tol=tol, ncv=min(N - 1, 20))
    return float(vals[0]), vecs[:, 0]


class HessianRecorder(RowRecorder):
    """Wraps an engine and records ``lambda_max(grad^2 L)`` at every recorded step.

    The ``full`` engine (the reduced formula on its running statistics) and the flow are driven
    with ``advance(t, t_rec)`` so that their state sits exactly at the
    recorded step ``t_rec`` (:class:`~eosdyn.engines.recorder.RowRecorder`). The GD map engines
    (``reduced``, ``first-order``) run untouched and the states of their recorded steps are
    regenerated afterwards by :func:`eosdyn.analysis.replay.states_at` (the same numba ``step``, so the
    same states bit for bit) -- much cheaper than stopping the kernel at every row. The record
    layout of the kernels is untouched either way.
    """

    def __init__(self, engine):
        super().__init__(engine, self._hessian)
        self.parameters = bool(engine.needs_parameters)
        self.replay = bool(engine.replayable)   # the GD maps: states regenerated bit for bit
        self.H = scratch(self.pb.data.rank)

    def advance(self, t0: int, t1: int) -> None:
        if self.replay:
            self.engine.advance(t0, t1)
        else:
            super().advance(t0, t1)

    def _hessian(self, engine) -> float:
        d = self.pb.data
        st = current_statistics(engine)
        return sharpness_reduced(st.a, st.u, st.G, d.s, d.z, d.n, self.pb.params.m, self.H)

    def finish(self, ds):
        ds = super().finish(ds)
        nrow = ds.sizes["step"]
        if self.replay:
            from .replay import states_at

            d = self.pb.data
            values = np.full(nrow, np.nan)
            hessian_numba.sharpness_of_states(
                states_at(ds, ds.step.values), np.ascontiguousarray(d.s), np.ascontiguousarray(d.z),
                float(d.n), float(self.pb.params.m), values, self.H)
        else:
            values = self.values[:nrow, 0].copy()
        ds["sharpness_hessian"] = (("step",), values)
        ds.attrs["hessian_method"] = (
            "reduced (exact m-independent formula, eosdyn.analysis.hessian"
            + (", from the full engine's running statistics of (A, W))" if self.parameters else ")")
        )
        return annotate(ds)
