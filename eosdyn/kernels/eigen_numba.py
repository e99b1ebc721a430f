"""The one eigen contract of eosdyn's kernels: warm-started, certified top-k eigenpairs of a
symmetric matrix, and one inertia test.

Every kernel that needs an eigenvalue (the per-step diagnostics, the scan/bifurcation edge test
and ``eta Lambda``, the Hessian sharpness, the flow's events) goes through this module.

``top_pairs(B, w, drift) -> status``
    The ``k`` largest eigenvalues ``lam[0] >= ... >= lam[k-1]`` of the symmetric ``B`` and unit
    eigenvectors ``x[i]`` (rows; each sign-continuous with the previous call's), warm-started
    from the basis the workspace ``w`` (:func:`work`) kept from the previous call, with a
    certificate: residual norms ``res[i] = ||B x_i - lam_i x_i||`` and error bounds ``err[i]``
    such that ``lam[i] <= lambda_i(B) <= lam[i] + err[i]`` (up to rounding in forming ``B``
    itself, ``~ r eps ||B||``), and ``gap`` = a proven lower bound of
    ``lam[k-1] - lambda_{k+1}(B)``.
``exceeds(B, sigma, scratch) -> bool``
    ``lambda_max(B) >= sigma``: the inertia test (``L D L^T`` of ``sigma I - B``), e.g.
    ``Lambda > 2 / eta`` without computing ``Lambda``.
``sym_eigvals(B, out, work, e)``
    All eigenvalues (Householder + QL), for the few callers that need the whole spectrum.

Failure convention (one for all callers): ``top_pairs`` never returns an uncertified value.
It returns ``CERTIFIED`` (warm iteration, certificate holds), ``DENSE`` (the warm iteration
could not certify, so the pairs were recomputed from scratch by cyclic Jacobi on the whole
space: slow, certified) or ``NONFINITE`` (``B`` has a NaN or inf: every output is NaN).

Two paths, one contract (:mod:`.eigen_dense_numba` has the dense building blocks):

* ``r <= R_FULL``: Rayleigh-Ritz on the *whole* space. ``T = Q B Q^T`` in the previous
  eigenbasis ``Q`` is nearly diagonal, so one or two cyclic Jacobi sweeps finish it. Every
  eigenvalue is then within ``||offdiag(T)||_F`` of a diagonal entry (Weyl): the certificate
  is rigorous and the whole spectrum is known (``gap`` is exact). ``O(r^3)`` with tiny constants.
* ``r > R_FULL``: block Davidson/Lanczos with thick restart on ``O(r^2)`` matrix-vector
  products. The basis starts from the previous Ritz vectors and the ones before (the span
  holds their linear extrapolation), grows by the residuals of the wanted pairs, and is
  restarted from the best ``b = k + GUARD`` Ritz vectors. Ritz values are lower bounds
  (Cauchy); the gap needs an upper bound ``beta`` of ``lambda_{k+1}``: it is *proven* by the
  inertia test on the deflated ``sigma I - B + sum_i mu_i x_i x_i^T`` (positive definite
  implies ``lambda_{k+1}(B) < sigma``, since ``B - P`` with ``P`` positive semidefinite of rank
  ``k`` bounds ``lambda_{k+1}(B)`` by ``lambda_1(B - P)``), and carried to later calls by
  Weyl's inequality: ``beta += ||B - B_prev||_2 <= drift`` (the caller's bound). With the
  residual block ``R`` (``||R||_2 <= ||R||_F = rf``) and ``lam[k-1] - rf > beta``, Kahan's theorem
  matches the Ritz values to ``lambda_1..lambda_k`` and Kato-Temple gives
  ``err[i] = res[i]^2 / delta_i`` with ``delta_i`` the distance to the other eigenvalues. The
  ``O(r^3 / 6)`` proof runs only when the carried bound no longer separates.
"""

from __future__ import annotations

import math
from collections import namedtuple

import numpy as np

from ._numba import jit
from .eigen_dense_numba import EPS, dot, exceeds, jacobi, sym_eigvals

__all__ = ["CERTIFIED", "DENSE", "NONFINITE", "R_FULL", "Work", "work", "new_work", "top_pairs",
           "exceeds", "sym_eigvals", "frobenius_drift", "all_pairs"]

CERTIFIED, DENSE, NONFINITE = 0, 1, 2
#: the whole-space (Jacobi) path up to this order, block Davidson above
R_FULL = 24
#: extra Ritz vectors kept beyond the k wanted (they speed up convergence and give the gap)
GUARD = 4
#: the Davidson basis holds at most this many blocks of b vectors before a thick restart
NBLOCKS = 5
#: Davidson iterations per attempt
MAXIT = 300
#: relative residual at which a Ritz pair counts as converged (``res <= tol ||B||``): eigenvalues
#: come out to ``res^2 / gap`` (rounding level at 1e-9 for gaps above ~1e-2 ||B||), eigenvectors
#: to an angle ``res / gap`` (so vectors ask for more)
TOL_VALUES = 1e-9
TOL_VECTORS = 1e-12
#: re-orthonormalise the whole-space basis every this many calls (rotations drift by ~eps each)
REORTH = 64
# slots of ``info``
I_BETA, I_GAP, I_CALLS, I_WARM, I_NMV, I_PROOFS, I_DENSE, I_SCALE, I_TOL, I_VEC = range(10)
NINFO = 10

Work = namedtuple("Work", ["lam", "x", "res", "err", "info", "Q", "old", "R", "V", "BV", "T",
                           "work", "e", "f", "iv"])


@jit
def new_work(r, k, vectors, dense):
    """:func:`work` inside a kernel (``dense``: 1 whole-space path, 0 block path, -1 by ``r``)."""
    k = max(1, min(k, r))
    full = (r <= R_FULL) if dense < 0 else dense > 0
    b = r if full else min(r, k + GUARD)
    nb = r if full else min(r, NBLOCKS * b)
    info = np.zeros(NINFO)
    info[I_BETA] = np.inf
    info[I_TOL] = TOL_VECTORS if vectors else TOL_VALUES
    info[I_VEC] = 2.0 if vectors else 0.0
    return Work(np.full(k, np.nan), np.zeros((k, r)), np.full(k, np.nan), np.full(k, np.nan), info,
                np.zeros((b, r)), np.zeros((0 if full else b, r)), np.zeros((0 if full else b, r)),
                np.zeros((nb, r)), np.zeros((0 if full else nb, r)), np.zeros((nb, nb)),
                np.zeros((r, r)), np.zeros(r), np.zeros((2, max(r, nb))),
                np.zeros(max(r, nb), dtype=np.int64))


def work(r: int, k: int, vectors: bool | str = True, dense: bool | None = None) -> Work:
    """Workspace of :func:`top_pairs` for the top ``k`` pairs of an ``r x r`` matrix.

    It carries the warm start between calls (one workspace per matrix that is tracked along a
    trajectory). ``vectors``: ``True`` all ``k`` eigenvectors; ``"top"`` only ``x[0]``; ``False``
    none (a looser residual tolerance for the block path). For ``r <= R_FULL`` the last two use the
    dense direct ``sym_eigvals`` (plus inverse iteration for ``x[0]``), faster than Jacobi there;
    rows of ``x`` not asked for are not kept current. ``dense`` forces the whole-space path
    (default: ``r <= R_FULL``).
    """
    k = max(1, min(k, r))
    full = r <= R_FULL if dense is None else bool(dense)
    b = r if full else min(r, k + GUARD)
    nb = r if full else min(r, NBLOCKS * b)
    info = np.zeros(NINFO)
    info[I_BETA] = np.inf
    info[I_TOL] = TOL_VECTORS if vectors else TOL_VALUES
    info[I_VEC] = 2.0 if vectors is True else (1.0 if vectors == "top" else 0.0)
    return Work(
        lam=np.full(k, np.nan), x=np.zeros((k, r)), res=np.full(k, np.nan), err=np.full(k, np.nan),
        info=info, Q=np.zeros((b, r)), old=np.zeros((0 if full else b, r)),
        R=np.zeros((0 if full else b, r)), V=np.zeros((nb, r)), BV=np.zeros((0 if full else nb, r)),
        T=np.zeros((nb, nb)), work=np.zeros((r, r)), e=np.zeros(r), f=np.zeros((2, max(r, nb))),
        iv=np.zeros(max(r, nb), dtype=np.int64),
    )


# ------------------------------------------------------------------------------------------
# small helpers


@jit
def is_finite(B):
    """True when every entry of ``B`` is finite."""
    for i in range(B.shape[0]):
        for j in range(B.shape[1]):
            if not math.isfinite(B[i, j]):
                return False
    return True


@jit
def _normalize(x):
    """Scale ``x`` to unit norm in place; returns the norm it had (0 leaves ``x``)."""
    nrm = math.sqrt(dot(x, x, x.shape[0]))
    if nrm > 0.0:
        inv = 1.0 / nrm
        for i in range(x.shape[0]):
            x[i] *= inv
    return nrm


@jit
def _orient(x, ref):
    """Flip the unit ``x`` so that ``x . ref >= 0``; if that product is at rounding level (``ref``
    zero or orthogonal to ``x``), make the entry of largest modulus positive instead."""
    n = x.shape[0]
    d = dot(x, ref, n)
    rr = dot(ref, ref, n)
    if not (abs(d) > 4.0 * n * EPS * math.sqrt(rr)):
        d = 0.0
        for i in range(n):
            if abs(x[i]) > abs(d):
                d = x[i]
    if d < 0.0:
        for i in range(n):
            x[i] = -x[i]


@jit
def _matvecs(B, V, BV, lo, hi):
    """``BV[q] = B V[q]`` for rows ``lo <= q < hi``: one pass over ``B`` (row axpys, which
    vectorise without reassociation; ``B`` symmetric, so row ``j`` is column ``j``)."""
    r = B.shape[0]
    for q in range(lo, hi):
        for i in range(r):
            BV[q, i] = 0.0
    for j in range(r):
        row = B[j]
        for q in range(lo, hi):
            c = V[q, j]
            if c != 0.0:
                y = BV[q]
                for i in range(r):
                    y[i] += c * row[i]


@jit
def frobenius_drift(B, prev):
    """``||B - prev||_F`` (a bound of ``||B - prev||_2`` for :func:`top_pairs`' ``drift``); then
    ``prev = B``. ``inf`` if ``prev`` is not finite (e.g. the first call: fill it with NaN)."""
    acc = 0.0
    for i in range(B.shape[0]):
        for j in range(B.shape[1]):
            d = B[i, j] - prev[i, j]
            acc += d * d
            prev[i, j] = B[i, j]
    return math.sqrt(acc) if acc == acc else math.inf


@jit
def _set_nan(w):
    for i in range(w.lam.shape[0]):
        w.lam[i] = np.nan
        w.res[i] = np.nan
        w.err[i] = np.nan
        for j in range(w.x.shape[1]):
            w.x[i, j] = np.nan
    w.info[I_GAP] = np.nan
    w.info[I_WARM] = 0.0
    w.info[I_BETA] = np.inf


@jit
def _emit(w, order, src, vals, res):
    """Write the top pairs to ``lam``, ``res`` and (sign-continuous) ``x``: pair ``i`` is
    ``vals[order[i]]`` with vector ``src[order[i]]``."""
    k = w.lam.shape[0]
    r = w.x.shape[1]
    x = w.x
    for i in range(k):
        o = order[i]
        d = 0.0
        rr = 0.0
        big = 0.0
        for j in range(r):
            d += src[o, j] * x[i, j]
            rr += x[i, j] * x[i, j]
            if abs(src[o, j]) > abs(big):
                big = src[o, j]
        if not (abs(d) > 4.0 * r * EPS * math.sqrt(rr)):
            d = big  # no usable reference: the entry of largest modulus positive
        sg = -1.0 if d < 0.0 else 1.0
        for j in range(r):
            x[i, j] = sg * src[o, j]
        w.lam[i] = vals[o]
        w.res[i] = res[o]


@jit
def _top_order(vals, n, order):
    """Indices of the ``order.shape[0]`` largest of ``vals[:n]``, in decreasing order."""
    m = order.shape[0]
    for i in range(m):
        best = -1
        for j in range(n):
            taken = False
            for l in range(i):
                if order[l] == j:
                    taken = True
            if not taken and (best < 0 or vals[j] > vals[best]):
                best = j
        order[i] = best


# ------------------------------------------------------------------------------------------
# the whole-space path


@jit
def _orthonormalize(Q, nrows):
    """Modified Gram-Schmidt (twice) on the first ``nrows`` rows of ``Q``; a row that vanishes is
    replaced by a coordinate vector orthogonal to the others' span (as far as possible)."""
    r = Q.shape[1]
    for i in range(nrows):
        for _ in range(2):
            for l in range(i):
                c = dot(Q[i], Q[l], r)
                for j in range(r):
                    Q[i, j] -= c * Q[l, j]
        if not (_normalize(Q[i]) > 1e-8):
            for cand in range(r):
                for j in range(r):
                    Q[i, j] = 1.0 if j == cand else 0.0
                for _ in range(2):
                    for l in range(i):
                        c = Q[l, cand] if _ == 0 else dot(Q[i], Q[l], r)
                        for j in range(r):
                            Q[i, j] -= c * Q[l, j]
                if _normalize(Q[i]) > 0.5:
                    break


@jit
def _whole_space(B, Q, T, e, scale, cold, maxsweep):
    """Rayleigh-Ritz on the whole space from the basis ``Q`` (rows, orthonormal), finished by
    Jacobi: on exit ``Q`` holds the eigenvectors and ``diag(T)`` the eigenvalues. Returns
    ``||offdiag(T)||_F`` (the Weyl bound), or ``inf`` if Jacobi did not converge."""
    r = B.shape[0]
    if cold:
        for i in range(r):
            for j in range(r):
                Q[i, j] = 1.0 if i == j else 0.0
    for i in range(r):  # T = Q B Q^T, row i from e = q_i B (2-d indexing: no views)
        for j in range(r):
            e[j] = 0.0
        for j in range(r):
            c = Q[i, j]
            for l in range(r):
                e[l] += c * B[j, l]
        for j in range(i, r):
            t = 0.0
            for l in range(r):
                t += e[l] * Q[j, l]
            T[i, j] = t
            T[j, i] = t
    if jacobi(T, Q, EPS * scale, maxsweep) < 0:
        return math.inf
    off = 0.0
    for i in range(r):
        for j in range(i + 1, r):
            off += 2.0 * T[i, j] * T[i, j]
    return math.sqrt(off)


@jit
def _full(B, w, scale):
    """:func:`top_pairs` on the whole space (``w.Q`` is ``r x r``): ``T = Q B Q^T`` in the previous
    eigenbasis, cyclic Jacobi to rounding level (one or two sweeps when warm), Weyl's bound.
    A warm basis that does not converge (or the first call) starts from ``Q = I``."""
    r = B.shape[0]
    k = w.lam.shape[0]
    info = w.info
    Q = w.Q
    T = w.T
    warm = info[I_WARM] != 0.0
    if warm and int(info[I_CALLS]) % REORTH == REORTH - 1:
        _orthonormalize(Q, r)
    status = CERTIFIED
    off = _whole_space(B, Q, T, w.e, scale, not warm, 8 if warm else 60)
    if warm and not (off <= 4.0 * r * EPS * scale):
        status = DENSE
        off = _whole_space(B, Q, T, w.e, scale, True, 60)
    vals = w.f[0]
    res = w.f[1]
    for i in range(r):
        vals[i] = T[i, i]
        acc = 0.0
        for j in range(r):
            if j != i:
                acc += T[i, j] * T[i, j]
        res[i] = math.sqrt(acc)
    kk = min(k + 1, r)
    order = w.iv[:kk]
    _top_order(vals, r, order)
    _emit(w, order, Q, vals, res)
    bound = off + 4.0 * r * EPS * scale  # Weyl, plus rounding in forming Q B Q^T
    for i in range(k):
        w.err[i] = bound
    if r > k:
        info[I_BETA] = vals[order[k]] + bound
        info[I_GAP] = vals[order[k - 1]] - vals[order[k]] - 2.0 * bound
    else:
        info[I_BETA] = -math.inf
        info[I_GAP] = math.inf
    info[I_WARM] = 1.0
    return status


@jit
def _ldlt_solve(F, x):
    """Solve ``L D L^T y = x`` in place with the factors :func:`exceeds` left in ``F``."""
    n = x.shape[0]
    for i in range(1, n):
        acc = x[i]
        for j in range(i):
            acc -= F[i, j] * x[j]
        x[i] = acc
    for i in range(n):
        x[i] *= F[i, i]
    for j in range(n - 1, -1, -1):
        t = x[j]
        for i in range(j):
            x[i] -= F[j, i] * t


@jit
def _values_warm(B, w, scale):
    """``lambda_max`` for small r from the warm vector ``x[0]``, certified by inertia.

    With ``theta = x^T B x`` (a lower bound) and ``rho = ||B x - theta x||``, ``sigma I - B`` with
    ``sigma = theta + max(rho, tol)`` positive definite (:func:`exceeds` false) proves
    ``lambda_max <= sigma``; once ``sigma - theta <= tol = 4 eps (|theta| + r scale)`` the value
    is certified to rounding. Otherwise ``x <- (sigma I - B)^{-1} x`` (that factorisation is at
    hand) and again, at most 6 times; -1 (the caller goes dense) if that does not certify."""
    r = B.shape[0]
    x = w.x[0]
    y = w.e
    F = w.work
    nrm = 0.0
    for i in range(r):
        nrm += x[i] * x[i]
    nrm = math.sqrt(nrm)
    if not (nrm > 0.0 and nrm < math.inf):
        return -1
    for i in range(r):
        x[i] /= nrm
    for _ in range(6):
        theta = 0.0
        for i in range(r):
            acc = 0.0
            for j in range(r):
                acc += B[i, j] * x[j]
            y[i] = acc
            theta += x[i] * acc
        rho = 0.0
        for i in range(r):
            d = y[i] - theta * x[i]
            rho += d * d
        rho = math.sqrt(rho)
        tol = 4.0 * EPS * (abs(theta) + r * scale)
        sigma = theta + max(rho, tol)
        if exceeds(B, sigma, F):
            return -1
        if rho <= tol:
            w.lam[0] = theta
            w.res[0] = rho
            w.err[0] = sigma - theta
            w.info[I_GAP] = np.nan  # not computed on this path
            w.info[I_WARM] = 1.0
            return CERTIFIED
        _ldlt_solve(F, x)
        nrm = _normalize(x)
        if not (nrm > 0.0 and nrm < math.inf):
            return -1
    return -1


@jit
def _refresh_vector(B, w, scale):
    """The top eigenvector ``x[0]`` after a dense call (and the warm vector of
    :func:`_values_warm`): two inverse iteration steps from the previous ``x[0]`` with the
    positive definite ``(lam_0 + 1e-8 scale) I - B`` (each shrinks the other components by
    ``1e-8 scale / gap``; the sign stays continuous since the inverse is positive definite)."""
    r = B.shape[0]
    x = w.x[0]
    if not (_normalize(x) > 0.0):
        for i in range(r):
            x[i] = 1.0 + 0.5 * ((i * 7919) % 13) / 13.0
    if exceeds(B, w.lam[0] + 1e-8 * scale, w.work):
        return
    for _ in range(2):
        _ldlt_solve(w.work, x)
        if not (_normalize(x) > 0.0):
            return


@jit
def _top_residual(B, w):
    """``res[0] = ||B x_0 - lam_0 x_0||`` for the vector :func:`_refresh_vector` left."""
    r = B.shape[0]
    acc2 = 0.0
    for i in range(r):
        acc = -w.lam[0] * w.x[0, i]
        for j in range(r):
            acc += B[i, j] * w.x[0, j]
        acc2 += acc * acc
    w.res[0] = math.sqrt(acc2)


@jit
def _values(B, w, scale):
    """Values-only workspaces on the whole-space path: every eigenvalue by the dense direct
    :func:`sym_eigvals` (Householder + QL, no warm start needed, faster than Jacobi for small r),
    certified by its backward stability: each within ``c r eps ||B||`` (here ``8 r eps r scale``,
    ``||B||_2 <= r max|B_ij|``) of the exact one. ``x`` is not computed (left as it was)."""
    r = B.shape[0]
    k = w.lam.shape[0]
    ev = w.f[0]
    sym_eigvals(B, ev[:r], w.work, w.e)
    bound = 8.0 * r * r * EPS * scale
    for i in range(k):
        w.lam[i] = ev[r - 1 - i]
        w.err[i] = bound
        w.res[i] = bound
    info = w.info
    if r > k:
        info[I_BETA] = ev[r - 1 - k] + bound
        info[I_GAP] = ev[r - k] - ev[r - 1 - k] - 2.0 * bound
    else:
        info[I_BETA] = -math.inf
        info[I_GAP] = math.inf
    info[I_WARM] = 1.0
    return CERTIFIED


# ------------------------------------------------------------------------------------------
# the block Davidson path


@jit
def _append(V, nv, x, r, floor):
    """Orthogonalise ``x`` against ``V[:nv]`` (classical Gram-Schmidt, twice) and append it as row
    ``nv`` if what is left is above ``floor`` times its norm; returns the new row count."""
    nx = math.sqrt(dot(x, x, r))
    if not (nx > 0.0 and nx < math.inf):
        return nv
    v = V[nv]
    for j in range(r):
        v[j] = x[j] / nx
    for _ in range(2):
        for l in range(nv):
            c = dot(v, V[l], r)
            vl = V[l]
            for j in range(r):
                v[j] -= c * vl[j]
    if _normalize(v) > floor:
        return nv + 1
    return nv


@jit
def _ritz(w, n0, nv, b, scale):
    """Rayleigh-Ritz on ``V[:nv]`` (``T = V B V^T`` kept in ``w.T``; rows/columns from ``n0`` on
    are new): the top ``b`` Ritz vectors into ``Q``, their residuals ``B x - theta x`` into ``R``.
    Returns ``(theta, res)``."""
    r = w.V.shape[1]
    T = w.T
    for i in range(nv):  # symmetrised products: new columns only
        for j in range(max(i, n0), nv):
            t = 0.5 * (dot(w.V[i], w.BV[j], r) + dot(w.V[j], w.BV[i], r))
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
    for i in range(b):
        zi = Z[order[i]]
        theta[i] = vals[order[i]]
        x = w.Q[i]
        bx = w.R[i]
        for j in range(r):
            x[j] = 0.0
            bx[j] = 0.0
        for l in range(nv):
            c = zi[l]
            vl = w.V[l]
            bl = w.BV[l]
            for j in range(r):
                x[j] += c * vl[j]
                bx[j] += c * bl[j]
        for j in range(r):
            bx[j] -= theta[i] * x[j]
        res[i] = math.sqrt(dot(bx, bx, r))
    return theta, res


@jit
def _davidson(B, w, k, b, scale, cold, tol, maxit):
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
    else:
        for i in range(b):
            nv = _append(V, nv, w.Q[i], r, 1e-8)
        for i in range(b):
            if nv < nb:
                nv = _append(V, nv, w.old[i], r, 1e-6)
    for i in range(b):
        for j in range(r):
            w.old[i, j] = w.Q[i, j]
    _matvecs(B, V, w.BV, 0, nv)
    nmv = nv
    theta, res = _ritz(w, 0, nv, b, scale)
    converged = False
    for it in range(maxit + 1):
        converged = True
        for i in range(k):
            if not (res[i] <= tol * scale):
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
            if nv < nb and res[i] > tol * scale:
                nv = _append(V, nv, w.R[i], r, 1e-10)
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
    return not exceeds(M, sigma, M)


@jit
def _subspace(B, w, scale, drift):
    """:func:`top_pairs` by block Davidson; returns ``CERTIFIED`` or -1 (no certificate)."""
    r = B.shape[0]
    k = w.lam.shape[0]
    b = w.Q.shape[0]
    info = w.info
    cold = info[I_WARM] == 0.0
    theta, res, nmv, converged = _davidson(B, w, k, b, scale, cold, info[I_TOL], MAXIT)
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


# ------------------------------------------------------------------------------------------
# the contract


@jit
def top_pairs(B, w, drift):
    """The ``k`` largest eigenpairs of the symmetric ``B`` (``k`` = the workspace's), certified.

    Parameters
    ----------
    B : (r, r) float64
        Symmetric (exactly; both triangles are read). Not modified.
    w : Work
        From :func:`work`; carries the warm start. Outputs: ``w.lam`` (k,) descending,
        ``w.x`` (k, r) unit eigenvectors as rows (``x_i . x_i_prev >= 0``), ``w.res`` residual
        norms, ``w.err`` error bounds (``lam_i <= lambda_i <= lam_i + err_i``), ``w.info[I_GAP]``
        a lower bound of ``lam[k-1] - lambda_{k+1}``.
    drift : float
        An upper bound of ``||B - B_prev||_2`` since the previous call with this workspace
        (``inf`` if unknown; only the block path uses it, to carry its gap proof forward).

    Returns
    -------
    int
        ``CERTIFIED``, ``DENSE`` or ``NONFINITE`` (see the module docstring).
    """
    r = B.shape[0]
    info = w.info
    if not is_finite(B):
        _set_nan(w)
        return NONFINITE
    scale = 0.0
    for i in range(r):
        scale = max(scale, abs(B[i, i]))
    for i in range(r):
        for j in range(r):
            scale = max(scale, abs(B[i, j]))
    info[I_SCALE] = scale
    if scale == 0.0:  # B = 0: every vector is an eigenvector; keep the previous ones
        for i in range(w.lam.shape[0]):
            w.lam[i] = 0.0
            w.res[i] = 0.0
            w.err[i] = 0.0
            if not (_normalize(w.x[i]) > 0.0):
                w.x[i, i] = 1.0
        info[I_GAP] = 0.0
        return CERTIFIED
    if w.Q.shape[0] == r and w.old.shape[0] == 0:
        mode = info[I_VEC]
        if mode < 2.0:
            status = _values_warm(B, w, scale) if (w.lam.shape[0] == 1 and mode == 0.0) else -1
            if status < 0:
                status = _values(B, w, scale)
                _refresh_vector(B, w, scale)
                if mode == 1.0:
                    _top_residual(B, w)
        else:
            status = _full(B, w, scale)
    else:
        status = _subspace(B, w, scale, drift)
        if status < 0:  # missed eigenvalues or no convergence: cold restart, then whole space
            info[I_WARM] = 0.0
            info[I_BETA] = math.inf
            status = _subspace(B, w, scale, math.inf)
            if status < 0:
                status = _dense_fallback(B, w, scale)
            else:
                status = DENSE
    info[I_CALLS] += 1.0
    if status == DENSE:
        info[I_DENSE] += 1.0
    return status


@jit
def _dense_fallback(B, w, scale):
    """Cyclic Jacobi on the whole space from scratch (any r; ``O(r^3)`` per sweep)."""
    r = B.shape[0]
    k = w.lam.shape[0]
    Q = np.empty((r, r))
    T = np.empty((r, r))
    off = _whole_space(B, Q, T, w.e, scale, True, 100)
    vals = np.empty(r)
    res = np.zeros(r)
    for i in range(r):
        vals[i] = T[i, i]
    order = np.empty(min(k + 1, r), dtype=np.int64)
    _top_order(vals, r, order)
    _emit(w, order, Q, vals, res)
    b = w.Q.shape[0]
    for i in range(b):
        o = order[min(i, order.shape[0] - 1)]
        for j in range(r):
            w.Q[i, j] = Q[o, j]
            w.old[i, j] = Q[o, j]
    for i in range(k):
        w.err[i] = off + 4.0 * r * EPS * scale
    w.info[I_BETA] = (vals[order[k]] + off) if r > k else -math.inf
    w.info[I_GAP] = w.lam[k - 1] - w.info[I_BETA] if r > k else math.inf
    w.info[I_WARM] = 1.0
    return DENSE


@jit
def all_pairs(B, vals, vecs, e):
    """Every eigenpair of a small symmetric ``B`` by cold cyclic Jacobi (``O(r^3)`` per sweep):
    ``vals`` (r,) in the order of the rows of ``vecs`` (r, r) (unsorted); returns the Weyl bound
    ``||offdiag||_F`` of the result (``inf`` if not finite)."""
    r = B.shape[0]
    if not is_finite(B):
        for i in range(r):
            vals[i] = np.nan
        return math.inf
    scale = 0.0
    for i in range(r):
        for j in range(r):
            scale = max(scale, abs(B[i, j]))
    T = np.empty((r, r))
    off = _whole_space(B, vecs, T, e, scale, True, 100)
    for i in range(r):
        vals[i] = T[i, i]
    return off
