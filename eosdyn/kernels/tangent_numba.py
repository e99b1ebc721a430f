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

Output exponents and the unobservable subspace
----------------------------------------------
eosdyn's Lyapunov exponent is that of the outputs, ``lim (1/T) log ||S tu_T||``. Split a tangent
into its output part ``o = tu`` and its neutral part ``n = (ta, tG)``. The Jacobian has the block
form ``o' = P o + Q n``, ``n' = R o + T n``, and ``Q`` is linear in ``g`` (put ``tu = 0`` above:
``dg = 0``, ``d(FD) = 0``)::

    Q n = -(2 eta/n) (tG + (ta/m) I) g = -(2 eta/n) tH g,      tH = tG + (ta/m) I.

A subspace ``K`` of tangents with ``tu = 0`` that the Jacobian maps into itself is
*unobservable*: its vectors never change the outputs, at any order of the tangent dynamics, so
the output exponent is the top exponent of the quotient cocycle on ``tangents / K``, and any
representative of a class gives the same outputs. Two such subspaces are known exactly:

1. **At a global minimum** (``g = 0``): ``Q = 0``, so ``K = {tu = 0}`` (the whole neutral part)
   and ``o' = P o`` with ``S P S^{-1} = I - eta K`` (the ``dk_u`` term vanishes with ``g``).
2. **Rank one** (``r = 1``), at *every* state: ``k = (ta, tu, tG) = (1, 0, -1/m)`` (the output
   layer norm ``||A||^2`` against ``||W U||^2``, i.e. the balancedness) has ``tH = 0``, hence
   ``Q k = 0``, and its image is again a multiple of ``k``: with ``tu = 0``,
   ``tH' = tH + (4 e2 ta/(n^2 m^2)) (g g^T - ||g||^2 I)``, which is ``0`` for ``r = 1``.
   For ``r = 1`` the outputs follow the closed two-dimensional map on ``(u, H = G + a/m)``.

In exact arithmetic the neutral part never reaches the outputs and nothing needs to be done. In
floating point it does: a run that converges stops at a float fixed point (or an ulp-level
2-cycle) with ``||delta|| ~ 1e-15 ||z||`` rather than 0, so ``Q n`` is of order
``(2 eta/n) ||g|| ||n||``. Along a minimum ``n`` keeps its size (multiplier 1) while ``o``
decays like ``max_i |1 - eta mu_i|^t``; the leak ``Q n`` then sets a floor under ``||o||`` and
the measured exponent tends to 0 at long horizons (the multiplier of ``n``). Likewise, on a
rank-one 2-cycle whose balancedness direction contracts more slowly than the outputs, the
rounding-level leak of ``k`` into ``o`` makes the exponent tend to ``k``'s, not the outputs'.

:func:`to_quotient` removes the leak by replacing the tangent, before each step, by a
representative of its class with no component along ``K``: at a minimum to working precision
(``||delta|| <= MINIMUM_RTOL ||z||``) it sets ``n = 0``; for ``r = 1`` it projects ``k`` out.
``o`` is unchanged, so the accounting of ``||S tu||`` is untouched. Then ``o' = P o`` exactly at
a minimum, whose exponent is ``log max_i |1 - eta mu_i|``; the terms of ``P`` and ``Q`` that are
linear in ``g`` change it only by ``O(eta K MINIMUM_RTOL)`` per step. Where the state is not a
minimum (and ``r > 1``) the full tangent is propagated unchanged, so exponents away from minima
(chaotic attractors, EoS orbits) are the full Benettin exponents, as before.
"""

import math

from ._numba import jit

#: a state with ``||S u - z|| <= MINIMUM_RTOL ||z||`` is a global minimum to working precision
#: (float fixed points of converged runs have ``~1e-15``; see the module docstring)
MINIMUM_RTOL = 1e-10


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


@jit
def to_quotient(ta, tu, tG, at_minimum, rank_one, m):
    """Replace the tangent ``(ta[0], tu, tG)`` by a representative of its class modulo the
    unobservable subspace (module docstring); ``tu`` is never changed.

    ``at_minimum``: set the neutral part ``(ta, tG)`` to 0. Otherwise, if ``rank_one``: remove
    the orthogonal projection on ``k = (1, 0, -1/m)`` (entries ``ta`` and ``tG[0, 0]``; padded
    modes of a rank-one cell stay 0).
    """
    if at_minimum:
        ta[0] = 0.0
        r = tu.shape[0]
        for i in range(r):
            for j in range(r):
                tG[i, j] = 0.0
    elif rank_one:
        c = (ta[0] - tG[0, 0] / m) / (1.0 + 1.0 / (m * m))
        ta[0] -= c
        tG[0, 0] += c / m
