"""Regenerate a saved run's trajectory from its initial statistics (runs are deterministic).

A run file keeps ``init_a``, ``init_u``, ``init_G``, ``data_s``, ``data_z`` and every parameter,
which is all the m-independent dynamics need. GD runs are replayed with the same numba ``step``
the engines use (bit-identical for ``reduced`` and ``first-order``; for ``full`` runs the exact
reduced map, which agrees with parameter-space GD to rounding -- until chaotic dynamics
amplify it); flow runs with the flow engine itself (same solver, same steps).
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import xarray as xr

from ..kernels import check_numba as C
from ..kernels import hessian_numba
from ..kernels.diagnostics_numba import workspace
from ..model.init import Statistics
from ..model.params import FIELDS, FLOW_ENGINES, make_params


def run_info(ds: xr.Dataset) -> SimpleNamespace:
    """What a replay needs, from a run dataset."""
    a = ds.attrs
    r = ds.sizes["mode"]
    try:
        params = json.loads(a["parameters"])
    except (KeyError, ValueError):
        params = {}
    p = make_params(**{k: v for k, v in params.items() if k in FIELDS and k != "name"})
    return SimpleNamespace(
        s=np.ascontiguousarray(ds["data_s"].values, float),
        z=np.ascontiguousarray(ds["data_z"].values, float),
        n=float(a["n"]), m=float(a["m"]), eta=float(a["eta"]), y_perp2=float(a["y_perp2"]),
        engine=str(a["engine"]), r=r, params=p.replace(m=int(a["m"]), eta=float(a["eta"])),
        init=Statistics(float(ds["init_a"]), np.ascontiguousarray(ds["init_u"].values, float),
                        np.ascontiguousarray(ds["init_G"].values, float)),
        last=int(ds["step"].values[-1]),
    )


class StateSource:
    """Consecutive flat states ``[a, u, G]`` of a run, chunk by chunk from step 0."""

    def __init__(self, info: SimpleNamespace):
        self.info = info
        self.t = 0
        r = info.r
        if info.engine in FLOW_ENGINES:   # flow, central-flow, stable-flow: the engine itself
            from ..engines import METHODS

            data = SimpleNamespace(rank=r, s=info.s, z=info.z, n=int(info.n), y_perp2=info.y_perp2)
            pb = SimpleNamespace(params=info.params, data=data, init=info.init,
                                 rec=np.zeros((1, 1)))
            self.flow = METHODS[info.engine](pb)
        else:
            self.flow = None
            self.order = 0.0 if info.engine == "first-order" else 1.0
            self.state = np.array([info.init.a])
            self.u, self.G = info.init.u.copy(), info.init.G.copy()
            self.g, self.Gg = np.zeros(r), np.zeros(r)

    def next(self, k: int):
        """The next ``k`` states as ``(a (k,), u (k, r), G (k, r, r))``."""
        i, r = self.info, self.info.r
        if self.flow is not None:
            ts = np.arange(self.t, self.t + k, dtype=float)
            self.flow._cover(ts[-1])
            Y = self.flow.sample(ts)
            self.flow._drop_before(ts[-1])
            As, Us, Gs = Y[:, 0].copy(), Y[:, 1:1 + r].copy(), Y[:, 1 + r:].reshape(k, r, r).copy()
        else:
            As, Us, Gs = np.empty(k), np.empty((k, r)), np.empty((k, r, r))
            C.map_states(self.state, self.u, self.G, i.s, i.z, i.n, i.m, i.eta, self.order, k,
                         As, Us, Gs, self.g, self.Gg)
        self.t += k
        return As, Us, Gs


def per_step(ds: xr.Dataset, t_end: int | None = None, hessian: bool = True,
             chunk: int = 4096, progress=None) -> dict:
    """Per-step columns of :mod:`eosdyn.kernels.check_numba` for steps ``0..t_end``.

    Returns a dict of arrays (``step``, ``loss``, ``sharpness``, ``lambda2``, ``lambda_min``,
    ``sharpness_Mstar``, ``a_norm2``, ``DtF``, ``Dv1``, ``D2``, ``R_norm2``, ``eps2``,
    ``R_diff``, ``Rp_norm2``, ``sharpness_hessian``), where ``eps2[t] = 1 - |v_1(t).v_1(t+1)|``
    (NaN at the last step).
    """
    info = run_info(ds)
    t_end = info.last if t_end is None else min(t_end, info.last)
    total = t_end + 1
    r = info.r
    src = StateSource(info)
    out = np.full((total, C.NCOLS), np.nan)
    mats, vecs, piv = workspace(r)
    carry = (np.zeros(r), np.zeros(NCOL_ROW), np.zeros(r), np.zeros(1))
    q_prev, row, rp, started = carry
    ev, work, e = np.zeros(r), np.zeros((r, r)), np.zeros(r)
    hws = hessian_numba.workspace(r)
    t = 0
    while t < total:
        k = min(chunk, total - t)
        As, Us, Gs = src.next(k)
        C.derive(As, Us, Gs, info.s, info.z, info.y_perp2, info.n, info.m, info.eta,
                 1 if hessian else 0, mats, vecs, piv, row, q_prev, rp, started, ev, work, e, hws,
                 out[t:t + k])
        t += k
        if progress is not None:
            progress(k)
    eps2 = np.append(out[1:, C.EPS2_PREV], np.nan)
    cols = {
        "loss": C.LOSS, "sharpness": C.SHARP, "lambda2": C.LAM2, "lambda_min": C.LAMMIN,
        "sharpness_Mstar": C.SHARP_MSTAR, "a_norm2": C.A_NORM2, "DtF": C.DTF, "Dv1": C.DV1,
        "D2": C.D2, "R_norm2": C.R2, "R_diff": C.RDIFF, "Rp_norm2": C.RP2,
        "sharpness_hessian": C.HESS,
    }
    res = {k: out[:, c].copy() for k, c in cols.items()}
    res["eps2"] = eps2
    res["step"] = np.arange(total)
    return res


def states_at(ds: xr.Dataset, steps: np.ndarray) -> np.ndarray:
    """Flat states ``[a, u, G.ravel()]`` at the sorted ``steps`` (rows)."""
    info = run_info(ds)
    steps = np.array(steps, dtype=np.int64)  # a writable copy: one compiled signature whatever the caller passes
    r = info.r
    out = np.full((steps.size, 1 + r + r * r), np.nan)
    if steps.size == 0:
        return out
    if info.engine in FLOW_ENGINES:
        src = StateSource(info)
        src.flow._cover(float(steps[-1]))
        return src.flow.sample(steps.astype(float))
    order = 0.0 if info.engine == "first-order" else 1.0
    C.map_states_at(np.array([info.init.a]), info.init.u.copy(), info.init.G.copy(), info.s,
                    info.z, info.n, info.m, info.eta, order, steps, out, np.zeros(r), np.zeros(r))
    return out


NCOL_ROW = 10  # layout.NDIAG: the diagnose row
