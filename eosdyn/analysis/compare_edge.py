r"""GD against an edge-of-stability theory from the same start: time averages vs predictions.

``eosdyn compare --against central-flow|stable-flow`` runs exact GD (``--engine``, default
``reduced``) and the chosen flow (:mod:`eosdyn.engines.central_flow`, :mod:`eosdyn.engines.stable_flow`) from
the same data and initial state; flow time ``t eta`` is GD step ``t`` (Cohen et al.'s time is
eosdyn's ``t``). The theories describe GD's *time-averaged* trajectory, so GD's series are
smoothed by a centred, Gaussian-weighted moving average over a window of ``w`` steps

    <f>_w(t) = sum_{|k| <= (w-1)/2} c_k f(t + k),   c_k ~ exp(-k^2 / (2 (w/6)^2)),  sum c_k = 1

(NaN where the window leaves the run; Gaussian rather than flat weights, so that a window that
is not a whole number of cycles leaves no ripple: a period-``P`` component is damped by
``exp(-2 pi^2 (w/6)^2 / P^2)``, about 1e-6 at ``w = 5 P``), with ``w`` spanning several EoS
cycles: by default ``max(5 P, 201)`` steps (odd), ``P`` the
median length of GD's EoS cycles (:func:`cycle_length`: spacing of the upward crossings of
``eta Lambda = 2`` by its two-step average; 1,560 steps on the default scenario), or
``--avg-window``.

Compared over the *EoS phase* -- from GD's first crossing plus ``w/2`` (the first window that
lies wholly at the edge) to the end minus ``w/2`` -- with the relative error
``|prediction - <GD>_w| / |<GD>_w|`` (mean and max over the phase, and the error of the phase
means):

* loss: the theory's ``predicted_loss`` (central flow ``L + tr(X)/eta``; self-stabilization
  ``L + S delta^2/2``), and the flow's own ``L(theta(t))`` to show what the oscillation term adds;
* ``eta Lambda`` (the NTK sharpness): the flow's ``eta Lambda(theta(t))`` (no oscillation
  correction);
* ``||A||^2``: the theory's ``predicted_a_norm2``.

With a recording stride above 1 the averages are over the recorded rows only.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from .. import api
from ..errors import EosdynError, ParameterError
from ..model.params import FLOW_ENGINES, Params, make_params
from .summary import eos_crossings

AGAINST = ("central-flow", "stable-flow")
MIN_WINDOW = 201
CYCLES_PER_WINDOW = 5
QUANTITIES = ("loss", "eta_sharpness", "a_norm2")


def moving_average(x: np.ndarray, w: int) -> np.ndarray:
    """Centred Gaussian-weighted moving average over ``w`` (odd) consecutive entries
    (standard deviation ``w/6``, truncated at ``+-(w-1)/2``); NaN where the window is incomplete
    (and where it holds a non-finite value)."""
    from scipy.signal import fftconvolve

    x = np.asarray(x, dtype=float)
    out = np.full(x.size, np.nan)
    h = w // 2
    if 2 * h + 1 > x.size:
        return out
    k = np.arange(-h, h + 1)
    c = np.exp(-0.5 * (k / max(w / 6.0, 1e-300)) ** 2)
    c /= c.sum()
    bad = ~np.isfinite(x)
    y = fftconvolve(np.where(bad, 0.0, x), c, mode="valid")
    nbad = np.convolve(bad.astype(float), np.ones(2 * h + 1), mode="valid")
    out[h:x.size - h] = np.where(nbad > 0.5, np.nan, y)
    return out


def cycle_length(gd: xr.Dataset) -> float:
    """Median spacing (steps) of the upward crossings of ``2`` by GD's ``eta Lambda`` averaged
    over two consecutive steps (so that the period-2 flips inside a cycle do not count), after
    the first; NaN if fewer than three (no EoS cycles, or a steady period-2 orbit)."""
    es = gd["eta_sharpness"].values
    if es.size < 3:
        return float("nan")
    e2 = 0.5 * (es[1:] + es[:-1])
    up = np.flatnonzero((e2[:-1] < 2.0) & (e2[1:] >= 2.0))
    steps = gd["step"].values[up]
    return float(np.median(np.diff(steps[1:]))) if steps.size >= 3 else float("nan")


def default_window(gd: xr.Dataset) -> int:
    """``max(5 P, 201)`` steps, odd (``P`` = :func:`cycle_length`; 201 without cycles)."""
    P = cycle_length(gd)
    w = MIN_WINDOW if not np.isfinite(P) else max(int(round(CYCLES_PER_WINDOW * P)), MIN_WINDOW)
    return w | 1


def compare_edge(params: Params | None = None, *, against: str = "central-flow", window: int | None = None,
                 X=None, Y=None, A=None, W=None, progress: bool = False, **kwargs) -> xr.Dataset:
    """Run GD (``params.engine``) and the ``against`` flow from the same start; compare GD's
    moving averages with the flow's predictions (see the module docstring).

    Returns
    -------
    xarray.Dataset
        Over the common recorded steps: ``<q>_gd``, ``<q>_gd_avg``, ``<q>_pred`` for ``q`` in
        loss, eta_sharpness, a_norm2; ``loss_flow`` (``L(theta(t))``), ``central_sigma2``,
        ``predicted_delta2``, ``n_at_edge``; attrs with the window, the EoS phase and the
        relative errors (``rel_err_<q>_mean``, ``_max``, ``_of_mean``).
    """
    if against not in AGAINST:
        raise ParameterError("against", f"must be one of {', '.join(AGAINST)}; got {against!r}")
    if params is None:
        params = make_params(**kwargs)
    elif kwargs:
        params = make_params(**{**params.to_dict(), **kwargs})
    if params.engine in FLOW_ENGINES:
        raise EosdynError(f"compare runs GD against the {against}: choose a GD engine "
                          f"(reduced, first-order or full), not {params.engine}")
    if window is not None and not (isinstance(window, int) and window >= 1):
        raise ParameterError("window", f"must be an integer >= 1, got {window!r}")
    if A is not None and "m" not in kwargs:
        params = params.replace(m=int(np.asarray(A).shape[0]))
    pb = api.build_problem(params, X=X, Y=Y, A=A, W=W)
    pb_flow = api.Problem.create(pb.params.replace(engine=against, hessian=False), pb.data, pb.init)
    gd = api.run_problem(pb, progress=progress)
    flow = api.run_problem(pb_flow, progress=progress)
    return assemble(gd, flow, window)


def assemble(gd: xr.Dataset, flow: xr.Dataset, window: int | None = None) -> xr.Dataset:
    """The comparison dataset of a GD run and a central-/stable-flow run (same start)."""
    steps = np.intersect1d(gd.step.values, flow.step.values)
    ig = np.searchsorted(gd.step.values, steps)
    jf = np.searchsorted(flow.step.values, steps)
    stride = int(gd.attrs.get("record_every", 1))
    w = default_window(gd) if window is None else int(window) | 1
    wr = max(1, w // stride) | 1
    pred = {"loss": flow.predicted_loss.values, "eta_sharpness": flow.eta_sharpness.values,
            "a_norm2": flow.predicted_a_norm2.values}
    data = {}
    for q in QUANTITIES:
        series = gd[q].values[ig]
        data[f"{q}_gd"] = ("step", series)
        data[f"{q}_gd_avg"] = ("step", moving_average(series, wr))
        data[f"{q}_pred"] = ("step", pred[q][jf])
    data["loss_flow"] = ("step", flow.loss.values[jf])
    for name in ("central_sigma2", "predicted_delta2", "n_at_edge", "sharpness_hessian"):
        data[name] = ("step", flow[name].values[jf])
    ds = xr.Dataset(data, coords={"step": steps})
    cross = eos_crossings(gd)
    first = int(cross[0]) if cross.size else -1
    half = (wr // 2) * stride
    lo, hi = (first + half, int(steps[-1]) - half) if first >= 0 else (-1, -1)
    phase = (steps >= lo) & (steps <= hi) if first >= 0 else np.zeros(steps.size, bool)
    attrs = {
        "title": f"eosdyn compare: GD vs {flow.attrs['engine']} (time averages vs predictions)",
        "eosdyn_kind": "compare",
        "against": flow.attrs["engine"], "theory": flow.attrs.get("edge_theory", ""),
        "eta": float(gd.attrs["eta"]), "m": gd.attrs["m"], "n": gd.attrs["n"], "window": w,
        "cycle_length": cycle_length(gd), "record_every": stride,
        "first_cross_gd": first, "eos_start": lo, "eos_end": hi, "eos_rows": int(phase.sum()),
        "flow_edge_enter": np.atleast_1d(flow.attrs.get("edge_enter", [])).astype(float),
        "max_n_at_edge": int(np.nanmax(flow.n_at_edge.values)) if flow.sizes["step"] else 0,
        "gd_engine": gd.attrs["engine"], "flow_method": flow.attrs["flow_method"],
        "flow_rtol": flow.attrs["flow_rtol"], "flow_atol": flow.attrs["flow_atol"],
        "gd_status": gd.attrs["status"], "flow_status": flow.attrs["status"],
        "flow_status_message": flow.attrs.get("status_message", ""),
        "gd_parameters": gd.attrs["parameters"], "flow_parameters": flow.attrs["parameters"],
        "eosdyn_version": gd.attrs["eosdyn_version"], "seed": gd.attrs["seed"],
        "wall_time_gd": gd.attrs["wall_time"], "wall_time_flow": flow.attrs["wall_time"],
    }
    for q in QUANTITIES:
        attrs.update(_errors(ds[f"{q}_pred"].values, ds[f"{q}_gd_avg"].values, phase, q))
    attrs.update(_errors(ds["loss_flow"].values, ds["loss_gd_avg"].values, phase, "loss_flow"))
    ds.attrs.update(attrs)
    for q in QUANTITIES:
        ds[f"{q}_gd_avg"].attrs["long_name"] = f"GD's {q}, centred moving average over {w} steps"
        ds[f"{q}_pred"].attrs["long_name"] = f"the {flow.attrs['engine']}'s prediction of GD's averaged {q}"
    return ds


def _errors(pred, avg, phase, name) -> dict:
    ok = phase & np.isfinite(pred) & np.isfinite(avg) & (avg != 0)
    if not ok.any():
        nan = float("nan")
        return {f"rel_err_{name}_mean": nan, f"rel_err_{name}_max": nan, f"rel_err_{name}_of_mean": nan}
    rel = np.abs(pred[ok] - avg[ok]) / np.abs(avg[ok])
    return {f"rel_err_{name}_mean": float(rel.mean()), f"rel_err_{name}_max": float(rel.max()),
            f"rel_err_{name}_of_mean": float(abs(pred[ok].mean() - avg[ok].mean()) / abs(avg[ok].mean()))}


def summary(cmp: xr.Dataset) -> dict:
    """The numbers ``eosdyn compare --against ...`` prints."""
    a = cmp.attrs
    out = {k: a[k] for k in ("against", "gd_engine", "flow_method", "window", "record_every",
                             "gd_status", "flow_status")}
    out.update(eta=float(a["eta"]), m=int(a["m"]), cycle_length=_num(a["cycle_length"]),
               first_cross_gd=None if a["first_cross_gd"] < 0 else int(a["first_cross_gd"]),
               flow_edge_enter=[float(t) for t in np.atleast_1d(a["flow_edge_enter"])],
               eos_phase=None if a["eos_start"] < 0 else [int(a["eos_start"]), int(a["eos_end"])],
               max_n_at_edge=int(a["max_n_at_edge"]), flow_status_message=a["flow_status_message"],
               wall_time_gd=float(a["wall_time_gd"]), wall_time_flow=float(a["wall_time_flow"]))
    for q in (*QUANTITIES, "loss_flow"):
        out[f"rel_err_{q}"] = {s: _num(a[f"rel_err_{q}_{s}"]) for s in ("mean", "max", "of_mean")}
    return out


def _num(v):
    v = float(v)
    return v if np.isfinite(v) else None


def plot_compare_edge(cmp: xr.Dataset, path):
    """Four panels over steps: the loss over the whole run, eta*Lambda and ||A||^2 over the EoS
    phase, and the relative errors. GD thin, its moving average bold, the prediction dashed.
    Written atomically; returns the path."""
    from ..plot.common import check_path, new_figure, save

    path = check_path(path)
    a = cmp.attrs
    x = cmp.step.values
    fig = new_figure(9, 11)
    axes = fig.subplots(4, 1)
    labels = {"loss": "loss", "eta_sharpness": "η Λ", "a_norm2": "‖A‖²"}
    phase = (x >= a["eos_start"]) & (x <= a["eos_end"]) if a["eos_start"] >= 0 else np.zeros(x.size, bool)
    for ax, q in zip(axes[:3], QUANTITIES, strict=True):
        ax.plot(x, cmp[f"{q}_gd"], lw=0.4, color="C0", alpha=0.45, label=f"GD ({a['gd_engine']})")
        ax.plot(x, cmp[f"{q}_gd_avg"], lw=2.2, color="C0", label=f"GD, moving average ({a['window']} steps)")
        ax.plot(x, cmp[f"{q}_pred"], lw=1.6, ls="--", color="k", label=f"{a['against']} prediction")
        if q == "loss":
            ax.plot(x, cmp["loss_flow"], lw=1.0, ls=":", color="C3", label=f"L(θ) along the {a['against']}")
            ax.set_yscale("log")
            if phase.any():
                ax.axvspan(a["eos_start"], a["eos_end"], color="0.92", zorder=0)
        elif phase.any():
            _zoom(ax, cmp, q, x, phase)
        if q == "eta_sharpness":
            ax.axhline(2.0, color="k", lw=0.5, ls=":")
        ax.set_ylabel(labels[q])
        err = a[f"rel_err_{q}_mean"]
        where = "whole run (shaded: EoS phase)" if q == "loss" else "EoS phase"
        ax.set_title(f"{labels[q]}, {where}: mean relative error {err:.2%}" if np.isfinite(err)
                     else f"{labels[q]}: no EoS phase", fontsize=9, loc="left")
    axes[0].legend(loc="upper right", fontsize=7)
    ax = axes[3]
    for q, color in zip((*QUANTITIES, "loss_flow"), ("C0", "C2", "C1", "C3"), strict=True):
        pred = cmp["loss_flow" if q == "loss_flow" else f"{q}_pred"].values
        avg = cmp["loss_gd_avg" if q == "loss_flow" else f"{q}_gd_avg"].values
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = np.where(phase, np.abs(pred - avg) / np.abs(avg), np.nan)
        label = "loss: L(θ) alone" if q == "loss_flow" else labels[q]
        ax.semilogy(x, rel, lw=1.0, color=color, ls=":" if q == "loss_flow" else "-", label=label)
    ax.set_ylabel("|prediction − ⟨GD⟩| / ⟨GD⟩")
    ax.set_title("relative errors over the EoS phase", fontsize=9, loc="left")
    ax.legend(loc="best", fontsize=7)
    ax.set_xlim(axes[0].get_xlim())
    ax.set_xlabel("step t (flow time t·η)")
    fig.suptitle(f"GD vs the {a['against']}, m = {a['m']}, η = {a['eta']:g}", fontsize=10)
    return save(fig, path)


def _zoom(ax, cmp, q, x, phase) -> None:
    """x over the EoS phase, y over GD's range there."""
    vals = np.concatenate([cmp[f"{q}_gd"].values[phase], cmp[f"{q}_pred"].values[phase]])
    vals = vals[np.isfinite(vals)]
    ax.set_xlim(x[phase][0], x[phase][-1])
    if vals.size:
        lo, hi = vals.min(), vals.max()
        pad = 0.05 * (hi - lo) + 1e-12
        ax.set_ylim(lo - pad, hi + pad)
