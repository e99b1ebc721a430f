"""Eigenvalues of small dense real symmetric matrices, as allocation-free numba kernels.

These kernels are meant to be called once per gradient-descent step from inside other numba
kernels, for matrices of order ``r`` from 1 to a few hundred (``r = 5`` is the main case).
They call no LAPACK routine (``numpy.linalg`` inside numba costs about a microsecond of call
overhead at ``r = 5``) and allocate nothing: every workspace is passed in, preallocated.

Public kernels
--------------
``sym_eigvals(B, out, work, e)``
    All eigenvalues, ascending: Householder tridiagonalisation, implicit-shift QL, sort.
``top_eigvec(B, lam, v_prev, v_out, work, piv)``
    Unit eigenvector of a known largest eigenvalue ``lam``: inverse iteration on
    ``B - lam I``, sign-continuous with ``v_prev``.
``max_eigval_warm(B, v, work, piv, e, out)``
    Largest eigenvalue from a warm start vector: Rayleigh quotient iteration, certified by an
    inertia test (an ``LDL^T`` factorisation of ``sigma I - B`` must be positive definite),
    with ``sym_eigvals`` + ``top_eigvec`` as the fallback.

Conventions
-----------
All arrays are C-contiguous float64 (``piv`` int64). ``B`` is exactly symmetric and is never
modified. Every kernel works internally on ``B`` scaled by a power of two (an exact operation)
so that its largest entry (or row sum) is of order one; results are scaled back exactly. No
input validation is done.
"""

from __future__ import annotations

import math

from eosdyn._numba import jit

_EPS = 2.220446049250313e-16  # float64 unit roundoff * 2 (numpy.finfo(float).eps)
_HYP_LO = 1e-290  # below this, x*x + y*y may have lost bits to underflow: use math.hypot
_HYP_HI = 1e300  # above this, x*x + y*y may overflow: use math.hypot
_BIG = 1e100  # rescale a triangular solve whose solution grows beyond this
_QL_MAXIT = 40  # implicit QL iterations allowed per eigenvalue (about 2 are typical)
_RQI_MAXIT = 8  # Rayleigh quotient iterations before falling back to the full solver
_CERT_TRY = 1e-8  # try the inertia certificate once ||B v - theta v|| <= _CERT_TRY ||B||
_CONVERGED = 1e-10  # ... and fall back if it fails while the residual is already below this


@jit
def _hypot(x, y):
    """``sqrt(x*x + y*y)`` without spurious overflow or underflow.

    The plain formula is used when ``x*x + y*y`` lies safely inside the normal range (the hot
    path: the callers work on data scaled to order one); ``math.hypot`` otherwise.
    """
    t = x * x + y * y
    if t > _HYP_LO and t < _HYP_HI:
        return math.sqrt(t)
    return math.hypot(x, y)


@jit
def _pow2_scale(a):
    """Power of two ``s`` with ``a * s`` in ``[0.5, 1)``, exponent clamped to +-1000.

    Returns ``(s, 1/s)``; both are exact powers of two, so scaling by them is exact (barring
    underflow of entries ~1e-300 times smaller than ``a``, which is negligible).
    """
    ex = math.frexp(a)[1]
    if ex > 1000:
        ex = 1000
    elif ex < -1000:
        ex = -1000
    return math.ldexp(1.0, -ex), math.ldexp(1.0, ex)


@jit
def _tridiagonalize(A, d, e, n):
    """Householder reduction of the symmetric ``A`` (upper triangle used) to tridiagonal form.

    Step ``k`` applies ``H = I - beta u u^T`` from both sides to annihilate ``A[k, k+2:]``:
    with ``x = A[k, k+1:]``, ``alpha = -sign(x_0) ||x||``, ``u = x - alpha e_1`` and
    ``beta = 2 / (u^T u) = 1 / (||x|| |u_0|)``; the trailing block is updated by the rank-two
    formula ``A22 <- A22 - u w^T - w u^T`` with ``p = beta A22 u``,
    ``w = p - (beta u^T p / 2) u``. Transforms are not accumulated. On exit ``d[0:n]`` holds
    the diagonal and ``e[0:n-1]`` the off-diagonal of the tridiagonal matrix (``e[n-1] = 0``);
    ``A`` is overwritten (``u`` is kept in ``A[k, k+1:]``, ``p`` and ``w`` live in ``e[k+1:]``).
    Cost ``4 n^3 / 3`` flops.
    """
    for k in range(n - 2):
        d[k] = A[k, k]
        x0 = A[k, k + 1]
        sigma = 0.0
        for j in range(k + 2, n):
            sigma += A[k, j] * A[k, j]
        if sigma == 0.0:
            e[k] = x0  # column already reduced
            continue
        mu = math.sqrt(x0 * x0 + sigma)
        alpha = -mu if x0 >= 0.0 else mu
        u0 = x0 - alpha  # = x0 + sign(x0) mu: no cancellation
        A[k, k + 1] = u0
        beta = 1.0 / (mu * abs(u0))
        # p = beta * A22 u, from the upper triangle of A22 (row-contiguous access).
        for i in range(k + 1, n):
            e[i] = 0.0
        for i in range(k + 1, n):
            ui = A[k, i]
            acc = A[i, i] * ui
            for j in range(i + 1, n):
                aij = A[i, j]
                acc += aij * A[k, j]
                e[j] += aij * ui
            e[i] += acc
        upt = 0.0
        for i in range(k + 1, n):
            e[i] *= beta
            upt += A[k, i] * e[i]
        half_k = 0.5 * beta * upt
        for i in range(k + 1, n):
            e[i] -= half_k * A[k, i]
        # A22 -= u w^T + w u^T (upper triangle only).
        for i in range(k + 1, n):
            ui = A[k, i]
            wi = e[i]
            for j in range(i, n):
                A[i, j] -= ui * e[j] + wi * A[k, j]
        e[k] = alpha
    if n >= 2:
        d[n - 2] = A[n - 2, n - 2]
        e[n - 2] = A[n - 2, n - 1]
    d[n - 1] = A[n - 1, n - 1]
    e[n - 1] = 0.0


@jit
def _tridiagonal_ql(d, e, n):
    """Eigenvalues of a symmetric tridiagonal matrix by the implicit-shift QL algorithm.

    ``d[0:n]`` is the diagonal, ``e[0:n-1]`` the off-diagonal (``e[n-1]`` is set to 0); on
    exit ``d`` holds the eigenvalues (unsorted) and ``e`` is destroyed. For each ``l`` the
    smallest ``m >= l`` with a negligible ``e[m]`` (``|e[m]| <= eps (|d[m]| + |d[m+1]|)``)
    splits off the unreduced block ``l..m``; a QL sweep with the Wilkinson-type shift from the
    leading 2x2 block is chased up the block by plane rotations (eigenvalues only, so the
    rotations are not stored) until ``e[l]`` is negligible. Convergence is cubic; at most
    ``_QL_MAXIT`` sweeps are made per eigenvalue.

    Overflow: while ``e[l]`` is not negligible, ``|(d[l+1] - d[l]) / (2 e[l])| < 1 / (2 eps)``,
    so the shift's ``sqrt(g*g + 1)`` is safe; the rotation lengths use ``_hypot``.
    """
    e[n - 1] = 0.0
    for l in range(n):
        it = 0
        while True:
            m = l
            while m < n - 1:
                if abs(e[m]) <= _EPS * (abs(d[m]) + abs(d[m + 1])):
                    break
                m += 1
            if m == l or it == _QL_MAXIT:
                break
            it += 1
            g = (d[l + 1] - d[l]) / (2.0 * e[l])
            rr = math.sqrt(g * g + 1.0)
            g = d[m] - d[l] + e[l] / (g + (rr if g >= 0.0 else -rr))
            s = 1.0
            c = 1.0
            p = 0.0
            deflated = False
            for i in range(m - 1, l - 1, -1):
                f = s * e[i]
                b = c * e[i]
                rr = _hypot(f, g)
                e[i + 1] = rr
                if rr == 0.0:  # the rotation underflowed: the block splits at i+1
                    d[i + 1] -= p
                    e[m] = 0.0
                    deflated = True
                    break
                s = f / rr
                c = g / rr
                g = d[i + 1] - p
                rr = (d[i] - g) * s + 2.0 * c * b
                p = s * rr
                d[i + 1] = g + p
                g = c * rr - b
            if deflated:
                continue
            d[l] -= p
            e[l] = g
            e[m] = 0.0


@jit
def sym_eigvals(B, out, work, e):
    """All eigenvalues of a small dense real symmetric matrix, in ascending order.

    Algorithm: copy the upper triangle of ``B``, scaled by a power of two so that its largest
    entry is in ``[0.5, 1)`` (exact), into ``work``; Householder reduction to symmetric
    tridiagonal form without accumulating the transforms (``4 r^3 / 3`` flops); implicit-shift
    QL on the tridiagonal matrix (eigenvalues only, ``O(r^2)``); exact unscaling; insertion
    sort. Backward stable: each computed eigenvalue is within a small multiple of
    ``r eps ||B||_2`` of the exact one.

    Parameters
    ----------
    B : (r, r) float64
        Symmetric matrix. Only the upper triangle is read; ``B`` is not modified.
    out : (r,) float64
        Receives the eigenvalues in ascending order.
    work : (r, r) float64
        Scratch, overwritten.
    e : (r,) float64
        Scratch, overwritten.
    """
    n = B.shape[0]
    if n == 0:
        return
    if n == 1:
        out[0] = B[0, 0]
        return
    amax = 0.0
    for i in range(n):
        for j in range(i, n):
            a = abs(B[i, j])
            if a > amax:
                amax = a
    if amax == 0.0:
        for i in range(n):
            out[i] = 0.0
        return
    scale, unscale = _pow2_scale(amax)
    for i in range(n):
        for j in range(i, n):
            work[i, j] = B[i, j] * scale
    _tridiagonalize(work, out, e, n)
    _tridiagonal_ql(out, e, n)
    # Unscale (exact) and insertion-sort ascending.
    for i in range(n):
        x = out[i] * unscale
        j = i - 1
        while j >= 0 and out[j] > x:
            out[j + 1] = out[j]
            j -= 1
        out[j + 1] = x


@jit
def _lu_shifted(B, scale, shift, work, piv, floor):
    """LU factorisation with partial pivoting of ``scale * B - shift * I``, in ``work``.

    Row-oriented Gaussian elimination; ``piv[k]`` is the row swapped with row ``k`` at step
    ``k`` (LAPACK convention). A pivot of modulus below ``floor`` (exactly or nearly zero: the
    shifted matrix is singular by design in inverse iteration) is replaced by ``+-floor``. The
    strict lower triangle holds the unit-lower factor; the diagonal holds the *reciprocals* of
    the pivots and the strict upper triangle the rest of ``U``.
    """
    n = B.shape[0]
    for i in range(n):
        for j in range(n):
            work[i, j] = B[i, j] * scale
        work[i, i] -= shift
    for k in range(n):
        p = k
        amax = abs(work[k, k])
        for i in range(k + 1, n):
            a = abs(work[i, k])
            if a > amax:
                amax = a
                p = i
        piv[k] = p
        if p != k:
            for j in range(n):
                t = work[k, j]
                work[k, j] = work[p, j]
                work[p, j] = t
        pkk = work[k, k]
        if abs(pkk) < floor:
            pkk = -floor if pkk < 0.0 else floor
        inv = 1.0 / pkk
        work[k, k] = inv
        for i in range(k + 1, n):
            lik = work[i, k] * inv
            work[i, k] = lik
            if lik != 0.0:
                for j in range(k + 1, n):
                    work[i, j] -= lik * work[k, j]


@jit
def _lu_solve(work, piv, x):
    """Solve ``(P^T L U) y = x`` in place with the factors from ``_lu_shifted``.

    Back substitution rescales the whole vector by ``1/_BIG`` whenever a component exceeds
    ``_BIG`` (the system is singular by design; only the direction of ``y`` matters), so the
    result never overflows.
    """
    n = x.shape[0]
    for k in range(n):
        p = piv[k]
        if p != k:
            t = x[k]
            x[k] = x[p]
            x[p] = t
    for i in range(1, n):
        acc = x[i]
        for j in range(i):
            acc -= work[i, j] * x[j]
        x[i] = acc
    for i in range(n - 1, -1, -1):
        acc = x[i]
        for j in range(i + 1, n):
            acc -= work[i, j] * x[j]
        acc *= work[i, i]
        x[i] = acc
        if abs(acc) > _BIG:
            for j in range(n):
                x[j] *= 1.0 / _BIG


@jit
def _normalize(x):
    """Scale ``x`` to unit 2-norm in place and return the norm it had (0 leaves ``x``)."""
    n = x.shape[0]
    s = 0.0
    for i in range(n):
        s += x[i] * x[i]
    nrm = math.sqrt(s)
    if nrm > 0.0:
        inv = 1.0 / nrm
        for i in range(n):
            x[i] *= inv
    return nrm


@jit
def _start_vector(x, kind):
    """Deterministic unit start vector: ``kind`` 0 is ``ones / sqrt(r)``, 1 a fixed mixed-sign
    low-discrepancy vector (golden-ratio sequence), used when the first one fails."""
    n = x.shape[0]
    for i in range(n):
        if kind == 0:
            x[i] = 1.0
        else:
            t = (i + 1) * 0.6180339887498949
            x[i] = t - math.floor(t) - 0.5
    _normalize(x)


@jit
def _orient(x, ref):
    """Flip ``x`` so that ``x . ref >= 0``; if ``x . ref == 0`` (e.g. ``ref`` is zero), make the
    entry of largest modulus positive instead (a deterministic convention)."""
    n = x.shape[0]
    dot = 0.0
    for i in range(n):
        dot += x[i] * ref[i]
    if dot == 0.0:
        big = 0.0
        for i in range(n):
            if abs(x[i]) > abs(big):
                big = x[i]
        dot = big
    if dot < 0.0:
        for i in range(n):
            x[i] = -x[i]


@jit
def top_eigvec(B, lam, v_prev, v_out, work, piv):
    """Unit eigenvector of the symmetric ``B`` for its (known, accurate) largest eigenvalue.

    Algorithm: inverse iteration. ``s (B - lam I)`` (``s`` a power of two with
    ``s ||B||_inf`` in ``[0.5, 1)``) is LU-factorised with partial pivoting in ``work``, a
    pivot of modulus below ``eps`` being replaced by ``+-eps`` (``eps ||B||`` unscaled). From
    the start vector ``x`` (``v_prev`` normalised) each step solves ``(B - lam I) y = x`` and
    sets ``x = y / ||y||``; the residual of the new ``x`` is ``||(B - lam I) x|| = 1 / ||y||``,
    so the iteration stops as soon as ``1 / ||y|| <= 16 r eps ||B||`` (usually after one step,
    as the shift is exact to rounding), after at most 3 steps. If ``v_prev`` is zero, or the
    iteration did not converge (``v_prev`` nearly orthogonal to the eigenvector), it restarts
    from ``ones / sqrt(r)``, then from a fixed mixed-sign vector. Finally the sign is chosen so
    that ``v_out . v_prev >= 0`` (if that product is zero, the largest entry is made positive).

    Parameters
    ----------
    B : (r, r) float64
        Symmetric matrix, not modified.
    lam : float
        Its largest eigenvalue (e.g. ``out[r-1]`` from ``sym_eigvals``).
    v_prev : (r,) float64
        Start vector and sign reference, e.g. the previous step's eigenvector; may be zero.
        Not modified. Must not be the same array as ``v_out``.
    v_out : (r,) float64
        Receives the unit eigenvector.
    work : (r, r) float64
        Scratch, overwritten.
    piv : (r,) int64
        Scratch, overwritten.
    """
    n = B.shape[0]
    if n == 0:
        return
    if n == 1:
        v_out[0] = -1.0 if v_prev[0] < 0.0 else 1.0
        return
    anorm = 0.0
    for i in range(n):
        rs = 0.0
        for j in range(n):
            rs += abs(B[i, j])
        if rs > anorm:
            anorm = rs
    pnorm = 0.0
    for i in range(n):
        pnorm += v_prev[i] * v_prev[i]
    pnorm = math.sqrt(pnorm)
    usable = pnorm > 1e-150 and pnorm < 1e150
    if not (anorm > 0.0 and anorm < math.inf):
        # B = 0 (every vector is an eigenvector) or not finite: keep the direction of v_prev.
        if usable:
            for i in range(n):
                v_out[i] = v_prev[i] / pnorm
        else:
            _start_vector(v_out, 0)
        return
    scale = _pow2_scale(anorm)[0]
    _lu_shifted(B, scale, lam * scale, work, piv, _EPS)
    tol = 16.0 * n * _EPS
    attempt = 0 if usable else 1
    while attempt < 3:
        if attempt == 0:
            for i in range(n):
                v_out[i] = v_prev[i] / pnorm
        else:
            _start_vector(v_out, attempt - 1)
        converged = False
        for _ in range(3):
            _lu_solve(work, piv, v_out)
            nrm = _normalize(v_out)
            if nrm == 0.0 or not (nrm < math.inf):
                break
            if nrm * tol >= 1.0:
                converged = True
                break
        if converged:
            break
        attempt += 1
    _orient(v_out, v_prev)


@jit
def _matvec_rq(B, scale, v, w):
    """``w = scale * B v``; returns ``(theta, res)`` with ``theta = v . w`` (the Rayleigh
    quotient of the unit ``v``) and ``res = ||w - theta v||``."""
    n = B.shape[0]
    theta = 0.0
    for i in range(n):
        acc = 0.0
        for j in range(n):
            acc += B[i, j] * v[j]
        acc *= scale
        w[i] = acc
        theta += v[i] * acc
    res = 0.0
    for i in range(n):
        t = w[i] - theta * v[i]
        res += t * t
    return theta, math.sqrt(res)


@jit
def _ldlt_posdef(B, scale, sigma, work):
    """Is ``sigma I - scale B`` positive definite? ``LDL^T`` without pivoting, in ``work``.

    Right-looking elimination on the upper triangle: by Sylvester's law of inertia the number
    of eigenvalues of ``scale B`` above ``sigma`` equals the number of negative pivots, so the
    matrix is positive definite iff every pivot is ``> 0``; the factorisation stops at the
    first pivot that is not. On success the diagonal of ``work`` holds the reciprocal pivots
    ``1/d_k`` and ``work[k, i]`` (``i > k``) holds ``d_k L[i, k]``.
    """
    n = B.shape[0]
    for i in range(n):
        for j in range(i, n):
            work[i, j] = -(B[i, j] * scale)
        work[i, i] += sigma
    for k in range(n):
        dk = work[k, k]
        if not (dk > 0.0):
            return False
        inv = 1.0 / dk
        work[k, k] = inv
        for i in range(k + 1, n):
            f = work[k, i] * inv
            if f != 0.0:
                for j in range(i, n):
                    work[i, j] -= f * work[k, j]
    return True


@jit
def _ldlt_solve(work, x):
    """Solve ``L D L^T y = x`` in place with the factors from ``_ldlt_posdef`` (with the
    same overflow guard as ``_lu_solve``)."""
    n = x.shape[0]
    for k in range(n):
        t = x[k] * work[k, k]
        if t != 0.0:
            for i in range(k + 1, n):
                x[i] -= work[k, i] * t
    for k in range(n - 1, -1, -1):
        acc = 0.0
        for i in range(k + 1, n):
            acc += work[k, i] * x[i]
        t = (x[k] - acc) * work[k, k]
        x[k] = t
        if abs(t) > _BIG:
            for j in range(n):
                x[j] *= 1.0 / _BIG


@jit
def _max_eigval_fallback(B, v, work, piv, e, out):
    """``sym_eigvals`` for the largest eigenvalue, then ``top_eigvec`` started from (and
    sign-continuous with) the vector in ``v``, which receives the eigenvector."""
    n = B.shape[0]
    sym_eigvals(B, out, work, e)
    lam = out[n - 1]
    for i in range(n):
        e[i] = v[i]
    top_eigvec(B, lam, e, v, work, piv)
    return lam


@jit
def max_eigval_warm(B, v, work, piv, e, out):
    """Largest eigenvalue of the symmetric ``B`` from a warm start vector, certified.

    Algorithm (on ``s B``, ``s`` a power of two with ``s ||B||_inf`` in ``[0.5, 1)``):

    1. Rayleigh quotient iteration from the unit ``v``: ``theta = v^T B v``,
       ``res = ||B v - theta v||``; while ``res > 1e-8 ||B||``, one step solves
       ``(B - theta I) y = v`` (LU with partial pivoting, pivot floor ``eps ||B||``) and sets
       ``v = +-y / ||y||`` (sign kept continuous). At most 8 iterations.
    2. Certificate: once ``res <= 1e-8 ||B||``, try the ``LDL^T`` factorisation of
       ``sigma I - B`` with ``sigma = theta + 4 eps |theta| + 4 r eps ||B||_inf``. It is
       positive definite iff no eigenvalue exceeds ``sigma`` (inertia count), and a Rayleigh
       quotient never exceeds the largest eigenvalue, so success proves
       ``theta <= lambda_max <= sigma``. If it fails, RQI continues, unless it had already
       converged (``res <= 1e-10 ||B||``: ``theta`` is another eigenvalue), and then, as when
       RQI does not converge in 8 iterations or ``v`` is zero, the kernel falls back to
       ``sym_eigvals`` + ``top_eigvec``.
    3. Polish: one inverse-iteration step with the positive definite factorisation,
       ``v = (sigma I - B)^{-1} v`` normalised (it contracts the error of ``v`` by
       ``(sigma - lambda_1) / (sigma - lambda_2)``, i.e. to rounding level, and keeps the sign
       since the matrix is positive definite), and the new Rayleigh quotient ``theta'``; the
       result is ``max(theta, theta')``.

    Typical step-to-step cost: two matrix-vector products and one ``LDL^T`` (``r^3 / 3``
    flops), plus one LU if the matrix moved enough.

    Parameters
    ----------
    B : (r, r) float64
        Symmetric matrix, not modified.
    v : (r,) float64
        Warm start vector (e.g. the previous step's top eigenvector; any nonzero vector works,
        zero triggers the fallback). Overwritten with the unit top eigenvector, sign-continuous
        (``v_new . v_old >= 0``).
    work : (r, r) float64
        Scratch, overwritten.
    piv : (r,) int64
        Scratch, overwritten.
    e : (r,) float64
        Scratch, overwritten.
    out : (r,) float64
        Scratch, overwritten (holds all eigenvalues, ascending, if the fallback ran).

    Returns
    -------
    float
        The largest eigenvalue of ``B``.
    """
    n = B.shape[0]
    if n == 1:
        v[0] = -1.0 if v[0] < 0.0 else 1.0
        return B[0, 0]
    anorm = 0.0
    for i in range(n):
        rs = 0.0
        for j in range(n):
            rs += abs(B[i, j])
        if rs > anorm:
            anorm = rs
    vnorm = 0.0
    for i in range(n):
        vnorm += v[i] * v[i]
    vnorm = math.sqrt(vnorm)
    if not (anorm < math.inf and vnorm > 1e-150 and vnorm < 1e150):
        return _max_eigval_fallback(B, v, work, piv, e, out)
    inv = 1.0 / vnorm
    for i in range(n):
        v[i] *= inv
        e[i] = v[i]  # e keeps the start vector: the sign reference
    if anorm == 0.0:
        return 0.0
    scale, unscale = _pow2_scale(anorm)
    anorm_s = anorm * scale
    cert_try = _CERT_TRY * anorm_s
    converged_tol = _CONVERGED * anorm_s
    tiny = 4.0 * n * _EPS * anorm_s
    for it in range(_RQI_MAXIT):
        theta, res = _matvec_rq(B, scale, v, out)
        if res <= cert_try:
            sigma = theta + 4.0 * _EPS * abs(theta) + tiny
            if _ldlt_posdef(B, scale, sigma, work):
                for i in range(n):
                    out[i] = v[i]
                _ldlt_solve(work, out)
                nrm = _normalize(out)
                if nrm > 0.0 and nrm < math.inf:
                    for i in range(n):
                        v[i] = out[i]
                    theta2 = _matvec_rq(B, scale, v, out)[0]
                    if theta2 > theta:
                        theta = theta2
                _orient(v, e)
                return theta * unscale
            if res <= converged_tol:
                break
        if it == _RQI_MAXIT - 1:
            break
        _lu_shifted(B, scale, theta, work, piv, _EPS)
        for i in range(n):
            out[i] = v[i]
        _lu_solve(work, piv, out)
        nrm = _normalize(out)
        if not (nrm > 0.0 and nrm < math.inf):
            break
        dot = 0.0
        for i in range(n):
            dot += out[i] * v[i]
        sgn = -1.0 if dot < 0.0 else 1.0
        for i in range(n):
            v[i] = sgn * out[i]
    for i in range(n):
        v[i] = e[i]
    return _max_eigval_fallback(B, v, work, piv, e, out)
