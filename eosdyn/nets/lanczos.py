r"""Certified top eigenpairs of a symmetric operator: warm-started Lanczos (numpy).

:func:`top_eigs` runs Lanczos with full reorthogonalisation (two Gram-Schmidt passes) on
``matvec`` from a warm start vector. It returns the top ``k`` Ritz pairs ``(theta_i, y_i)``
(``theta_i`` the Rayleigh quotient of the unit ``y_i``) with their explicit residual norms
``||r_i|| = ||B y_i - theta_i y_i||`` (one more product each), which *certify* them:

* rigorously, some eigenvalue of ``B`` lies within ``||r_i||`` of ``theta_i``;
* the eigenvalue error is ``~ ||r_i||^2 / gap_i`` (Kato-Temple), reported as ``estimates`` with
  ``gap_i = min_j (|theta_i - theta_j| - ||r_j||) - ||r_i||`` from all Ritz pairs' residuals (an
  estimate: an eigenvalue Lanczos has not yet seen can make the true gap smaller).

Lanczos stops when both ``||r_i|| <= rtol_res |theta_1|`` and ``estimate_i <= rtol |theta_1|``
for the top k; the pairs are ``certified`` when the rigorous residual condition holds. Defaults:
``rtol_res = 1e-9`` (eigenvalues within 1e-9 of ``||B||``, rigorously) and ``rtol = 1e-13``
(the usual accuracy, ~rounding). That the pairs are the *top* ones is Lanczos's guarantee for a
start vector with components along them; the warm start (last step's eigenvectors) plus a small
seeded random component provides them.

A breakdown (``beta_j ~ 0``: the Krylov space is invariant, e.g. an exact eigenvector as the
start) continues with a fresh random vector orthogonal to the basis. If ``maxdim`` vectors do
not reach the tolerances, Lanczos restarts from the best Ritz vectors (``restarts`` times) and
returns its best pairs (``certified`` False when the residual condition still fails).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import eigh_tridiagonal

EPS = np.finfo(float).eps


@dataclass
class Eigs:
    """Top eigenvalues (descending), unit eigenvectors (k, N), residual norms (rigorous error
    bounds), Kato-Temple error estimates, the products used and whether certified."""

    values: np.ndarray
    vectors: np.ndarray
    residuals: np.ndarray
    estimates: np.ndarray
    products: int
    certified: bool

    @property
    def rel_bound(self) -> float:
        """The largest rigorous bound relative to ``|lambda_1|``."""
        return float(np.max(self.residuals) / max(abs(self.values[0]), 1e-300))


def top_eigs(matvec, v0: np.ndarray, k: int = 2, rtol: float = 1e-13, rtol_res: float = 1e-9,
             maxdim: int = 80, restarts: int = 6, rng: np.random.Generator | None = None,
             check_every: int = 2) -> Eigs:
    """The ``k`` largest eigenpairs of the symmetric operator ``matvec`` (see the module doc).

    Parameters
    ----------
    matvec : callable
        ``v (N,) -> B v (N,)``, float64.
    v0 : ndarray (N,)
        Start vector (warm start); a zero or non-finite one is replaced by a random vector.
    k : int
        Number of top eigenpairs wanted (``k <= N``).
    rtol, rtol_res : float
        Stop when the error estimates are ``<= rtol |lambda_1|`` and the residuals (rigorous
        bounds) ``<= rtol_res |lambda_1|``.
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
    tol = (rtol, rtol_res)
    products = 0
    best = None
    for _ in range(restarts + 1):
        res = _lanczos_run(matvec, start, k, tol, maxdim, rng, check_every)
        products += res.products
        res.products = products
        if best is None or res.rel_bound < best.rel_bound:
            best = res
        if res.certified and _met(res.estimates, res.values, tol[0], 0.0):
            return res
        start = res.vectors[0] + (res.vectors[1] if k > 1 else 0.0)
        start = start + 1e-8 * rng.standard_normal(N)
    return best


def _met(bounds, theta, rtol, floor) -> bool:
    return bool(np.all(bounds <= rtol * abs(theta[0]) + floor))


def _lanczos_run(matvec, start, k, tol, maxdim, rng, check_every) -> Eigs:
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
        w = np.array(matvec(q), dtype=float)
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
            est = np.abs(b * S[-1, :])
            floor = 64 * EPS * scale
            if done or (_met(_estimates(est, theta, k), theta, tol[0], floor) and _met(est[:k], theta, tol[1], floor)):
                out = _certify(matvec, Q[: j + 1], theta, S, k, tol, scale, est)
                out.products += products
                if (out.certified and _met(out.estimates, out.values, tol[0], floor)) or done:
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
    out = _certify(matvec, Q[: j + 1], theta, S, k, tol, scale, np.abs(beta[j] * S[-1, :]))
    out.products += products
    return out


def _ritz(alpha, beta):
    """Ritz values (descending) and the tridiagonal's eigenvectors (columns, same order)."""
    if alpha.size == 1:
        return alpha.copy(), np.ones((1, 1))
    theta, S = eigh_tridiagonal(alpha, beta)
    return theta[::-1], S[:, ::-1]


def _estimates(res, theta, k):
    """``min(res_i, res_i^2 / gap_i)`` for the top ``k`` Ritz values (module doc), ``res`` the
    residual norms of all Ritz pairs."""
    out = np.empty(k)
    for i in range(k):
        others = np.delete(np.arange(theta.size), i)
        gap = np.min(np.abs(theta[i] - theta[others]) - res[others]) - res[i] if others.size else np.inf
        out[i] = min(res[i], res[i] ** 2 / gap) if gap > 0 else res[i]
    return out


def _certify(matvec, Q, theta, S, k, tol, scale, est) -> Eigs:
    """Ritz vectors, explicit residuals (``est``: the Lanczos residual estimates of all Ritz
    pairs, replaced by the explicit ones for the top ``k``), estimates, certificate."""
    k = min(k, theta.size)
    Y = S[:, :k].T @ Q
    Y /= np.linalg.norm(Y, axis=1, keepdims=True)
    res = np.empty(k)
    vals = np.empty(k)
    for i in range(k):
        By = np.asarray(matvec(Y[i]), dtype=float)
        vals[i] = Y[i] @ By               # the Rayleigh quotient (at least as good as theta_i)
        res[i] = np.linalg.norm(By - vals[i] * Y[i])
    th, allres = theta.copy(), np.array(est, dtype=float)
    th[:k], allres[:k] = vals, res
    estimates = _estimates(allres, th, k)
    certified = _met(res, vals, tol[1], 64 * EPS * scale)
    return Eigs(vals, Y, res, estimates, k, certified)


def top_eigs_dense(B: np.ndarray, k: int = 2) -> Eigs:
    """The ``k`` largest eigenpairs of a small dense symmetric ``B`` by LAPACK (``eigh``; backward
    stable: errors ~ ``N eps ||B||``, reported as residual bounds)."""
    N = B.shape[0]
    k = min(k, N)
    vals, vecs = np.linalg.eigh((B + B.T) * 0.5)
    vals, vecs = vals[::-1][:k], vecs[:, ::-1][:, :k].T
    bound = np.full(k, 16 * N * EPS * max(abs(vals[0]), 1e-300))
    return Eigs(vals, np.ascontiguousarray(vecs), bound, bound.copy(), 0, True)


def orient(v: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """``v`` flipped so that ``v . ref >= 0``; if ``|v . ref|`` is at rounding level, the entry of
    largest modulus is made positive (the convention of :mod:`eosdyn.kernels.eig_numba`)."""
    dot = float(v @ ref)
    if not abs(dot) > 4.0 * v.size * EPS * float(np.linalg.norm(ref)):
        dot = float(v[np.argmax(np.abs(v))])
    return -v if dot < 0 else v
