r"""Exact heavy-ball, Nesterov and mini-batch maps on an m-independent state of size O(r^2).

**Closure.** Heavy ball (velocity ``(B, Omega)`` of ``(A, W)``, ``B_0 = 0``, ``Omega_0 = 0``) and
Nesterov, with the gradient taken at ``(A~, W~) = (A + gamma B, W + gamma Omega)``
(``gamma = 0`` heavy ball, ``gamma = beta`` Nesterov) and ``k = 2 eta / (N sqrt(m))`` (``N = n``, or
``b`` for a mini-batch, whose gradient is ``g_B`` of :mod:`.sgd_numba`):

    B'  = beta B - k W~ U g~,          Omega' = beta Omega - k A~ g~^T U^T,
    A'  = A + B',                      W'     = W + Omega',

with ``g~ = S (S u~ - z)`` (or its batch version) and ``u~ = U^T W~^T A~ / sqrt(m)``. Every
gradient of ``W`` has rows in span(U)^T, so ``Omega = (Omega U) U^T`` for all t and the part of
``W`` orthogonal to span(U) never moves. The columns ``Z = [A, B, W U, Omega U]``
(m x (2 + 2r)) are therefore mapped to combinations of themselves, ``Z' = Z T(state)``, and
everything the map and the diagnostics need is the Gram matrix of ``Z``, scaled so m enters
only as a number:

    a  = ||A||^2,       ab = A.B,             bb = ||B||^2,
    u  = (WU)^T A / sqrt(m),   ub = (WU)^T B / sqrt(m),   wa = (Omega U)^T A / sqrt(m),
    wb = (Omega U)^T B / sqrt(m),
    G  = (WU)^T (WU) / m,      H  = (WU)^T (Omega U) / m (not symmetric),
    K  = (Omega U)^T (Omega U) / m.

That is 3 + 4r + 3r^2 numbers, whatever m is; ``(a, u, G)`` are GD's state (loss, sharpness and
every diagnostic come from them) and ``||v||^2 = bb + m tr(K)``.

**The map.** The look-ahead quantities are ``u~ = u + gamma (ub + wa) + gamma^2 wb``,
``a~ = A~.A~ = a + 2 gamma ab + gamma^2 bb``, ``A.A~ = a + gamma ab``, ``B.A~ = ab + gamma bb``;
with ``c1 = k sqrt(m) = 2 eta / N``, ``c2 = k / sqrt(m) = 2 eta / (N m)``,
``c3 = k^2 = 4 eta^2 / (N^2 m)``, ``c4 = k^2 / m``, and

    p1 = (G + gamma H) g~,     p2 = (H^T + gamma K) g~,     q = g~ . (p1 + gamma p2)   (= g~^T G~ g~),

expanding the inner products of ``Z'`` gives exactly (``A.B'`` is an intermediate):

    bb' = beta^2 bb - 2 beta c1 (ub + gamma wb).g~ + c1^2 q
    A.B' = beta ab - c1 (u + gamma wa).g~
    ab' = A.B' + bb',         a' = a + 2 A.B' + bb'
    wb' = beta^2 wb - beta c1 p2 - beta c2 (ab + gamma bb) g~ + c3 (u~.g~) g~
    wa' = beta wa - c2 (a + gamma ab) g~ + wb'
    ub' = beta ub - c1 p1 + wb'
    u'  = u + beta ub - c1 p1 + wa'
    K'  = beta^2 K - beta c2 ((wa + gamma wb) g~^T + g~ (wa + gamma wb)^T) + c4 a~ g~ g~^T
    X   = beta H - c2 (u + gamma ub) g~^T          (= (WU)^T (Omega' U) / m)
    H'  = X + K',             G' = G + X + X^T + K'

``O(r^2)`` per step (``O(b r)`` more for a mini-batch gradient). With ``beta = gamma = 0`` it is the
exact GD map of :mod:`.reduced_numba` (``n -> N``, ``g -> g_B``), term by term.
"""

from collections import namedtuple

import numpy as np

from . import layout as L
from . import optim_layout as O
from . import record_numba as R
from ._numba import jit
from .diagnostics_numba import diagnose, state_is_finite, workspace
from .sgd_numba import batch_gradient, batch_sharpness, batch_start, directional_curvature, residual_delta

# rows of the state bundles: sc = [a, ab, bb]; vv = [u, ub, wa, wb]; MM = [G, H, K]
S_A, S_AB, S_BB = 0, 1, 2
V_U, V_UB, V_WA, V_WB = 0, 1, 2, 3
M_G, M_H, M_K = 0, 1, 2
# rows of the (8, r) scratch
T_UT, T_DT, T_G, T_P1, T_P2, T_WB, T_WA, T_H = 0, 1, 2, 3, 4, 5, 6, 7
NSCR = 8


@jit
def step(sc, vv, MM, s, z, V, yperp, idx, start, N, full, m, eta, beta, gamma, tmp):
    """One step of the map (module docstring) in place on ``(sc, vv, MM)``.

    ``full``: the gradient is ``S delta~`` (full batch, ``N = n``); else the batch gradient of
    ``idx[start:start + N]``. ``tmp`` is an ``(NSCR, r)`` scratch.
    """
    r = s.shape[0]
    a, ab, bb = sc[S_A], sc[S_AB], sc[S_BB]
    u, ub, wa, wb = vv[V_U], vv[V_UB], vv[V_WA], vv[V_WB]
    G, H, K = MM[M_G], MM[M_H], MM[M_K]
    ut, dt, g, p1, p2 = tmp[T_UT], tmp[T_DT], tmp[T_G], tmp[T_P1], tmp[T_P2]
    g2 = gamma * gamma
    for i in range(r):
        ut[i] = u[i] + gamma * (ub[i] + wa[i]) + g2 * wb[i]
    residual_delta(ut, s, z, dt)
    if full:
        for i in range(r):
            g[i] = s[i] * dt[i]
    else:
        batch_gradient(dt, s, V, yperp, idx, start, N, g)
    c1 = 2.0 * eta / N
    c2 = c1 / m
    c3 = c1 * c1 / m
    c4 = c3 / m
    s_ubwb = 0.0
    s_uwa = 0.0
    s_ut = 0.0
    q = 0.0
    for i in range(r):
        x1 = 0.0
        x2 = 0.0
        for j in range(r):
            x1 += (G[i, j] + gamma * H[i, j]) * g[j]
            x2 += (H[j, i] + gamma * K[i, j]) * g[j]
        p1[i] = x1
        p2[i] = x2
        q += g[i] * (x1 + gamma * x2)
        s_ubwb += (ub[i] + gamma * wb[i]) * g[i]
        s_uwa += (u[i] + gamma * wa[i]) * g[i]
        s_ut += ut[i] * g[i]
    bb_new = beta * beta * bb - 2.0 * beta * c1 * s_ubwb + c1 * c1 * q
    a_b = beta * ab - c1 * s_uwa
    aa_t = a + 2.0 * gamma * ab + g2 * bb
    ab_t = ab + gamma * bb
    a_at = a + gamma * ab
    wb_new, wa_new, wat, ut2 = tmp[T_WB], tmp[T_WA], tmp[T_H], ut
    for i in range(r):
        wb_new[i] = beta * beta * wb[i] - beta * c1 * p2[i] - beta * c2 * ab_t * g[i] + c3 * s_ut * g[i]
        wa_new[i] = beta * wa[i] - c2 * a_at * g[i] + wb_new[i]
        wat[i] = wa[i] + gamma * wb[i]
        ut2[i] = u[i] + gamma * ub[i]     # u~ is no longer needed
    for i in range(r):
        ub_i = ub[i]
        u[i] = u[i] + beta * ub_i - c1 * p1[i] + wa_new[i]
        ub[i] = beta * ub_i - c1 * p1[i] + wb_new[i]
        wa[i] = wa_new[i]
        wb[i] = wb_new[i]
    bc = beta * c2
    b2 = beta * beta
    ca = c4 * aa_t
    for i in range(r):   # pairs (i, j), (j, i): new values depend only on the pair's old ones
        for j in range(i, r):
            kn = b2 * K[i, j] - bc * (wat[i] * g[j] + g[i] * wat[j]) + ca * g[i] * g[j]
            xij = beta * H[i, j] - c2 * ut2[i] * g[j]
            xji = beta * H[j, i] - c2 * ut2[j] * g[i]
            gn = G[i, j] + xij + xji + kn
            K[i, j] = kn
            K[j, i] = kn
            H[i, j] = xij + kn
            H[j, i] = xji + kn
            G[i, j] = gn
            G[j, i] = gn
    sc[S_A] = a + 2.0 * a_b + bb_new
    sc[S_AB] = a_b + bb_new
    sc[S_BB] = bb_new


@jit
def velocity_norm2(sc, MM, m):
    """``||v||^2 = ||B||^2 + ||Omega||_F^2 = bb + m tr(K)``."""
    tr = 0.0
    for i in range(MM.shape[1]):
        tr += MM[M_K, i, i]
    return sc[S_BB] + m * tr


@jit
def _diag(sc, vv, MM, s, z, hyp, mats, vecs, eig, row):
    diagnose(sc[S_A], vv[V_U], MM[M_G], s, z, hyp[O.H_YPERP2], hyp[O.H_N], hyp[O.H_M], hyp[O.H_ETA],
             mats, vecs, eig, row)
    row[L.SHARP_MSTAR] = np.nan   # M* is GD's one-step residual factor: not defined here


@jit
def _extras(t, sc, vv, MM, s, z, V, yperp, ihyp, hyp, perm, epoch, work, tmp, out):
    """``out[X_*]`` at step ``t`` (before the step is taken)."""
    m = hyp[O.H_M]
    b = ihyp[O.I_BATCH]
    out[O.X_VEL2] = velocity_norm2(sc, MM, m)
    if b > 0:
        seed = ihyp[O.I_SEED]
        out[O.X_BATCH_SHARP] = batch_sharpness(sc[S_A], vv[V_U], MM[M_G], s, z, V, yperp, m, seed, t,
                                               ihyp[O.I_SAMPLES], b, work, tmp[T_DT], tmp[T_G], tmp[T_P1])
        start = batch_start(t, seed, b, perm, epoch)
        residual_delta(vv[V_U], s, z, tmp[T_DT])
        out[O.X_STEP_CURV] = directional_curvature(sc[S_A], vv[V_U], MM[M_G], s, V, yperp, m, tmp[T_DT],
                                                   perm, start, b, tmp[T_G], tmp[T_P1])
    else:
        out[O.X_BATCH_SHARP] = np.nan
        out[O.X_STEP_CURV] = np.nan


@jit
def _advance(t, sc, vv, MM, s, z, V, yperp, ihyp, hyp, perm, epoch, tmp):
    """Take step ``t`` (with step ``t``'s batch)."""
    b = ihyp[O.I_BATCH]
    full = b == 0
    start = 0 if full else batch_start(t, ihyp[O.I_SEED], b, perm, epoch)
    step(sc, vv, MM, s, z, V, yperp, perm, start, hyp[O.H_N] if full else float(b), full, hyp[O.H_M], hyp[O.H_ETA],
         hyp[O.H_BETA], hyp[O.H_GAMMA], tmp)


#: the optimizer state as a model of the ONE recording loop (:func:`eosdyn.kernels.record_numba.run`):
#: the state bundles ``sc, vv, MM``; the data ``s, z, V, yperp``; ``hyp, ihyp``
#: (:mod:`.optim_layout`); the batch permutation ``perm, epoch`` and scratch ``work, tmp``; the
#: extra columns ``extra`` (rows x ``X_*``); the diagnostics' workspace ``mats, vecs, eig`` (shared
#: with the lookahead copy, so warm starts follow the run)
Momentum = namedtuple("Momentum", ["sc", "vv", "MM", "s", "z", "V", "yperp", "hyp", "ihyp", "perm", "epoch",
                                   "work", "tmp", "extra", "mats", "vecs", "eig"])


def model(sc, vv, MM, s, z, V, yperp, hyp, ihyp, n, nrow) -> tuple:
    """``(model, look)``: a :data:`Momentum` at the state ``(sc, vv, MM)`` (copied) with ``nrow``
    rows of extra columns, and its lookahead scratch (its own state, the rest shared)."""
    r = s.shape[0]
    mats, vecs, eig = workspace(r)
    shared = (np.ascontiguousarray(s, dtype=float), np.ascontiguousarray(z, dtype=float), V, yperp, hyp, ihyp,
              np.arange(n, dtype=np.int64), np.array([-1], dtype=np.int64), np.arange(n, dtype=np.int64),
              np.zeros((NSCR, r)), np.full((nrow, O.NX), np.nan), mats, vecs, eig)
    md = Momentum(np.array(sc, dtype=float), np.array(vv, dtype=float), np.array(MM, dtype=float), *shared)
    look = Momentum(np.zeros_like(md.sc), np.zeros_like(md.vv), np.zeros_like(md.MM), *shared)
    return md, look


@jit
def _classify(md, t, ctl, carry):
    dl = md.tmp[T_DT]
    residual_delta(md.vv[V_U], md.s, md.z, dl)
    ex = 0.0
    for i in range(md.s.shape[0]):
        ex += dl[i] * dl[i]
    n = md.hyp[O.H_N]
    loss = (ex + md.hyp[O.H_YPERP2]) / n
    return R.classify(loss, ex / n, md.sc[S_A], t, ctl, carry), loss


@jit
def _diagnose(md, row):
    _diag(md.sc, md.vv, md.MM, md.s, md.z, md.hyp, md.mats, md.vecs, md.eig, row)


@jit
def _edge(md):
    a = md.sc[S_A]
    return a, md.MM[M_G], md.s, md.hyp[O.H_N], md.hyp[O.H_M], state_is_finite(a, md.vv[V_U], md.MM[M_G])


@jit
def _step(md, t):
    _advance(t, md.sc, md.vv, md.MM, md.s, md.z, md.V, md.yperp, md.ihyp, md.hyp, md.perm, md.epoch, md.tmp)


@jit
def _copy(md, look):
    look.sc[:] = md.sc
    look.vv[:, :] = md.vv
    look.MM[:, :, :] = md.MM


@jit
def _record_extras(md, t, nrow):
    _extras(t, md.sc, md.vv, md.MM, md.s, md.z, md.V, md.yperp, md.ihyp, md.hyp, md.perm, md.epoch, md.work,
            md.tmp, md.extra[nrow])


R.register(Momentum, classify=_classify, diagnose=_diagnose, edge=_edge, step=_step, copy=_copy,
           extras=_record_extras)
