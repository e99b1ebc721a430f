"""The gradient-flow vector field on the flat state ``y = [a, u (r), G (r*r, row-major)]``.

The field is :func:`eosdyn.kernels.reduced_numba.velocity` -- the same gradient the GD map
steps along -- scaled by ``eta`` so that time is measured in GD steps (``t = k`` is flow time
``k eta``)::

    dy/dt = eta * (da/dtau, du/dtau, dG/dtau),   tau = t eta the flow time.

Also: the sharpness and the reducible loss of a flat state (event functions), a
finiteness/overflow test, and :data:`FlowStates`, the flow sampled at integer times as a model of
the shared recording loop (:func:`eosdyn.kernels.record_numba.run`).
"""

import math
from collections import namedtuple

import numpy as np

from . import eigen_numba as E
from . import layout as L
from . import record_numba as R
from ._numba import jit
from .diagnostics_numba import diagnose, workspace
from .reduced_numba import residual_terms, velocity


@jit
def unpack(y, u, G):
    """Copy ``y``'s ``u`` and ``G`` parts into ``u``, ``G``; return ``a``."""
    r = u.shape[0]
    k = 1 + r
    for i in range(r):
        u[i] = y[1 + i]
        for j in range(r):
            G[i, j] = y[k + i * r + j]
    return y[0]


@jit
def pack(a, u, G, y):
    """Write ``[a, u, G.ravel()]`` into ``y``."""
    r = u.shape[0]
    k = 1 + r
    y[0] = a
    for i in range(r):
        y[1 + i] = u[i]
        for j in range(r):
            y[k + i * r + j] = G[i, j]


@jit
def rhs(y, s, z, n, m, eta, out, u, G, du, dG, g, Gg):
    """``out = eta * velocity(y)``; ``u, G, du, dG, g, Gg`` are scratch."""
    r = s.shape[0]
    a = unpack(y, u, G)
    da = velocity(a, u, G, s, z, n, m, du, dG, g, Gg)
    out[0] = eta * da
    k = 1 + r
    for i in range(r):
        out[1 + i] = eta * du[i]
        for j in range(r):
            out[k + i * r + j] = eta * dG[i, j]


@jit
def reducible_loss(y, s, z, n, u, G, g):
    """``||S u - z||^2 / n``: the loss minus its irreducible part ``||Y_perp||^2 / n``."""
    unpack(y, u, G)
    ex, _ = residual_terms(u, s, z, g)
    return ex / n


@jit
def sharpness(y, s, n, m, u, G, K, ew):
    """``Lambda = lambda_max((2/n) S ((a/m) I + G) S)`` (:func:`eigen_numba.top_pairs`, warm from
    the tracker ``ew``); NaN for a non-finite state."""
    r = s.shape[0]
    a = unpack(y, u, G)
    for i in range(y.shape[0]):
        if not math.isfinite(y[i]):
            return math.nan
    c = 2.0 / n
    for i in range(r):
        for j in range(r):
            K[i, j] = c * s[i] * s[j] * G[i, j]
        K[i, i] += c * s[i] * s[i] * a / m
    E.top_pairs(K, ew, math.inf)
    return ew.lam[0]


@jit
def state_ok(y, s, z, y_perp2, n, max_loss, u, G, g):
    """The GD kernels' test: finite state, loss and ``|a|`` below ``max_loss``."""
    for i in range(y.shape[0]):
        if not math.isfinite(y[i]):
            return False
    unpack(y, u, G)
    ex, _ = residual_terms(u, s, z, g)
    loss = (ex + y_perp2) / n
    return loss < max_loss and abs(y[0]) < max_loss


@jit
def jacobian(y, s, z, n, m, eta, J, u, G, g):
    """``J = d(eta * velocity)/dy`` (dense, ``(1 + r + r^2)``-square) at the flat state ``y``.

    With ``g = S (S u - z)`` (so ``dg/du = S^2``)::

        d(da)/du_k    = -(4/n) (g_k + s_k^2 u_k)
        d(du_i)/da    = -(2/(n m)) g_i
        d(du_i)/du_k  = -(2/n) G_ik s_k^2 - (2 a/(n m)) s_i^2 [i = k]
        d(du_i)/dG_kl = -(2/n) [i = k] g_l
        d(dG_ij)/du_k = -(2/(n m)) ([i = k] g_j + u_i s_j^2 [j = k] + s_i^2 [i = k] u_j + g_i [j = k])

    and every other entry is 0.
    """
    r = s.shape[0]
    a = unpack(y, u, G)
    residual_terms(u, s, z, g)
    for i in range(J.shape[0]):
        for j in range(J.shape[1]):
            J[i, j] = 0.0
    c4 = -4.0 / n * eta
    c2 = -2.0 / n * eta
    cm = -2.0 / (n * m) * eta
    k0 = 1 + r
    for k in range(r):
        J[0, 1 + k] = c4 * (g[k] + s[k] * s[k] * u[k])
    for i in range(r):
        J[1 + i, 0] = cm * g[i]
        for k in range(r):
            J[1 + i, 1 + k] = c2 * G[i, k] * s[k] * s[k]
        J[1 + i, 1 + i] += cm * a * s[i] * s[i]
        for l in range(r):
            J[1 + i, k0 + i * r + l] = c2 * g[l]
    for i in range(r):
        for j in range(r):
            row = k0 + i * r + j
            J[row, 1 + i] += cm * g[j]
            J[row, 1 + j] += cm * u[i] * s[j] * s[j]
            J[row, 1 + i] += cm * s[i] * s[i] * u[j]
            J[row, 1 + j] += cm * g[i]


def jacobian_nnz(r: int) -> int:
    """Number of triplets :func:`jacobian_coo` writes (duplicates included)."""
    return 2 * r + 6 * r * r


@jit
def jacobian_coo(y, s, z, n, m, eta, rows, cols, vals, u, G, g):
    """The entries of :func:`jacobian` as COO triplets (duplicates are to be summed)."""
    r = s.shape[0]
    a = unpack(y, u, G)
    residual_terms(u, s, z, g)
    c4 = -4.0 / n * eta
    c2 = -2.0 / n * eta
    cm = -2.0 / (n * m) * eta
    k0 = 1 + r
    k = 0
    for q in range(r):
        rows[k], cols[k], vals[k] = 0, 1 + q, c4 * (g[q] + s[q] * s[q] * u[q])
        k += 1
    for i in range(r):
        rows[k], cols[k], vals[k] = 1 + i, 0, cm * g[i]
        k += 1
        for q in range(r):
            v = c2 * G[i, q] * s[q] * s[q]
            if q == i:
                v += cm * a * s[i] * s[i]
            rows[k], cols[k], vals[k] = 1 + i, 1 + q, v
            k += 1
            rows[k], cols[k], vals[k] = 1 + i, k0 + i * r + q, c2 * g[q]
            k += 1
    for i in range(r):
        for j in range(r):
            row = k0 + i * r + j
            rows[k], cols[k], vals[k] = row, 1 + i, cm * g[j]
            rows[k + 1], cols[k + 1], vals[k + 1] = row, 1 + j, cm * u[i] * s[j] * s[j]
            rows[k + 2], cols[k + 2], vals[k + 2] = row, 1 + i, cm * s[i] * s[i] * u[j]
            rows[k + 3], cols[k + 3], vals[k + 3] = row, 1 + j, cm * g[i]
            k += 4
    return k


#: the flow sampled at integer times as a model of the recording loop: ``Ys[k]`` is the flat
#: state at step ``t0 + k`` of the chunk, ``pos[0]`` the row of the current step; the stop is
#: decided by the engine's events (``stop = [step, code]``, step -1: none in this chunk)
FlowStates = namedtuple("FlowStates", ["Ys", "pos", "stop", "s", "z", "y_perp2", "n", "m", "eta", "u",
                                       "G", "g", "mats", "vecs", "eig"])


def states_model(Ys, s, z, y_perp2, n, m, eta) -> tuple:
    """``(model, look)`` over the sampled states ``Ys`` (replace ``Ys`` with ``._replace``)."""
    r = s.shape[0]
    mats, vecs, eig = workspace(r)
    rest = (np.ascontiguousarray(s, dtype=float), np.ascontiguousarray(z, dtype=float), float(y_perp2),
            float(n), float(m), float(eta), np.zeros(r), np.zeros((r, r)), np.zeros(r), mats, vecs, eig)
    md = FlowStates(Ys, np.zeros(1, np.int64), np.array([-1, -1], np.int64), *rest)
    look = FlowStates(Ys, np.zeros(1, np.int64), md.stop, *rest)
    return md, look


@jit
def _classify(md, t, ctl, carry):
    unpack(md.Ys[md.pos[0]], md.u, md.G)
    ex, _ = residual_terms(md.u, md.s, md.z, md.g)
    loss = (ex + md.y_perp2) / md.n
    R.fold_loss(loss, carry)
    if t == md.stop[0]:
        return md.stop[1], loss
    if t == ctl.steps:
        return L.MAX_STEPS, loss
    return -1, loss


@jit
def _diagnose(md, row):
    a = unpack(md.Ys[md.pos[0]], md.u, md.G)
    diagnose(a, md.u, md.G, md.s, md.z, md.y_perp2, md.n, md.m, md.eta, md.mats, md.vecs, md.eig, row)


@jit
def all_finite(y):
    """True when every entry of ``y`` is finite."""
    for i in range(y.shape[0]):
        if not math.isfinite(y[i]):
            return False
    return True


@jit
def _edge(md):
    y = md.Ys[md.pos[0]]
    a = unpack(y, md.u, md.G)
    return a, md.G, md.s, md.n, md.m, all_finite(y)


@jit
def _step(md, t):
    md.pos[0] += 1


@jit
def _copy(md, look):
    look.pos[0] = md.pos[0]


R.register(FlowStates, classify=_classify, diagnose=_diagnose, edge=_edge, step=_step, copy=_copy)
