"""The exact GD map and its first-order truncation on the m-independent state ``(a, u, G)``.

With ``delta = S u - z``, ``g = S delta`` and ``FD = D^T F = u . g``, the gradient-flow velocity
(shared by the map and the flow) is::

    da/dt = -(4/n) u.g,   du/dt = -(2/n) G g - (2a/(n m)) g,   dG/dt = -(2/(n m)) (u g^T + g u^T)

and exact GD adds the second-order terms (weight ``eta2 = 1``; the first-order map of the
paper's Assumption 3.2 drops them, ``eta2 = 0``)::

    a' = a + eta da/dt + (4 eta^2/n^2) g^T G g
    u' = u + eta du/dt + (4 eta^2/(n^2 m)) FD g
    G' = G + eta dG/dt + (4 eta^2 a/(n^2 m^2)) g g^T

:data:`Reduced` is this state as a model of the shared recording loop
(:func:`eosdyn.kernels.record_numba.run`), with its hooks registered below.
"""

from collections import namedtuple

import numpy as np

from . import record_numba as R
from ._numba import jit
from .diagnostics_numba import diagnose, state_is_finite, workspace


@jit
def residual_terms(u, s, z, g):
    """Fill ``g = S (S u - z)``; return ``(||delta||^2, FD)``."""
    ex = 0.0
    fd = 0.0
    for i in range(s.shape[0]):
        su = s[i] * u[i]
        dl = su - z[i]
        ex += dl * dl
        fd += su * dl
        g[i] = s[i] * dl
    return ex, fd


@jit
def gradient_terms(u, G, s, z, g, Gg):
    """The gradient of the loss in the reduced state, shared by the map and the flow.

    Fills ``g = S (S u - z)`` and ``G g``; returns ``(||delta||^2, FD, u.g, g^T G g)``.
    """
    r = s.shape[0]
    ex, fd = residual_terms(u, s, z, g)
    ug = 0.0
    gGg = 0.0
    for i in range(r):
        acc = 0.0
        for j in range(r):
            acc += G[i, j] * g[j]
        Gg[i] = acc
        ug += u[i] * g[i]
        gGg += g[i] * acc
    return ex, fd, ug, gGg


@jit
def velocity(a, u, G, s, z, n, m, du, dG, g, Gg):
    """Gradient-flow velocity at ``(a, u, G)``: fills ``du``, ``dG``, returns ``da``.

    Also leaves ``g`` and ``G g`` in the scratch vectors ``g`` and ``Gg``.
    """
    r = s.shape[0]
    ug = gradient_terms(u, G, s, z, g, Gg)[2]
    cu = 2.0 / n
    ca = 2.0 * a / (n * m)
    cg = 2.0 / (n * m)
    for i in range(r):
        du[i] = -cu * Gg[i] - ca * g[i]
        for j in range(r):
            dG[i, j] = -cg * (u[i] * g[j] + g[i] * u[j])
    return -(4.0 / n) * ug


@jit
def step(state, u, G, s, z, n, m, eta, eta2, g, Gg):
    """One GD step in place: ``state[0] = a``, ``u`` (r,), ``G`` (r, r) -> their images.

    ``x' = x + eta * velocity(x)`` plus ``eta2`` times the eta^2 terms of the module docstring:
    ``eta2 = 1`` is exact GD, ``eta2 = 0`` the first-order map (the Euler step of the flow).
    """
    r = s.shape[0]
    a = state[0]
    ex, fd = residual_terms(u, s, z, g)
    e2 = eta2 * eta * eta
    k_G1 = 2.0 * eta / (n * m)
    k_G2 = 4.0 * e2 * a / (n * n * m * m)
    ug = 0.0
    gGg = 0.0
    for i in range(r):  # one pass over G: row i of G g (as gradient_terms sums it), then row i
        acc = 0.0       # updated (row-major and exactly symmetric: (i, j) and (j, i) use the same ops)
        for j in range(r):
            acc += G[i, j] * g[j]
        Gg[i] = acc
        ug += u[i] * g[i]
        gGg += g[i] * acc
        ui = u[i]
        gi = g[i]
        for j in range(r):
            G[i, j] = G[i, j] - k_G1 * (ui * g[j] + gi * u[j]) + k_G2 * (gi * g[j])
    k_u1 = 2.0 * eta / n
    k_u2 = 2.0 * eta * a / (n * m) - 4.0 * e2 * fd / (n * n * m)
    for i in range(r):
        u[i] = u[i] - k_u1 * Gg[i] - k_u2 * g[i]
    state[0] = a - (4.0 * eta / n) * ug + (4.0 * e2 / (n * n)) * gGg


#: the reduced state as a model of the recording loop; ``eta2`` weighs the eta^2 terms (1: exact
#: GD, 0: the first-order map); ``g, Gg`` scratch; ``mats, vecs, eig`` the diagnostics' workspace
#: (shared with the lookahead copy, so warm starts follow the run)
Reduced = namedtuple("Reduced", ["state", "u", "G", "s", "z", "y_perp2", "n", "m", "eta", "eta2",
                                 "g", "Gg", "mats", "vecs", "eig"])


def model(a, u, G, s, z, y_perp2, n, m, eta, eta2) -> tuple:
    """``(model, look)``: a :data:`Reduced` at state ``(a, u, G)`` (copied) and its lookahead
    scratch (same data and workspaces, its own state)."""
    r = s.shape[0]
    mats, vecs, eig = workspace(r)
    data = (np.ascontiguousarray(s, dtype=float), np.ascontiguousarray(z, dtype=float),
            float(y_perp2), float(n), float(m), float(eta), float(eta2))
    g, Gg = np.zeros(r), np.zeros(r)
    md = Reduced(np.array([float(a)]), np.array(u, dtype=float), np.array(G, dtype=float, order="C"),
                 *data, g, Gg, mats, vecs, eig)
    look = Reduced(np.zeros(1), np.zeros(r), np.zeros((r, r)), *data, g, Gg, mats, vecs, eig)
    return md, look


@jit
def _classify(md, t, ctl, carry):
    ex, fd = residual_terms(md.u, md.s, md.z, md.g)
    loss = (ex + md.y_perp2) / md.n
    return R.classify(loss, ex / md.n, md.state[0], t, ctl, carry), loss


@jit
def _diagnose(md, row):
    diagnose(md.state[0], md.u, md.G, md.s, md.z, md.y_perp2, md.n, md.m, md.eta, md.mats, md.vecs,
             md.eig, row)


@jit
def _edge(md):
    a = md.state[0]
    return a, md.G, md.s, md.n, md.m, state_is_finite(a, md.u, md.G)


@jit
def _step(md, t):
    step(md.state, md.u, md.G, md.s, md.z, md.n, md.m, md.eta, md.eta2, md.g, md.Gg)


@jit
def _copy(md, look):
    r = md.u.shape[0]
    look.state[0] = md.state[0]
    for i in range(r):
        look.u[i] = md.u[i]
        for j in range(r):
            look.G[i, j] = md.G[i, j]


R.register(Reduced, classify=_classify, diagnose=_diagnose, edge=_edge, step=_step, copy=_copy)
