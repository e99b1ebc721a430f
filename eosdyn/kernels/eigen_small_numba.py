"""The small-r paths of the eigen contract (:mod:`eosdyn.kernels.eigen_numba`), compiled without
numba's reference counting (``_nrt=False``: they allocate nothing, and at r ~ 5 the reference
counts of a call cost more than its arithmetic).

* :func:`_rq_certify`: a warm Rayleigh quotient of one row of ``X``, polished by inverse
  iteration and certified by the inertia test :func:`~eosdyn.kernels.eigen_dense_numba.exceeds`
  (``lambda_max <= theta + err``), with a Gershgorin rescue of bad starts;
* :func:`_values_warm` / :func:`_top_value_small`: ``lambda_max`` alone (the edge tracker);
* :func:`_top_two_small`: ``lambda_1``, ``lambda_2`` and ``x_0`` (the diagnostics), ``lambda_2``
  bracketed by a deflated inertia bound and a 2 x 2 Rayleigh-Ritz.

Each returns -1 where it does not apply or does not certify; the public kernels
(:func:`~eosdyn.kernels.eigen_numba.top_value`, :func:`~eosdyn.kernels.eigen_numba.top_two`) then
fall back on :func:`~eosdyn.kernels.eigen_numba.top_pairs`.
"""

from __future__ import annotations

import math

import numpy as np

from ._numba import jit
from .eigen_base_numba import (
    CERTIFIED,
    EPS,
    I_BETA,
    I_CALLS,
    I_GAP,
    I_SCALE,
    I_VEC,
    I_WARM,
)
from .eigen_dense_numba import dot_rows, exceeds


@jit(_nrt=False)
def _ldlt_solve(F, X, q):
    """Solve ``L D L^T y = X[q]`` in place with the factors :func:`exceeds` left in ``F`` (2-d
    indexing: no row views, whose reference counts cost more than the solve at small r)."""
    n = X.shape[1]
    for i in range(1, n):
        acc = X[q, i]
        for j in range(i):
            acc -= F[i, j] * X[q, j]
        X[q, i] = acc
    for i in range(n):
        X[q, i] *= F[i, i]
    for j in range(n - 1, -1, -1):
        t = X[q, j]
        for i in range(j):
            X[q, i] -= F[j, i] * t


@jit(_nrt=False)
def _normalize_row(X, q):
    """Scale ``X[q]`` to unit norm in place (as :func:`_normalize`); returns the norm it had."""
    n = X.shape[1]
    nrm = math.sqrt(dot_rows(X, q, X, q, n))
    if nrm > 0.0:
        inv = 1.0 / nrm
        for i in range(n):
            X[q, i] *= inv
    return nrm


@jit(_nrt=False)
def _rq_certify(B, X, q, y, F, scale, early):
    """``lambda_max(B)`` from the warm vector ``X[q]``, certified by inertia (no reference counts).

    With ``theta = x^T B x`` (a lower bound) and ``rho = ||B x - theta x||``, ``sigma I - B``
    positive definite (:func:`exceeds` false) proves ``lambda_max <= sigma``. The value is done
    once ``sigma = theta + tol`` (``tol = 4 eps (|theta| + r scale)``) is proven: when
    ``rho <= tol`` (the vector is then an eigenvector to rounding too), or, with ``early``, as
    soon as ``rho <= 1e-6 scale`` (``lambda_max - theta ~ rho^2 / gap`` is often below ``tol``
    already; then ``x`` takes one inverse iteration step with that factorisation, which leaves it
    an eigenvector to ``~ tol / gap``, though ``rho`` is the residual before it). Otherwise
    ``x <- (sigma I - B)^{-1} x`` with ``sigma = theta + rho`` (that factorisation, in ``F``,
    proves ``sigma`` an upper bound first; if it does not, the step uses the Gershgorin bound),
    at most 8 times.
    Returns ``(status, theta, rho, sigma)``, status ``CERTIFIED`` or -1 (no certificate)."""
    r = B.shape[0]
    nrm = _normalize_row(X, q)
    if not (nrm > 0.0 and nrm < math.inf):
        return -1, math.nan, math.nan, math.nan
    for _ in range(8):
        theta = 0.0
        for i in range(r):
            acc = 0.0
            for j in range(r):
                acc += B[i, j] * X[q, j]
            y[i] = acc
            theta += X[q, i] * acc
        rho = 0.0
        for i in range(r):
            d = y[i] - theta * X[q, i]
            rho += d * d
        rho = math.sqrt(rho)
        tol = 4.0 * EPS * (abs(theta) + r * scale)
        if rho <= tol or (early and rho <= 1e-6 * scale):
            if not exceeds(B, theta + tol, F):
                if rho > tol:  # one inverse iteration step with that factorisation: the other
                    _ldlt_solve(F, X, q)  # components of x shrink by ~ tol / gap
                    _normalize_row(X, q)
                return CERTIFIED, theta, rho, theta + tol
            if rho <= tol:
                break
        if exceeds(B, theta + rho, F):  # theta + rho is below lambda_max (a poor start):
            g = -math.inf  # step with the Gershgorin bound instead, which is above it
            for i in range(r):
                acc = B[i, i]
                for j in range(r):
                    if j != i:
                        acc += abs(B[i, j])
                g = max(g, acc)
            if exceeds(B, g + tol, F):
                break
        _ldlt_solve(F, X, q)
        nrm = _normalize_row(X, q)
        if not (nrm > 0.0 and nrm < math.inf):
            break
    return -1, math.nan, math.nan, math.nan


@jit(_nrt=False)
def _values_warm(B, w, scale):
    """``lambda_max`` for small r from the warm vector ``x[0]`` (:func:`_rq_certify`, early exit);
    on success ``lam[0] <= lambda_max <= lam[0] + err[0] = info[I_BETA]``."""
    st, theta, rho, sigma = _rq_certify(B, w.x, 0, w.e, w.work, scale, True)
    if st != CERTIFIED:
        return -1
    w.lam[0] = theta
    w.res[0] = rho
    w.err[0] = sigma - theta
    w.info[I_GAP] = np.nan  # not computed on this path
    w.info[I_BETA] = sigma
    w.info[I_WARM] = 1.0
    return CERTIFIED


@jit(_nrt=False)
def _top_two_small(B, w):
    """The top two eigenvalues and the top eigenvector of a small ``B`` (a whole-space workspace
    with ``k = 2``), certified, without reference counts; -1 where this does not apply or does
    not certify (the caller then uses :func:`top_pairs`).

    ``lambda_1``, ``x_0``: :func:`_rq_certify` (``x_0`` an eigenvector to ``~ tol / gap``;
    sign-continuous, since each inverse iteration step is positive definite).
    ``lambda_2``: an upper bound is ``lambda_max(B - mu x_0 x_0^T)`` for ``mu >= 0`` (Weyl: the
    term is positive semidefinite of rank one), certified the same way from the warm ``x_1``
    with ``mu = max(lambda_1, 0)``; a lower bound is the smaller Ritz value of ``B`` on
    ``span(x_0, x_1)`` (Cauchy interlacing). ``lam[1]`` is that lower bound and ``err[1]`` the
    distance to the upper one. ``info[I_GAP]`` is not computed (NaN)."""
    r = B.shape[0]
    if not (w.Q.shape[0] == r and w.old.shape[0] == 0 and w.lam.shape[0] == 2 and r >= 2):
        return -1
    scale = _abs_max(B)
    if not (scale > 0.0 and scale < math.inf):
        return -1
    X = w.x
    st, th1, rho1, up1 = _rq_certify(B, X, 0, w.e, w.work, scale, True)
    if st != CERTIFIED:
        return -1
    mu = max(th1, 0.0)
    Bd = w.T
    for i in range(r):
        for j in range(r):
            Bd[i, j] = B[i, j] - (mu * X[0, i]) * X[0, j]
    for _ in range(2):  # warm x_1, orthogonal to x_0 (a coordinate vector if it was not usable)
        c = 0.0
        for j in range(r):
            c += X[1, j] * X[0, j]
        for j in range(r):
            X[1, j] -= c * X[0, j]
    if not (_normalize_row(X, 1) > 1e-8):
        best = 0
        for j in range(r):
            if abs(X[0, j]) < abs(X[0, best]):
                best = j
        for j in range(r):
            X[1, j] = (1.0 if j == best else 0.0) - X[0, best] * X[0, j]
        _normalize_row(X, 1)
    st, th2, rho2, up2 = _rq_certify(Bd, X, 1, w.e, w.work, scale, True)
    if st != CERTIFIED:
        return -1
    v = w.f[0]
    c = 0.0
    for j in range(r):
        c += X[1, j] * X[0, j]
    nv = 0.0
    for j in range(r):
        v[j] = X[1, j] - c * X[0, j]
        nv += v[j] * v[j]
    nv = math.sqrt(nv)
    if not (nv > 0.5):
        return -1
    a = 0.0
    b = 0.0
    cc = 0.0
    for i in range(r):
        bv = 0.0
        bx = 0.0
        for j in range(r):
            bv += B[i, j] * v[j]
            bx += B[i, j] * X[0, j]
        a += X[0, i] * bx
        b += X[0, i] * bv
        cc += v[i] * bv
    b /= nv
    cc /= nv * nv
    h = 0.5 * (a - cc)
    low = 0.5 * (a + cc) - math.sqrt(h * h + b * b)  # the smaller Ritz value: <= lambda_2
    lam2 = min(low, up2)
    w.info[I_SCALE] = scale
    w.lam[0] = th1
    w.res[0] = rho1
    w.err[0] = up1 - th1
    w.lam[1] = lam2
    w.res[1] = rho2
    w.err[1] = up2 - lam2 + 4.0 * r * EPS * scale  # rounding in the 2 x 2 Rayleigh-Ritz
    w.info[I_GAP] = np.nan
    w.info[I_BETA] = np.nan
    w.info[I_WARM] = 1.0
    w.info[I_CALLS] += 1.0
    return CERTIFIED


@jit(_nrt=False)
def _abs_max(B):
    """``max |B_ij|`` in one pass; ``inf`` or NaN if ``B`` has a non-finite entry."""
    scale = 0.0
    bad = False
    for i in range(B.shape[0]):
        for j in range(B.shape[1]):
            v = abs(B[i, j])
            if v > scale:
                scale = v
            elif not (v <= scale):
                bad = True
    return math.nan if bad else scale


@jit(_nrt=False)
def _top_value_small(B, w):
    """The small-r path of :func:`top_value`; -1 where it does not apply or does not certify.
    Compiled without numba's reference counting (it allocates nothing), which at small r
    costs more than the arithmetic."""
    r = B.shape[0]
    if not (w.Q.shape[0] == r and w.old.shape[0] == 0 and w.info[I_VEC] == 0.0):
        return -1
    scale = _abs_max(B)
    if not (scale > 0.0 and scale < math.inf):
        return -1
    w.info[I_SCALE] = scale
    if _values_warm(B, w, scale) != CERTIFIED:
        return -1
    w.info[I_CALLS] += 1.0
    return CERTIFIED
