"""Figures from saved runs only (no engine knowledge): the paper's Figures 1-3 and more.

Every plot function draws on a fresh :class:`matplotlib.figure.Figure` (no pyplot state, no
backend switching), writes PNG/PDF/SVG by the suffix of ``path`` atomically and
deterministically, and returns a :class:`Plot` whose ``data`` holds every series exactly as it
was handed to matplotlib, so tests can compare what is drawn with the dataset.

Kinds (:data:`KINDS`, dispatched by :func:`plot_run`):

* ``timeseries`` -- Figure 1: sharpness with ``2/eta``, loss (log), ``||A||^2``, phases shaded;
* ``indicator`` -- Figure 2: ``Lambda`` and ``||A||^2``, anomaly steps
  (``sign(Delta Lambda) != sign(Delta ||A||^2)``) in orange, scatter of the two differences;
* ``spectrum`` -- Figure 3a: ``lambda_max(M)``, ``lambda_2(M)`` with ``1/eta``, ``lambda_max(M_A)``;
* ``decomposition`` -- Figure 3b: ``L = ((D^T v_1)^2 + ||R||^2) / n`` against ``||R||^2 / n``;
* ``portrait`` -- phase portraits ``(||A||^2, Lambda)``, ``(D^T v_1, Lambda)``, ``(D^T F, Lambda)``;
* ``compare`` -- several runs overlaid (``eta Lambda`` and the loss).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ..errors import EosdynError
from .common import (
    ANOMALY,
    ANORM,
    HESSIAN,
    KINDS,
    LOSS,
    SHARP,
    Plot,
    cap_log_axis,
    check_path,
    decimate,
    describe,
    edge_line,
    eta_line,
    first_cycle_window,
    network_name,
    new_figure,
    phase_handles,
    phases_present,
    save,
    select,
    shade_phases,
    step_axis,
    zoom_to_data,
)
from .portrait import plot_portrait


def plot_timeseries(ds: xr.Dataset, path, window=None, a_norm: str = "panel") -> Plot:
    """The paper's Figure 1: sharpness with 2/eta, loss (log) and ``||A||^2``, phases as bands.

    ``a_norm``: ``panel`` (own panel), ``twin`` (right axis of the sharpness panel) or ``off``.
    Without a window, a last panel zooms on the first EoS cycle (first crossing of 2/eta to the
    next).
    """
    if a_norm not in ("panel", "twin", "off"):
        raise EosdynError(f"a_norm must be panel, twin or off; got {a_norm!r}")
    p = check_path(path)
    full = ds
    ds = select(ds, window)
    plot = Plot(p, "timeseries")
    steps = ds["step"].values
    zoom = first_cycle_window(ds) if window is None else None
    if zoom and zoom[1] - zoom[0] > 0.5 * (steps[-1] - steps[0]):
        zoom = None  # the whole run is about one cycle: no zoom needed
    rows = 2 + (a_norm == "panel") + bool(zoom)
    fig = new_figure(9, 2.7 * rows)
    axes = fig.subplots(rows, 1)
    for ax in axes[1: 2 + (a_norm == "panel")]:
        ax.sharex(axes[0])
    _sharpness_panel(plot, axes[0], ds, twin_a=a_norm == "twin")
    _loss_panel(plot, axes[1], ds)
    if a_norm == "panel":
        ax = axes[2]
        plot.draw(ax, "a_norm2/||A||^2", *decimate(steps, ds["a_norm2"].values), color=ANORM, lw=1,
                  label="‖A‖² (output-layer norm)")
        ax.set_ylabel("‖A‖²")
        shade_phases(ax, ds)
        ax.legend(loc="best", fontsize=8, framealpha=0.9)
    step_axis(axes[1 + (a_norm == "panel")])
    if zoom:
        _zoom_panel(plot, axes[-1], select(full, zoom))
    return Plot(save(fig, p), plot.kind, plot.data)


def _sharpness_panel(plot: Plot, ax, ds: xr.Dataset, twin_a: bool = False) -> None:
    """Lambda (and the Hessian's top eigenvalue when the run recorded it) with the edge, the axis
    fitted to the curves (:func:`zoom_to_data`: the edge is drawn when within reach, else named)."""
    steps = ds["step"].values
    curves = [ds["sharpness"].values]
    plot.draw(ax, "sharpness/Lambda", *decimate(steps, curves[0]), color=SHARP, lw=1,
              label="Λ = λmax(M)")
    if "sharpness_hessian" in ds.variables:
        curves.append(ds["sharpness_hessian"].values)
        plot.draw(ax, "sharpness/hessian", *decimate(steps, curves[1]), color=HESSIAN, lw=1,
                  ls=(0, (4, 2)), label="λmax(∇²L) (Hessian)")
    line = edge_line(ax, ds)
    zoom_to_data(ax, curves, float(line.get_ydata()[0]), line)
    ax.set_ylabel("sharpness Λ")
    shade_phases(ax, ds)
    handles = ax.get_legend_handles_labels()[0]
    if twin_a:
        twin = ax.twinx()
        handles += plot.draw(twin, "sharpness/||A||^2", *decimate(steps, ds["a_norm2"].values),
                             color=ANORM, lw=1, label="‖A‖² (right axis)")
        twin.set_ylabel("‖A‖²", color=ANORM)
    ax.legend(handles=handles + phase_handles(present=phases_present(ds)), loc="best", fontsize=8,
              ncol=2, framealpha=0.9)
    ax.set_title(f"GD{network_name(ds)}: {describe(ds)}", fontsize=10)


def _loss_panel(plot: Plot, ax, ds: xr.Dataset) -> None:
    steps, n = ds["step"].values, float(ds.attrs["n"])
    k = int(ds.attrs.get("record_every", 1))
    plot.draw(ax, "loss/L", *decimate(steps, ds["loss_window_max"].values), color=LOSS, lw=1,
              label="loss L" if k == 1 else f"loss L (max over each {k} steps)")
    floor = float(ds.attrs.get("y_perp2", 0.0)) / n
    if floor > 0:
        reducible = ds["loss"].values - floor
        plot.draw(ax, "loss/reducible", *decimate(steps, reducible), color="k", lw=0.8,
                  label="L − ‖Y⊥‖²/n (reducible part)")
        ax.axhline(floor, color="grey", ls=":", lw=1, label=f"‖Y⊥‖²/n = {floor:.3g} (unreachable)")
    ax.set_yscale("log")
    cap_log_axis(ax)
    ax.set_ylabel("loss ‖D‖²/n")
    shade_phases(ax, ds)
    ax.legend(loc="best", fontsize=8, framealpha=0.9)


def _zoom_panel(plot: Plot, ax, sub: xr.Dataset) -> None:
    plot.draw(ax, "zoom/Lambda", sub["step"].values, sub["sharpness"].values, color=SHARP, lw=1.2,
              marker=".", ms=3, label="Λ")
    edge_line(ax, sub)
    ax.set_ylabel("Λ (first EoS cycle)")
    step_axis(ax)
    shade_phases(ax, sub)
    twin = ax.twinx()
    lines = plot.draw(twin, "zoom/loss", sub["step"].values, sub["loss"].values, color=LOSS, lw=1,
                      label="loss (right axis)")
    twin.set_yscale("log")
    cap_log_axis(twin)
    twin.set_ylabel("loss", color=LOSS)
    ax.legend(handles=ax.get_legend_handles_labels()[0] + lines, loc="upper left", fontsize=8,
              framealpha=0.9)


# --- Figure 2: ||A||^2 as an indicator of the sharpness ------------------------------------


def differences(ds: xr.Dataset):
    """``(Delta Lambda, Delta ||A||^2)`` between consecutive recorded steps (one step apart when
    every step is recorded) and the dataset's exact one-step ``anomaly`` flags of the first rows."""
    dlam = np.diff(ds["sharpness"].values)
    da = np.diff(ds["a_norm2"].values)
    return dlam, da, ds["anomaly"].values[:-1].astype(bool)


def plot_indicator(ds: xr.Dataset, path, window=None) -> Plot:
    """The paper's Figure 2: Lambda and ``||A||^2`` move together; anomalies in orange.

    Top: ``Lambda`` and, below it on its own axis sharing the steps, ``||A||^2`` (so neither
    hides the other), anomaly steps (``sign(Lambda(t+1) - Lambda(t)) != sign(||A(t+1)||^2 -
    ||A(t)||^2)``) as orange dots on both. Bottom left: ``Delta Lambda`` against
    ``Delta ||A||^2``; bottom right: the same two panels over the first EoS cycle.
    """
    p = check_path(path)
    ds = select(ds, window)
    plot = Plot(p, "indicator")
    fig = new_figure(10, 8.5)
    grid = fig.add_gridspec(2, 2, height_ratios=(1.25, 1.1))
    _indicator_panel(plot, grid[0, :].subgridspec(2, 1, hspace=0.0), fig, ds, "top")
    _difference_scatter(plot, fig.add_subplot(grid[1, 0]), ds)
    zoom = first_cycle_window(ds) if window is None else None
    if zoom:
        axes = _indicator_panel(plot, grid[1, 1].subgridspec(2, 1, hspace=0.0), fig, select(ds, zoom),
                                "zoom", legend=False)
        axes[0].set_title("first EoS cycle", fontsize=9)
    else:
        ax = fig.add_subplot(grid[1, 1])
        ax.set_axis_off()
        ax.text(0.5, 0.5, "no EoS cycle in this window", ha="center", va="center",
                transform=ax.transAxes)
    fig.suptitle(f"‖A‖² as an indicator of the sharpness (Fig. 2): {describe(ds)}", fontsize=10)
    return Plot(save(fig, p), plot.kind, plot.data)


def _indicator_panel(plot: Plot, cells, fig, ds: xr.Dataset, key: str, legend: bool = True):
    """Lambda (upper axis, with the edge) over ``||A||^2`` (lower axis), sharing the steps;
    anomaly steps as orange dots on both. Returns the two axes."""
    top = fig.add_subplot(cells[0])
    low = fig.add_subplot(cells[1], sharex=top)
    steps, lam = ds["step"].values, ds["sharpness"].values
    anomaly = ds["anomaly"].values.astype(bool)
    lines = plot.draw(top, f"{key}/Lambda", *decimate(steps, lam), color=SHARP, lw=1.6, label="Λ")
    dots = plot.draw(top, f"{key}/anomaly", steps[anomaly], lam[anomaly], scatter=True, s=9,
                     color=ANOMALY, zorder=5, label=f"anomaly ({int(anomaly.sum())} steps)")
    edge = edge_line(top, ds)
    top.set_ylabel("sharpness Λ", color=SHARP)
    top.tick_params(labelbottom=False)
    a2 = ds["a_norm2"].values
    lines += plot.draw(low, f"{key}/||A||^2", *decimate(steps, a2), color=ANORM, lw=1.6, label="‖A‖² (lower axis)")
    plot.draw(low, f"{key}/anomaly_a", steps[anomaly], a2[anomaly], scatter=True, s=9, color=ANOMALY,
              zorder=5)
    low.set_ylabel("‖A‖²", color=ANORM)
    step_axis(low)
    if legend:
        top.legend(handles=[*lines, dots, edge], loc="lower right", fontsize=8, framealpha=0.9)
    return top, low


def _difference_scatter(plot: Plot, ax, ds: xr.Dataset) -> None:
    dlam, da, anomaly = differences(ds)
    ok = np.isfinite(dlam) & np.isfinite(da)
    agree = ok & ~anomaly
    plot.draw(ax, "scatter/agree", da[agree], dlam[agree], scatter=True, s=4, color=SHARP, alpha=0.5,
              lw=0, rasterized=True, label=f"same sign ({int(agree.sum())})")
    plot.draw(ax, "scatter/anomaly", da[ok & anomaly], dlam[ok & anomaly], scatter=True, s=9,
              color=ANOMALY, lw=0, rasterized=True, label=f"anomaly ({int((ok & anomaly).sum())})")
    ax.axhline(0, color="k", lw=0.6)
    ax.axvline(0, color="k", lw=0.6)
    _symlog(ax.set_xscale, ax.set_xticks, da[ok])
    _symlog(ax.set_yscale, ax.set_yticks, dlam[ok])
    k = int(ds.attrs.get("record_every", 1))
    step = "t+1" if k == 1 else f"t+{k}"
    ax.set_xlabel(f"Δ‖A‖² = ‖A({step})‖² − ‖A(t)‖²  (symlog)")
    ax.set_ylabel(f"ΔΛ = Λ({step}) − Λ(t)  (symlog)")
    ax.legend(loc="upper left", fontsize=8, markerscale=2, framealpha=0.9)


def _symlog(set_scale, set_ticks, v: np.ndarray) -> None:
    """A symlog axis, linear up to the decade of the median |v|, ticks at 0 and whole decades."""
    a = np.abs(v[v != 0])
    if a.size == 0:
        return
    lo = int(np.floor(np.log10(np.median(a))))
    hi = int(np.ceil(np.log10(a.max())))
    step = max(1, -(-(hi - lo) // 4))
    decades = range(hi, lo, -step)
    set_scale("symlog", linthresh=10.0**lo, linscale=0.5)
    set_ticks(sorted([0.0] + [sgn * 10.0**k for k in decades for sgn in (-1, 1)]))


# --- Figure 3a: spectrum of M ---------------------------------------------------------------


def plot_spectrum(ds: xr.Dataset, path, window=None, log: bool = True) -> Plot:
    """The paper's Figure 3a: ``lambda_max(M)``, ``lambda_2(M)`` far below ``1/eta``
    (Assumption 3.7) and ``lambda_max(M_A)`` negligible next to the sharpness."""
    p = check_path(path)
    ds = select(ds, window)
    plot = Plot(p, "spectrum")
    eta, steps = float(ds.attrs["eta"]), ds["step"].values
    fig = new_figure(10.5, 4.2)
    ax = fig.subplots()
    two_layer = (ds.attrs.get("model", "linear2"), ds.attrs.get("parameterization", "ntk")) == ("linear2", "ntk")
    ma = "(2/mn) XᵀWᵀWX" if two_layer else "(2/n) J_A J_Aᵀ (output layer)"
    series = (("sharpness", "Λ = λmax(M)", SHARP), ("lambda2", "λ₂(M)", "darkorange"),
              ("sharpness_MA", f"λmax(M_A),  M_A = {ma}", "#6a3d9a"))
    for var, label, colour in series:
        plot.draw(ax, f"spectrum/{var}", *decimate(steps, ds[var].values), color=colour, lw=1.2,
                  label=label)
    eta_line(ax, eta)
    eta_line(ax, eta, factor=1.0, ls=":", color="dimgray")
    if log:
        ax.set_yscale("log")
        cap_log_axis(ax)
    step_axis(ax)
    ax.set_ylabel("eigenvalue")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    ax.set_title(f"Spectrum of the Gram matrix M (Fig. 3a): {describe(ds)}", fontsize=10)
    return Plot(save(fig, p), plot.kind, plot.data)


# --- Figure 3b: loss decomposition ----------------------------------------------------------


def plot_decomposition(ds: xr.Dataset, path, window=None) -> Plot:
    """The paper's Figure 3b: ``L = ((D^T v_1)^2 + ||R||^2) / n`` with ``R = (I - v_1 v_1^T) D``;
    the loss oscillates with the ``v_1`` component while ``||R||^2 / n`` decreases steadily."""
    p = check_path(path)
    ds = select(ds, window)
    plot = Plot(p, "decomposition")
    n, steps = float(ds.attrs["n"]), ds["step"].values
    fig = new_figure(9, 5.0)
    ax = fig.subplots()
    parts = np.concatenate([ds["loss"].values, ds["R_norm2"].values / n])
    low, high = np.nanmin(parts), np.nanmax(parts)
    clip = max(low, 1e-300) / 30  # the v_1 part dips far lower between spikes: drawn at this floor
    v1 = ds["Dv1"].values ** 2 / n
    clipped = bool(np.any(v1 < clip))
    v1_label = "(Dᵀv₁)²/n" + (f" (values below {clip:.1e} drawn at {clip:.1e})" if clipped else "")
    series = (("v1_part", np.maximum(v1, clip), v1_label, "darkorange", 0.8, "-"),
              ("loss", ds["loss"].values, "L = ‖D‖²/n", LOSS, 1.6, "-"),
              ("R_part", ds["R_norm2"].values / n, "‖R‖²/n,  R = (I − v₁v₁ᵀ)D", "k", 1.2, (0, (5, 2))))
    for key, y, label, colour, lw, ls in series:
        plot.draw(ax, f"decomposition/{key}", *decimate(steps, y), color=colour, lw=lw, ls=ls,
                  label=label)
    floor = float(ds.attrs.get("y_perp2", 0.0)) / n
    if floor > 0:
        ax.axhline(floor, color="grey", ls=":", lw=1, label=f"‖Y⊥‖²/n = {floor:.3g}")
    ax.set_yscale("log")
    ax.set_ylim(clip / 1.6, min(high * 3, 1e200))
    shade_phases(ax, ds)
    step_axis(ax)
    ax.set_ylabel("loss and its parts")
    fig.legend(handles=ax.get_legend_handles_labels()[0] + phase_handles(present=phases_present(ds)),
               loc="outside lower center", fontsize=8, ncol=4, frameon=False)  # the floor stays visible
    ax.set_title(f"Loss decomposition (Fig. 3b): {describe(ds)}", fontsize=10)
    return Plot(save(fig, p), plot.kind, plot.data)


# --- phase portraits ------------------------------------------------------------------------


def run_labels(runs) -> list[str]:
    """Labels that tell runs apart: the attributes (eta, engine, m, ...) in which they differ."""
    keys = ("engine", "eta", "m", "data_source", "init_scale", "seed", "n")
    varying = [k for k in keys if len({str(r.attrs.get(k)) for r in runs}) > 1]
    if not varying:
        return [f"run {i + 1}" for i in range(len(runs))]
    fmt = {"eta": "η", "init_scale": "σ", "data_source": "data"}
    return [", ".join(f"{fmt.get(k, k)}={_fmt(r.attrs.get(k))}" for k in varying) for r in runs]


def shared_description(runs) -> str:
    """``": m=4096, n=100"``: the attributes all runs share (engine, eta, m, data)."""
    keys = (("engine", "engine"), ("eta", "η"), ("m", "m"), ("data_source", "data"), ("n", "n"))
    same = [(label, runs[0].attrs.get(k)) for k, label in keys
            if len({str(r.attrs.get(k)) for r in runs}) == 1 and runs[0].attrs.get(k) is not None]
    return (": " + ", ".join(f"{label}={_fmt(v)}" for label, v in same)) if same else ""


def _fmt(v):
    return f"{v:g}" if isinstance(v, float | np.floating) else str(v)


def plot_compare(runs, path, window=None, labels=None, time: bool = False) -> Plot:
    """Several runs overlaid: ``eta Lambda`` (edge of stability at 2) and the loss.

    ``time=True`` puts ``eta t`` (gradient-flow time) on the x axis, which aligns runs with
    different learning rates.
    """
    p = check_path(path)
    runs = [select(ds, window) for ds in runs]
    labels = list(labels) if labels is not None else run_labels(runs)
    if len(labels) != len(runs):
        raise EosdynError(f"{len(labels)} labels for {len(runs)} runs")
    plot = Plot(p, "compare")
    fig = new_figure(9, 6.5)
    top, bottom = fig.subplots(2, 1, sharex=True)
    colours = [f"C{i % 10}" for i in range(len(runs))]
    for ds, label, colour in zip(runs, labels, colours, strict=True):
        x = ds["step"].values * (float(ds.attrs["eta"]) if time else 1.0)
        plot.draw(top, f"eta_sharpness/{label}", *decimate(x, ds["eta_sharpness"].values), color=colour,
                  lw=1, label=label)
        plot.draw(bottom, f"loss/{label}", *decimate(x, ds["loss"].values), color=colour, lw=1,
                  label=label)
    top.axhline(2.0, color="k", ls="--", lw=1, label="ηΛ = 2")
    top.set_ylabel("ηΛ")
    top.legend(loc="lower right", fontsize=8, framealpha=0.9)
    bottom.set_yscale("log")
    cap_log_axis(bottom)
    bottom.set_ylabel("loss ‖D‖²/n")
    if time:
        bottom.set_xlabel("time ηt")
    else:
        step_axis(bottom)
    bottom.legend(loc="lower left", fontsize=8, framealpha=0.9)
    top.set_title(f"{len(runs)} runs compared{shared_description(runs)}", fontsize=10)
    return Plot(save(fig, p), plot.kind, plot.data)


# --- dispatch -------------------------------------------------------------------------------

SINGLE = {"timeseries": plot_timeseries, "indicator": plot_indicator, "spectrum": plot_spectrum,
          "decomposition": plot_decomposition, "portrait": plot_portrait}


def plot_run(runs, path, kind: str = "timeseries", window=None, **options) -> Plot:
    """Draw ``kind`` (one of :data:`KINDS`) of one run, or of several for ``compare``.

    Parameters
    ----------
    runs : xarray.Dataset or list of them
        Saved runs (:func:`eosdyn.open_run`); ``compare`` and ``edge`` take several, the others one.
    path : path-like
        ``.png``, ``.pdf`` or ``.svg``.
    window : (int, int), optional
        Only steps ``start <= t <= stop``.
    **options
        Passed to the plot function (``a_norm`` for timeseries, ``log`` for spectrum,
        ``labels``/``time`` for compare, ``max_points`` for portrait).
    """
    if kind not in KINDS:
        raise EosdynError(f"plot kind must be one of {', '.join(KINDS)}; got {kind!r}")
    runs = [runs] if isinstance(runs, xr.Dataset) else list(runs)
    if not runs:
        raise EosdynError("no run to plot")
    if kind == "compare":
        return plot_compare(runs, path, window=window, **options)
    if kind == "edge":
        from .optim import plot_edge

        return plot_edge(runs, path, window=window, **options)
    if len(runs) > 1:
        raise EosdynError(f"plot kind {kind!r} takes one run, got {len(runs)} (kind 'compare' overlays several)")
    return SINGLE[kind](runs[0], path, window=window, **options)
