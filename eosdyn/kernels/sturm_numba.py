"""Warm-started extreme eigenvalues of small symmetric matrices by Sturm-sequence Newton.

After a Householder reduction ``B -> T`` (tridiagonal, diagonal ``d``, squared off-diagonal
``e2``), the pivots of the ``LDL^T`` factorisation of ``T - x I``::

    q_0 = d_0 - x,     q_i = (d_i - x) - e2_{i-1} / q_{i-1}

count the eigenvalues below ``x`` (Sylvester's inertia: one per negative pivot) and give
``f'/f = sum_j 1 / (x - lambda_j) = sum_i q_i' / q_i`` for ``f(x) = det(T - x I)`` with
``q_0' = -1``, ``q_i' = -1 + e2_{i-1} q_{i-1}' / q_{i-1}^2``. Newton's step
``x <- x - 1 / (f'/f)`` started above the largest eigenvalue decreases monotonically to it
(``f`` has only real roots), and since ``f'/f <= r / (x - lambda_max)`` every step is at least
``(x - lambda_max) / r``: a step below ``eps |x|`` certifies ``|x - lambda_max| <= r eps |x|``.
The second eigenvalue follows the same way on ``f(x) / (lambda_1 - x)`` (implicit deflation),
started from a point with exactly one eigenvalue above it.

Warm starts come from the previous step's values; a start that the inertia count rejects
is widened, then replaced by a Gershgorin bound. The caller falls back to a full solver when
``nan`` is returned (no convergence within the iteration cap).
"""

import math

from .._numba import jit
from .eig_numba import _tridiagonalize

_EPS = 2.220446049250313e-16
_MAXIT = 60
_TINY = 1e-290


@jit
def tridiagonal(B, work, d, e2):
    """Copy ``B`` (upper triangle read) into ``work`` and reduce it: ``d``, ``e2`` of ``T``.

    Returns the Gershgorin bounds ``(lo, hi)`` of ``B``'s spectrum (from ``B`` itself).
    """
    r = B.shape[0]
    lo = math.inf
    hi = -math.inf
    for i in range(r):
        rad = 0.0
        for j in range(r):
            work[i, j] = B[i, j]
            if j != i:
                rad += abs(B[i, j])
        if B[i, i] + rad > hi:
            hi = B[i, i] + rad
        if B[i, i] - rad < lo:
            lo = B[i, i] - rad
    _tridiagonalize(work, d, e2, r)
    return lo, hi


@jit
def count_below(d, e2, x, scale):
    """Number of eigenvalues of ``T`` strictly below ``x`` (negative LDL^T pivots)."""
    r = d.shape[0]
    tiny = _EPS * scale + _TINY
    cnt = 0
    q = 1.0
    for i in range(r):
        q = (d[i] - x) - (e2[i - 1] / q if i > 0 else 0.0)
        if q == 0.0:
            q = -tiny
        if q < 0.0:
            cnt += 1
    return cnt


@jit
def _log_derivative(d, e2, x, scale):
    """``f'/f`` at ``x`` for ``f = det(T - x I)``, through the pivot recurrence."""
    r = d.shape[0]
    tiny = _EPS * scale + _TINY
    q = 1.0
    dq = 0.0
    s = 0.0
    for i in range(r):
        if i == 0:
            q = d[0] - x
            dq = -1.0
        else:
            ratio = e2[i - 1] / q
            dq = -1.0 + ratio * dq / q
            q = (d[i] - x) - ratio
        if q == 0.0:
            q = -tiny
        s += dq / q
    return s


@jit
def _newton_down(d, e2, x, scale, lam_above):
    """Newton from ``x`` down to the largest root of ``f(x)`` (``lam_above = inf``) or of
    ``f(x) / (lam_above - x)``; stops once a step is below ``2 eps max(|x|, 1e-3 scale)``."""
    floor = 1e-3 * scale
    for _ in range(_MAXIT):
        s = _log_derivative(d, e2, x, scale)
        if lam_above < math.inf:
            s -= 1.0 / (x - lam_above)
        if not (s > 0.0):
            return x
        step = 1.0 / s
        if step <= 2.0 * _EPS * max(abs(x), floor):
            return x - step
        x -= step
    return math.nan


@jit
def top_two(d, e2, lo, hi, warm1, warm2, want2):
    """Largest (and, if ``want2``, second largest) eigenvalue of ``T``; ``nan`` on failure.

    ``warm1``/``warm2`` are the previous values (``nan`` if none); ``lo``/``hi`` Gershgorin
    bounds.
    """
    r = d.shape[0]
    scale = max(abs(lo), abs(hi))
    if scale == 0.0:
        return 0.0, 0.0
    x = _start_above(d, e2, warm1, r, hi, scale)
    lam1 = _newton_down(d, e2, x, scale, math.inf)
    if not want2 or r < 2 or not (lam1 == lam1):
        return lam1, math.nan
    # a start with exactly one eigenvalue (lambda_1) above it
    y = math.nan
    if warm2 == warm2 and warm2 < lam1:
        for widen in (1e-6, 1e-3, 1e-1):
            c = warm2 + widen * (abs(warm2) + scale * 1e-3)
            if c < lam1 and count_below(d, e2, c, scale) == r - 1:
                y = c
                break
    if not (y == y):
        a, b = lo, lam1
        for _ in range(200):
            c = 0.5 * (a + b)
            k = count_below(d, e2, c, scale)
            if k == r - 1:
                y = c
                break
            if k < r - 1:
                a = c
            else:
                b = c
            if b - a <= _EPS * scale:
                y = c
                break
    if not (y == y) or y >= lam1:
        return lam1, math.nan
    lam2 = _newton_down(d, e2, y, scale, lam1)
    return lam1, lam2


@jit
def _start_above(d, e2, warm, r, hi, scale):
    """A point above every eigenvalue: the warm value nudged up if the inertia allows, else
    the Gershgorin bound."""
    if warm == warm:
        for widen in (1e-7, 1e-4, 1e-2):
            c = warm + widen * (abs(warm) + scale * 1e-3)
            if c < hi and count_below(d, e2, c, scale) == r:
                return c
    return hi


@jit
def top_eigvec_shifted(B, lam1, scale, v_prev, v_out, work):
    """Unit top eigenvector of ``B`` by two steps of inverse iteration with the positive
    definite ``S = (lam1 + tau) I - B``, ``tau = 1e-10 scale``: an ``LDL^T`` factorisation
    (no pivoting needed) and two solves from ``v_prev``; the sign makes ``v_out . v_prev >= 0``.

    Returns False (``v_out`` undefined) when ``S`` is not numerically positive definite or
    ``v_prev`` is (numerically) orthogonal to the eigenvector; the caller then falls back.
    """
    r = B.shape[0]
    sigma = lam1 + 1e-10 * scale + _TINY
    # LDL^T of S into work: unit lower L below the diagonal, D on the diagonal
    for j in range(r):
        dj = sigma - B[j, j]
        for k in range(j):
            dj -= work[j, k] * work[j, k] * work[k, k]
        if not (dj > 0.0):
            return False
        work[j, j] = dj
        for i in range(j + 1, r):
            acc = -B[i, j]
            for k in range(j):
                acc -= work[i, k] * work[j, k] * work[k, k]
            work[i, j] = acc / dj
    nrm = 0.0
    for i in range(r):
        v_out[i] = v_prev[i]
        nrm += v_prev[i] * v_prev[i]
    if not (nrm > 0.0):
        for i in range(r):
            v_out[i] = 1.0
    for _ in range(2):
        for i in range(r):  # L y = x
            acc = v_out[i]
            for k in range(i):
                acc -= work[i, k] * v_out[k]
            v_out[i] = acc
        for i in range(r):  # D z = y
            v_out[i] /= work[i, i]
        for i in range(r - 1, -1, -1):  # L^T w = z
            acc = v_out[i]
            for k in range(i + 1, r):
                acc -= work[k, i] * v_out[k]
            v_out[i] = acc
        nrm = 0.0
        for i in range(r):
            nrm += v_out[i] * v_out[i]
        nrm = math.sqrt(nrm)
        if not (nrm > 0.0 and nrm < math.inf):
            return False
        for i in range(r):
            v_out[i] /= nrm
    # the residual certifies the direction: ||B v - lam1 v|| small relative to the scale
    res = 0.0
    dot = 0.0
    for i in range(r):
        acc = -lam1 * v_out[i]
        for j in range(r):
            acc += B[i, j] * v_out[j]
        res += acc * acc
        dot += v_out[i] * v_prev[i]
    if not (math.sqrt(res) <= 1e-9 * scale):
        return False
    if dot < 0.0:
        for i in range(r):
            v_out[i] = -v_out[i]
    return True
