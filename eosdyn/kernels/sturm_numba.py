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
is widened, then replaced by a Gershgorin bound; where Newton does not converge within its
iteration cap, Sturm bisection (unconditionally convergent) takes over.
"""

import math

from ._numba import jit
from .eig_numba import _ldlt_posdef, _ldlt_solve, _normalize, _orient, _tridiagonalize

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
def bisect(d, e2, lo, hi, j, scale):
    """The ``j``-th smallest eigenvalue of ``T`` (0-based) by Sturm bisection on ``[lo, hi]``
    (LAPACK ``stebz``'s method): slow but unconditionally convergent, the fallback."""
    for _ in range(400):
        mid = 0.5 * (lo + hi)
        if hi - lo <= 2.0 * _EPS * max(abs(lo), abs(hi), 1e-3 * scale) or mid <= lo or mid >= hi:
            return mid
        if count_below(d, e2, mid, scale) >= j + 1:
            hi = mid
        else:
            lo = mid
    return 0.5 * (lo + hi)


@jit
def top_two(d, e2, lo, hi, warm1, warm2, want2):
    """Largest (and, if ``want2``, second largest) eigenvalue of ``T``.

    ``warm1``/``warm2`` are the previous values (``nan`` if none); ``lo``/``hi`` Gershgorin
    bounds. Newton from a certified start; :func:`bisect` where Newton does not converge.
    """
    r = d.shape[0]
    scale = max(abs(lo), abs(hi))
    if scale == 0.0:
        return 0.0, 0.0
    x = _start_above(d, e2, warm1, r, hi, scale)
    lam1 = _newton_down(d, e2, x, scale, math.inf)
    if not (lam1 == lam1):
        lam1 = bisect(d, e2, lo, hi, r - 1, scale)
    if not want2 or r < 2:
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
    lam2 = math.nan
    if y == y and y < lam1:
        lam2 = _newton_down(d, e2, y, scale, lam1)
    if not (lam2 == lam2):
        lam2 = bisect(d, e2, lo, lam1, r - 2, scale)
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
    """Unit top eigenvector of ``B`` by inverse iteration with the positive definite
    ``S = (lam1 + tau) I - B``: an ``LDL^T`` factorisation (no pivoting needed) and solves
    from ``v_prev`` until ``||B v - lam1 v|| <= 1e-9 scale``, then one more (each solve
    shrinks the other components by ~tau / gap); the sign makes
    ``v_out . v_prev >= 0``.

    ``tau = 1e-10 scale`` first (one or two solves suffice from a warm start); should that
    fail (``S`` numerically indefinite, or a start orthogonal to the eigenvector), larger
    shifts and other start vectors follow. Returns False if every attempt failed.
    """
    for attempt in range(6):
        tau = (1e-10, 1e-10, 1e-7, 1e-7, 1e-4, 1e-4)[attempt] * scale + _TINY
        if not _ldlt_posdef(B, 1.0, lam1 + tau, work):
            continue
        _start(v_prev, v_out, attempt % 2)
        for _ in range(8):
            if not _solve_normalise(work, v_out):
                break
            if _residual(B, lam1, v_out) <= 1e-9 * scale:
                # converged in direction; one more solve takes the error to rounding level
                if _solve_normalise(work, v_out):
                    _orient(v_out, v_prev)
                    return True
    return False


@jit
def _start(v_prev, v, kind):
    """Start vector: ``v_prev`` (kind 0, if nonzero), else a fixed mixed-sign vector."""
    r = v.shape[0]
    nrm = 0.0
    for i in range(r):
        nrm += v_prev[i] * v_prev[i]
    for i in range(r):
        if kind == 0 and nrm > 0.0:
            v[i] = v_prev[i]
        else:
            v[i] = 1.0 + 0.5 * ((i * 7919) % 13) / 13.0


@jit
def _solve_normalise(work, v):
    """``v <- (L D L^T)^{-1} v / ||.||`` with the factors of ``_ldlt_posdef``; False on
    overflow or a zero result."""
    _ldlt_solve(work, v)
    nrm = _normalize(v)
    return nrm > 0.0 and nrm < math.inf


@jit
def _residual(B, lam, v):
    """``||B v - lam v||``."""
    r = v.shape[0]
    res = 0.0
    for i in range(r):
        acc = -lam * v[i]
        for j in range(r):
            acc += B[i, j] * v[j]
        res += acc * acc
    return math.sqrt(res)


@jit
def max_eig_certified(B, v, scale, work):
    """``lambda_max(B)`` from a warm unit vector ``v`` (updated in place), or ``nan``.

    With ``theta = v^T B v`` (a lower bound of lambda_max) and ``rho = ||B v - theta v||``,
    an ``LDL^T`` inertia test of ``sigma I - B``, ``sigma = theta + max(rho, tol)``, proves
    ``lambda_max <= sigma``; once ``sigma - theta <= tol = 4 eps (|theta| + r scale)`` the
    answer is certified. Otherwise ``v`` takes one shift-and-invert step
    ``v <- (sigma I - B)^{-1} v`` (the factorisation is positive definite) and the test
    repeats. ``nan`` when the test fails (something above ``theta + rho``: ``v`` is not near the
    top eigenvector) or after 6 steps; the caller then falls back to the Sturm kernels.
    """
    r = B.shape[0]
    nrm = 0.0
    for i in range(r):
        nrm += v[i] * v[i]
    nrm = math.sqrt(nrm)
    if not (nrm > 0.0 and nrm < math.inf):
        return math.nan
    for i in range(r):
        v[i] /= nrm
    for _ in range(6):
        theta = 0.0
        for i in range(r):
            acc = 0.0
            for j in range(r):
                acc += B[i, j] * v[j]
            theta += v[i] * acc
        rho = _residual(B, theta, v)
        tol = 4.0 * _EPS * (abs(theta) + r * scale)
        sigma = theta + max(rho, tol)
        if not _ldlt_posdef(B, 1.0, sigma, work):
            return math.nan
        if rho <= tol:  # then sigma = theta + tol
            return theta
        if not _solve_normalise(work, v):
            return math.nan
    return math.nan
