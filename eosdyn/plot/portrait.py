"""Phase portraits of a run: (||A||^2, Lambda), (D^T v_1, Lambda), (D^T F, Lambda) at even steps."""

from __future__ import annotations

import numpy as np
import xarray as xr

from .common import (
    PHASE_LINES,
    Plot,
    check_path,
    describe,
    edge_line,
    first_cycle_window,
    new_figure,
    phase_handles,
    save,
    select,
)

PORTRAITS = (("a_norm2", "‖A‖²"), ("Dv1", "Dᵀv₁"), ("DtF", "DᵀF"))


def plot_portrait(ds: xr.Dataset, path, window=None, max_points: int = 60_000) -> Plot:
    """Phase portraits ``(||A||^2, Lambda)``, ``(D^T v_1, Lambda)``, ``(D^T F, Lambda)``.

    Trajectories coloured by phase with arrows along them, the ``2/eta`` line, start (circle)
    and end (square). The first portrait shows the whole run with an inset zooming on the first
    EoS cycle; the other two frame the edge of stability (the sharpening phase, a vertical
    line at ``D^T v_1 ~ 0``, enters from below).

    Only even steps are drawn: above ``2/eta`` the factor ``1 - eta Lambda < -1`` flips the sign
    of ``D^T v_1`` (and of the linear part of ``D^T F``) at every step, so the one-step
    trajectory zigzags across the portrait, while the two-step map traces each EoS cycle as
    a loop. Runs with more than ``max_points`` even steps are drawn at a uniform stride.
    """
    from matplotlib.lines import Line2D

    p = check_path(path)
    ds = select(ds, window)
    plot = Plot(p, "portrait")
    even = ds.isel(step=np.flatnonzero(ds["step"].values % 2 == 0))
    every = max(1, -(-even["step"].size // max_points))
    thin = even.isel(step=slice(None, None, every))
    fig = new_figure(14, 5.2)
    axes = fig.subplots(1, 3)
    for ax, (var, label) in zip(axes, PORTRAITS, strict=True):
        _trajectory(plot, ax, thin, var, var)
        ax.set_xlabel(label)
        ax.set_ylabel("sharpness Λ")
    zoom = first_cycle_window(ds) if window is None else None
    if zoom:
        _inset_cycle(plot, axes[0], select(even, zoom))
        for ax, (var, _) in zip(axes[1:], PORTRAITS[1:], strict=True):
            _frame_eos(ax, even, var, zoom[0])
    _draw_arrows(*axes, *axes[0].child_axes)
    ends = [Line2D([], [], ls="", marker="o", color="k", label="start"),
            Line2D([], [], ls="", marker="s", color="k", label="end"),
            Line2D([], [], ls="--", color="k", lw=0.9, label="2/η")]
    fig.legend(handles=phase_handles(lines=True) + ends, loc="outside lower center", ncol=7,
               fontsize=8)
    note = f", even steps t{'' if every == 1 else f' (1 in {every} of them)'}"
    fig.suptitle(f"Phase portraits: {describe(ds)}{note}", fontsize=10)
    return Plot(save(fig, p), plot.kind, plot.data)


def _frame_eos(ax, ds: xr.Dataset, var: str, start: int) -> None:
    """Limit both axes to the edge-of-stability part of the trajectory (steps >= ``start``)."""
    late = ds["step"].values >= start
    lam, x = ds["sharpness"].values[late], ds[var].values[late]
    ok = np.isfinite(lam) & np.isfinite(x)
    if ok.any():
        for setter, v, below in ((ax.set_ylim, lam[ok], 0.6), (ax.set_xlim, x[ok], 0.08)):
            lo, hi = v.min(), v.max()
            pad = (hi - lo) or abs(hi) * 0.05 or 1.0
            setter(lo - below * pad, hi + 0.08 * pad)
        ax.set_title(f"edge of stability, from step {start}", fontsize=9)


def _trajectory(plot: Plot, ax, ds: xr.Dataset, var: str, key: str, arrows: int = 8) -> None:
    from matplotlib.collections import LineCollection

    x, y = ds[var].values, ds["sharpness"].values
    phase = ds["phase"].values
    ok = np.isfinite(x) & np.isfinite(y)
    x, y, phase = x[ok], y[ok], phase[ok]
    plot.data[f"{key}/trajectory"] = (x, y)
    plot.data[f"{key}/phase"] = (x, phase)
    pts = np.column_stack([x, y])
    segs = np.stack([pts[:-1], pts[1:]], axis=1)
    colours = [PHASE_LINES.get(int(k), PHASE_LINES[0]) for k in phase[:-1]]
    ax.add_collection(LineCollection(segs, colors=colours, lw=1.1, rasterized=len(segs) > 5000))
    ax.autoscale_view()
    edge_line(ax, ds, lw=0.9)
    ax.plot(x[:1], y[:1], "o", color="k", ms=5, zorder=6)
    ax.plot(x[-1:], y[-1:], "s", color="k", ms=5, zorder=6)
    ax._eosdyn_path = (x, y, phase, arrows)  # arrows are drawn once the limits are final


def _draw_arrows(*axes) -> None:
    for ax in axes:
        x, y, phase, count = ax._eosdyn_path
        _arrows(ax, x, y, phase, count)


def _arrows(ax, x, y, phase, count: int) -> None:
    """Arrow heads of a fixed size at equal fractions of the path length (in axis units),
    pointing along the trajectory."""
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    inside = (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)
    x, y, phase = x[inside], y[inside], phase[inside]
    if x.size < 3:
        return
    sx, sy = (x1 - x0) or 1.0, (y1 - y0) or 1.0
    dx, dy = np.diff(x) / sx, np.diff(y) / sy
    arc = np.concatenate([[0.0], np.cumsum(np.hypot(dx, dy))])
    if arc[-1] == 0:
        return
    for frac in (np.arange(count) + 0.5) / count:
        i = min(int(np.searchsorted(arc, frac * arc[-1])), x.size - 2)
        while i < x.size - 2 and dx[i] == 0 and dy[i] == 0:
            i += 1
        norm = np.hypot(dx[i], dy[i])
        if norm == 0:
            continue
        tip = (x[i] + 0.025 * sx * dx[i] / norm, y[i] + 0.025 * sy * dy[i] / norm)
        ax.annotate("", xy=tip, xytext=(x[i], y[i]),
                    arrowprops={"arrowstyle": "-|>", "color": PHASE_LINES.get(int(phase[i]), "k"),
                                "lw": 1.0, "mutation_scale": 13, "shrinkA": 0, "shrinkB": 0})


def _inset_cycle(plot: Plot, ax, sub: xr.Dataset) -> None:
    inset = ax.inset_axes([0.5, 0.08, 0.47, 0.45])
    _trajectory(plot, inset, sub, "a_norm2", "inset", arrows=4)
    inset.tick_params(labelsize=7)
    inset.set_title("first EoS cycle", fontsize=8)
    ax.indicate_inset_zoom(inset, edgecolor="0.3")


# --- several runs -----------------------------------------------------------------------------
