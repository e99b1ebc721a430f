r"""Every optimizer on the parameters ``(A, W)``, full batch or mini-batch: the ground truth.

One step ``t`` (update rules: :mod:`eosdyn.optim`). The gradient is taken at the point
``(A~, W~) = (A + gamma B, W + gamma Omega)`` (``gamma = beta`` for Nesterov, else 0; ``B, Omega``
the velocity) on the batch ``B_t`` (all samples when full batch, :mod:`.sgd_numba`): with
``N = |B_t|``, ``c = 2 / (N sqrt(m))``, ``h~ = W~^T A~``, ``D_j = x_j . h~ / sqrt(m) - Y_j`` and
``p = sum_{j in B_t} D_j x_j``,

    grad_A L_B = c W~ p,        grad_W L_B = c A~ p^T,

both formed row by row inside one pass over ``W`` that applies the optimizer's update to the row
and its buffers (velocity; first and second moments) and accumulates ``h = W'^T A'``,
``||A'||^2`` and, for Nesterov, the next look-ahead ``h~' = (W' + beta Omega')^T (A' + beta B')``.
These are recomputed from the parameters at every step (no rounding accumulates). Diagnostics
at recorded steps come from the statistics ``u = U^T h / sqrt(m)``, ``G = (W U)^T (W U) / m``
(one ``O(m d r)`` pass) through the reduced diagnostics, with the loss and ``D^T F`` from ``D``
itself; extra columns as in :mod:`.optim_layout`.
"""

import math
from collections import namedtuple

import numpy as np

from . import layout as L
from . import optim_layout as O
from . import record_numba as R
from ._numba import jit
from .diagnostics_numba import diagnose, state_is_finite, workspace
from .sgd_numba import batch_sharpness, batch_start, directional_curvature, residual_delta


@jit
def _dot(x, y):
    acc = 0.0
    for j in range(x.shape[0]):
        acc += x[j] * y[j]
    return acc


@jit
def full_loss(h, XT, Y, m, D):
    """Fill ``D = X^T h / sqrt(m) - Y``; return ``(||D||^2, D^T F)``."""
    sq = math.sqrt(m)
    d2 = 0.0
    dtf = 0.0
    for j in range(XT.shape[0]):
        f = _dot(XT[j], h) / sq
        D[j] = f - Y[j]
        d2 += D[j] * D[j]
        dtf += D[j] * f
    return d2, dtf


@jit
def gradient_vector(hg, XT, Y, m, idx, start, N, full, p):
    """Fill ``p = X_B D_B`` at the gradient point ``hg = W~^T A~`` (all samples when ``full``)."""
    d = XT.shape[1]
    sq = math.sqrt(m)
    for k in range(d):
        p[k] = 0.0
    count = XT.shape[0] if full else N
    for q in range(count):
        j = q if full else idx[start + q]
        xj = XT[j]
        dj = _dot(xj, hg) / sq - Y[j]
        for k in range(d):
            p[k] += dj * xj[k]


@jit
def _rows_gd(A, W, p, c, eta, hb):
    m, d = W.shape
    for i in range(m):
        wi = W[i]
        ga = c * _dot(wi, p)
        ca = eta * c * A[i]
        an = A[i] - eta * ga
        for k in range(d):
            x = wi[k] - ca * p[k]
            wi[k] = x
            hb[k] += an * x
        A[i] = an
        hb[d] += an * an


@jit
def _rows_momentum(A, W, bA1, bW1, p, c, eta, beta, gamma, nesterov, hb):
    m, d = W.shape
    for i in range(m):
        wi = W[i]
        oi = bW1[i]
        acc = 0.0
        for k in range(d):
            acc += (wi[k] + gamma * oi[k]) * p[k]
        ca = eta * c * (A[i] + gamma * bA1[i])
        vb = beta * bA1[i] - eta * c * acc
        bA1[i] = vb
        an = A[i] + vb
        A[i] = an
        al = an + gamma * vb
        for k in range(d):
            vo = beta * oi[k] - ca * p[k]
            oi[k] = vo
            x = wi[k] + vo
            wi[k] = x
            hb[k] += an * x
        hb[d] += an * an
        if nesterov:
            for k in range(d):
                hb[d + 1 + k] += al * (wi[k] + gamma * oi[k])


@jit
def _rows_adaptive(A, W, bA1, bW1, bA2, bW2, p, c, eta, beta, beta2, eps, bc1, bc2, hb):
    m, d = W.shape
    e1 = eta / bc1
    r2 = 1.0 / math.sqrt(bc2)
    for i in range(m):
        wi = W[i]
        ga = c * _dot(wi, p)
        m1 = beta * bA1[i] + (1.0 - beta) * ga
        v2 = beta2 * bA2[i] + (1.0 - beta2) * ga * ga
        bA1[i] = m1
        bA2[i] = v2
        an = A[i] - e1 * m1 / (math.sqrt(v2) * r2 + eps)
        ca = c * A[i]
        mi = bW1[i]
        vi = bW2[i]
        for k in range(d):
            gk = ca * p[k]
            m1 = beta * mi[k] + (1.0 - beta) * gk
            v2 = beta2 * vi[k] + (1.0 - beta2) * gk * gk
            mi[k] = m1
            vi[k] = v2
            x = wi[k] - e1 * m1 / (math.sqrt(v2) * r2 + eps)
            wi[k] = x
            hb[k] += an * x
        A[i] = an
        hb[d] += an * an


@jit
def update(kind, A, W, bA1, bW1, bA2, bW2, p, c, eta, beta, gamma, beta2, eps, bc1, bc2, hb):
    """The row pass: apply step ``kind`` (``optim_layout.K_*``) to every row with the gradient
    ``(c w~_i . p, c A~_i p)`` at the gradient point ``(A~, W~)``; ``hb[:d] = W'^T A'``,
    ``hb[d] = ||A'||^2``, ``hb[d+1:2d+1] = h~'`` (the next look-ahead, Nesterov)."""
    d = W.shape[1]
    for k in range(2 * d + 1):
        hb[k] = 0.0
    if kind == O.K_GD:
        _rows_gd(A, W, p, c, eta, hb)
    elif kind == O.K_MOMENTUM or kind == O.K_NESTEROV:
        _rows_momentum(A, W, bA1, bW1, p, c, eta, beta, gamma, kind == O.K_NESTEROV, hb)
    else:   # rmsprop (beta = 0: the first moment is the gradient) and adam
        _rows_adaptive(A, W, bA1, bW1, bA2, bW2, p, c, eta, beta, beta2, eps, bc1, bc2, hb)


@jit
def bias_factors(kind, beta, beta2, bias, t):
    """``(1 - beta1^k, 1 - beta2^k)`` for update ``k = t + 1`` (1 without bias correction)."""
    if bias == 0 or kind < O.K_RMSPROP:
        return 1.0, 1.0
    k = t + 1.0
    bc1 = 1.0 if kind == O.K_RMSPROP else 1.0 - beta ** k
    return bc1, 1.0 - beta2 ** k


@jit
def step(t, A, W, h, hl, st, bA1, bW1, bA2, bW2, XT, Y, hyp, ihyp, perm, epoch, p, hb):
    """Take step ``t`` in place (``h = W^T A``, ``st[0] = ||A||^2``, ``hl`` the gradient point's
    ``W~^T A~`` are kept current)."""
    m, d = W.shape
    kind = ihyp[O.I_KIND]
    b = ihyp[O.I_BATCH]
    full = b == 0
    N = XT.shape[0] if full else b
    start = 0 if full else batch_start(t, ihyp[O.I_SEED], b, perm, epoch)
    hg = hl if kind == O.K_NESTEROV else h
    gradient_vector(hg, XT, Y, float(m), perm, start, N, full, p)
    beta, beta2 = hyp[O.H_BETA], hyp[O.H_BETA2]
    bc1, bc2 = bias_factors(kind, beta, beta2, ihyp[O.I_BIAS], t)
    c = 2.0 / (N * math.sqrt(m))
    update(kind, A, W, bA1, bW1, bA2, bW2, p, c, hyp[O.H_ETA], beta, hyp[O.H_GAMMA], beta2,
           hyp[O.H_EPS], bc1, bc2, hb)
    for k in range(d):
        h[k] = hb[k]
        hl[k] = hb[d + 1 + k] if kind == O.K_NESTEROV else hb[k]
    st[0] = hb[d]


@jit
def statistics(A, W, h, U, u, G, WU):
    """``u = U^T h / sqrt(m)``, ``G = (W U)^T (W U) / m`` (one pass; ``WU`` an (r,) scratch)."""
    m, d = W.shape
    r = U.shape[1]
    sq = math.sqrt(m)
    for k in range(r):
        u[k] = 0.0
        for i in range(d):
            u[k] += U[i, k] * h[i]
        u[k] /= sq
        for q in range(r):
            G[k, q] = 0.0
    for row in range(m):
        wq = W[row]
        for k in range(r):
            acc = 0.0
            for i in range(d):
                acc += wq[i] * U[i, k]
            WU[k] = acc
        for k in range(r):
            for q in range(k, r):
                G[k, q] += WU[k] * WU[q]
    for k in range(r):
        for q in range(k, r):
            G[k, q] /= m
            G[q, k] = G[k, q]


@jit
def diagnose_params(A, W, h, st, XT, Y, U, s, z, hyp, D, u, G, WU, mats, vecs, eig, row):
    """The ``NDIAG`` diagnostics of the parameters (loss and ``D^T F`` from ``D``)."""
    n = XT.shape[0]
    m = W.shape[0]
    statistics(A, W, h, U, u, G, WU)
    diagnose(st[0], u, G, s, z, hyp[O.H_YPERP2], float(n), float(m), hyp[O.H_ETA], mats, vecs, eig, row)
    d2, dtf = full_loss(h, XT, Y, float(m), D)
    row[L.LOSS] = d2 / n
    row[L.DTF] = dtf
    row[L.R_NORM2] = d2 - row[L.DV1] * row[L.DV1]
    row[L.SHARP_MSTAR] = np.nan   # GD's one-step residual factor: not defined for other optimizers


@jit
def extras(t, A, W, st, bA1, bW1, s, z, V, yperp, U, h, hyp, ihyp, perm, epoch, work, u, G, WU, tmp, out):
    """``out[X_*]`` at step ``t`` (batch quantities from the statistics of the parameters)."""
    m = float(W.shape[0])
    kind = ihyp[O.I_KIND]
    v2 = np.nan
    if kind == O.K_MOMENTUM or kind == O.K_NESTEROV:
        v2 = _dot(bA1, bA1)
        for i in range(bW1.shape[0]):
            v2 += _dot(bW1[i], bW1[i])
    out[O.X_VEL2] = v2
    b = ihyp[O.I_BATCH]
    if b > 0:
        statistics(A, W, h, U, u, G, WU)
        seed = ihyp[O.I_SEED]
        out[O.X_BATCH_SHARP] = batch_sharpness(st[0], u, G, s, z, V, yperp, m, seed, t, ihyp[O.I_SAMPLES], b,
                                               work, tmp[0], tmp[1], tmp[2])
        start = batch_start(t, seed, b, perm, epoch)
        residual_delta(u, s, z, tmp[0])
        out[O.X_STEP_CURV] = directional_curvature(st[0], u, G, s, V, yperp, m, tmp[0], perm, start, b,
                                                   tmp[1], tmp[2])
    else:
        out[O.X_BATCH_SHARP] = np.nan
        out[O.X_STEP_CURV] = np.nan


#: the parameters and the optimizer's buffers as a model of the ONE recording loop
#: (:func:`eosdyn.kernels.record_numba.run`): the state ``A, W, h, hl, st`` and buffers
#: ``bA1, bW1, bA2, bW2``; the data ``XT, Y, U, s, z, V, yperp``; ``hyp, ihyp``
#: (:mod:`.optim_layout`); the batch permutation ``perm, epoch``; scratch ``work, D, p, hb, u, G,
#: WU, tmp``; the extra columns ``extra``; the diagnostics' workspace ``mats, vecs, eig``
FullOptim = namedtuple("FullOptim", ["A", "W", "h", "hl", "st", "bA1", "bW1", "bA2", "bW2", "XT", "Y", "U", "s",
                                     "z", "V", "yperp", "hyp", "ihyp", "perm", "epoch", "work", "D", "p", "hb",
                                     "u", "G", "WU", "tmp", "extra", "mats", "vecs", "eig"])


def model(state: tuple, data: tuple, hyp, ihyp, n: int, nrow: int) -> tuple:
    """``(model, look)``: a :data:`FullOptim` at ``state = (A, W, h, hl, st, bA1, bW1, bA2, bW2)``
    (its own arrays) on ``data = (XT, Y, U, s, z, V, yperp)``, and its lookahead scratch (copies
    of the state, the rest shared)."""
    U = data[2]
    d, r = U.shape
    mats, vecs, eig = workspace(r)
    shared = (*data, hyp, ihyp, np.arange(n, dtype=np.int64), np.array([-1], dtype=np.int64),
              np.arange(n, dtype=np.int64), np.zeros(n), np.zeros(d), np.zeros(2 * d + 1), np.zeros(r),
              np.zeros((r, r)), np.zeros(r), np.zeros((3, r)), np.full((nrow, O.NX), np.nan), mats, vecs, eig)
    md = FullOptim(*state, *shared)
    look = FullOptim(*(np.empty_like(x) for x in state), *shared)
    return md, look


@jit
def _classify(md, t, ctl, carry):
    n = md.XT.shape[0]
    d2, _ = full_loss(md.h, md.XT, md.Y, float(md.W.shape[0]), md.D)
    loss = d2 / n
    return R.classify(loss, (d2 - md.hyp[O.H_YPERP2]) / n, md.st[0], t, ctl, carry), loss


@jit
def _diagnose(md, row):
    diagnose_params(md.A, md.W, md.h, md.st, md.XT, md.Y, md.U, md.s, md.z, md.hyp, md.D, md.u, md.G, md.WU,
                    md.mats, md.vecs, md.eig, row)


@jit
def _edge(md):
    """The statistics ``(a, G)`` of the parameters (one ``O(m d r)`` pass)."""
    statistics(md.A, md.W, md.h, md.U, md.u, md.G, md.WU)
    a = md.st[0]
    return a, md.G, md.s, float(md.XT.shape[0]), float(md.W.shape[0]), state_is_finite(a, md.u, md.G)


@jit
def _step(md, t):
    step(t, md.A, md.W, md.h, md.hl, md.st, md.bA1, md.bW1, md.bA2, md.bW2, md.XT, md.Y, md.hyp, md.ihyp,
         md.perm, md.epoch, md.p, md.hb)


@jit
def _copy(md, look):
    look.A[:] = md.A
    look.W[:, :] = md.W
    look.h[:] = md.h
    look.hl[:] = md.hl
    look.st[:] = md.st
    look.bA1[:] = md.bA1
    look.bW1[:, :] = md.bW1
    look.bA2[:] = md.bA2
    look.bW2[:, :] = md.bW2


@jit
def _record_extras(md, t, nrow):
    extras(t, md.A, md.W, md.st, md.bA1, md.bW1, md.s, md.z, md.V, md.yperp, md.U, md.h, md.hyp, md.ihyp,
           md.perm, md.epoch, md.work, md.u, md.G, md.WU, md.tmp, md.extra[nrow])


R.register(FullOptim, classify=_classify, diagnose=_diagnose, edge=_edge, step=_step, copy=_copy,
           extras=_record_extras)


@jit
def initial_h(A, W, h, hl, st, bA1, bW1, gamma):
    """``h = W^T A``, ``||A||^2`` and the look-ahead ``hl = (W + gamma Omega)^T (A + gamma B)``."""
    m, d = W.shape
    for k in range(d):
        h[k] = 0.0
        hl[k] = 0.0
    a = 0.0
    for i in range(m):
        a += A[i] * A[i]
        for k in range(d):
            h[k] += A[i] * W[i, k]
        if gamma != 0.0:
            ai = A[i] + gamma * bA1[i]
            for k in range(d):
                hl[k] += ai * (W[i, k] + gamma * bW1[i, k])
    if gamma == 0.0:
        for k in range(d):
            hl[k] = h[k]
    st[0] = a
