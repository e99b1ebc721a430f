"""Scan cells of the exact heavy-ball / Nesterov / mini-batch map (:mod:`.momentum_numba`).

The counterpart of :func:`eosdyn.kernels.batch_numba.run_cell` for runs that are not full-batch
GD: the same summaries (``F_*``, ``I_*``: first crossing, EoS excursions and period-2 flips
counted by :func:`eosdyn.kernels.edge_numba.edge_run`), trajectories and orbits (``O_*``), with
the edge test ``Lambda > sigma`` at the optimizer's edge ``sigma`` (``2/eta`` for SGD,
``(2 + 2 beta)/eta`` for heavy ball, ...) by the same inertia test
(:func:`eosdyn.kernels.edge_numba.above`; a non-finite state is below); the observable
``eta_sharpness`` stays ``eta Lambda``. No tangent is propagated: ``F_LYAP`` is NaN (Lyapunov exponents are computed for
full-batch GD only). For mini-batch cells the edge test reads the full-batch sharpness.
"""

import math

import numpy as np
from numba import prange

from . import eigen_numba as E
from . import layout as L
from ._numba import jit
from .batch_numba import (
    F_INIT_ES,
    F_LYAP,
    I_STATUS,
    NOBS,
    O_ES,
    _observe,
    finish_cell,
)
from .diagnostics_numba import state_is_finite
from .edge_numba import above, edge_run
from .momentum_numba import M_G, NSCR, S_A, V_U, step
from .sgd_numba import batch_start


@jit
def run_cell(s, z, V, yperp, y_perp2, n, m, eta, beta, gamma, bsz, seed, sigma, sc, vv, MM, steps, every,
             sharp_every, tail_start, orbit_start, loss_tol, max_loss, traj, orbit, fsum, isum):
    """Run one cell over steps ``0..steps`` from the state ``(sc, vv, MM)`` (advanced in place:
    it holds the last state processed on return). ``bsz = 0``: full batch; ``V`` (>= n rows) and
    ``yperp`` are read for mini-batches only."""
    r = s.shape[0]
    nn = int(n)
    tmp = np.zeros((NSCR, r))
    K = np.zeros((r, r))
    work = np.zeros((r, r))
    ew = E.new_work(r, 1, True, -1)   # the warm top pair of K (eigen_numba.top_pairs)
    ew.x[0, 0] = 1.0
    obs = np.zeros(NOBS)
    perm = np.arange(nn)
    epoch = np.array([-1])
    full = bsz == 0
    N = n if full else float(bsz)
    nrec = traj.shape[0]
    korb = orbit.shape[0]
    maxl = -math.inf
    tail_min = math.inf
    tail_max = -math.inf
    edge = np.zeros(4, dtype=np.int64)  # edge_run's [run, first, excursions, flips]
    edge[1] = -1
    fsum[F_LYAP] = np.nan
    code = -1
    t = 0
    u = vv[V_U]
    G = MM[M_G]
    while True:
        ex = 0.0
        for i in range(r):
            dl = s[i] * u[i] - z[i]
            ex += dl * dl
        loss = (ex + y_perp2) / n
        a = sc[S_A]
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
        if t == 0 or rec or t >= tail_start or t >= orbit_start or code >= 0:
            _observe(sc, u, G, s, z, y_perp2, n, m, eta, K, ew, obs)
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
        if code >= 0:
            break
        start = 0 if full else batch_start(t, seed, bsz, perm, epoch)
        step(sc, vv, MM, s, z, V, yperp, perm, start, N, full, m, eta, beta, gamma, tmp)
        t += 1
    finish_cell(code, t, tail_start, obs, maxl, tail_min, tail_max, edge, 0, fsum, isum)


@jit
def _cell(c, s, z, V, yperp, y_perp2, n, m, eta, beta, gamma, bsz, seed, sigma, sc, vv, MM, steps, every,
          sharp_every, tail_start, orbit_start, loss_tol, max_loss, traj, orbit, fsum, isum):
    run_cell(s[c], z[c], V[c], yperp[c], y_perp2[c], n[c], m[c], eta[c], beta[c], gamma[c], bsz[c], seed[c],
             sigma[c], sc[c], vv[c], MM[c], steps, every, sharp_every, tail_start, orbit_start, loss_tol[c],
             max_loss[c], traj[c], orbit[c], fsum[c], isum[c])


@jit
def run_cells(s, z, V, yperp, y_perp2, n, m, eta, beta, gamma, bsz, seed, sigma, sc, vv, MM, steps, every,
              sharp_every, tail_start, orbit_start, loss_tol, max_loss, traj, orbit, fsum, isum):
    """:func:`run_cell` for each cell (leading axis of every per-cell array), serially."""
    for c in range(s.shape[0]):
        _cell(c, s, z, V, yperp, y_perp2, n, m, eta, beta, gamma, bsz, seed, sigma, sc, vv, MM, steps, every,
              sharp_every, tail_start, orbit_start, loss_tol, max_loss, traj, orbit, fsum, isum)


@jit(parallel=True)
def run_cells_parallel(s, z, V, yperp, y_perp2, n, m, eta, beta, gamma, bsz, seed, sigma, sc, vv, MM, steps,
                       every, sharp_every, tail_start, orbit_start, loss_tol, max_loss, traj, orbit, fsum, isum):
    """:func:`run_cells` with a ``prange`` over cells (identical results)."""
    for c in prange(s.shape[0]):  # prange's index is unsigned: np.int64 reuses run_cells' _cell
        _cell(np.int64(c), s, z, V, yperp, y_perp2, n, m, eta, beta, gamma, bsz, seed, sigma, sc, vv, MM, steps, every,
              sharp_every, tail_start, orbit_start, loss_tol, max_loss, traj, orbit, fsum, isum)


@jit
def run_chain(s, z, V, yperp, y_perp2, n, m, eta, beta, gamma, bsz, seed, sigma, sc, vv, MM, steps, every,
              sharp_every, tail_start, orbit_start, loss_tol, max_loss, traj, orbit, fsum, isum):
    """Continuation: cell ``c + 1`` starts from cell ``c``'s final state (velocity included;
    from its own initial state after a divergence, and for ``c = 0``)."""
    for c in range(s.shape[0]):
        if c > 0 and isum[c - 1, I_STATUS] != L.DIVERGED:
            sc[c] = sc[c - 1]
            vv[c] = vv[c - 1]
            MM[c] = MM[c - 1]
        _cell(c, s, z, V, yperp, y_perp2, n, m, eta, beta, gamma, bsz, seed, sigma, sc, vv, MM, steps, every,
              sharp_every, tail_start, orbit_start, loss_tol, max_loss, traj, orbit, fsum, isum)
