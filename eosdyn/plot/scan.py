"""Figures from scans and bifurcation diagrams: the orbit diagram with its Lyapunov exponent and
period, and heatmaps / phase diagrams of 2-D scans.

Plot functions draw on a fresh :class:`matplotlib.figure.Figure` (no pyplot state), write
PNG/PDF/SVG by the suffix of ``path`` atomically (temporary file + rename, no timestamps) and
return the figure.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from ..errors import EosdynError
from .run import check_path, save

#: one colour per meaning in every heatmap panel: diverged cells are DIVERGED everywhere, and no
#: other class is grey (lazy is pale yellow)
DIVERGED = "#525252"
#: first crossing at step 0 (Lambda(0) > 2/eta already: a catapult start), below the log colour scale
AT_START = "#e7298a"
NEVER = "white"
PHASE_COLOURS = ("#fff2ae", "#9ecae1", "#fdae6b", "#74c476", DIVERGED)  # lazy .. divergent
PHASE_LABELS = ("lazy", "sharpening", "catapult", "edge of stability", "divergent")
#: |Lyapunov exponent| <= this (per step) is drawn as "= 0" (neutral), as in eosdyn.analysis.bifurcation.regimes
LYAP_TOL = 1e-3


def check_figure_path(path, name: str = "path") -> Path:
    """``path`` as a Path; one-line error unless it has a figure suffix and its folder exists."""
    return check_path(path, name)


def _figure(width, height, **kw):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained", **kw)


OBS_LABELS = {"eta_sharpness": "ηΛ", "loss": "loss", "a_norm2": "‖A‖²", "Dv1": "Dᵀv₁"}
PARAM_LABELS = {"eta": "learning rate η", "m": "width m", "init_scale": "initial scale",
                "lambda_max": "λ_max(XᵀX)", "seed": "seed"}


# --- orbit diagram ----------------------------------------------------------------------------


def plot_bifurcation(ds: xr.Dataset, path, log_x: bool | None = None, title: str | None = None,
                     xlim: tuple | None = None):
    """Orbit diagram (top; for ``eta_sharpness`` a zoom on ``eta Lambda`` in [1.9, 2.1] below it
    when most of the orbit lies there), maximal Lyapunov exponent of the outputs and the period
    of the late orbit (bottom), sharing the parameter axis (restricted to ``xlim``); diverged
    values are shaded red."""
    p = check_figure_path(path)
    dim, obs = ds.attrs["param"], ds.attrs["observable"]
    if xlim is not None:
        ds = ds.sel({dim: slice(*xlim)})
        if ds.sizes[dim] == 0:
            raise EosdynError(f"no {dim} values in the plotted range {xlim[0]:g}..{xlim[1]:g}")
    x = ds[dim].values.astype(float)
    log_x = ds[dim].attrs.get("scale") == "log" if log_x is None else log_x
    pts = ds["orbit"].values[np.isfinite(ds["orbit"].values)]
    zoom = obs == "eta_sharpness" and pts.size > 0 and np.mean(np.abs(pts - 2) < 0.1) > 0.5 \
        and np.ptp(pts) > 0.4
    fig = _figure(9, 10.5 if zoom else 8.5)
    ratios = [2.2, 2.2, 1.3, 1.4] if zoom else [3, 1.3, 1.4]
    axes = fig.subplots(len(ratios), 1, sharex=True, height_ratios=ratios)
    _orbit_panel(axes[0], ds, x, obs)
    if zoom:
        _orbit_panel(axes[1], ds, x, obs, ylim=(1.9, 2.1))
    _lyapunov_panel(axes[-2], ds, x)
    _period_panel(axes[-1], ds, x)
    diverged = ds["status"].values == 2
    for ax in axes:
        _shade(ax, x, diverged)
        ax.grid(alpha=0.3, lw=0.5)
    if log_x:
        axes[-1].set_xscale("log")
    axes[-1].set_xlim(x.min(), x.max())
    axes[-1].set_xlabel(PARAM_LABELS.get(dim, dim))
    a = ds.attrs
    fig.suptitle(title or f"Orbit diagram over {dim}: last {a['keep']} of {a['steps']:,} steps per "
                 f"value ({a['mode']} start); exponent over steps {a['transient']:,}–{a['steps']:,}",
                 fontsize=10)
    return save(fig, p)


def _orbit_panel(ax, ds, x, obs, ylim=None):
    orbit = ds["orbit"].values
    xs = np.repeat(x, orbit.shape[1])
    ys = orbit.ravel()
    ok = np.isfinite(ys)
    ax.scatter(xs[ok], ys[ok], s=1.0 if ylim else 0.6, c="k", alpha=0.4, linewidths=0, rasterized=True)
    if obs == "eta_sharpness":
        ax.axhline(2.0, color="tab:red", lw=0.9, ls="--", label="ηΛ = 2 (Λ = 2/η)")
        ax.legend(loc="upper left", fontsize=8)
    if obs == "loss" and np.nanmin(ys[ok], initial=np.inf) > 0:
        ax.set_yscale("log")
    ax.set_ylabel(f"orbit of {OBS_LABELS.get(obs, obs)}" + (" (zoom)" if ylim else ""))
    if ylim:
        ax.set_ylim(*ylim)


def _lyapunov_panel(ax, ds, x, tol: float = LYAP_TOL):
    """The exponent per value: red above ``tol`` (chaos), blue below ``-tol`` (a stable orbit),
    grey within ``tol`` of 0 (neutral: a 1e-5 from a finite horizon is not chaos)."""
    ly = ds["lyapunov"].values
    pos, neg = ly > tol, ly < -tol
    zero = np.isfinite(ly) & ~pos & ~neg
    ax.axhline(0.0, color="0.3", lw=0.8)
    ax.axhspan(-tol, tol, color="0.85", lw=0, zorder=0)
    ax.plot(x, ly, color="0.5", lw=0.8)
    ax.scatter(x[pos], ly[pos], s=6, color="tab:red", zorder=3, label=f"> {tol:g} (chaotic)")
    ax.scatter(x[zero], ly[zero], s=6, color="0.45", zorder=3, label=f"≈ 0 (|λ| ≤ {tol:g})")
    ax.scatter(x[neg], ly[neg], s=6, color="tab:blue", zorder=3, label=f"< −{tol:g} (stable)")
    ax.ticklabel_format(axis="y", style="sci", scilimits=(-2, 2))
    ax.set_ylabel("Lyapunov exp.\n(per step)")
    ax.legend(loc="upper left", fontsize=8, ncol=3)


def _period_panel(ax, ds, x):
    period = ds["period"].values
    levels = int(np.floor(np.log2(int(ds.attrs["period_max"]))))
    rows = {0: levels + 1, -2: levels + 2, -1: -1}  # aperiodic, not settled, diverged
    colours = {0: "tab:orange", -2: "tab:green", -1: "tab:red"}
    y = np.array([np.log2(p) if p > 0 else rows[p] for p in period], dtype=float)
    c = [colours.get(int(p), "k") for p in period]
    ax.scatter(x, y, s=8, c=c, zorder=3, linewidths=0)
    ticks = [-1] + list(range(levels + 1)) + [levels + 1, levels + 2]
    names = ["diverged"] + [str(2**k) for k in range(levels + 1)] + ["aperiodic", "not settled"]
    ax.set_yticks(ticks, names, fontsize=8)
    ax.set_ylim(-1.6, levels + 2.6)
    ax.set_ylabel("period of\nlate orbit")


def _shade(ax, x, mask):
    """Shade the spans of consecutive masked values (half-way to the neighbours)."""
    if not mask.any() or x.size < 2:
        return
    logx = np.all(x > 0)
    xx = np.log(x) if logx else x
    mid = np.concatenate([[xx[0]], (xx[1:] + xx[:-1]) / 2, [xx[-1]]])
    edges = np.exp(mid) if logx else mid
    i = 0
    while i < mask.size:
        if mask[i]:
            j = i
            while j + 1 < mask.size and mask[j + 1]:
                j += 1
            ax.axvspan(edges[i], edges[j + 1], color="tab:red", alpha=0.18, lw=0)
            i = j + 1
        else:
            i += 1


# --- heatmaps / phase diagrams -----------------------------------------------------------------


def heatmap_axes(ds: xr.Dataset, x: str | None = None, y: str | None = None) -> tuple[str, str]:
    """The two scanned dimensions to draw (``x``/``y`` or the last two of size > 1)."""
    dims = [d for d in ds.attrs.get("axes", []) if d in ds.dims]
    big = [d for d in dims if ds.sizes[d] > 1]
    for name in (x, y):
        if name is not None and name not in dims:
            raise EosdynError(f"{name!r} is not a scanned dimension; the scan has {', '.join(dims)}")
    if x is None or y is None:
        rest = [d for d in big if d not in (x, y)]
        if x is None and rest:
            x = rest.pop(0)
        if y is None and rest:
            y = rest.pop(0)
    if x is None or y is None or x == y:
        raise EosdynError(f"a heatmap needs two scanned dimensions of size > 1; the scan has "
                          f"{', '.join(f'{d} ({ds.sizes[d]})' for d in dims)}")
    return x, y


def plot_heatmap(ds: xr.Dataset, path, x: str | None = None, y: str | None = None,
                 title: str | None = None):
    """Four heatmaps of a 2-D scan -- first step with ``Lambda > 2/eta``, final ``eta Lambda``,
    EoS cycles, phase -- with the lazy / sharpening / catapult / EoS / divergent regions
    outlined on each. Other scanned dimensions are taken at their first value."""
    from matplotlib import colormaps as mpl_colormaps
    from matplotlib.colors import BoundaryNorm, ListedColormap, LogNorm, TwoSlopeNorm

    p = check_figure_path(path)
    x, y = heatmap_axes(ds, x, y)
    others = {d: 0 for d in ds.attrs.get("axes", []) if d in ds.dims and d not in (x, y)}
    sub = ds.isel(others).transpose(y, x, ...)
    xe, xlog = _edges(sub[x])
    ye, ylog = _edges(sub[y])
    phase = sub["phase"].values.astype(float)
    phase[phase < 0] = np.nan
    diverged = sub["status"].values == 2
    fig = _figure(11.5, 8.8)
    axes = fig.subplots(2, 2, sharex=True, sharey=True).ravel()
    first = np.where(diverged, np.nan, sub["first_cross_step"].values.astype(float))
    first[first < 0] = np.nan  # never crossed: white
    at_start = first == 0
    es = np.where(diverged, np.nan, sub["final_eta_sharpness"].values)
    cycles = np.where(diverged, np.nan, sub["n_eos_excursions"].values.astype(float))
    cycles[cycles <= 0] = np.nan
    first_norm = _lognorm(np.where(at_start, np.nan, first), LogNorm) or (LogNorm(1, 10) if at_start.any() else None)
    if at_start.any():  # below the colour scale: drawn in the colour map's "under" colour
        first[at_start] = first_norm.vmin / 2
    panels = [
        (first, "first step with Λ > 2/η", mpl_colormaps["viridis"].with_extremes(under=AT_START),
         first_norm),
        (es, "final ηΛ (2 = edge of stability)", "RdBu_r", _centred(es, TwoSlopeNorm)),
        (cycles, "EoS excursions (≥ 2 steps above 2/η)", "magma_r", _lognorm(cycles, LogNorm)),
    ]
    grey = ListedColormap([DIVERGED])
    for ax, (z, label, cmap, norm) in zip(axes, panels, strict=False):
        mesh = ax.pcolormesh(xe, ye, np.ma.masked_invalid(z), cmap=cmap, norm=norm)
        ax.pcolormesh(xe, ye, np.ma.masked_where(~diverged, np.ones_like(z)), cmap=grey)
        bar = fig.colorbar(mesh, ax=ax, shrink=0.9, extend="min" if z is first and at_start.any() else "neither")
        if isinstance(norm, TwoSlopeNorm):
            lo, hi = norm.vmin, norm.vmax
            ticks = np.unique(np.round(np.r_[np.linspace(lo, 2, 5), np.linspace(2, hi, 3)], 2))
            bar.set_ticks(ticks[(ticks >= lo) & (ticks <= hi)])
        ax.set_title(label, fontsize=9)
    mesh = axes[3].pcolormesh(xe, ye, np.ma.masked_invalid(phase), cmap=ListedColormap(PHASE_COLOURS),
                              norm=BoundaryNorm(np.arange(-0.5, 5.5), 5))
    bar = fig.colorbar(mesh, ax=axes[3], shrink=0.9, ticks=range(5))
    bar.ax.set_yticklabels(PHASE_LABELS, fontsize=8)
    axes[3].set_title("phase (eosdyn.analysis.scan.classify)", fontsize=9)
    fig.legend(handles=_cell_legend(at_start.any()), loc="outside lower center", ncol=3, fontsize=8,
               frameon=False)
    for ax in axes:
        _outline(ax, phase, xe, ye)
    for ax in axes:
        ax.set_xscale("log" if xlog else "linear")
        ax.set_yscale("log" if ylog else "linear")
    for ax in axes[2:]:
        ax.set_xlabel(PARAM_LABELS.get(x, x))
    for ax in axes[::2]:
        ax.set_ylabel(PARAM_LABELS.get(y, y))
    fixed = ", ".join(f"{d}={ds[d].values[0]:g}" for d in others)
    steps = ds.attrs.get("steps")
    fig.suptitle(title or f"Phase diagram of GD over {x} × {y} ({steps:,} steps per cell"
                 + (f"; {fixed}" if fixed else "") + "); black lines: phase boundaries",
                 fontsize=10)
    return save(fig, p)


def _cell_legend(at_start: bool) -> list:
    """What the special cell colours mean, the same in all four panels."""
    from matplotlib.patches import Patch

    handles = [Patch(facecolor=DIVERGED, label="diverged (every panel)"),
               Patch(facecolor=NEVER, edgecolor="0.4", lw=0.6,
                     label="never above 2/η (first crossing) / no EoS excursion")]
    if at_start:
        handles.append(Patch(facecolor=AT_START, label="above 2/η at step 0 (Λ(0) > 2/η: catapult start)"))
    return handles


def _edges(coord: xr.DataArray) -> tuple[np.ndarray, bool]:
    """Cell edges of a coordinate (geometric midpoints when the axis is logarithmic)."""
    v = coord.values.astype(float)
    scale = coord.attrs.get("scale", "list")
    log = scale == "log" or (scale == "list" and np.all(v > 0) and v.size > 2
                             and v.max() / v.min() > 20)
    w = np.log(v) if log else v
    if w.size == 1:
        e = np.array([w[0] - 0.5, w[0] + 0.5]) if not log else np.array([w[0] - 0.3, w[0] + 0.3])
    else:
        mid = (w[1:] + w[:-1]) / 2
        e = np.concatenate([[2 * w[0] - mid[0]], mid, [2 * w[-1] - mid[-1]]])
    return (np.exp(e) if log else e), log


def _outline(ax, phase, xe, ye):
    """Black segments along the cell edges that separate different phases."""
    from matplotlib.collections import LineCollection

    segs = []
    ny, nx = phase.shape
    for j in range(ny):
        for i in range(nx - 1):
            if phase[j, i] != phase[j, i + 1] and np.isfinite(phase[j, i] + phase[j, i + 1]):
                segs.append([(xe[i + 1], ye[j]), (xe[i + 1], ye[j + 1])])
    for j in range(ny - 1):
        for i in range(nx):
            if phase[j, i] != phase[j + 1, i] and np.isfinite(phase[j, i] + phase[j + 1, i]):
                segs.append([(xe[i], ye[j + 1]), (xe[i + 1], ye[j + 1])])
    ax.add_collection(LineCollection(segs, colors="k", linewidths=1.3))


def _lognorm(z, LogNorm):
    ok = z[np.isfinite(z) & (z > 0)]
    if ok.size == 0:
        return None
    lo, hi = ok.min(), ok.max()
    return LogNorm(lo, hi if hi > lo else lo * 10)


def _centred(z, TwoSlopeNorm):
    ok = z[np.isfinite(z)]
    if ok.size == 0:
        return None
    lo, hi = min(ok.min(), 1.99), min(max(ok.max(), 2.01), 4.0)
    return TwoSlopeNorm(vcenter=2.0, vmin=lo, vmax=hi)
