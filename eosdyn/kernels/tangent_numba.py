"""The exact tangent map (Jacobian-vector product) of the reduced GD map of ``reduced_numba.step``.

The map (``delta = S u - z``, ``g = S delta``, ``FD = (S u) . delta``, ``e2 = order eta^2``)::

    a' = a - (4 eta/n) u.g + (4 e2/n^2) g^T G g
    u' = u - (2 eta/n) G g - k_u g,            k_u = 2 eta a/(n m) - 4 e2 FD/(n^2 m)
    G' = G - (2 eta/(n m)) (u g^T + g u^T) + k_G g g^T,   k_G = 4 e2 a/(n^2 m^2)

is differentiated along a tangent vector ``(ta, tu, tG)`` (``tG`` symmetric). With
``dg = S^2 tu`` (since ``g = S (S u - z)``)::

    d(u.g)   = tu.g + u.dg
    d(FD)    = sum_i tu_i (g_i + s_i^2 u_i)
    d(Gg)    = tG g + G dg
    d(gGg)   = 2 dg.(G g) + g.(tG g)
    ta' = ta - (4 eta/n) d(u.g) + (4 e2/n^2) d(gGg)
    tu' = tu - (2 eta/n) d(Gg) - k_u dg - dk_u g,   dk_u = 2 eta ta/(n m) - 4 e2 d(FD)/(n^2 m)
    tG' = tG - (2 eta/(n m)) (tu g^T + u dg^T + dg u^T + g tu^T)
             + k_G (dg g^T + g dg^T) + dk_G g g^T,  dk_G = 4 e2 ta/(n^2 m^2)

At a global minimum (``g = 0``) this reduces to ``S tu' = (I - eta K) S tu`` with
``K = (2/n) S ((a/m) I + G) S`` (the Gram matrix on span(V)), while every tangent with
``tu = 0`` is left unchanged: the minima form a manifold ``{S u = z}`` of fixed points.
"""

import math

from ._numba import jit


@jit
def jvp(state, u, G, ta, tu, tG, s, z, n, m, eta, order, g, Gg, dg, dGg):
    """Replace the tangent ``(ta[0], tu, tG)`` at ``(state[0], u, G)`` by its image under the
    Jacobian of ``reduced_numba.step``; the state is not modified.

    ``g``, ``Gg``, ``dg``, ``dGg`` are (r,) scratch vectors. Call it *before* ``step`` on the
    same state.
    """
    r = s.shape[0]
    a = state[0]
    fd = 0.0
    dfd = 0.0
    for i in range(r):
        su = s[i] * u[i]
        dl = su - z[i]
        fd += su * dl
        g[i] = s[i] * dl
        dg[i] = s[i] * s[i] * tu[i]
        dfd += tu[i] * (g[i] + s[i] * su)
    dug = 0.0
    dgGg = 0.0
    for i in range(r):
        acc = 0.0
        tgg = 0.0
        gdg = 0.0
        for j in range(r):
            acc += G[i, j] * g[j]
            tgg += tG[i, j] * g[j]
            gdg += G[i, j] * dg[j]
        Gg[i] = acc
        dGg[i] = tgg + gdg
        dug += tu[i] * g[i] + u[i] * dg[i]
        dgGg += 2.0 * dg[i] * acc + g[i] * tgg
    e2 = order * eta * eta
    t_a = ta[0]
    k_G1 = 2.0 * eta / (n * m)
    k_G2 = 4.0 * e2 * a / (n * n * m * m)
    dk_G2 = 4.0 * e2 * t_a / (n * n * m * m)
    for i in range(r):
        for j in range(i, r):
            v = (tG[i, j]
                 - k_G1 * (tu[i] * g[j] + u[i] * dg[j] + dg[i] * u[j] + g[i] * tu[j])
                 + k_G2 * (dg[i] * g[j] + g[i] * dg[j]) + dk_G2 * g[i] * g[j])
            tG[i, j] = v
            tG[j, i] = v
    k_u1 = 2.0 * eta / n
    k_u2 = 2.0 * eta * a / (n * m) - 4.0 * e2 * fd / (n * n * m)
    dk_u2 = 2.0 * eta * t_a / (n * m) - 4.0 * e2 * dfd / (n * n * m)
    for i in range(r):
        tu[i] = tu[i] - k_u1 * dGg[i] - k_u2 * dg[i] - dk_u2 * g[i]
    ta[0] = t_a - (4.0 * eta / n) * dug + (4.0 * e2 / (n * n)) * dgGg


@jit
def tangent_norms(ta, tu, tG, s):
    """``(full, output)`` norms of a tangent: ``sqrt(ta^2 + ||tu||^2 + ||tG||_F^2)`` and
    ``||S tu||`` (the first-order change of the residual / network outputs on span(V))."""
    r = s.shape[0]
    full = ta[0] * ta[0]
    out = 0.0
    for i in range(r):
        full += tu[i] * tu[i]
        w = s[i] * tu[i]
        out += w * w
        for j in range(r):
            full += tG[i, j] * tG[i, j]
    return math.sqrt(full), math.sqrt(out)


@jit
def scale_tangent(ta, tu, tG, c):
    """Multiply the tangent by ``c`` in place."""
    ta[0] *= c
    for i in range(tu.shape[0]):
        tu[i] *= c
        for j in range(tu.shape[0]):
            tG[i, j] *= c
