"""GD against its gradient flow from the same start: how far apart, and where they part.

Both runs share data and initial state; the flow (engine ``flow``) is sampled at flow time
``t eta`` for GD step ``t``. Their outputs differ only in span(V), so the distance in function
space is exact and m-independent::

    ||F_GD(t) - F_flow(t)|| = ||D_GD(t) - D_flow(t)|| = ||S (u_GD(t) - u_flow(t))||.

GD is the explicit Euler step of the flow plus ``O(eta^2)`` terms, so the two agree to
``O(eta)`` while ``eta Lambda < 2`` (the paper's Assumption 3.3); past ``2/eta`` GD's component
along ``v_1`` is no longer damped but amplified (``|1 - eta Lambda| > 1``), and the two part.
The *parting step* is the first recorded step where ``||D_GD - D_flow|| > tol ||D_flow||``.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from .. import api
from ..engines.recorder import RowRecorder, current_statistics
from ..errors import EosdynError, ParameterError
from ..model.params import Params
from . import replay
from .summary import eos_crossings


def _run(pb, progress):
    """Run ``pb`` and return ``(dataset, flat states [a, u, G] at its recorded rows)``.

    The flow engine keeps the states it samples; reduced GD runs are replayed (bit-identical,
    :mod:`eosdyn.analysis.replay`); the full engine is measured at each recorded step.
    """
    r = pb.data.rank
    width = 1 + r + r * r
    holder = {}

    def wrap(engine):
        if pb.params.engine == "flow":
            engine.keep = np.full((pb.rec.shape[0], width), np.nan)
            holder["states"] = engine.keep
        elif engine.needs_parameters:
            def measure(e):
                st = current_statistics(e)
                return np.concatenate([[st.a], st.u, st.G.ravel()])
            engine = RowRecorder(engine, measure, width=width)
            holder["states"] = engine.values
        return engine

    ds = api.run_problem(pb, progress=progress, wrap=wrap)
    if "states" in holder:
        return ds, holder["states"][:ds.sizes["step"]]
    return ds, replay.states_at(ds, ds.step.values)


def compare(params: Params | None = None, *, X=None, Y=None, A=None, W=None, tol: float = 0.01,
            progress: bool = False, **kwargs) -> xr.Dataset:
    """Run GD (``params.engine``) and the gradient flow from the same start and compare them.

    Parameters
    ----------
    params, X, Y, A, W, **kwargs
        As for :func:`eosdyn.simulate`; ``engine`` is GD's (``method``, ``rtol``, ``atol`` the
        flow's solver).
    tol : float
        Relative distance ``||D_GD - D_flow|| / ||D_flow||`` that counts as parted.

    Returns
    -------
    xarray.Dataset
        Over the common recorded steps: ``loss_gd``, ``loss_flow``, ``sharpness_gd``,
        ``sharpness_flow``, ``distance`` (``||D_GD - D_flow||``), ``rel_distance``; attrs with
        the parting step, the first 2/eta crossings of both, and both runs' provenance.
    """
    params, m_given = api.merge_params(params, kwargs)
    if params.engine == "flow":
        raise EosdynError("compare runs GD against the flow: choose a GD engine "
                          "(reduced, first-order or full), not flow")
    if not (tol > 0):
        raise ParameterError("tol", f"must be > 0, got {tol}")
    pb = api.build_problem(params, X=X, Y=Y, A=A, W=W, m_given=m_given)
    pb_flow = api.Problem.create(pb.params.replace(engine="flow", hessian=False), pb.data, pb.init)
    gd, s_gd = _run(pb, progress)
    flow, s_fl = _run(pb_flow, progress)
    return _assemble(gd, flow, s_gd, s_fl, pb.data, tol)


def _assemble(gd, flow, s_gd, s_fl, data, tol):
    steps = np.intersect1d(gd.step.values, flow.step.values)
    ig = np.searchsorted(gd.step.values, steps)
    iflow = np.searchsorted(flow.step.values, steps)
    r = data.rank
    u_gd, u_fl = s_gd[ig, 1:1 + r], s_fl[iflow, 1:1 + r]
    dist = np.linalg.norm(data.s * (u_gd - u_fl), axis=1)
    d_flow = np.sqrt(flow.loss.values[iflow] * data.n)
    rel = dist / d_flow
    eta = float(gd.attrs["eta"])
    ds = xr.Dataset(
        {
            "loss_gd": ("step", gd.loss.values[ig]),
            "loss_flow": ("step", flow.loss.values[iflow]),
            "sharpness_gd": ("step", gd.sharpness.values[ig]),
            "sharpness_flow": ("step", flow.sharpness.values[iflow]),
            "distance": ("step", dist),
            "rel_distance": ("step", rel),
        },
        coords={"step": steps},
    )
    ds["distance"].attrs.update(long_name="||D_GD - D_flow|| (function space, exact)")
    ds["rel_distance"].attrs.update(long_name="||D_GD - D_flow|| / ||D_flow||")
    parted = np.flatnonzero(~(rel <= tol))
    cross_gd = eos_crossings(gd)
    up = np.atleast_1d(flow.attrs.get("flow_cross_up", []))
    first_gd = int(cross_gd[0]) if cross_gd.size else -1
    at_cross = float(rel[np.searchsorted(steps, first_gd)]) if first_gd in steps else float("nan")
    before = rel[steps < first_gd] if first_gd >= 0 else rel
    ds.attrs.update(
        title="eosdyn compare: GD vs gradient flow from the same start", eosdyn_kind="compare",
        eta=eta, m=gd.attrs["m"], n=gd.attrs["n"], tol=tol,
        gd_engine=gd.attrs["engine"], flow_method=flow.attrs["flow_method"],
        flow_rtol=flow.attrs["flow_rtol"], flow_atol=flow.attrs["flow_atol"],
        parting_step=int(steps[parted[0]]) if parted.size else -1,
        first_cross_gd=first_gd,
        first_cross_flow=float(up[0]) if up.size else -1.0,
        rel_distance_at_first_cross=at_cross,
        max_rel_distance_before_cross=float(np.nanmax(before)) if before.size else float("nan"),
        gd_status=gd.attrs["status"], flow_status=flow.attrs["status"],
        gd_parameters=gd.attrs["parameters"], flow_parameters=flow.attrs["parameters"],
        eosdyn_version=gd.attrs["eosdyn_version"], seed=gd.attrs["seed"],
        wall_time_gd=gd.attrs["wall_time"], wall_time_flow=flow.attrs["wall_time"],
    )
    return ds


def summary(cmp: xr.Dataset) -> dict:
    """The numbers ``eosdyn compare`` prints."""
    a = cmp.attrs

    def opt(v):
        return None if v is None or (isinstance(v, int | float) and v < 0) else v

    return {
        "gd_engine": a["gd_engine"], "flow_method": a["flow_method"], "eta": float(a["eta"]),
        "m": int(a["m"]), "tol": float(a["tol"]),
        "first_cross_gd": opt(int(a["first_cross_gd"])),
        "first_cross_flow": opt(float(a["first_cross_flow"])),
        "parting_step": opt(int(a["parting_step"])),
        "rel_distance_at_first_cross": float(a["rel_distance_at_first_cross"]),
        "max_rel_distance_before_cross": float(a["max_rel_distance_before_cross"]),
        "final_rel_distance": float(cmp.rel_distance.values[-1]),
        "final_loss_gd": float(cmp.loss_gd.values[-1]),
        "final_loss_flow": float(cmp.loss_flow.values[-1]),
        "gd_status": a["gd_status"], "flow_status": a["flow_status"],
        "wall_time_gd": float(a["wall_time_gd"]), "wall_time_flow": float(a["wall_time_flow"]),
    }


def plot_compare(cmp: xr.Dataset, path):
    """Three panels over steps: eta*Lambda of both, loss of both, relative distance."""
    from ..plot.common import check_path, new_figure, save

    path = check_path(path)
    a = cmp.attrs
    eta, x = float(a["eta"]), cmp.step.values
    fig = new_figure(8, 8)
    axes = fig.subplots(3, 1, sharex=True)
    axes[0].plot(x, eta * cmp.sharpness_gd, lw=0.8, label=f"GD ({a['gd_engine']})")
    axes[0].plot(x, eta * cmp.sharpness_flow, lw=1.2, ls="--", label=f"flow ({a['flow_method']})")
    axes[0].axhline(2.0, color="k", lw=0.6, ls=":")
    axes[0].set_ylabel("η Λ")
    axes[0].legend(loc="best", fontsize=8)
    axes[1].semilogy(x, cmp.loss_gd, lw=0.8)
    axes[1].semilogy(x, cmp.loss_flow, lw=1.2, ls="--")
    axes[1].set_ylabel("loss")
    rel = cmp.rel_distance.values
    axes[2].semilogy(x, np.where(rel > 0, rel, np.nan), lw=0.8, color="C3")  # 0 at step 0
    axes[2].axhline(float(a["tol"]), color="k", lw=0.6, ls=":")
    axes[2].set_ylabel("‖D_GD − D_flow‖ / ‖D_flow‖")
    axes[2].set_xlabel("step t (flow time t·η)")
    for ax in axes:
        if a["first_cross_gd"] >= 0:
            ax.axvline(a["first_cross_gd"], color="C0", lw=0.6, alpha=0.6)
        if a["parting_step"] >= 0:
            ax.axvline(a["parting_step"], color="C3", lw=0.6, ls="--", alpha=0.8)
    axes[0].set_title(f"GD vs gradient flow, η = {eta:g}: parted at step {a['parting_step']} "
                      f"(first 2/η crossing: {a['first_cross_gd']})", fontsize=10)
    save(fig, path)
    return path
