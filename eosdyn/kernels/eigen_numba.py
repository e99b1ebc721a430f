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
could not certify, so the pairs were recomputed from scratch on the whole space: LAPACK's
eigenvectors finished by cyclic Jacobi, certified by Weyl's bound; slow) or ``NONFINITE`` (``B``
has a NaN or inf: every output is NaN).

Two paths, one contract (:mod:`.eigen_dense_numba` has the dense building blocks):

* ``r <= R_FULL``: Rayleigh-Ritz on the *whole* space. ``T = Q B Q^T`` in the previous
  eigenbasis ``Q`` is nearly diagonal, so one or two cyclic Jacobi sweeps finish it. Every
  eigenvalue is then within ``||offdiag(T)||_F`` of a diagonal entry (Weyl): the certificate
  is rigorous and the whole spectrum is known (``gap`` is exact). ``O(r^3)`` with tiny constants.
  :func:`work` returns a :data:`WholeWork` here, a type of its own, so that a kernel called
  with one is compiled without the block path below (a fifth of the default run's cold compile).
* ``r > R_FULL``: block Davidson/Lanczos with thick restart on ``O(r^2)`` matrix-vector
  products. The basis starts from the previous Ritz vectors and the wanted ones of the two
  calls before (the span holds their quadratic extrapolation), grows by Davidson's expansion
  vectors (the residuals preconditioned by ``diag(B) - theta``, with Olsen's correction: the
  reduced engine's matrices are nearly diagonal in the data basis, where this cuts the
  iterations about threefold), and is restarted from the best ``b = k + GUARD`` Ritz vectors.
  Pairs wanted as values only stop once their estimated Kato-Temple error is below
  ``VALUE_ERR ||B||``. Ritz values are lower bounds
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

import numpy as np
from numba.core import types
from numba.extending import overload

from ._numba import JIT_OPTIONS, jit
from .eigen_base_numba import (
    CERTIFIED,
    DENSE,
    EPS,
    GUARD,
    I_BETA,
    I_CALLS,
    I_DENSE,
    I_GAP,
    I_NMV,
    I_PROOFS,
    I_SCALE,
    I_TOL,
    I_VEC,
    I_WARM,
    MAXIT,
    NBLOCKS,
    NINFO,
    NONFINITE,
    R_FULL,
    REORTH,
    TOL_VALUES,
    TOL_VECTORS,
    WholeWork,
    Work,
    _emit,
    _normalize,
    _set_nan,
    _top_order,
    frobenius_drift,
    is_finite,
    new_work,
    work,
)
from .eigen_block_numba import _subspace
from .eigen_dense_numba import dot, exceeds, jacobi, sym_eigvals
from .eigen_small_numba import _abs_max, _ldlt_solve, _normalize_row, _top_two_small, _top_value_small, _values_warm

__all__ = ["CERTIFIED", "DENSE", "NONFINITE", "R_FULL", "GUARD", "NBLOCKS", "MAXIT", "NINFO",
           "TOL_VALUES", "TOL_VECTORS", "I_BETA", "I_GAP", "I_CALLS", "I_WARM", "I_NMV", "I_PROOFS",
           "I_DENSE", "I_SCALE", "I_TOL", "I_VEC", "Work", "WholeWork", "work", "new_work", "top_pairs", "exceeds",
           "sym_eigvals", "frobenius_drift", "all_pairs", "is_finite", "top_value", "top_two"]

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
def top_two(B, w):
    """:func:`top_pairs` for a workspace with ``k = 2`` and the top vector (``vectors="top"``):
    for small r the certified path :func:`_top_two_small` (no reference counting, no dense
    eigensolver), else (or if that does not certify) :func:`top_pairs` with an unknown drift."""
    status = _top_two_small(B, w)
    if status < 0:
        status = top_pairs(B, w, math.inf)
        r = B.shape[0]
        if status != NONFINITE and w.lam.shape[0] == 2 and w.Q.shape[0] == r and w.old.shape[0] == 0:
            vals = w.f[0, :r]  # a fresh warm x_1 for the next call: the second Jacobi vector
            all_pairs(B, vals, w.T, w.e)
            order = w.iv[:2]
            _top_order(vals, r, order)
            for j in range(r):
                w.x[1, j] = w.T[order[1], j]
    return status


@jit
def _refresh_vector(B, w, scale):
    """The top eigenvector ``x[0]`` after a dense call (and the warm vector of
    :func:`_values_warm`): two inverse iteration steps from the previous ``x[0]`` with the
    positive definite ``(lam_0 + 1e-8 scale) I - B`` (each shrinks the other components by
    ``1e-8 scale / gap``; the sign stays continuous since the inverse is positive definite)."""
    r = B.shape[0]
    X = w.x
    if not (_normalize_row(X, 0) > 0.0):
        for i in range(r):
            X[0, i] = 1.0 + 0.5 * ((i * 7919) % 13) / 13.0
    if exceeds(B, w.lam[0] + 1e-8 * scale, w.work):
        return
    for _ in range(2):
        _ldlt_solve(w.work, X, 0)
        if not (_normalize_row(X, 0) > 0.0):
            return


@jit
def _top_residual(B, w):
    """``res[0] = ||B x_0 - lam_0 x_0||`` for the vector :func:`_refresh_vector` left."""
    r = B.shape[0]
    X = w.x
    acc2 = 0.0
    for i in range(r):
        acc = -w.lam[0] * X[0, i]
        for j in range(r):
            acc += B[i, j] * X[0, j]
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
# the contract


@jit
def top_value(B, w):
    """``lambda_max(B)``, certified: :func:`top_pairs` for a values-only workspace with ``k = 1``
    (``w = work(r, 1, vectors=False)``), its cheapest path for small r called directly: the warm
    Rayleigh quotient certified by inertia (:func:`_values_warm`, on exit ``lam[0] <= lambda_max
    <= info[I_BETA]``); anything else (large r, no certificate, non-finite ``B``) goes through
    :func:`top_pairs` with an unknown drift. Returns ``top_pairs``' status."""
    status = _top_value_small(B, w)
    if status < 0:
        status = top_pairs(B, w, math.inf)
    return status


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
    scale = _abs_max(B)
    if not (scale < math.inf):
        _set_nan(w)
        return NONFINITE
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
        status = _block_path(B, w, scale, drift)
    info[I_CALLS] += 1.0
    if status == DENSE:
        info[I_DENSE] += 1.0
    return status


def _block_path(B, w, scale, drift):
    """The block path of :func:`top_pairs` (compiled only for a block workspace, :data:`Work`)."""
    raise NotImplementedError("_block_path is called from compiled kernels only")


@overload(_block_path, jit_options=JIT_OPTIONS)
def _block_path_impl(B, w, scale, drift):
    """Typing-time dispatch: a :data:`WholeWork` never reaches the block path (``top_pairs``
    takes it the whole-space way), so for it the block code is not compiled at all; its
    implementation is the whole-space Jacobi of :func:`_full`, unreachable but well-typed."""
    if isinstance(w, types.NamedTuple) and w.instance_class is WholeWork:
        def whole(B, w, scale, drift):
            return _full(B, w, scale)
        return whole

    def block(B, w, scale, drift):
        status = _subspace(B, w, scale, drift)
        if status < 0:  # missed eigenvalues or no convergence: cold restart, then whole space
            w.info[I_WARM] = 0.0
            w.info[I_BETA] = math.inf
            status = _subspace(B, w, scale, math.inf)
            if status < 0:
                status = _dense_fallback(B, w, scale)
            else:
                status = DENSE
        return status
    return block


@jit
def _dense_fallback(B, w, scale):
    """The whole space from scratch (any r): :func:`_whole_space` (``T = Q B Q^T``, Jacobi to
    rounding level, Weyl's bound ``||offdiag(T)||_F``) from LAPACK ``eigh``'s eigenvectors, which
    leave Jacobi a sweep that rotates little or nothing; the certificate is Jacobi's as ever. Cold
    cyclic Jacobi from ``Q = I`` (the path where ``B`` is not finite, or that basis does not
    converge) needs many ``O(r^3)`` sweeps on a spread spectrum: ~20 s at r = 1000."""
    r = B.shape[0]
    k = w.lam.shape[0]
    Q = np.empty((r, r))
    T = np.empty((r, r))
    off = math.inf
    if is_finite(B):
        V = np.linalg.eigh(B)[1]
        for i in range(r):
            for j in range(r):
                Q[i, j] = V[j, i]
        off = _whole_space(B, Q, T, w.e, scale, False, 100)
    if not (off < math.inf):
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
            w.old[b + i, j] = 0.0
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
