"""Running the cells of a block: inputs per cell, one numba call, per-cell summaries and phases."""

from __future__ import annotations

import numpy as np

from ...engines import METHODS
from ...kernels import batch_numba as B
from ...kernels import layout as L
from ...model.params import FIELDS, Params
from .grid import ScanSpec

# ----------------------------------------------------------------------------------- cells


#: fields that never change the data (everything else is part of a cell's data key)
NOT_DATA = ("m", "eta", "steps", "engine", "init_scale", "sigma_a", "sigma_w", "init_sampler",
            "init", "record_every", "loss_tol", "max_loss", "name", "optimizer", "momentum", "beta1", "beta2",
            "adam_eps", "bias_correction", "batch_size", "batch_seed", "batch_sharpness_samples")


def _data_key(p: Params) -> str:
    return repr([getattr(p, k) for k in FIELDS if k not in NOT_DATA])


def cell_state(p: Params, cache: dict, m_given: bool | None = None):
    """``(params, data, initial statistics)`` of one cell, by THE builder of initial states
    (:func:`eosdyn.api.initial_state`, as ``simulate`` builds them); cells that share their data
    share one :class:`~eosdyn.model.data.SpectralData` (``cache``). ``params.m`` is resolved
    against an ``init`` file (an explicit ``m`` that differs from its width is an error)."""
    from ...api import initial_state, load_data

    key = _data_key(p)
    if key not in cache:
        cache[key] = load_data(p)
    data = cache[key]
    p, stats, _, _ = initial_state(p, data, m_given=m_given)
    return p, data, stats


def tangent_start(r: int) -> np.ndarray:
    """The fixed generic initial tangent ``(ta, tu, tG)`` (``tG`` symmetric), unit norm."""
    rng = np.random.default_rng(np.random.SeedSequence([0x1A9, r]))
    t = rng.standard_normal(1 + r + r * r)
    tG = t[1 + r:].reshape(r, r)
    tG[:] = (tG + tG.T) / 2
    return t / np.linalg.norm(t)


def cell_inputs(params: list[Params], m_given: bool | None = None) -> B.CellData:
    """The per-cell inputs of :func:`batch_numba.run_cells`, ranks zero-padded to the largest
    (a mode with ``s_i = z_i = 0`` never moves and adds exact zeros)."""
    cache: dict = {}
    states = [cell_state(p, cache, m_given) for p in params]
    C, R = len(params), max(d.rank for _, d, _ in states)
    out = B.CellData(s=np.zeros((C, R)), z=np.zeros((C, R)), y_perp2=np.zeros(C), n=np.zeros(C),
                     m=np.zeros(C), eta=np.zeros(C), a0=np.zeros(C), u0=np.zeros((C, R)),
                     G0=np.zeros((C, R, R)), loss_tol=np.zeros(C), max_loss=np.zeros(C),
                     tangent0=np.zeros((C, 1 + R + R * R)))
    for c, (p, d, st) in enumerate(states):
        r = d.rank
        out.s[c, :r], out.z[c, :r], out.y_perp2[c] = d.s, d.z, d.y_perp2
        out.n[c], out.m[c], out.eta[c] = d.n, p.m, p.eta
        out.a0[c], out.u0[c, :r], out.G0[c, :r, :r] = st.a, st.u, st.G
        out.loss_tol[c], out.max_loss[c] = p.loss_tol, p.max_loss
        t0 = tangent_start(r)  # embedded with zeros in the padded modes: they never couple
        out.tangent0[c, :1 + r] = t0[:1 + r]
        out.tangent0[c, 1 + R:].reshape(R, R)[:r, :r] = t0[1 + r:].reshape(r, r)
    return out


def run_batch(spec: ScanSpec, params: list[Params], parallel: bool = False,
              chain: bool = False) -> dict:
    """Run the cells ``params`` in one numba call; flat per-cell result arrays."""
    if spec.base.engine == "network":  # cells batched by jax.vmap (eosdyn.nets.scan)
        from ...nets.scan import run_batch as run_network_batch

        return run_network_batch(spec, params, chain=chain)
    from ...optim import scan as optim_scan  # momentum, Nesterov, mini-batch cells

    if optim_scan.needs_optim_cells(spec.base) or any(optim_scan.needs_optim_cells(p) for p in params):
        return optim_scan.run_batch(spec, params, parallel=parallel, chain=chain)
    m_given = True if any(a.name == "m" for a in spec.axes) else None
    x = cell_inputs(params, m_given)
    C, R = x.s.shape
    o = spec.options
    out = B.CellOut(
        traj=np.full((C, spec.nrec, B.NOBS), np.nan), orbit=np.full((C, o.orbit, B.NOBS), np.nan),
        fsum=np.full((C, B.NF), np.nan), isum=np.zeros((C, B.NI), dtype=np.int64),
        final_a=np.zeros((C, 1)), final_u=np.zeros((C, R)), final_G=np.zeros((C, R, R)),
    )
    steps = spec.base.steps
    ctl = B.CellControl(eta2=float(METHODS[spec.base.engine].eta2_terms), steps=int(steps),
                        every=int(spec.every), sharp_every=int(o.sharpness_every),
                        tail_start=int(spec.tail_start), orbit_start=int(steps + 1 - o.orbit),
                        lyap_start=int(spec.lyap_start), renorm=int(o.renorm))
    kernel = B.run_chain if chain else (B.run_cells_parallel if parallel else B.run_cells)
    kernel(x, ctl, out)
    res = out._asdict()
    res["phase"] = classify(res["fsum"], res["isum"], o.lazy_tol)
    return res


def classify(fsum: np.ndarray, isum: np.ndarray, lazy_tol: float, eta_edge=2.0) -> np.ndarray:
    """The phase of each cell (codes index :data:`PHASES`), in order of precedence:

    ``divergent`` (status diverged); ``catapult`` (started beyond the edge, ``eta Lambda_0 > 2``,
    and did not diverge: the loss spikes and the sharpness falls below 2/eta, Lewkowycz et
    al.); ``eos`` (reached ``Lambda > 2/eta`` later, after sharpening); ``lazy`` (never reached
    the edge and ``|Lambda_final / Lambda_0 - 1| <= lazy_tol``: the kernel barely moved);
    ``sharpening`` (never reached the edge, the sharpness changed by more). ``eta_edge``: the edge
    in units of ``eta Lambda`` (2 for GD; per cell for other optimizers, :mod:`eosdyn.optim.scan`).
    """
    init, final = fsum[:, B.F_INIT_ES], fsum[:, B.F_FINAL_ES]
    with np.errstate(invalid="ignore", divide="ignore"):
        lazy = np.abs(final / init - 1.0) <= lazy_tol
    phase = np.where(lazy, 0, 1)
    phase = np.where(isum[:, B.I_FIRST_CROSS] >= 0, 3, phase)
    phase = np.where(init > eta_edge, 2, phase)
    phase = np.where(isum[:, B.I_STATUS] == L.DIVERGED, 4, phase)
    return phase.astype(np.int8)


def compute_block(spec: ScanSpec, b: int, parallel: bool = False) -> dict:
    """Results of block ``b``, shaped like the block (trajectories with a trailing ``step``)."""
    slices = spec.block_slices(b)
    bshape = tuple(s.stop - s.start for s in slices)
    index = np.ndindex(*bshape)
    params = [spec.cell_params(tuple(s.start + i for s, i in zip(slices, ix, strict=True)))
              for ix in index]
    res = run_batch(spec, params, parallel=parallel)
    return block_variables(spec, res, bshape)


def block_variables(spec: ScanSpec, res: dict, bshape: tuple) -> dict:
    """Per-cell result arrays (flat) as named variables shaped ``bshape`` (+ ``step``)."""
    f, i = res["fsum"], res["isum"]
    out = {
        "status_step": i[:, B.I_STATUS_STEP],
        "first_cross_step": i[:, B.I_FIRST_CROSS],
        "n_eos_excursions": i[:, B.I_EXCURSIONS],
        "n_period2_flips": i[:, B.I_FLIPS],
        "initial_eta_sharpness": f[:, B.F_INIT_ES],
        "final_eta_sharpness": f[:, B.F_FINAL_ES],
        "max_loss": f[:, B.F_MAX_LOSS],
        "final_loss": f[:, B.F_FINAL_LOSS],
        "tail_min_eta_sharpness": f[:, B.F_TAIL_MIN],
        "tail_max_eta_sharpness": f[:, B.F_TAIL_MAX],
        "phase": res["phase"],
    }
    if spec.options.lyapunov:
        out["lyapunov"] = f[:, B.F_LYAP]
    for name in spec.options.record:
        out[name] = res["traj"][:, :, B.OBSERVABLES.index(name)].reshape(bshape + (spec.nrec,))
    out = {k: (v if v.ndim > len(bshape) else v.reshape(bshape)) for k, v in out.items()}
    out["status"] = i[:, B.I_STATUS].astype(np.int8).reshape(bshape)  # written last
    return out
