r"""Certified top eigenpairs of a symmetric operator: warm-started Lanczos (numpy).

:func:`top_eigs` runs Lanczos with full reorthogonalisation (two Gram-Schmidt passes) on
``matvec`` from a warm start vector, and stops when the top ``k`` Ritz pairs ``(theta_i, y_i)``
are *certified*: their explicit residuals ``r_i = B y_i - theta_i y_i`` (one more product each)
bound the eigenvalue error by

    |theta_i - lambda_i| <= min(||r_i||, ||r_i||^2 / gap_i)

(Weyl; and the Kato-Temple / Davis-Kahan quadratic bound with ``gap_i`` the distance from
``theta_i`` to the other Ritz values), and every bound is ``<= rtol * |theta_1|``. With the
default ``rtol = 1e-12`` the eigenvalues are exact to ~1e-12 of the operator's norm (the
residuals' rounding floor is ~1e-15 ``||B||``). That the pairs are the *top* ones is Lanczos's
guarantee for a start vector with components along them; the warm start (last step's
eigenvectors) plus a small seeded random component provides them.

A breakdown (``beta_j ~ 0``: the Krylov space is invariant, e.g. an exact eigenvector as the
start) continues with a fresh random vector orthogonal to the basis. If ``maxdim`` vectors do
not certify the pairs, Lanczos restarts from the best Ritz vectors (``restarts`` times).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import eigh_tridiagonal

EPS = np.finfo(float).eps


@dataclass
class Eigs:
    """Top eigenvalues (descending), unit eigenvectors (k, N), error bounds and products used."""

    values: np.ndarray
    vectors: np.ndarray
    bounds: np.ndarray
    products: int

    @property
    def certified(self) -> bool:
        return bool(np.all(np.isfinite(self.bounds)))


def top_eigs(matvec, v0: np.ndarray, k: int = 2, rtol: float = 1e-12, maxdim: int = 80,
             restarts: int = 6, rng: np.random.Generator | None = None, check_every: int = 2) -> Eigs:
    """The ``k`` largest eigenpairs of the symmetric operator ``matvec`` (see the module doc).

    Parameters
    ----------
    matvec : callable
        ``v (N,) -> B v (N,)``, float64.
    v0 : ndarray (N,)
        Start vector (warm start); a zero or non-finite one is replaced by a random vector.
    k : int
        Number of top eigenpairs wanted (``k <= N``).
    rtol : float
        Certify each eigenvalue to ``rtol * |lambda_1|``.
    maxdim : int
        Krylov basis size before a restart (memory ``maxdim * N`` floats).
    """
    N = v0.size
    rng = rng if rng is not None else np.random.default_rng(0)
    k = min(k, N)
    maxdim = max(min(maxdim, N), k + 1) if N > k else N
    start = np.array(v0, dtype=float)
    if not (np.all(np.isfinite(start)) and np.any(start)):
        start = rng.standard_normal(N)
    products = 0
    best = None
    for _ in range(restarts + 1):
        res = _lanczos_run(matvec, start, k, rtol, maxdim, rng, check_every)
        products += res.products
        res.products = products
        if res.certified:
            return res
        best = res
        start = res.vectors[0] + (res.vectors[1] if k > 1 else 0.0)
        start = start + 1e-8 * rng.standard_normal(N)
    best.bounds[:] = np.inf   # not certified: the caller decides (values are the best estimates)
    return best


def _lanczos_run(matvec, start, k, rtol, maxdim, rng, check_every) -> Eigs:
    N = start.size
    Q = np.zeros((maxdim, N))
    alpha = np.zeros(maxdim)
    beta = np.zeros(maxdim)
    q = start / np.linalg.norm(start)
    products = 0
    scale = 0.0
    j = 0
    for j in range(maxdim):
        Q[j] = q
        w = np.asarray(matvec(q), dtype=float)
        products += 1
        alpha[j] = q @ w
        for _ in range(2):  # full reorthogonalisation, twice
            w -= Q[: j + 1].T @ (Q[: j + 1] @ w)
        b = np.linalg.norm(w)
        scale = max(scale, abs(alpha[j]) + b)
        beta[j] = b
        done = j + 1 == N
        if j + 1 >= k and (done or (j + 1) % check_every == 0 or b <= 1e-10 * scale):
            theta, S = _ritz(alpha[: j + 1], beta[:j])
            est = np.abs(b * S[-1, :k])
            if done or np.all(_bounds(est, theta, k) <= rtol * max(abs(theta[0]), EPS * scale)):
                out = _certify(matvec, Q[: j + 1], theta, S, k, rtol, scale)
                out.products += products
                if out.certified or done:
                    return out
        if j + 1 == maxdim:
            break
        if b <= 1e-10 * scale:  # invariant subspace: continue with a fresh orthogonal direction
            w = rng.standard_normal(N)
            for _ in range(2):
                w -= Q[: j + 1].T @ (Q[: j + 1] @ w)
            beta[j] = 0.0
            b = np.linalg.norm(w)
        q = w / b
    theta, S = _ritz(alpha[: j + 1], beta[:j])
    out = _certify(matvec, Q[: j + 1], theta, S, k, rtol, scale)
    out.products += products
    return out


def _ritz(alpha, beta):
    """Ritz values (descending) and the tridiagonal's eigenvectors (columns, same order)."""
    if alpha.size == 1:
        return alpha.copy(), np.ones((1, 1))
    theta, S = eigh_tridiagonal(alpha, beta)
    return theta[::-1], S[:, ::-1]


def _bounds(res, theta, k):
    """``min(res, res^2/gap)`` for the top ``k`` Ritz values."""
    out = np.empty(k)
    for i in range(k):
        others = np.delete(theta, i)
        gap = np.min(np.abs(theta[i] - others)) if others.size else np.inf
        out[i] = min(res[i], res[i] ** 2 / gap) if gap > 0 else res[i]
    return out


def _certify(matvec, Q, theta, S, k, rtol, scale) -> Eigs:
    """Ritz vectors, explicit residuals and the bounds; ``inf`` bounds where not certified."""
    k = min(k, theta.size)
    Y = S[:, :k].T @ Q
    Y /= np.linalg.norm(Y, axis=1, keepdims=True)
    res = np.empty(k)
    vals = np.empty(k)
    for i in range(k):
        By = np.asarray(matvec(Y[i]), dtype=float)
        vals[i] = Y[i] @ By               # the Rayleigh quotient (at least as good as theta_i)
        res[i] = np.linalg.norm(By - vals[i] * Y[i])
    th = theta.copy()
    th[:k] = vals
    bounds = _bounds(res, th, k)
    ok = bounds <= rtol * max(abs(vals[0]), EPS * scale) + 64 * EPS * scale
    bounds = np.where(ok, bounds, np.inf)
    return Eigs(vals, Y, bounds, k)


def top_eigs_dense(B: np.ndarray, k: int = 2) -> Eigs:
    """The ``k`` largest eigenpairs of a small dense symmetric ``B`` by LAPACK (``eigh``)."""
    N = B.shape[0]
    k = min(k, N)
    vals, vecs = np.linalg.eigh((B + B.T) * 0.5)
    vals, vecs = vals[::-1][:k], vecs[:, ::-1][:, :k].T
    bounds = np.full(k, 16 * N * EPS * max(abs(vals[0]), 1e-300))
    return Eigs(vals, np.ascontiguousarray(vecs), bounds, 0)


def orient(v: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """``v`` flipped so that ``v . ref >= 0``; if ``|v . ref|`` is at rounding level, the entry of
    largest modulus is made positive (the convention of :mod:`eosdyn.kernels.eig_numba`)."""
    dot = float(v @ ref)
    if not abs(dot) > 4.0 * v.size * EPS * float(np.linalg.norm(ref)):
        dot = float(v[np.argmax(np.abs(v))])
    return -v if dot < 0 else v
