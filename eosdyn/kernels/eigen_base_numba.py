"""Shared layout and helpers of the eigen contract (:mod:`.eigen_numba`): the workspace
:class:`Work`, its status codes and ``info`` slots, and small vector kernels."""

from __future__ import annotations

import math
from collections import namedtuple

import numpy as np

from ._numba import jit
from .eigen_dense_numba import EPS, dot

CERTIFIED, DENSE, NONFINITE = 0, 1, 2
#: the whole-space (Jacobi) path up to this order, block Davidson above
R_FULL = 24
#: extra Ritz vectors kept beyond the k wanted (they speed up convergence and give the gap)
GUARD = 4
#: the Davidson basis holds at most this many blocks of b vectors before a thick restart
NBLOCKS = 6
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
#: the same fields for a workspace that can only take the whole-space path (``r <= R_FULL`` or
#: ``dense``): a type of its own, so that kernels called with it are compiled without the block
#: path (block Davidson, the blocked inertia proof), which it never runs; :func:`work` returns it.
#: ``new_work`` (inside kernels, ``r`` known at run time only) always returns a :class:`Work`.
WholeWork = namedtuple("WholeWork", Work._fields)


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
                np.zeros((b, r)), np.zeros((0 if full else 2 * b, r)), np.zeros((0 if full else b, r)),
                np.zeros((nb, r)), np.zeros((0 if full else nb, r)), np.zeros((nb, nb)),
                np.zeros((r, r)), np.zeros(r), np.zeros((2, max(r, nb))),
                np.zeros(max(r, nb), dtype=np.int64))


def work(r: int, k: int, vectors: bool | str = True, dense: bool | None = None) -> Work | WholeWork:
    """Workspace of :func:`top_pairs` for the top ``k`` pairs of an ``r x r`` matrix.

    It carries the warm start between calls (one workspace per matrix that is tracked along a
    trajectory). ``vectors``: ``True`` all ``k`` eigenvectors; ``"top"`` only ``x[0]``; ``False``
    none (a looser residual tolerance for the block path). For ``r <= R_FULL`` the last two use the
    dense direct ``sym_eigvals`` (plus inverse iteration for ``x[0]``), faster than Jacobi there;
    rows of ``x`` not asked for are not kept current. ``dense`` forces the whole-space path
    (default: ``r <= R_FULL``); a whole-space workspace is a :data:`WholeWork`.
    """
    k = max(1, min(k, r))
    full = r <= R_FULL if dense is None else bool(dense)
    b = r if full else min(r, k + GUARD)
    nb = r if full else min(r, NBLOCKS * b)
    info = np.zeros(NINFO)
    info[I_BETA] = np.inf
    info[I_TOL] = TOL_VECTORS if vectors else TOL_VALUES
    info[I_VEC] = 2.0 if vectors is True else (1.0 if vectors == "top" else 0.0)
    return (WholeWork if full else Work)(
        lam=np.full(k, np.nan), x=np.zeros((k, r)), res=np.full(k, np.nan), err=np.full(k, np.nan),
        info=info, Q=np.zeros((b, r)), old=np.zeros((0 if full else 2 * b, r)),
        R=np.zeros((0 if full else b, r)), V=np.zeros((nb, r)), BV=np.zeros((0 if full else nb, r)),
        T=np.zeros((nb, nb)), work=np.zeros((r, r)), e=np.zeros(r), f=np.zeros((2, max(r, nb))),
        iv=np.zeros(max(r, nb), dtype=np.int64),
    )


@jit(_nrt=False)
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
    """``BV[q] = B V[q]`` for rows ``lo <= q < hi``: one BLAS ``gemm``, ``BV[lo:hi] = V[lo:hi] B``
    (``B`` symmetric). A block of vectors costs about one pass over ``B`` (memory-bound), several
    times less than the same products as loops."""
    if hi > lo:
        np.dot(V[lo:hi], B, BV[lo:hi])


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
