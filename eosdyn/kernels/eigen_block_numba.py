"""The block path of the eigen contract (:mod:`.eigen_numba`, ``r > R_FULL``): block Davidson with
thick restart on ``O(r^2)`` matrix-vector products, and the inertia proof of the gap."""

from __future__ import annotations

import math

import numpy as np

from ._numba import jit
from .eigen_base_numba import (
    CERTIFIED,
    I_BETA,
    I_GAP,
    I_NMV,
    I_PROOFS,
    I_TOL,
    I_VEC,
    I_WARM,
    MAXIT,
    TOL_VALUES,
    _emit,
    _matvecs,
    _normalize,
    _top_order,
)
from .eigen_dense_numba import EPS, dot, exceeds, jacobi


@jit
def _append(V, nv, x, r, floor):
    """Orthogonalise ``x`` against ``V[:nv]`` (classical Gram-Schmidt, twice; a third time when
    most of ``x`` was in the span, so that a small remainder is orthogonal to rounding) and append
    it as row ``nv`` if what is left is above ``floor`` times its norm; returns the new row count.
    The projections are BLAS ``gemv`` products (``c = V x``, ``x -= V^T c``)."""
    if nv >= V.shape[0]:
        return nv
    nx = math.sqrt(dot(x, x, r))
    if not (nx > 0.0 and nx < math.inf):
        return nv
    v = V[nv]
    for j in range(r):
        v[j] = x[j] / nx
    left = 1.0
    for p in range(3):
        if p == 2 and left > 1e-3:
            break
        if nv > 0:
            c = np.dot(V[:nv], v)
            proj = np.dot(c, V[:nv])
            for j in range(r):
                v[j] -= proj[j]
        if p >= 1:
            left *= _normalize(v)
    if left > floor:
        return nv + 1
    return nv


@jit
def _ritz(w, n0, nv, b, scale):
    """Rayleigh-Ritz on ``V[:nv]`` (``T = V B V^T`` kept in ``w.T``; rows/columns from ``n0`` on
    are new): the top ``b`` Ritz vectors into ``Q``, their residuals ``B x - theta x`` into ``R``.
    Returns ``(theta, res)``. The products are BLAS ``gemm``s."""
    r = w.V.shape[1]
    T = w.T
    if nv > n0:  # symmetrised products, new columns only: 0.5 (V_i . BV_j + V_j . BV_i)
        P1 = np.dot(w.V[:nv], w.BV[n0:nv].T)
        P2 = np.dot(w.BV[:nv], w.V[n0:nv].T)
        for i in range(nv):
            for j in range(max(i, n0), nv):
                t = 0.5 * (P1[i, j - n0] + P2[i, j - n0])
                T[i, j] = t
                T[j, i] = t
    Ts = T[:nv, :nv].copy()
    Z = np.zeros((nv, nv))
    for i in range(nv):
        Z[i, i] = 1.0
    jacobi(Ts, Z, EPS * scale, 60)
    vals = np.empty(nv)
    for i in range(nv):
        vals[i] = Ts[i, i]
    order = np.empty(b, dtype=np.int64)
    _top_order(vals, nv, order)
    theta = np.empty(b)
    res = np.empty(b)
    C = np.empty((b, nv))
    for i in range(b):
        theta[i] = vals[order[i]]
        for l in range(nv):
            C[i, l] = Z[order[i], l]
    np.dot(C, w.V[:nv], w.Q)
    np.dot(C, w.BV[:nv], w.R)
    for i in range(b):
        x = w.Q[i]
        bx = w.R[i]
        for j in range(r):
            bx[j] -= theta[i] * x[j]
        res[i] = math.sqrt(dot(bx, bx, r))
    return theta, res


@jit(_nrt=False)
def _olsen(B, x, res, theta, scale, t):
    """Davidson's expansion vector with the diagonal preconditioner ``M = diag(B) - theta I`` and
    Olsen's correction: ``t = M^-1 res - eps M^-1 x``, ``eps = (x . M^-1 res) / (x . M^-1 x)``
    (``|M_jj|`` kept above ``1e-12 ||B||``). Only the basis it spans changes: Ritz pairs and
    residuals are computed from ``B`` itself, so the certificate is the same."""
    r = B.shape[0]
    floor = 1e-12 * scale
    num = 0.0
    den = 0.0
    for j in range(r):
        mj = _precond(B[j, j] - theta, floor)
        num += x[j] * res[j] / mj
        den += x[j] * x[j] / mj
    eps = num / den if den != 0.0 else 0.0
    for j in range(r):
        t[j] = (res[j] - eps * x[j]) / _precond(B[j, j] - theta, floor)


@jit(_nrt=False, inline="always")
def _precond(mj, floor):
    """A diagonal entry of :func:`_olsen`'s preconditioner, kept at least ``floor`` away from 0."""
    if abs(mj) < floor:
        return floor if mj >= 0.0 else -floor
    return mj


#: a Ritz value wanted as a value only is converged once its Kato-Temple error ``res^2 / delta``
#: (``delta`` estimated as half the distance to the next Ritz value) is below this times ``||B||``
VALUE_ERR = 1e-14


@jit(_nrt=False, inline="always")
def _done(theta, res, i, tol, scale):
    """Ritz pair ``i`` converged: ``res[i] <= tol ||B||``, or, for a value-only tolerance
    (``tol >= TOL_VALUES``), its estimated Kato-Temple error below ``VALUE_ERR ||B||`` (the
    certificate itself is computed afterwards from the proven gap)."""
    if res[i] <= tol * scale:
        return True
    if tol < TOL_VALUES or i + 1 >= theta.shape[0]:
        return False
    half = 0.5 * (theta[i] - theta[i + 1])
    return res[i] < half and res[i] * res[i] <= VALUE_ERR * scale * half


@jit
def _davidson(B, w, k, b, scale, cold, tol, tol_rest, maxit):
    """Block Davidson with thick restart from the warm basis ``Q`` (and the one before, ``old``);
    on exit ``Q`` holds the top ``b`` Ritz vectors and ``old`` the previous ``Q``. Returns
    ``(theta, res, matrix-vector products, converged)``."""
    r = B.shape[0]
    nb = w.V.shape[0]
    V = w.V
    nv = 0
    e = w.e
    if cold:  # the coordinate vectors of the largest diagonal entries
        diag = np.empty(r)
        for i in range(r):
            diag[i] = B[i, i]
        order = np.empty(b, dtype=np.int64)
        _top_order(diag, r, order)
        for i in range(b):
            for j in range(r):
                e[j] = 1.0 if j == order[i] else 0.0
            nv = _append(V, nv, e, r, 1e-8)
    else:  # the previous Ritz vectors and the two bases before: their span holds the quadratic
        # extrapolation of a smoothly moving invariant subspace
        for i in range(b):
            nv = _append(V, nv, w.Q[i], r, 1e-8)
        for h in range(2):  # the wanted vectors of the bases before (the guards' rotate too fast)
            for i in range(k):
                nv = _append(V, nv, w.old[h * b + i], r, 1e-13)
    for i in range(b):
        for j in range(r):
            w.old[b + i, j] = w.old[i, j]
            w.old[i, j] = w.Q[i, j]
    _matvecs(B, V, w.BV, 0, nv)
    nmv = nv
    theta, res = _ritz(w, 0, nv, b, scale)
    converged = False
    for it in range(maxit + 1):
        converged = True
        for i in range(k):
            if not _done(theta, res, i, tol if i == 0 else tol_rest, scale):
                converged = False
        if converged or it == maxit:
            break
        if nv + b > nb:  # thick restart: V <- the b Ritz vectors (their images are known)
            for i in range(b):
                for j in range(r):
                    V[i, j] = w.Q[i, j]
                    w.BV[i, j] = w.R[i, j] + theta[i] * w.Q[i, j]
                for j in range(b):
                    w.T[i, j] = theta[i] if i == j else 0.0
            nv = b
        n0 = nv
        for i in range(b):
            done = _done(theta, res, i, tol if i == 0 else tol_rest, scale) if i < k else (
                res[i] <= tol_rest * scale)
            if nv < nb and not done:
                _olsen(B, w.Q[i], w.R[i], theta[i], scale, w.e)
                nv = _append(V, nv, w.e, r, 1e-10)
        if nv == n0:
            break
        _matvecs(B, V, w.BV, n0, nv)
        nmv += nv - n0
        theta, res = _ritz(w, n0, nv, b, scale)
    return theta, res, nmv, converged


@jit
def _prove(B, w, k, sigma, theta, rf):
    """Inertia proof that ``lambda_{k+1}(B) < sigma``: ``sigma I - (B - P)`` positive definite
    with ``P = sum_{i<k} mu_i x_i x_i^T``, ``mu_i = 2 (theta_i - sigma) + rf`` (``x_i = Q[i]``)."""
    r = B.shape[0]
    M = w.work  # lower triangle of B - P; exceeds factors it in place (it reads row j up to j)
    for i in range(r):
        for j in range(i + 1):
            M[i, j] = B[i, j]
    for l in range(k):
        mu = 2.0 * (theta[l] - sigma) + rf
        if mu > 0.0:
            x = w.Q[l]
            for i in range(r):
                c = mu * x[i]
                for j in range(i + 1):
                    M[i, j] -= c * x[j]
    w.info[I_PROOFS] += 1.0
    if r >= BLOCKED_MIN:
        for i in range(r):
            for j in range(i + 1):
                M[i, j] = (sigma if i == j else 0.0) - M[i, j]
        return posdef_blocked(M, 48)
    return not exceeds(M, sigma, M)


#: the inertia proof factors blocked (BLAS for the trailing updates) from this order on
BLOCKED_MIN = 256


@jit
def posdef_blocked(A, nbk):
    """Whether the symmetric ``A`` (lower triangle read, overwritten) is positive definite: the
    same test as :func:`exceeds` (``A = sigma I - B``), by right-looking blocked Cholesky (block
    ``nbk``; the trailing updates ``A22 -= L21 L21^T`` as BLAS products), stopping at the first
    pivot that is not ``> 0`` (NaN included). ``r^3 / 3`` flops, most of them in ``gemm``."""
    n = A.shape[0]
    for k0 in range(0, n, nbk):
        k1 = min(k0 + nbk, n)
        for j in range(k0, k1):  # the diagonal block, unblocked
            d = A[j, j]
            for l in range(k0, j):
                d -= A[j, l] * A[j, l]
            if not (d > 0.0):
                return False
            d = math.sqrt(d)
            A[j, j] = d
            for i in range(j + 1, k1):
                acc = A[i, j]
                for l in range(k0, j):
                    acc -= A[i, l] * A[j, l]
                A[i, j] = acc / d
        if k1 == n:
            break
        for i in range(k1, n):  # the panel: L21 = A21 L11^{-T}
            for j in range(k0, k1):
                acc = A[i, j]
                for l in range(k0, j):
                    acc -= A[i, l] * A[j, l]
                A[i, j] = acc / A[j, j]
        L21 = np.ascontiguousarray(A[k1:, k0:k1])
        U = np.dot(L21, L21.T)
        for i in range(k1, n):
            for j in range(k1, i + 1):
                A[i, j] -= U[i - k1, j - k1]
    return True


@jit
def _subspace(B, w, scale, drift):
    """:func:`top_pairs` by block Davidson; returns ``CERTIFIED`` or -1 (no certificate)."""
    r = B.shape[0]
    k = w.lam.shape[0]
    b = w.Q.shape[0]
    info = w.info
    cold = info[I_WARM] == 0.0
    # vectors="top" (I_VEC = 1): only x_0 is wanted to the vector tolerance, the others as values
    tol_rest = TOL_VALUES if info[I_VEC] == 1.0 else info[I_TOL]
    theta, res, nmv, converged = _davidson(B, w, k, b, scale, cold, info[I_TOL], tol_rest, MAXIT)
    info[I_NMV] = nmv
    info[I_WARM] = 1.0
    if not converged:
        return -1
    rf = 0.0
    for i in range(k):
        rf += res[i] * res[i]
    rf = math.sqrt(rf) + 8.0 * r * EPS * scale
    beta = info[I_BETA] + drift
    lo = theta[k - 1] - rf
    if not (lo > beta):  # the carried bound does not separate: prove a new one
        beta = math.inf
        nxt = theta[k] if b > k else theta[k - 1] - scale
        for frac in (0.5, 0.1):
            sigma = lo - frac * max(lo - nxt, 0.0)
            if sigma < lo and _prove(B, w, k, sigma, theta, rf):
                beta = sigma
                break
        if not (lo > beta):
            info[I_BETA] = math.inf
            return -1
    info[I_BETA] = beta
    info[I_GAP] = lo - beta
    order = np.arange(k)
    _emit(w, order, w.Q, theta, res)
    for i in range(k):
        delta = theta[i] - beta
        for j in range(k):
            if j != i:
                delta = min(delta, abs(theta[i] - theta[j]) - rf)
        bound = rf if not (delta > rf) else min(rf, res[i] * res[i] / delta)
        w.err[i] = bound + 8.0 * r * EPS * scale
    return CERTIFIED
