"""Dense symmetric eigen kernels: the building blocks of :mod:`.eigen_numba` (read that first).

Allocation-free numba kernels for real symmetric matrices (all arrays C-contiguous float64):

``sym_eigvals(B, out, work, e)``
    All eigenvalues, ascending: Householder tridiagonalisation, root-free implicit-shift QL/QR
    (Pal-Walker-Kahan), insertion sort. ``O(r^3)``, backward stable.
``exceeds(B, sigma, work)``
    The inertia test: is ``sigma I - B`` *not* positive definite, i.e. ``lambda_max(B) >= sigma``
    (to rounding)? ``L D L^T`` without pivoting, stopping at the first pivot that is not ``> 0``.
``jacobi(T, Q, ...)``
    Cyclic Jacobi rotations on a small symmetric ``T``, accumulated into the rows of ``Q``.

``B`` is exactly symmetric and never modified. No input validation; NaNs give NaN or ``True``
but never hang a kernel (every loop is bounded).
"""

from __future__ import annotations

import math

from eosdyn.kernels._numba import jit

EPS = 2.220446049250313e-16  # float64 machine epsilon (numpy.finfo(float).eps)
_EPS = EPS
_HYP_LO = 1e-290  # below this, x*x + y*y may have lost bits to underflow: use math.hypot
_HYP_HI = 1e300  # above this, x*x + y*y may overflow: use math.hypot
_SAFE_LO = 2.0**-100  # sym_eigvals rescales B only if max|B_ij| is outside [_SAFE_LO, _SAFE_HI]
_SAFE_HI = 2.0**100
_QL_MAXIT = 30  # QL/QR sweeps allowed per eigenvalue, on average (about 2 are typical)


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
def dot(x, y, n):
    """``x[:n] . y[:n]`` with four interleaved partial sums (a fixed order: deterministic, and
    four independent dependency chains instead of one)."""
    s0 = 0.0
    s1 = 0.0
    s2 = 0.0
    s3 = 0.0
    j = 0
    while j + 4 <= n:
        s0 += x[j] * y[j]
        s1 += x[j + 1] * y[j + 1]
        s2 += x[j + 2] * y[j + 2]
        s3 += x[j + 3] * y[j + 3]
        j += 4
    while j < n:
        s0 += x[j] * y[j]
        j += 1
    return (s0 + s1) + (s2 + s3)


@jit(_nrt=False, inline="always")
def dot_rows(A, i, C, j, n):
    """``A[i, :n] . C[j, :n]``, summed as :func:`dot` (the same four partial sums, so the same
    bits), with 2-d indexing: row views cost reference counts, which on the small-r paths cost
    more than the arithmetic."""
    s0 = 0.0
    s1 = 0.0
    s2 = 0.0
    s3 = 0.0
    l = 0
    while l + 4 <= n:
        s0 += A[i, l] * C[j, l]
        s1 += A[i, l + 1] * C[j, l + 1]
        s2 += A[i, l + 2] * C[j, l + 2]
        s3 += A[i, l + 3] * C[j, l + 3]
        l += 4
    while l < n:
        s0 += A[i, l] * C[j, l]
        l += 1
    return (s0 + s1) + (s2 + s3)


@jit(_nrt=False)
def exceeds(B, sigma, work):
    """The inertia test: ``True`` unless ``sigma I - B`` is positive definite.

    Left-looking ``L D L^T`` without pivoting on the lower triangle of ``sigma I - B`` (row ``j``
    of ``L D`` from inner products with the finished rows, then the pivot ``d_j``), in ``work``.
    By Sylvester's law of inertia the number of eigenvalues of ``B`` above ``sigma`` is the
    number of negative pivots, so ``sigma I - B`` is positive definite iff every pivot is
    ``> 0``; the factorisation stops at the first one that is not (NaN included: a non-finite
    ``B`` "exceeds" every ``sigma``). Without pivoting this is Cholesky's algorithm in disguise,
    backward stable on the positive definite part it has factored. Cost ``r^3 / 6``
    multiply-adds at most. On success ``work`` holds ``L`` (strict lower triangle) and the
    reciprocal pivots (diagonal).
    """
    n = B.shape[0]
    for j in range(n):  # 2-d indexing throughout: row views cost reference counts
        for i in range(j):  # (L D)_{ji} = -B_ji - sum_l (L D)_{jl} L_il
            work[j, i] = -B[j, i] - dot_rows(work, j, work, i, i)
        dj = sigma - B[j, j]
        for i in range(j):
            t = work[j, i]
            u = t * work[i, i]
            work[j, i] = u
            dj -= u * t
        if not (dj > 0.0):
            return True
        work[j, j] = 1.0 / dj
    return False


@jit
def rotate(T, Q, i, j):
    """One Jacobi rotation that annihilates ``T[i, j]`` (``T`` symmetric, stored full), applied
    to the rows ``i``, ``j`` of ``Q`` (``T = Q B Q^T`` stays true).

    With ``theta = (T_jj - T_ii) / (2 T_ij)``, ``t = sign(theta) / (|theta| + sqrt(theta^2 + 1))``
    (the smaller rotation angle), ``c = 1 / sqrt(1 + t^2)``, ``s = t c``: ``T_ii -= t T_ij``,
    ``T_jj += t T_ij``, ``(T_li, T_lj) <- (c T_li - s T_lj, s T_li + c T_lj)`` and the same for the
    rows ``q_i, q_j`` (Numerical Recipes' form with ``tau = s / (1 + c)``). For the small
    rotations of a warm basis (``|theta| > 1e3``) ``t`` and ``c`` come from their series in
    ``1/theta^2`` to rounding level: one division, no square root.
    """
    p = T.shape[0]
    tij = T[i, j]
    h = T[j, j] - T[i, i]
    if abs(h) > 2e3 * abs(tij):  # |theta| > 1e3: series in u = 1/theta^2 <= 1e-6, no root
        t = tij / h  # 1 / (2 theta)
        t2 = t * t  # u / 4
        t = t * (1.0 - t2 + 2.0 * t2 * t2)  # (1 - u/4 + u^2/8) / (2 theta), error O(u^3)
        t2 = t * t
        c = 1.0 - 0.5 * t2 + 0.375 * t2 * t2  # 1 / sqrt(1 + t^2), error O(t^6)
    else:
        theta = h / (2.0 * tij)
        at = abs(theta)
        t = 1.0 / (at + math.sqrt(at * at + 1.0))
        if theta < 0.0:
            t = -t
        c = 1.0 / math.sqrt(t * t + 1.0)
    s = t * c
    tau = s / (1.0 + c)
    T[i, i] -= t * tij
    T[j, j] += t * tij
    T[i, j] = 0.0
    T[j, i] = 0.0
    for l in range(p):
        if l != i and l != j:
            a = T[l, i]
            b = T[l, j]
            a2 = a - s * (b + tau * a)
            b2 = b + s * (a - tau * b)
            T[l, i] = a2
            T[i, l] = a2
            T[l, j] = b2
            T[j, l] = b2
    for l in range(Q.shape[1]):  # 2-d indexing: no row views (their reference counts cost)
        a = Q[i, l]
        b = Q[j, l]
        Q[i, l] = a - s * (b + tau * a)
        Q[j, l] = b + s * (a - tau * b)


@jit
def jacobi(T, Q, tol, maxsweep):
    """Cyclic Jacobi on the symmetric ``T`` (p x p), rotations accumulated into the rows of ``Q``.

    Sweeps over every pair ``i < j`` and rotates those with ``|T_ij| > tol`` (setting the others
    to zero perturbs the eigenvalues by at most ``p tol``, Weyl). Converges quadratically; a ``T``
    that is already nearly diagonal (a warm basis) needs one or two sweeps. Returns the number of
    sweeps that rotated something, or ``-1`` if ``maxsweep`` sweeps did not converge.
    """
    p = T.shape[0]
    for sweep in range(maxsweep):
        rotated = False
        for i in range(p - 1):
            for j in range(i + 1, p):
                if abs(T[i, j]) > tol:
                    rotate(T, Q, i, j)
                    rotated = True
        if not rotated:
            return sweep
    return -1
