"""Eigenvalues of small dense real symmetric matrices, as allocation-free numba kernels.

These kernels are meant to be called once per gradient-descent step from inside other numba
kernels, for matrices of order ``r`` from 1 to a few hundred (``r = 5`` is the main case).
They call no LAPACK routine (``numpy.linalg`` inside numba costs about a microsecond of call
overhead at ``r = 5``) and allocate nothing: every workspace is passed in, preallocated.

Public kernels
--------------
``sym_eigvals(B, out, work, e)``
    All eigenvalues, ascending: Householder tridiagonalisation, implicit-shift QL/QR (root-free
    Pal-Walker-Kahan form), insertion sort.
``top_eigvec(B, lam, v_prev, v_out, work, piv)``
    Unit eigenvector of a known largest eigenvalue ``lam``: inverse iteration on
    ``B - lam I``, sign-continuous with ``v_prev``.
``max_eigval_warm(B, v, work, piv, e, out)``
    Largest eigenvalue from a warm start vector: shifted inverse / Rayleigh quotient
    iteration, certified by an inertia test (an ``LDL^T`` factorisation of ``sigma I - B``
    must be positive definite), with ``sym_eigvals`` + ``top_eigvec`` as the fallback.

Conventions
-----------
All arrays are C-contiguous float64 (``piv`` int64). ``B`` is exactly symmetric and is never
modified. The kernels work on ``B`` scaled by a power of two (an exact operation) so that its
largest entry (or row sum) is of order one, and scale results back exactly, so entries from
about 1e-300 to 1e300 are handled without overflow or underflow. Accuracy is that of a
backward-stable algorithm: absolute errors of a small multiple of ``r eps ||B||_2``. No input
validation is done; NaNs give garbage but never hang a kernel (every loop is bounded).
"""

from __future__ import annotations

import math

from eosdyn.kernels._numba import jit

_EPS = 2.220446049250313e-16  # float64 unit roundoff * 2 (numpy.finfo(float).eps)
_HYP_LO = 1e-290  # below this, x*x + y*y may have lost bits to underflow: use math.hypot
_HYP_HI = 1e300  # above this, x*x + y*y may overflow: use math.hypot
_SAFE_LO = 2.0**-100  # sym_eigvals rescales B only if max|B_ij| is outside [_SAFE_LO, _SAFE_HI]
_SAFE_HI = 2.0**100
_BIG = 1e100  # rescale a triangular solve whose solution grows beyond this
_QL_MAXIT = 30  # QL/QR sweeps allowed per eigenvalue, on average (about 2 are typical)
_RQI_MAXIT = 8  # Rayleigh quotient iterations before falling back to the full solver
_CERT_TRY = 1e-9  # try the inertia certificate once ||B v - theta v|| <= _CERT_TRY ||B||
_CONVERGED = 1e-12  # ... and fall back if it fails while the residual is already below this


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
def _tridiagonalize(A, d, e2, n):
    """Householder reduction of the symmetric ``A`` (upper triangle used) to tridiagonal form.

    Step ``k`` applies ``H = I - beta u u^T`` from both sides to annihilate ``A[k, k+2:]``:
    with ``x = A[k, k+1:]``, ``alpha = -sign(x_0) ||x||``, ``u = x - alpha e_1`` and
    ``beta = 2 / (u^T u) = 1 / (||x|| |u_0|)``; the trailing block is updated by the rank-two
    formula ``A22 <- A22 - u w^T - w u^T`` with ``p = beta A22 u``,
    ``w = p - (beta u^T p / 2) u``. Transforms are not accumulated. On exit ``d[0:n]`` holds
    the diagonal and ``e2[0:n-1]`` the *squares* of the off-diagonal of the tridiagonal matrix
    (``e2[k] = ||x||^2``, which needs no square root; ``e2[n-1] = 0``); ``A`` is overwritten
    (``u`` is kept in ``A[k, k+1:]``, ``p`` and ``w`` live in ``e2[k+1:]``). Cost ``4 n^3 / 3``
    flops.
    """
    for k in range(n - 2):
        d[k] = A[k, k]
        x0 = A[k, k + 1]
        sigma = 0.0
        for j in range(k + 2, n):
            sigma += A[k, j] * A[k, j]
        if sigma == 0.0:
            e2[k] = x0 * x0  # column already reduced
            continue
        mu2 = x0 * x0 + sigma
        mu = math.sqrt(mu2)
        u0 = x0 + mu if x0 >= 0.0 else x0 - mu  # x0 - alpha, alpha = -sign(x0) mu
        A[k, k + 1] = u0
        beta = 1.0 / (mu * abs(u0))
        # p = beta * A22 u, from the upper triangle of A22 (row-contiguous access).
        for i in range(k + 1, n):
            e2[i] = 0.0
        for i in range(k + 1, n):
            ui = A[k, i]
            acc = A[i, i] * ui
            for j in range(i + 1, n):
                aij = A[i, j]
                acc += aij * A[k, j]
                e2[j] += aij * ui
            e2[i] += acc
        upt = 0.0
        for i in range(k + 1, n):
            e2[i] *= beta
            upt += A[k, i] * e2[i]
        half_k = 0.5 * beta * upt
        for i in range(k + 1, n):
            e2[i] -= half_k * A[k, i]
        # A22 -= u w^T + w u^T (upper triangle only).
        for i in range(k + 1, n):
            ui = A[k, i]
            wi = e2[i]
            for j in range(i, n):
                A[i, j] -= ui * e2[j] + wi * A[k, j]
        e2[k] = mu2
    if n >= 2:
        d[n - 2] = A[n - 2, n - 2]
        e2[n - 2] = A[n - 2, n - 1] * A[n - 2, n - 1]
    d[n - 1] = A[n - 1, n - 1]
    e2[n - 1] = 0.0


@jit
def _eig2x2(a, b2, c):
    """Eigenvalues ``(rt1, rt2)`` of ``[[a, b], [b, c]]`` given ``b2 = b*b``, ``|rt1| >= |rt2|``.

    The larger-magnitude root is ``(a + c +- sqrt((a - c)^2 + 4 b^2)) / 2`` (sign of ``a + c``,
    no cancellation); the other is ``det / rt1 = (a c - b^2) / rt1``, evaluated as
    ``(acmx / rt1) acmn - b^2 / rt1`` to avoid overflow and cancellation.
    """
    sm = a + c
    df = a - c
    t = df * df + 4.0 * b2
    if t > _HYP_LO and t < _HYP_HI:
        rt = math.sqrt(t)
    else:
        rt = math.hypot(df, 2.0 * math.sqrt(b2))
    if abs(a) > abs(c):
        acmx = a
        acmn = c
    else:
        acmx = c
        acmn = a
    if sm > 0.0:
        rt1 = 0.5 * (sm + rt)
    elif sm < 0.0:
        rt1 = 0.5 * (sm - rt)
    else:
        return 0.5 * rt, -0.5 * rt
    return rt1, (acmx / rt1) * acmn - b2 / rt1


@jit
def _shift(dl, dnext, el2):
    """Wilkinson shift: the eigenvalue of ``[[dl, e], [e, dnext]]`` (``el2 = e^2``) nearer to
    ``dl``, ``dl - e^2 / (delta + sign(delta) sqrt(delta^2 + e^2))``, ``delta = (dnext - dl)/2``
    (the denominator has modulus ``>= |e| > 0``)."""
    delta = 0.5 * (dnext - dl)
    t = delta * delta + el2
    if t > _HYP_LO and t < _HYP_HI:
        rt = math.sqrt(t)
    else:
        rt = math.hypot(delta, math.sqrt(el2))
    return dl - el2 / (delta + (rt if delta >= 0.0 else -rt))


@jit
def _ql_sweep(d, e2, l, m):
    """One root-free implicit QL sweep on the unreduced block ``l..m`` (``m >= l + 2``), with
    the shift from its leading 2x2 block; see ``_tridiagonal_ql``."""
    sigma = _shift(d[l], d[l + 1], e2[l])
    c = 1.0
    s = 0.0
    gamma = d[m] - sigma
    p = gamma * gamma
    for i in range(m - 1, l - 1, -1):
        # gamma' = (p (d_i - sigma) - e_i^2 gamma) / r and p' = gamma'^2 / c = gamma' num / p
        # are the textbook c (d_i - sigma) - s gamma and gamma'^2 / c, arranged for a short
        # dependency chain.
        bb = e2[i]
        r = p + bb
        if i != m - 1:
            e2[i + 1] = s * r
        c_old = c
        alpha = d[i]
        num = p * (alpha - sigma) - bb * gamma
        inv_r = 1.0 / r
        c = p * inv_r
        s = bb * inv_r
        gamma_old = gamma
        gamma = num * inv_r
        d[i + 1] = gamma_old + (alpha - gamma)
        if p != 0.0:
            p = gamma * (num / p)
        else:
            p = c_old * bb
    e2[l] = s * p
    d[l] = sigma + gamma


@jit
def _qr_sweep(d, e2, l, m):
    """The mirror image of ``_ql_sweep`` (index ``i`` <-> ``l + m - i``): one root-free
    implicit QR sweep on the block ``l..m``, shift from its trailing 2x2 block, chasing the
    bulge downwards so that ``e2[m-1]`` converges to zero."""
    sigma = _shift(d[m], d[m - 1], e2[m - 1])
    c = 1.0
    s = 0.0
    gamma = d[l] - sigma
    p = gamma * gamma
    for i in range(l + 1, m + 1):
        bb = e2[i - 1]
        r = p + bb
        if i != l + 1:
            e2[i - 2] = s * r
        c_old = c
        alpha = d[i]
        num = p * (alpha - sigma) - bb * gamma
        inv_r = 1.0 / r
        c = p * inv_r
        s = bb * inv_r
        gamma_old = gamma
        gamma = num * inv_r
        d[i - 1] = gamma_old + (alpha - gamma)
        if p != 0.0:
            p = gamma * (num / p)
        else:
            p = c_old * bb
    e2[m - 1] = s * p
    d[m] = sigma + gamma


@jit
def _tridiagonal_ql(d, e2, n, thresh):
    """Eigenvalues of a symmetric tridiagonal matrix: implicit-shift QL/QR, root-free form.

    ``d[0:n]`` is the diagonal and ``e2[0:n-1]`` holds the *squares* of the off-diagonal
    entries; on exit ``d`` holds the eigenvalues (unsorted) and ``e2`` is destroyed.

    An off-diagonal is negligible when ``e2[k] <= thresh`` (the caller passes
    ``thresh = (eps max|B_ij|)^2``: setting it to zero perturbs the eigenvalues by at most
    ``eps ||B||_2``, the accuracy the Householder reduction delivers anyway). The matrix is
    split at negligible off-diagonals into unreduced blocks ``l..lend``. Each sweep works at
    the end of the block whose off-diagonal is smaller (already nearer convergence): a QL
    sweep, shift from the leading 2x2 block, if ``e2[l] <= e2[lend-1]``, else a QR sweep,
    shift from the trailing one. An eigenvalue is taken off the block when its off-diagonal
    becomes negligible; a remaining 2x2 block is solved in closed form (``_eig2x2``).

    The sweeps are the square-root-free form of Pal, Walker and Kahan (Parlett, *The
    Symmetric Eigenvalue Problem*, section 8.15). QL on ``l..m`` with shift ``sigma`` (the
    Wilkinson shift, ``_shift``): ``gamma = d_m - sigma``, ``p = gamma^2``, ``c = 1``,
    ``s = 0``; for ``i = m-1, ..., l``::

        r = p + e_i^2;  e'_{i+1}^2 = s r (i < m-1);  c = p / r;  s = e_i^2 / r
        gamma' = c (d_i - sigma) - s gamma;  d'_{i+1} = gamma + (d_i - gamma')
        p = gamma'^2 / c   (p = c_old e_i^2 if c = 0)

    then ``e'_l^2 = s p`` and ``d'_l = sigma + gamma``; QR is its mirror image. Convergence
    is cubic (about two sweeps per eigenvalue); at most ``_QL_MAXIT * n`` sweeps are made.
    """
    sweeps = 0
    l1 = 0
    while l1 < n:
        lend = l1
        while lend < n - 1 and e2[lend] > thresh:
            lend += 1
        l = l1
        l1 = lend + 1
        while l < lend:
            if e2[l] <= e2[lend - 1]:
                m = l
                while m < lend and e2[m] > thresh:
                    m += 1
                if m == l:
                    l += 1
                elif m == l + 1:
                    r1, r2 = _eig2x2(d[l], e2[l], d[m])
                    d[l] = r1
                    d[m] = r2
                    l += 2
                else:
                    if sweeps == _QL_MAXIT * n:
                        return
                    sweeps += 1
                    _ql_sweep(d, e2, l, m)
            else:
                m = lend
                while m > l and e2[m - 1] > thresh:
                    m -= 1
                if m == lend:
                    lend -= 1
                elif m == lend - 1:
                    r1, r2 = _eig2x2(d[m], e2[m], d[lend])
                    d[m] = r1
                    d[lend] = r2
                    lend -= 2
                else:
                    if sweeps == _QL_MAXIT * n:
                        return
                    sweeps += 1
                    _qr_sweep(d, e2, m, lend)


@jit
def _sort(x):
    """Insertion sort, ascending, in place (``n`` is small; measured faster than branch-free
    ranking or an odd-even transposition network at ``n = 5``)."""
    n = x.shape[0]
    for i in range(1, n):
        xi = x[i]
        j = i - 1
        while j >= 0 and x[j] > xi:
            x[j + 1] = x[j]
            j -= 1
        x[j + 1] = xi


@jit
def sym_eigvals(B, out, work, e):
    """All eigenvalues of a small dense real symmetric matrix, in ascending order.

    Algorithm: copy the upper triangle of ``B`` into ``work`` (rescaled by a power of two,
    which is exact, if its largest entry is outside ``[2^-100, 2^100]``, so that no square
    can overflow or underflow); Householder reduction to symmetric tridiagonal form without
    accumulating the transforms (``4 r^3 / 3`` flops); implicit-shift QL/QR in root-free form
    on the tridiagonal matrix (eigenvalues only, ``O(r^2)``, see ``_tridiagonal_ql``); exact
    unscaling; insertion sort. Backward stable: each computed eigenvalue is within a small
    multiple of ``r eps ||B||_2`` of the exact one.

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
    # Copy the upper triangle, tracking the largest modulus.
    amax = 0.0
    for i in range(n):
        for j in range(i, n):
            b = B[i, j]
            work[i, j] = b
            amax = max(amax, abs(b))
    if amax == 0.0:
        for i in range(n):
            out[i] = 0.0
        return
    unscale = 1.0
    if not (amax > _SAFE_LO and amax < _SAFE_HI):
        # Far from 1: rescale by a power of two (exact) so that squares cannot over/underflow.
        scale, unscale = _pow2_scale(amax)
        amax *= scale
        for i in range(n):
            for j in range(i, n):
                work[i, j] *= scale
    _tridiagonalize(work, out, e, n)
    # Deflate off-diagonals below eps * max|B_ij|: a perturbation of at most eps ||B||_2.
    thresh = (_EPS * amax) ** 2
    _tridiagonal_ql(out, e, n, thresh)
    if unscale != 1.0:
        for i in range(n):
            out[i] *= unscale
    _sort(out)


@jit
def _lu_shifted(B, scale, shift, work, piv, floor):
    """LU factorisation with partial pivoting of ``scale * B - shift * I``, in ``work``.

    Crout (left-looking) Gaussian elimination: column ``j`` of ``U`` and ``L`` is formed from
    inner products with the finished columns, the pivot is the entry of largest modulus on or
    below the diagonal, and ``piv[j]`` is the row swapped with row ``j`` (LAPACK convention).
    A pivot of modulus below ``floor`` (exactly or nearly zero: the shifted matrix is singular
    by design in inverse iteration) is replaced by ``+-floor``. On exit the strict lower
    triangle holds the unit-lower factor, the diagonal the *reciprocals* of the pivots and the
    strict upper triangle the rest of ``U``.
    """
    n = B.shape[0]
    for i in range(n):
        for j in range(n):
            work[i, j] = B[i, j] * scale
        work[i, i] -= shift
    for j in range(n):
        for i in range(1, j):
            acc = work[i, j]
            for k in range(i):
                acc -= work[i, k] * work[k, j]
            work[i, j] = acc
        p = j
        amax = -1.0
        for i in range(j, n):
            acc = work[i, j]
            for k in range(j):
                acc -= work[i, k] * work[k, j]
            work[i, j] = acc
            a = abs(acc)
            if a > amax:
                amax = a
                p = i
        piv[j] = p
        if p != j:
            for k in range(n):
                t = work[j, k]
                work[j, k] = work[p, k]
                work[p, k] = t
        pjj = work[j, j]
        if not (abs(pjj) >= floor):
            pjj = -floor if pjj < 0.0 else floor
        inv = 1.0 / pjj
        work[j, j] = inv
        for i in range(j + 1, n):
            work[i, j] *= inv


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
def _inf_norm(B):
    """``||B||_inf``, the largest absolute row sum."""
    n = B.shape[0]
    anorm = 0.0
    for i in range(n):
        rs = 0.0
        for j in range(n):
            rs += abs(B[i, j])
        if rs > anorm:
            anorm = rs
    return anorm


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
    """Flip the unit ``x`` so that ``x . ref >= 0``. If ``|x . ref|`` is at rounding level
    (``<= 4 r eps ||ref||``: e.g. ``ref`` is zero or orthogonal to ``x``), its sign means
    nothing; make the entry of largest modulus positive instead (a deterministic convention)."""
    n = x.shape[0]
    dot = 0.0
    rr = 0.0
    for i in range(n):
        dot += x[i] * ref[i]
        rr += ref[i] * ref[i]
    if not (abs(dot) > 4.0 * n * _EPS * math.sqrt(rr)):
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
    so the iteration stops as soon as ``1 / ||y|| <= 8 eps ||B||`` (rounding level: after one
    step from a warm ``v_prev``, two from a poor one), or ``<= 16 r eps ||B||`` from the second
    step on (``lam`` itself may be off by a few ulps of ``r ||B||``); at most 3 steps. If
    ``v_prev`` is zero, or the iteration did not converge (``v_prev`` nearly orthogonal to the
    eigenvector), it restarts from ``ones / sqrt(r)``, then from a fixed mixed-sign vector.
    Finally the sign is chosen so that ``v_out . v_prev >= 0``; if that product is zero to
    rounding (``v_prev`` zero or orthogonal to ``v_out``), the entry of largest modulus is
    made positive instead.

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
    anorm = _inf_norm(B)
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
    tight = 8.0 * _EPS  # residual floor of an exact shift (scaled ||B||_inf is in [0.5, 1))
    loose = 16.0 * n * _EPS  # what an inaccurate lam (a few ulps of r ||B||) still allows
    attempt = 0 if usable else 1
    while attempt < 3:
        if attempt == 0:
            for i in range(n):
                v_out[i] = v_prev[i] / pnorm
        else:
            _start_vector(v_out, attempt - 1)
        converged = False
        for it in range(3):
            _lu_solve(work, piv, v_out)
            nrm = _normalize(v_out)
            if nrm == 0.0 or not (nrm < math.inf):
                break
            if nrm * tight >= 1.0 or (it >= 1 and nrm * loose >= 1.0):
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
    """Is ``sigma I - scale B`` positive definite? ``L D L^T`` without pivoting, in ``work``.

    Left-looking (row by row) factorisation on the lower triangle: row ``j`` of ``L D`` comes
    from inner products with the finished rows, then ``d_j``. By Sylvester's law of inertia the
    number of eigenvalues of ``scale B`` above ``sigma`` equals the number of negative pivots,
    so the matrix is positive definite iff every pivot is ``> 0``; the factorisation stops at
    the first one that is not (a NaN counts as not positive). On success the strict lower
    triangle of ``work`` holds ``L`` and the diagonal the reciprocal pivots ``1/d_j``.
    """
    n = B.shape[0]
    for j in range(n):
        for i in range(j):
            acc = -(B[j, i] * scale)
            for k in range(i):
                acc -= work[j, k] * work[i, k]
            work[j, i] = acc  # (L D)_{ji}
        dj = sigma - B[j, j] * scale
        for i in range(j):
            t = work[j, i]
            u = t * work[i, i]
            work[j, i] = u
            dj -= u * t
        if not (dj > 0.0):
            return False
        work[j, j] = 1.0 / dj
    return True


@jit
def _ldlt_solve(work, x):
    """Solve ``L D L^T y = x`` in place with the factors from ``_ldlt_posdef`` (with the
    same overflow guard as ``_lu_solve``)."""
    n = x.shape[0]
    for i in range(1, n):
        acc = x[i]
        for k in range(i):
            acc -= work[i, k] * x[k]
        x[i] = acc
    for i in range(n):
        x[i] *= work[i, i]
    for k in range(n - 1, -1, -1):
        t = x[k]
        if abs(t) > _BIG:
            for j in range(n):
                x[j] *= 1.0 / _BIG
            t = x[k]
        for i in range(k):
            x[i] -= work[k, i] * t


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

    Everything runs on ``s B``, ``s`` a power of two with ``s ||B||_inf`` in ``[0.5, 1)``;
    ``||B||`` below means ``||s B||_inf``. With ``theta = v^T B v`` (the Rayleigh quotient of
    the unit ``v``, never above ``lambda_max``) and ``res = ||B v - theta v||``:

    1. Fixed-shift inverse iteration (if ``res > 1e-9 ||B||``): if ``sigma_1 I - B``, with
       ``sigma_1 = theta + res + tiny``, is positive definite (``LDL^T`` without pivoting; by
       the Kato-Temple bound ``lambda_1 - theta <= res^2 / (theta - lambda_2)`` it is when
       ``v`` is a warm vector with ``res`` below the spectral gap), up to 5 steps
       ``v <- (sigma_1 I - B)^{-1} v / ||.||`` contract the error of ``v`` by
       ``(sigma_1 - lambda_1) / (sigma_1 - lambda_2)`` each; stop when ``res <= 1e-9 ||B||``
       or the residual shrinks by less than a factor 10.
    2. Rayleigh quotient iteration, at most 8 steps: while ``res > 1e-9 ||B||``, solve
       ``(B - theta I) y = v`` (LU with partial pivoting, pivot floor ``eps ||B||``) and set
       ``v = +-y / ||y||`` (sign kept continuous).
    3. Certificate, tried once ``res <= 1e-9 ||B||``: ``sigma I - B`` with
       ``sigma = theta + 4 eps |theta| + tiny`` (``tiny = 4 r eps ||B||``) must be positive
       definite (``LDL^T``: the number of negative pivots is the number of eigenvalues above
       ``sigma``, Sylvester's law of inertia). Success proves
       ``theta <= lambda_max <= sigma``. On failure the iteration goes on, unless it had
       already converged (``res <= 1e-12 ||B||``: ``theta`` is another eigenvalue); then, as
       when it does not converge or ``v`` is zero, the kernel falls back to ``sym_eigvals`` +
       ``top_eigvec``.
    4. Polish: one inverse-iteration step with the certified factorisation,
       ``v <- (sigma I - B)^{-1} v / ||.||`` (it contracts the error of ``v`` by
       ``(sigma - lambda_1) / (sigma - lambda_2)``, i.e. to rounding level, and keeps its sign
       since the matrix is positive definite), and its Rayleigh quotient ``theta'``; the result
       is ``max(theta, theta')``.

    Typical step-to-step cost for a slowly varying ``B``: two ``LDL^T`` factorisations
    (``r^3 / 3`` flops each), three matrix-vector products and two triangular solve pairs.

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
    anorm = _inf_norm(B)
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
    theta, res = _matvec_rq(B, scale, v, out)
    # 1. Fixed-shift inverse iteration with a positive definite factorisation.
    if res > cert_try and _ldlt_posdef(B, scale, theta + res + tiny, work):
        for _ in range(5):
            for i in range(n):
                out[i] = v[i]
            _ldlt_solve(work, out)
            nrm = _normalize(out)
            if not (nrm > 0.0 and nrm < math.inf):
                break
            for i in range(n):
                v[i] = out[i]
            theta, res_new = _matvec_rq(B, scale, v, out)
            slow = res_new > 0.1 * res
            res = res_new
            if res <= cert_try or slow:
                break
    # 2.-4. Rayleigh quotient iteration with certificate attempts.
    for it in range(_RQI_MAXIT + 1):
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
        if it == _RQI_MAXIT:
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
        theta, res = _matvec_rq(B, scale, v, out)
    for i in range(n):
        v[i] = e[i]
    return _max_eigval_fallback(B, v, work, piv, e, out)
