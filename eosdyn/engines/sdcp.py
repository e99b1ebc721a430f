r"""The k x k semidefinite complementarity problem of the central flow (k eigenvalues at the edge).

With ``g_ij = nabla <q_i, H q_j>`` (fixed top eigenvectors ``q_i``), the flow
``theta' = -eta [nabla L + (1/2) sum_ij X_ij g_ij]`` changes the k x k block ``Q^T H Q`` at the
rate ``-eta [a + B[X] / 2]`` with ``a_ij = <g_ij, nabla L>`` and
``B[X]_ij = sum_kl <g_ij, g_kl> X_kl`` (a positive semidefinite operator). Cohen et al.'s ``X``
(the covariance of the oscillations in the eigenbasis, ``Sigma = Q X Q^T``) solves

    X >= 0,   Z = A + B[X] >= 0,   <X, Z> = 0        (>= : positive semidefinite),

with ``A = 2 a`` (plus the constraint-relaxation term of :mod:`eosdyn.engines.central_flow`). It is the
optimality system of the convex quadratic programme over the PSD cone

    minimise  (1/2) <X, B[X]> + <A, X>   subject to  X >= 0,

which this module solves directly for the small k that occur here: the interior solution
``B[X] = -A`` when it is PSD, else accelerated projected gradient (projection: clip the
eigenvalues) followed by an exact polish on the range of the iterate (solve ``V^T Z V = 0`` for
``X = V X' V^T``). No general convex solver is involved. ``k = 1`` is closed form:
``X = max(0, -A / B)``.

Coordinates: the upper triangle ``(i <= j)`` row by row (as
:func:`eosdyn.kernels.third_numba.cluster_terms` orders it), scaled by ``sqrt(2)`` off the
diagonal so that the Frobenius product is the Euclidean one.
"""

from __future__ import annotations

import numpy as np


def pairs(k: int) -> list[tuple[int, int]]:
    """The ``(i, j)``, ``i <= j``, in the order of the vectorised upper triangle."""
    return [(i, j) for i in range(k) for j in range(i, k)]


def _scales(k: int) -> np.ndarray:
    return np.array([1.0 if i == j else np.sqrt(2.0) for i, j in pairs(k)])


def to_mat(v: np.ndarray, k: int) -> np.ndarray:
    """Symmetric matrix from orthonormal upper-triangle coordinates."""
    X = np.zeros((k, k))
    for val, (i, j), c in zip(v, pairs(k), _scales(k), strict=True):
        X[i, j] = X[j, i] = val / c
    return X


def to_vec(X: np.ndarray) -> np.ndarray:
    """Orthonormal upper-triangle coordinates of a symmetric matrix."""
    k = X.shape[0]
    return np.array([X[i, j] * c for (i, j), c in zip(pairs(k), _scales(k), strict=True)])


def _psd(v: np.ndarray, k: int) -> np.ndarray:
    mu, V = np.linalg.eigh(to_mat(v, k))
    return to_vec((V * np.maximum(mu, 0.0)) @ V.T)


def solve(A: np.ndarray, Bv: np.ndarray, tol: float = 1e-13, max_iter: int = 20000):
    """Solve ``X >= 0, A + B[X] >= 0, <X, A + B[X]> = 0``.

    Parameters
    ----------
    A : (k, k) symmetric
    Bv : (d, d), d = k(k+1)/2
        ``<g_a, g_b>`` for the upper-triangle pairs ``a = (i, j)``, ``b = (k, l)``, so that
        ``B[X]_a = sum_b w_b Bv[a, b] X_b`` with ``w_b = 1`` on the diagonal and 2 off it.

    Returns
    -------
    X : (k, k) symmetric positive semidefinite
    residual : float
        ``max(-lambda_min(X), -lambda_min(Z), |<X, Z>|)`` relative to ``||A||``.
    """
    k = A.shape[0]
    c = _scales(k)
    Q = (c[:, None] * Bv * c[None, :])     # the operator in orthonormal coordinates
    q = to_vec(A)
    scale = max(np.linalg.norm(q), 1e-300)
    if k == 1:
        x = np.array([max(0.0, -q[0] / Q[0, 0])]) if Q[0, 0] > 0 else np.zeros(1)
        return to_mat(x, 1), _residual(x, Q, q, 1, scale)
    try:
        x = -np.linalg.solve(Q, q)
        if np.linalg.eigvalsh(to_mat(x, k))[0] >= 0.0:
            return to_mat(x, k), _residual(x, Q, q, k, scale)
    except np.linalg.LinAlgError:
        pass
    x = _fista(Q, q, k, tol, max_iter)
    x = _polish(x, Q, q, k)
    return to_mat(x, k), _residual(x, Q, q, k, scale)


def _fista(Q, q, k, tol, max_iter):
    L = max(np.linalg.eigvalsh(Q)[-1], 1e-300)
    x = np.zeros_like(q)
    yv, tk = x.copy(), 1.0
    for _ in range(max_iter):
        x_new = _psd(yv - (Q @ yv + q) / L, k)
        t_new = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * tk * tk))
        yv = x_new + ((tk - 1.0) / t_new) * (x_new - x)
        step = np.linalg.norm(x_new - x)
        x, tk = x_new, t_new
        if step <= tol * max(np.linalg.norm(x), np.linalg.norm(q) / L, 1e-300):
            break
    return x


def _polish(x, Q, q, k):
    """Exact solution on the range of ``x``: ``V^T (A + B[V Y V^T]) V = 0`` for ``Y``."""
    mu, V = np.linalg.eigh(to_mat(x, k))
    keep = mu > 1e-9 * max(mu[-1], 1e-300)
    rho = int(keep.sum())
    if rho == 0:
        return np.zeros_like(x)
    Vr = V[:, keep]
    # the map Y -> V^T Z(V Y V^T) V restricted to symmetric rho x rho Y, in orthonormal coords
    basis = [to_vec(Vr @ to_mat(e, rho) @ Vr.T) for e in np.eye(rho * (rho + 1) // 2)]
    Bm = np.column_stack(basis)                 # (d, d_rho): Y-coords -> X-coords
    lhs = Bm.T @ Q @ Bm
    rhs = -Bm.T @ q
    try:
        yv = np.linalg.solve(lhs, rhs)
    except np.linalg.LinAlgError:
        return x
    x_new = Bm @ yv
    if np.linalg.eigvalsh(to_mat(yv, rho))[0] < 0.0:
        return x
    z = Q @ x_new + q
    if np.linalg.eigvalsh(to_mat(z, k))[0] < -1e-10 * max(np.linalg.norm(q), 1e-300):
        return x
    return x_new


def _residual(x, Q, q, k, scale):
    z = Q @ x + q
    xn = max(np.linalg.norm(x), 1e-300)
    return float(max(-np.linalg.eigvalsh(to_mat(x, k))[0] / xn,
                     -np.linalg.eigvalsh(to_mat(z, k))[0] / scale,
                     abs(x @ z) / (scale * xn), 0.0))
