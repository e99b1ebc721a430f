"""GD in parameter space ``(A, W)``: the ground truth, ``O(m d)`` per step.

One step, with ``c = 2 eta / (n sqrt(m))``, ``h = W^T A``, ``D = X^T h / sqrt(m) - Y`` and
``p = X D``::

    A' = A - c W p,        W' = W - c A p^T

done in one fused pass over the rows of ``W`` that also accumulates ``h' = W'^T A'`` and
``||A'||^2`` for the next step. For the diagnostics the kernel carries
``Ghat = U^T W^T W U`` (r x r), updated exactly by the rank-2 formula
``Ghat' = Ghat - c (k q^T + q k^T) + c^2 ||A||^2 q q^T`` with ``k = U^T h``, ``q = U^T p``,
and recomputed from ``W`` every ``refresh`` steps so rounding cannot accumulate.

:data:`Full` is this state as a model of the shared recording loop
(:func:`eosdyn.kernels.record_numba.run`), with its hooks registered below.
"""

import math
from collections import namedtuple

import numpy as np

from . import layout as L
from . import record_numba as R
from ._numba import jit
from .diagnostics_numba import diagnose, state_is_finite, workspace
from .eigen_dense_numba import dot


@jit
def residual(h, XT, Y, m, D):
    """Fill ``D = X^T h / sqrt(m) - Y``; return ``(||D||^2, D^T F)``."""
    n = XT.shape[0]
    sq = math.sqrt(m)
    d2 = 0.0
    dtf = 0.0
    for j in range(n):
        f = dot(XT[j], h, h.shape[0]) / sq
        D[j] = f - Y[j]
        d2 += D[j] * D[j]
        dtf += D[j] * f
    return d2, dtf


@jit
def fused_rows(A, W, p, c, hb):
    """The row pass: ``A_i -= c w_i.p``, ``w_i -= c A_i p``; ``hb[:d] = W'^T A'``,
    ``hb[d] = ||A'||^2``.

    Rows go four at a time: four independent dot-product chains, and one update of ``hb``
    per four rows. Serial and in a fixed order, so results are deterministic; it runs at
    about twice the time of one read-write pass over ``W`` (the memory floor).
    """
    m, d = W.shape
    for j in range(d + 1):
        hb[j] = 0.0
    i = 0
    while i + 4 <= m:
        w0 = W[i]
        w1 = W[i + 1]
        w2 = W[i + 2]
        w3 = W[i + 3]
        s0 = 0.0
        s1 = 0.0
        s2 = 0.0
        s3 = 0.0
        for j in range(d):
            pj = p[j]
            s0 += w0[j] * pj
            s1 += w1[j] * pj
            s2 += w2[j] * pj
            s3 += w3[j] * pj
        a0, a1, a2, a3 = A[i], A[i + 1], A[i + 2], A[i + 3]
        n0, n1, n2, n3 = a0 - c * s0, a1 - c * s1, a2 - c * s2, a3 - c * s3
        c0, c1, c2, c3 = c * a0, c * a1, c * a2, c * a3
        for j in range(d):
            pj = p[j]
            x0 = w0[j] - c0 * pj
            x1 = w1[j] - c1 * pj
            x2 = w2[j] - c2 * pj
            x3 = w3[j] - c3 * pj
            w0[j] = x0
            w1[j] = x1
            w2[j] = x2
            w3[j] = x3
            hb[j] += (n0 * x0 + n1 * x1) + (n2 * x2 + n3 * x3)
        A[i], A[i + 1], A[i + 2], A[i + 3] = n0, n1, n2, n3
        hb[d] += (n0 * n0 + n1 * n1) + (n2 * n2 + n3 * n3)
        i += 4
    while i < m:
        wi = W[i]
        an = A[i] - c * dot(wi, p, p.shape[0])
        ca = c * A[i]
        for j in range(d):
            x = wi[j] - ca * p[j]
            wi[j] = x
            hb[j] += an * x
        A[i] = an
        hb[d] += an * an
        i += 1


@jit
def step(A, W, h, state, Ghat, XT, X, Y, U, eta, D, p, kq, hb):
    """One exact GD step in place; ``state[0] = ||A||^2`` and ``h = W^T A`` are kept current."""
    n = XT.shape[0]
    m, d = W.shape
    r = U.shape[1]
    residual(h, XT, Y, m, D)
    for i in range(d):
        p[i] = dot(X[i], D, D.shape[0])
    c = 2.0 * eta / (n * math.sqrt(m))
    # Ghat update from k = U^T h, q = U^T p (before A, W change)
    for k in range(r):
        kk = 0.0
        qq = 0.0
        for i in range(d):
            kk += U[i, k] * h[i]
            qq += U[i, k] * p[i]
        kq[0, k] = kk
        kq[1, k] = qq
    c2a = c * c * state[0]
    for i in range(r):
        for j in range(r):
            Ghat[i, j] += -c * (kq[0, i] * kq[1, j] + kq[1, i] * kq[0, j]) + c2a * (kq[1, i] * kq[1, j])
    fused_rows(A, W, p, c, hb)
    for i in range(d):
        h[i] = hb[i]
    state[0] = hb[d]


@jit
def refresh(A, W, h, state, Ghat, U, WU):
    """Recompute ``h = W^T A``, ``||A||^2`` and ``Ghat = (W U)^T (W U)`` from the parameters
    (one row-wise pass over ``W``; ``WU`` is an (r,) scratch row)."""
    m, d = W.shape
    r = U.shape[1]
    for i in range(d):
        h[i] = 0.0
    for k in range(r):
        for l in range(r):
            Ghat[k, l] = 0.0
    a = 0.0
    for q in range(m):
        wq = W[q]
        aq = A[q]
        a += aq * aq
        for i in range(d):
            h[i] += wq[i] * aq
        for k in range(r):
            WU[k] = 0.0
        for i in range(d):
            wi = wq[i]
            for k in range(r):
                WU[k] += wi * U[i, k]
        for k in range(r):
            wk = WU[k]
            for l in range(k, r):
                Ghat[k, l] += wk * WU[l]
    for k in range(r):
        for l in range(k):
            Ghat[k, l] = Ghat[l, k]
    state[0] = a


@jit
def stats(h, Ghat, U, m, u, G):
    """The reduced state of the parameters: ``u = U^T h / sqrt(m)``, ``G = Ghat / m``."""
    d, r = U.shape
    sq = math.sqrt(m)
    for k in range(r):
        acc = 0.0
        for i in range(d):
            acc += U[i, k] * h[i]
        u[k] = acc / sq
        for l in range(r):
            G[k, l] = Ghat[k, l] / m


@jit
def full_diagnose(A, W, h, state, Ghat, XT, Y, U, s, z, y_perp2, eta, D, u, G, mats, vecs, eig,
                  row):
    """Diagnostics of the parameters; loss and ``D^T F`` from ``D`` itself (n-space)."""
    n = XT.shape[0]
    m = W.shape[0]
    stats(h, Ghat, U, m, u, G)
    # n, m as floats, as every other caller passes them: one compiled diagnose (the same values)
    diagnose(state[0], u, G, s, z, y_perp2, float(n), float(m), eta, mats, vecs, eig, row)
    d2, dtf = residual(h, XT, Y, m, D)
    row[L.LOSS] = d2 / n
    row[L.DTF] = dtf
    row[L.R_NORM2] = d2 - row[L.DV1] * row[L.DV1]


#: the parameters as a model of the recording loop: the state ``A, W`` with the running
#: ``h = W^T A``, ``state[0] = ||A||^2`` and ``Ghat``; the data ``XT, X, Y, U, s, z, y_perp2``;
#: ``refresh_every``; scratch ``D, p, kq, hb, u, G, WU``; the diagnostics' workspace
Full = namedtuple("Full", ["A", "W", "h", "state", "Ghat", "XT", "X", "Y", "U", "s", "z", "y_perp2",
                           "eta", "refresh_every", "D", "p", "kq", "hb", "u", "G", "WU", "mats",
                           "vecs", "eig"])


def model(A, W, data, eta, refresh_every) -> tuple:
    """``(model, look)``: a :data:`Full` at parameters ``(A, W)`` (copied; ``h``, ``||A||^2`` and
    ``Ghat`` computed from them) and its lookahead scratch (its own copy of the parameters)."""
    d = data
    m, dim = W.shape
    r = d.rank
    mats, vecs, eig = workspace(r)
    consts = (np.ascontiguousarray(d.X.T), np.ascontiguousarray(d.X), np.ascontiguousarray(d.Y, dtype=float),
              np.ascontiguousarray(d.U), np.ascontiguousarray(d.s), np.ascontiguousarray(d.z),
              float(d.y_perp2), float(eta), int(refresh_every))
    scratch = (np.zeros(d.n), np.zeros(dim), np.zeros((2, r)), np.zeros(dim + 1), np.zeros(r),
               np.zeros((r, r)), np.zeros(r), mats, vecs, eig)

    def params(A, W):
        return (np.array(A, dtype=float), np.array(W, dtype=float, order="C"), np.zeros(dim), np.zeros(1),
                np.zeros((r, r)))

    md = Full(*params(A, W), *consts, *scratch)
    refresh(md.A, md.W, md.h, md.state, md.Ghat, md.U, md.WU)
    look = Full(np.empty_like(md.A), np.empty_like(md.W), np.zeros(dim), np.zeros(1), np.zeros((r, r)),
                *consts, *scratch)
    return md, look


@jit
def _classify(md, t, ctl, carry):
    n = md.XT.shape[0]
    d2, _ = residual(md.h, md.XT, md.Y, md.W.shape[0], md.D)
    loss = d2 / n
    return R.classify(loss, (d2 - md.y_perp2) / n, md.state[0], t, ctl, carry), loss


@jit
def _diagnose(md, row):
    full_diagnose(md.A, md.W, md.h, md.state, md.Ghat, md.XT, md.Y, md.U, md.s, md.z, md.y_perp2,
                  md.eta, md.D, md.u, md.G, md.mats, md.vecs, md.eig, row)


@jit
def _edge(md):
    m = md.W.shape[0]
    a = md.state[0]
    stats(md.h, md.Ghat, md.U, m, md.u, md.G)
    return a, md.G, md.s, float(md.XT.shape[0]), float(m), state_is_finite(a, md.u, md.G)


@jit
def _step(md, t):
    """Step ``t -> t + 1``; ``h``, ``||A||^2`` and ``Ghat`` are recomputed from the parameters
    when ``t + 1`` is a multiple of ``refresh_every``."""
    step(md.A, md.W, md.h, md.state, md.Ghat, md.XT, md.X, md.Y, md.U, md.eta, md.D, md.p, md.kq, md.hb)
    if md.refresh_every > 0 and (t + 1) % md.refresh_every == 0:
        refresh(md.A, md.W, md.h, md.state, md.Ghat, md.U, md.WU)


@jit
def _copy(md, look):
    look.A[:] = md.A
    look.W[:, :] = md.W
    look.h[:] = md.h
    look.state[:] = md.state
    look.Ghat[:, :] = md.Ghat


R.register(Full, classify=_classify, diagnose=_diagnose, edge=_edge, step=_step, copy=_copy)
