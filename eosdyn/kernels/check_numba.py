"""Per-step quantities the paper's statements need, recomputed from a run's states.

A saved run keeps the diagnostics of its recorded steps; statements about ``v_1(t)`` from step
to step (Assumption 3.5(iii)), the auxiliary sequence ``R'(t)`` (Lemma 3.5) or consecutive
steps of a strided run need every state. The runs are deterministic, so eosdyn regenerates the
states (``map_states`` for GD, the flow engine's dense output for the flow) and ``derive``
computes, per state, the columns below. In span(V) coordinates (``delta = S u - z``, ``K`` the
NTK restricted to span(V), ``q_1`` its top eigenvector)::

    rho(t)    = delta - q_1 (q_1 . delta)                    (R(t) = V rho(t) - Y_perp)
    rho'(0)   = rho(0),  rho'(t+1) = (I - eta K (I - q_1 q_1^T)) rho'(t)
    ||R - R'|| = ||rho - rho'||  (R and R' share the constant component -Y_perp)
    eps_2(t)  = 1 - |q_1(t) . q_1(t+1)|  (stored at t + 1 as EPS2_PREV)
"""

import math

from . import diagnostics_numba as dg
from . import hessian_numba
from . import layout as L
from ._numba import jit
from .eigen_numba import sym_eigvals
from .reduced_numba import step

# columns of the derived table
LOSS, SHARP, LAM2, LAMMIN, SHARP_MSTAR, A_NORM2, DTF, DV1, D2, R2, EPS2_PREV, RDIFF, RP2, HESS = range(14)
NCOLS = 14


@jit
def map_states(state, u, G, s, z, n, m, eta, order, k, As, Us, Gs, g, Gg):
    """Write the next ``k`` GD states (the current one first) into ``As, Us, Gs`` and leave
    ``state, u, G`` ``k`` steps later (the same ``step`` as the engines, so bit-identical)."""
    r = s.shape[0]
    for t in range(k):
        As[t] = state[0]
        for i in range(r):
            Us[t, i] = u[i]
            for j in range(r):
                Gs[t, i, j] = G[i, j]
        step(state, u, G, s, z, n, m, eta, order, g, Gg)


@jit
def derive(As, Us, Gs, s, z, y_perp2, n, m, eta, hessian, mats, vecs, piv, row, q_prev, rp,
           started, ev, work, e, hws, out):
    """Fill ``out[t, :NCOLS]`` for the states ``(As[t], Us[t], Gs[t])`` in order.

    ``q_prev`` (previous ``q_1``), ``rp`` (``rho'``) and ``started[0]`` carry between calls; the
    ``diagnose`` workspace ``mats, vecs, piv`` is the GD kernels' (same warm starts, same
    numbers). ``hessian = 0`` skips the Hessian column (NaN).
    """
    r = s.shape[0]
    for t in range(As.shape[0]):
        a = As[t]
        u = Us[t]
        G = Gs[t]
        dg.diagnose(a, u, G, s, z, y_perp2, n, m, eta, mats, vecs, piv, row)
        o = out[t]
        o[LOSS] = row[L.LOSS]
        o[SHARP] = row[L.SHARP]
        o[LAM2] = row[L.LAM2]
        o[SHARP_MSTAR] = row[L.SHARP_MSTAR]
        o[A_NORM2] = row[L.A_NORM2]
        o[DTF] = row[L.DTF]
        o[DV1] = row[L.DV1]
        o[D2] = row[L.LOSS] * n
        o[R2] = row[L.R_NORM2]
        K = mats[dg.M_K]
        q = vecs[dg.V_Q1]
        delta = vecs[dg.V_DELTA]
        if not math.isfinite(row[L.SHARP]):
            for c in (LAMMIN, EPS2_PREV, RDIFF, RP2, HESS):
                o[c] = math.nan
            continue
        sym_eigvals(K, ev, work, e)
        o[LAMMIN] = ev[0]
        qd = 0.0
        ov = 0.0
        for i in range(r):
            qd += q[i] * delta[i]
            ov += q[i] * q_prev[i]
        if started[0] == 0.0:
            for i in range(r):
                rp[i] = delta[i] - q[i] * qd
            o[EPS2_PREV] = math.nan
            started[0] = 1.0
        else:
            o[EPS2_PREV] = 1.0 - abs(ov)
        diff = 0.0
        n2 = 0.0
        for i in range(r):
            dlt = delta[i] - q[i] * qd - rp[i]
            diff += dlt * dlt
            n2 += rp[i] * rp[i]
        o[RDIFF] = math.sqrt(diff)
        o[RP2] = n2 + y_perp2
        # rho' <- rho' - eta K (rho' - q (q . rho'))
        qr = 0.0
        for i in range(r):
            qr += q[i] * rp[i]
        for i in range(r):
            e[i] = rp[i] - q[i] * qr
        for i in range(r):
            acc = 0.0
            for j in range(r):
                acc += K[i, j] * e[j]
            ev[i] = acc
        for i in range(r):
            rp[i] -= eta * ev[i]
            q_prev[i] = q[i]
        if hessian != 0:
            o[HESS] = hessian_numba.sharpness(a, u, G, s, z, n, m, hws)
        else:
            o[HESS] = math.nan


@jit
def map_states_at(state, u, G, s, z, n, m, eta, order, wanted, out, g, Gg):
    """Step GD from the current state (step 0) to ``wanted[-1]``, writing the flat state
    ``[a, u, G]`` at each step of the sorted ``wanted`` into ``out`` rows."""
    r = s.shape[0]
    k = 0
    t = 0
    while k < wanted.shape[0]:
        while k < wanted.shape[0] and wanted[k] == t:
            o = out[k]
            o[0] = state[0]
            for i in range(r):
                o[1 + i] = u[i]
                for j in range(r):
                    o[1 + r + i * r + j] = G[i, j]
            k += 1
        if k < wanted.shape[0]:
            step(state, u, G, s, z, n, m, eta, order, g, Gg)
            t += 1
