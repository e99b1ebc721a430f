"""Many cells (independent runs of the reduced GD map) per numba call, with per-cell summaries.

A *cell* is one run: data ``(s, z, ||Y_perp||^2, n)``, width ``m``, learning rate ``eta`` and
an initial state ``(a, u, G)``. :func:`run_cell` advances one cell over steps ``0..steps``
with ``reduced_numba.step`` (so the state trajectory is bitwise that of ``eosdyn.simulate``)
and keeps running summaries instead of a per-step record:

* ``status`` / ``status_step``: as in :mod:`eosdyn.kernels.layout` (``MAX_STEPS``,
  ``CONVERGED`` when the reducible loss ``||delta||^2 / n <= loss_tol``, ``DIVERGED`` when the
  loss or ``a`` exceed ``max_loss`` or are not finite);
* the edge of stability: ``Lambda > 2/eta`` is decided every ``sharp_every``-th step (default:
  every step) without computing ``Lambda``, by the inertia of ``(2/eta) I - K``
  (:func:`eosdyn.kernels.edge_numba.above`, the one inertia test :func:`eosdyn.kernels.eigen_numba.exceeds`,
  ``~r^3/6`` flops; a non-finite state is below), and the flags are counted by
  :func:`eosdyn.kernels.edge_numba.edge_run` exactly as ``simulate``'s per-step tracker counts
  them: ``first_cross_step``, the EoS excursions (runs of >= 2 checked steps above) and the
  period-2 flips (single checked steps above between checked steps below);
* ``eta * Lambda`` itself (warm-started, certified ``eigen_numba.top_pairs``) only where needed: at
  step 0, at recorded steps, in the tail ``t >= tail_start`` (its min and max), in the orbit
  window ``t >= orbit_start`` and at the final step;
* ``max_loss`` over all steps, ``final_loss``;
* optionally the maximal Lyapunov exponent of the network outputs (see :func:`run_cell`).

Recorded observables (columns ``O_*``): loss, ``eta * Lambda``, ``a = ||A||^2``, ``D^T v_1``.
"""

import math
from collections import namedtuple

import numpy as np
from numba import prange

from . import eigen_numba as E
from . import layout as L
from ._numba import jit
from .diagnostics_numba import state_is_finite
from .edge_numba import above, edge_run, gram
from .reduced_numba import residual_terms, step
from .tangent_numba import MINIMUM_RTOL, jvp, scale_tangent, tangent_norms, to_quotient

# observables recorded in trajectories and orbits
O_LOSS, O_ES, O_A, O_DV1 = 0, 1, 2, 3
NOBS = 4
OBSERVABLES = ("loss", "eta_sharpness", "a_norm2", "Dv1")
# float summaries
F_INIT_ES, F_FINAL_ES, F_MAX_LOSS, F_FINAL_LOSS, F_TAIL_MIN, F_TAIL_MAX, F_LYAP = range(7)
NF = 7
# integer summaries
I_STATUS, I_STATUS_STEP, I_FIRST_CROSS, I_EXCURSIONS, I_FLIPS, I_RESETS = range(6)
NI = 6

@jit
def finish_cell(code, t, tail_start, obs, maxl, tail_min, tail_max, edge, resets, fsum, isum):
    """The end-of-cell summaries (``F_*`` into ``fsum``, ``I_*`` into ``isum``) of a cell that
    stopped with ``code`` at step ``t``, its last observation ``obs``, the largest loss ``maxl``,
    the tail range of ``eta Lambda`` and the edge counters ``edge`` (:func:`edge_run`). A cell
    that converged before ``tail_start`` no longer moves: its tail is its final value."""
    if code == L.CONVERGED and t < tail_start:
        tail_min = obs[O_ES]
        tail_max = obs[O_ES]
    if not (tail_min <= tail_max):
        tail_min = np.nan
        tail_max = np.nan
    fsum[F_FINAL_ES] = obs[O_ES]
    fsum[F_MAX_LOSS] = maxl
    fsum[F_FINAL_LOSS] = obs[O_LOSS]
    fsum[F_TAIL_MIN] = tail_min
    fsum[F_TAIL_MAX] = tail_max
    isum[I_STATUS] = code
    isum[I_STATUS_STEP] = t
    isum[I_FIRST_CROSS] = edge[1]
    isum[I_EXCURSIONS] = edge[2]
    isum[I_FLIPS] = edge[3]
    isum[I_RESETS] = resets


#: per-cell inputs, every field with a leading cell axis: data ``s, z`` (cells, r), ``y_perp2, n``;
#: ``m, eta``; the initial state ``a0`` (cells,), ``u0`` (cells, r), ``G0`` (cells, r, r); the
#: thresholds ``loss_tol, max_loss``; the initial tangent ``tangent0`` (cells, 1 + r + r*r)
CellData = namedtuple("CellData", ["s", "z", "y_perp2", "n", "m", "eta", "a0", "u0", "G0", "loss_tol",
                                   "max_loss", "tangent0"])
#: what every cell of a call shares: ``eta2`` (weight of the map's eta^2 terms: 1 exact GD, 0 the
#: first-order map), the last step, the strides and windows (see :func:`run_cell`)
CellControl = namedtuple("CellControl", ["eta2", "steps", "every", "sharp_every", "tail_start",
                                         "orbit_start", "lyap_start", "renorm"])
#: per-cell outputs: ``traj`` (cells, nrec, NOBS), ``orbit`` (cells, K, NOBS) (pre-filled with NaN),
#: ``fsum`` (cells, NF), ``isum`` (cells, NI), and the final state ``final_a`` (cells, 1),
#: ``final_u`` (cells, r), ``final_G`` (cells, r, r)
CellOut = namedtuple("CellOut", ["traj", "orbit", "fsum", "isum", "final_a", "final_u", "final_G"])
#: the tangent is projected on its output part when that part falls below this fraction
NEUTRAL_FLOOR = 1e-100


@jit
def _observe(state, u, G, s, z, y_perp2, n, m, eta, K, ew, out):
    """Fill ``out[O_*]`` for the current state; the eigen workspace ``ew`` carries the warm top
    eigenvector (:func:`eigen_numba.top_pairs`)."""
    r = s.shape[0]
    a = state[0]
    ex = 0.0
    finite = math.isfinite(a)
    for i in range(r):
        dl = s[i] * u[i] - z[i]
        ex += dl * dl
        for j in range(r):
            if not math.isfinite(G[i, j]):
                finite = False
    out[O_LOSS] = (ex + y_perp2) / n
    out[O_A] = a
    if not (finite and math.isfinite(ex)):
        out[O_ES] = np.nan
        out[O_DV1] = np.nan
        return
    gram(a, G, s, n, m, K)
    E.top_pairs(K, ew, math.inf)
    out[O_ES] = eta * ew.lam[0]
    dv1 = 0.0
    for i in range(r):
        dv1 += (s[i] * u[i] - z[i]) * ew.x[0, i]
    out[O_DV1] = dv1


@jit
def run_cell(c, data, ctl, out):
    """Run cell ``c`` (of the bundles :data:`CellData`, :data:`CellOut`) over steps
    ``0..ctl.steps`` and fill its summaries.

    Parameters
    ----------
    c : int
        The cell: index of the leading axis of every field of ``data`` and ``out``.
    data : CellData
        Data ``(s, z, ||Y_perp||^2, n)``, width ``m``, learning rate ``eta``, the initial state
        ``(a0, u0, G0)`` (not modified), ``loss_tol, max_loss`` (convergence and divergence
        thresholds; ``loss_tol = 0``: never stop as converged) and ``tangent0``, the initial
        tangent ``(ta, tu, tG)`` (``tG`` symmetric), propagated from step 0.
    ctl : CellControl
        ``eta2`` (1 exact GD, 0 the first-order map); ``steps`` (last step); ``every`` (record
        ``traj`` every ``every``-th step, row ``t // every``, if it has rows); ``sharp_every``
        (test ``Lambda > 2/eta`` every ``sharp_every``-th step); ``tail_start`` (tail min/max
        of ``eta Lambda`` over ``t >= tail_start``); ``orbit_start``
        (``orbit[t - orbit_start]`` for ``t >= orbit_start``); ``lyap_start`` (Lyapunov exponent
        over ``[lyap_start, end]``; ``> steps``: no tangent is propagated at all); ``renorm``
        (renormalise the tangent every ``renorm`` steps).
    out : CellOut
        ``traj``, ``orbit`` (rows after a stop stay NaN), the summaries ``fsum`` (``F_*``) and
        ``isum`` (``I_*``), and ``final_a, final_u, final_G``: the state at the last step
        processed.

    Notes
    -----
    The Lyapunov exponent is that of the network outputs on span(V): with the tangent
    ``(ta, tu, tG)`` renormalised by its full norm every ``renorm`` steps (Benettin), the
    exponent is ``(sum of log norms + log q_end - log q_start) / T`` where ``q = ||S tu||`` is
    the first-order change of the residual ``delta = S u - z``. The minima form a manifold
    ``{S u = z}`` of fixed points along which the full tangent has multiplier exactly 1, so the
    full-state exponent of every convergent run is 0; the output exponent is instead
    ``log max_i |1 - eta mu_i|`` there (``mu_i`` the eigenvalues of ``K``). If ``q`` falls
    below ``NEUTRAL_FLOOR`` times the full norm, the tangent is replaced by its output part
    (``ta = tG = 0``; counted in ``isum[I_RESETS]``): only directions that leave the outputs
    unchanged to first order are dropped, and underflow is avoided. Before every step the tangent
    is replaced by its representative modulo the unobservable subspace
    (:func:`eosdyn.kernels.tangent_numba.to_quotient`: the neutral part at a minimum to working
    precision, the balancedness direction when the rank is 1), which keeps rounding-level leaks
    of neutral directions out of the outputs at any horizon.
    """
    s, z, y_perp2, n, m, eta = data.s[c], data.z[c], data.y_perp2[c], data.n[c], data.m[c], data.eta[c]
    a0, u0, G0, tangent0 = data.a0[c], data.u0[c], data.G0[c], data.tangent0[c]
    loss_tol, max_loss = data.loss_tol[c], data.max_loss[c]
    order = ctl.eta2
    steps, every, sharp_every = ctl.steps, ctl.every, ctl.sharp_every
    tail_start, orbit_start, lyap_start, renorm = ctl.tail_start, ctl.orbit_start, ctl.lyap_start, ctl.renorm
    traj, orbit, fsum, isum = out.traj[c], out.orbit[c], out.fsum[c], out.isum[c]
    final_a, final_u, final_G = out.final_a[c], out.final_u[c], out.final_G[c]
    r = s.shape[0]
    state = np.empty(1)
    state[0] = a0
    u = u0.copy()
    G = G0.copy()
    g = np.zeros(r)
    Gg = np.zeros(r)
    dg = np.zeros(r)
    dGg = np.zeros(r)
    K = np.zeros((r, r))
    work = np.zeros((r, r))
    ew = E.new_work(r, 1, True, -1)
    ew.x[0, 0] = 1.0
    obs = np.zeros(NOBS)
    ta = np.empty(1)
    ta[0] = tangent0[0]
    tu = tangent0[1:1 + r].copy()
    tG = tangent0[1 + r:].copy().reshape((r, r))
    use_tangent = lyap_start <= steps
    # unobservable tangent directions (tangent_numba.to_quotient): minima, rank one
    z2 = 0.0
    rank = 0
    for i in range(r):
        z2 += z[i] * z[i]
        if s[i] > 0.0:
            rank += 1
    min_ex = MINIMUM_RTOL * MINIMUM_RTOL * z2
    sigma = 2.0 / eta
    nrec = traj.shape[0]
    korb = orbit.shape[0]
    maxl = -math.inf
    tail_min = math.inf
    tail_max = -math.inf
    edge = np.zeros(4, dtype=np.int64)  # edge_run's [run, first, excursions, flips]
    edge[1] = -1
    logsum = 0.0
    q_start = 0.0
    resets = 0
    fsum[F_LYAP] = np.nan
    code = -1
    t = 0
    while True:
        ex, fd = residual_terms(u, s, z, g)
        loss = (ex + y_perp2) / n
        a = state[0]
        ok = loss < max_loss and math.isfinite(a) and abs(a) < max_loss
        if loss > maxl or loss != loss:
            maxl = loss
        if not ok:
            code = L.DIVERGED
        elif ex / n <= loss_tol:
            code = L.CONVERGED
        elif t == steps:
            code = L.MAX_STEPS
        if t % sharp_every == 0 or code >= 0:
            up = above(a, G, s, n, m, sigma, K, work) and state_is_finite(a, u, G)  # not finite: below
            edge_run(edge, 0, t, up)
        rec = nrec > 0 and t % every == 0 and t // every < nrec
        need = t == 0 or rec or t >= tail_start or t >= orbit_start or code >= 0
        if need:
            _observe(state, u, G, s, z, y_perp2, n, m, eta, K, ew, obs)
            es = obs[O_ES]
            if t == 0:
                fsum[F_INIT_ES] = es
            if rec:
                for k in range(NOBS):
                    traj[t // every, k] = obs[k]
            if t >= orbit_start and t - orbit_start < korb:
                for k in range(NOBS):
                    orbit[t - orbit_start, k] = obs[k]
            if t >= tail_start and code != L.DIVERGED:
                tail_min = min(tail_min, es)
                tail_max = max(tail_max, es)
        if use_tangent and t <= lyap_start and t % renorm == 0 and code != L.DIVERGED:
            # before the window: keep the tangent normalised (no accumulation)
            full, q = tangent_norms(ta, tu, tG, s)
            if full > 0.0 and math.isfinite(full):
                scale_tangent(ta, tu, tG, 1.0 / full)
        if use_tangent and t == lyap_start and code != L.DIVERGED:
            full, q = tangent_norms(ta, tu, tG, s)
            scale_tangent(ta, tu, tG, 1.0 / full)
            q_start = q / full
        if use_tangent and t > lyap_start and ((t - lyap_start) % renorm == 0 or code >= 0):
            full, q = tangent_norms(ta, tu, tG, s)
            if code == L.DIVERGED or not math.isfinite(full):
                fsum[F_LYAP] = np.nan
            elif code >= 0:
                lq = math.log(q) if q > 0.0 else -math.inf
                fsum[F_LYAP] = (logsum + lq - math.log(q_start)) / (t - lyap_start)
            else:
                logsum += math.log(full)
                scale_tangent(ta, tu, tG, 1.0 / full)
                if q < NEUTRAL_FLOOR * full:
                    resets += 1
                    ta[0] = 0.0
                    tG[:, :] = 0.0
                    full2, q2 = tangent_norms(ta, tu, tG, s)
                    logsum += math.log(full2)
                    scale_tangent(ta, tu, tG, 1.0 / full2)
        if code >= 0:
            break
        if use_tangent:
            to_quotient(ta, tu, tG, ex <= min_ex, rank == 1, m)
            jvp(state, u, G, ta, tu, tG, s, z, n, m, eta, order, g, Gg, dg, dGg)
        step(state, u, G, s, z, n, m, eta, order, g, Gg)
        t += 1
    finish_cell(code, t, tail_start, obs, maxl, tail_min, tail_max, edge, resets, fsum, isum)
    final_a[0] = state[0]
    for i in range(r):
        final_u[i] = u[i]
        for j in range(r):
            final_G[i, j] = G[i, j]


@jit
def run_cells(data, ctl, out):
    """:func:`run_cell` for each cell (leading axis of every field of ``data``, ``out``), serially."""
    for c in range(data.s.shape[0]):
        run_cell(c, data, ctl, out)


@jit(parallel=True)
def run_cells_parallel(data, ctl, out):
    """:func:`run_cells` with a ``prange`` over cells (identical results: cells are independent)."""
    for c in prange(data.s.shape[0]):
        run_cell(np.int64(c), data, ctl, out)  # prange's index is unsigned: reuse run_cells' run_cell


@jit
def run_chain(data, ctl, out):
    """Continuation: cell ``c + 1`` starts from cell ``c``'s final state (from its own initial
    state after a divergence, and for ``c = 0``); ``data``'s initial states are not modified."""
    start = CellData(data.s, data.z, data.y_perp2, data.n, data.m, data.eta, data.a0.copy(),
                     data.u0.copy(), data.G0.copy(), data.loss_tol, data.max_loss, data.tangent0)
    for c in range(data.s.shape[0]):
        if c > 0 and out.isum[c - 1, I_STATUS] != L.DIVERGED:
            start.a0[c] = out.final_a[c - 1, 0]
            start.u0[c] = out.final_u[c - 1]
            start.G0[c] = out.final_G[c - 1]
        run_cell(c, start, ctl, out)
