"""Scan and bifurcation cells of runs that are not full-batch GD (momentum, Nesterov, mini-batches).

:func:`eosdyn.analysis.scan.cells.run_batch` hands such cells here; they run the exact reduced map
(:mod:`eosdyn.kernels.optim_cells_numba`) and return the same per-cell arrays, so the scan store,
bifurcation diagrams and plots are unchanged. ``momentum``, ``batch_size`` and ``batch_seed`` are
scannable; the edge test and the ``catapult`` phase use each cell's edge (``eta * edge`` in units of
``eta Lambda``). Lyapunov exponents are not computed (NaN) for these cells.
"""

from __future__ import annotations

import numpy as np

from ..kernels import batch_numba as B
from ..kernels import momentum_numba as MK
from ..kernels import optim_cells_numba as K
from . import is_plain_gd, run_edge
from .params import check_batch_size


def needs_optim_cells(params) -> bool:
    return not is_plain_gd(params)


def run_batch(spec, params: list, parallel: bool = False, chain: bool = False) -> dict:
    """The cells ``params`` in one numba call: the result dict of
    :func:`eosdyn.analysis.scan.cells.run_batch`."""
    from ..analysis.scan.cells import cell_state, classify

    cache: dict = {}
    m_given = True if any(a.name == "m" for a in spec.axes) else None
    states = [cell_state(p, cache, m_given) for p in params]
    C = len(params)
    R = max(d.rank for _, d, _ in states)
    N = max(d.n for _, d, _ in states)
    x = dict(s=np.zeros((C, R)), z=np.zeros((C, R)), V=np.zeros((C, N, R)), yperp=np.zeros((C, N)),
             y_perp2=np.zeros(C), n=np.zeros(C), m=np.zeros(C), eta=np.zeros(C), beta=np.zeros(C),
             gamma=np.zeros(C), bsz=np.zeros(C, dtype=np.int64), seed=np.zeros(C, dtype=np.int64),
             sigma=np.zeros(C), sc=np.zeros((C, 3)), vv=np.zeros((C, 4, R)), MM=np.zeros((C, 3, R, R)),
             loss_tol=np.zeros(C), max_loss=np.zeros(C))
    for c, (p, d, st) in enumerate(states):
        r, n = d.rank, d.n
        check_batch_size(p.batch_size, n)
        x["s"][c, :r], x["z"][c, :r], x["y_perp2"][c], x["n"][c] = d.s, d.z, d.y_perp2, n
        x["V"][c, :n, :r], x["yperp"][c, :n] = d.V, d.Y - d.V @ d.z
        x["m"][c], x["eta"][c], x["sigma"][c] = p.m, p.eta, run_edge(p)
        x["beta"][c] = p.momentum or 0.0
        x["gamma"][c] = p.momentum if p.optimizer == "nesterov" else 0.0
        x["bsz"][c] = p.batch_size or 0
        x["seed"][c] = p.batch_seed
        x["sc"][c, MK.S_A] = st.a
        x["vv"][c, MK.V_U, :r] = st.u
        x["MM"][c, MK.M_G, :r, :r] = st.G
        x["loss_tol"][c], x["max_loss"][c] = p.loss_tol, p.max_loss
    o = spec.options
    res = dict(traj=np.full((C, spec.nrec, B.NOBS), np.nan), orbit=np.full((C, o.orbit, B.NOBS), np.nan),
               fsum=np.full((C, B.NF), np.nan), isum=np.zeros((C, B.NI), dtype=np.int64))
    kernel = K.run_chain if chain else (K.run_cells_parallel if parallel else K.run_cells)
    steps = spec.base.steps
    kernel(x["s"], x["z"], x["V"], x["yperp"], x["y_perp2"], x["n"], x["m"], x["eta"], x["beta"], x["gamma"],
           x["bsz"], x["seed"], x["sigma"], x["sc"], x["vv"], x["MM"], steps, spec.every, o.sharpness_every,
           spec.tail_start, steps + 1 - o.orbit, x["loss_tol"], x["max_loss"], res["traj"], res["orbit"],
           res["fsum"], res["isum"])
    res["final_a"] = x["sc"][:, :1].copy()
    res["final_u"] = x["vv"][:, MK.V_U].copy()
    res["final_G"] = x["MM"][:, MK.M_G].copy()
    res["phase"] = classify(res["fsum"], res["isum"], o.lazy_tol, eta_edge=x["eta"] * x["sigma"])
    return res
