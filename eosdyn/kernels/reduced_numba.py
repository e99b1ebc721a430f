"""The exact GD map and its first-order truncation on the m-independent state ``(a, u, G)``.

With ``delta = S u - z``, ``g = S delta`` and ``FD = D^T F = u . g``, the gradient-flow velocity
(shared by the map and the flow) is::

    da/dt = -(4/n) u.g,   du/dt = -(2/n) G g - (2a/(n m)) g,   dG/dt = -(2/(n m)) (u g^T + g u^T)

and exact GD adds the second-order terms (``order = 1``; ``order = 0`` drops them)::

    a' = a + eta da/dt + (4 eta^2/n^2) g^T G g
    u' = u + eta du/dt + (4 eta^2/(n^2 m)) FD g
    G' = G + eta dG/dt + (4 eta^2 a/(n^2 m^2)) g g^T
"""


from . import layout as L
from . import record_numba as R
from ._numba import jit
from .diagnostics_numba import diagnose


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
def step(state, u, G, s, z, n, m, eta, order, g, Gg):
    """One GD step in place: ``state[0] = a``, ``u`` (r,), ``G`` (r, r) -> their images.

    ``order = 1`` is exact GD, ``order = 0`` the first-order map (Euler step of the flow):
    ``x' = x + eta * velocity(x)`` plus, for exact GD, the eta^2 terms of the module docstring.
    """
    r = s.shape[0]
    a = state[0]
    ex, fd, ug, gGg = gradient_terms(u, G, s, z, g, Gg)
    e2 = order * eta * eta
    k_G1 = 2.0 * eta / (n * m)
    k_G2 = 4.0 * e2 * a / (n * n * m * m)
    for i in range(r):  # row-major and exactly symmetric: (i, j) and (j, i) use the same ops
        ui = u[i]
        gi = g[i]
        for j in range(r):
            G[i, j] = G[i, j] - k_G1 * (ui * g[j] + gi * u[j]) + k_G2 * (gi * g[j])
    k_u1 = 2.0 * eta / n
    k_u2 = 2.0 * eta * a / (n * m) - 4.0 * e2 * fd / (n * n * m)
    for i in range(r):
        u[i] = u[i] - k_u1 * Gg[i] - k_u2 * g[i]
    state[0] = a - (4.0 * eta / n) * ug + (4.0 * e2 / (n * n)) * gGg


@jit
def run(state, u, G, s, z, y_perp2, n, m, eta, order, t0, t1, steps, every, loss_tol,
        max_loss, rec, rec_step, carry, status, mats, vecs, piv, g, Gg, su, sG, sstate):
    """Advance the state from step ``t0`` towards ``t1`` (``<= steps + 1``), recording rows.

    A row is recorded at every step ``t`` with ``t % every == 0``, at ``steps`` and at the step
    where the run stops; ``status = [code, step, rows written, next t]`` is updated in place.
    The state is left at the last step processed (never beyond ``steps``); the lookahead
    one step past ``steps`` or past a converged step is taken on the scratch ``su, sG, sstate``.
    """
    r = s.shape[0]
    nrow = status[2]
    row = carry[L.C_DIAG:]
    t = t0
    while t < t1:
        ex, fd = residual_terms(u, s, z, g)
        a = state[0]
        code = R.classify((ex + y_perp2) / n, ex / n, a, t, steps, loss_tol, max_loss, carry)
        if code >= 0 or t % every == 0:
            if carry[L.C_HAVE] == 0.0:
                diagnose(a, u, G, s, z, y_perp2, n, m, eta, mats, vecs, piv, row)
            R.write_row(rec, rec_step, nrow, row, carry, t, code)
            if code != L.DIVERGED:
                if code >= 0:  # look ahead on a scratch copy: the state stays at step t
                    sstate[0] = state[0]
                    for i in range(r):
                        su[i] = u[i]
                        for j in range(r):
                            sG[i, j] = G[i, j]
                    step(sstate, su, sG, s, z, n, m, eta, order, g, Gg)
                    diagnose(sstate[0], su, sG, s, z, y_perp2, n, m, eta, mats, vecs, piv, row)
                else:
                    step(state, u, G, s, z, n, m, eta, order, g, Gg)
                    diagnose(state[0], u, G, s, z, y_perp2, n, m, eta, mats, vecs, piv, row)
                R.write_next(rec, nrow, row, carry, code < 0)
            nrow += 1
            status[2] = nrow
            if code >= 0:
                R.finish(status, code, t)
                return
        else:
            step(state, u, G, s, z, n, m, eta, order, g, Gg)
            carry[L.C_HAVE] = 0.0
        t += 1
    status[3] = t
