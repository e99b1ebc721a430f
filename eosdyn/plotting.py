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

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import xarray as xr

from .errors import EosdynError

PHASE_COLOURS = {1: "#cfe8cf", 2: "#f7c9c9", 3: "#f9e0b8", 4: "#cddcf2"}
#: saturated phase colours for trajectories (the pale ones above are for backgrounds)
PHASE_LINES = {0: "#7f7f7f", 1: "#2ca02c", 2: "#d62728", 3: "#ff7f0e", 4: "#1f77b4"}
PHASE_NAMES = {1: "I: sharpening", 2: "II: above 2/η, rising", 3: "III: above 2/η, falling",
               4: "IV: below 2/η, falling"}
FORMATS = (".png", ".pdf", ".svg")
KINDS = ("timeseries", "indicator", "spectrum", "decomposition", "portrait", "compare")
SHARP, LOSS, ANORM, ANOMALY = "steelblue", "firebrick", "darkgreen", "#ff7f0e"
DPI = 130


@dataclass
class Plot:
    """A written figure and the data drawn in it.

    ``data[key] = (x, y)`` for every line or scatter, keyed ``"panel/series"`` (e.g.
    ``"sharpness/Lambda"``); ``x`` are steps unless the key says otherwise.
    """

    path: Path
    kind: str
    data: dict = field(default_factory=dict)

    def draw(self, ax, key, x, y, *args, scatter=False, **kwargs):
        x, y = np.asarray(x), np.asarray(y)
        self.data[key] = (x, y)
        return ax.scatter(x, y, *args, **kwargs) if scatter else ax.plot(x, y, *args, **kwargs)


# --- helpers --------------------------------------------------------------------------------


def decimate(x: np.ndarray, y: np.ndarray, columns: int = 2000):
    """Min/max per display column so long series plot fast without losing spikes.

    The ``x.size`` points are cut into ``columns`` consecutive groups; each keeps its minimum and
    maximum (in step order), so every extreme survives and at most ``2 columns`` points remain.
    """
    x, y = np.asarray(x), np.asarray(y)
    if x.size <= 2 * columns:
        return x, y
    edges = np.linspace(0, x.size, columns + 1).astype(int)
    keep = []
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        seg = y[lo:hi]
        if not np.isfinite(seg).any():
            continue
        i, j = np.nanargmin(seg) + lo, np.nanargmax(seg) + lo
        keep.extend(sorted({i, j}))
    keep = np.asarray(keep, dtype=int)
    return x[keep], y[keep]


def phase_spans(steps: np.ndarray, phase: np.ndarray):
    """Runs of constant phase as ``(start_step, stop_step, phase)`` triples."""
    if phase.size == 0:
        return []
    change = np.flatnonzero(np.diff(phase)) + 1
    starts = np.concatenate([[0], change])
    stops = np.concatenate([change, [phase.size]])
    ends = np.append(steps[1:], steps[-1] + 1)
    return [(steps[a], ends[b - 1], int(phase[a])) for a, b in zip(starts, stops, strict=True)]


def shade_phases(ax, ds: xr.Dataset, max_spans: int = 400):
    """Colour the background of ``ax`` by the phase of each step.

    Few phase runs are drawn as spans; many (long runs, fast oscillation) as one image with a
    column per recorded step, which matplotlib resamples to the pixels.
    """
    from matplotlib.colors import ListedColormap

    steps, phase = ds["step"].values, ds["phase"].values
    spans = phase_spans(steps, phase)
    if len(spans) <= max_spans:
        for a, b, ph in spans:
            if ph in PHASE_COLOURS:
                ax.axvspan(a, b, color=PHASE_COLOURS[ph], lw=0, zorder=0)
        return
    cmap = ListedColormap(["white"] + [PHASE_COLOURS[k] for k in (1, 2, 3, 4)])
    y0, y1 = ax.get_ylim()
    ax.imshow(phase[None, :], aspect="auto", cmap=cmap, vmin=-0.5, vmax=4.5, zorder=0,
              extent=(steps[0], steps[-1], y0, y1), interpolation="nearest", origin="lower")
    ax.set_ylim(y0, y1)


def phase_handles(lines: bool = False):
    """Legend entries for the four phases (patches, or lines in the trajectory colours)."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    if lines:
        return [Line2D([], [], color=PHASE_LINES[k], lw=2, label=PHASE_NAMES[k]) for k in (1, 2, 3, 4)]
    return [Patch(color=PHASE_COLOURS[k], label=PHASE_NAMES[k]) for k in (1, 2, 3, 4)]


def first_cycle_window(ds: xr.Dataset, pad: int = 40):
    """Steps around the first EoS cycle (first crossing of 2/eta to the next one), or None."""
    from .summary import eos_crossings

    cross = eos_crossings(ds)
    if cross.size == 0:
        return None
    stop = cross[1] if cross.size > 1 else cross[0] + 50 * pad
    return max(int(cross[0]) - pad, 0), int(stop) + pad


def select(ds: xr.Dataset, window) -> xr.Dataset:
    """The steps ``start <= t <= stop`` of ``ds`` (``window = (start, stop)``, None: all)."""
    if window is None:
        return ds
    start, stop = window
    sub = ds.sel(step=slice(start, stop))
    if sub["step"].size < 2:
        raise EosdynError(f"--window {start}:{stop} holds {sub['step'].size} recorded step(s); "
                          f"the run has steps {int(ds['step'][0])}..{int(ds['step'][-1])}")
    return sub


def describe(ds: xr.Dataset) -> str:
    """A one-line description of a run for titles."""
    a = ds.attrs
    src = a.get("data_source", "synthetic")
    data = f"n={a.get('n')}" if src == "synthetic" else src
    m = a.get("m")
    m = f"{m:,}" if isinstance(m, int | np.integer) and m >= 100_000 else m
    engine = a.get("engine") if a.get("engine") != "network" else f"network {a.get('model')}"
    return f"m={m}, η={float(a['eta']):g}, {data}, {engine} ({a.get('status')})"


def network_name(ds: xr.Dataset) -> str:
    """`` on a two-layer linear network`` for linear2 runs (other models are named by :func:`describe`)."""
    return " on a two-layer linear network" if ds.attrs.get("model", "linear2") == "linear2" else ""


def check_path(path, option: str = "figure") -> Path:
    """``path`` as a Path; one-line error unless its suffix is a figure format and its folder exists."""
    p = Path(path)
    if p.suffix.lower() not in FORMATS:
        raise EosdynError(f"{option} {str(p)!r}: the suffix must be one of {', '.join(FORMATS)}")
    if not p.parent.resolve().is_dir():
        raise EosdynError(f"{option} {str(p)!r}: folder {str(p.parent)!r} does not exist")
    return p


def new_figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def save(fig, path: Path) -> Path:
    """Write ``fig`` atomically, without timestamps, so the same run gives the same bytes."""
    import matplotlib

    suffix = path.suffix.lower()
    meta = {".png": {"Software": None}, ".pdf": {"CreationDate": None, "Producer": None},
            ".svg": {"Date": None}}[suffix]
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    try:
        with matplotlib.rc_context({"svg.hashsalt": "eosdyn", "pdf.compression": 6}):
            fig.savefig(tmp, dpi=DPI, metadata=meta)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it 0600
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def eta_line(ax, eta: float, factor: float = 2.0, **kw):
    label = "2/η" if factor == 2 else "1/η" if factor == 1 else f"{factor:g}/η"
    style = {"color": "k", "ls": "--", "lw": 1, "label": label, **kw}
    ax.axhline(factor / eta, **style)


# --- Figure 1: time series ------------------------------------------------------------------


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
    axes[1 + (a_norm == "panel")].set_xlabel("GD step t")
    if zoom:
        _zoom_panel(plot, axes[-1], select(full, zoom))
    return Plot(save(fig, p), plot.kind, plot.data)


def _sharpness_panel(plot: Plot, ax, ds: xr.Dataset, twin_a: bool = False) -> None:
    eta, steps = float(ds.attrs["eta"]), ds["step"].values
    plot.draw(ax, "sharpness/Lambda", *decimate(steps, ds["sharpness"].values), color=SHARP, lw=1,
              label="Λ = λmax(M)")
    eta_line(ax, eta)
    ax.set_ylabel("sharpness Λ")
    shade_phases(ax, ds)
    handles = ax.get_legend_handles_labels()[0]
    if twin_a:
        twin = ax.twinx()
        handles += plot.draw(twin, "sharpness/||A||^2", *decimate(steps, ds["a_norm2"].values),
                             color=ANORM, lw=1, label="‖A‖² (right axis)")
        twin.set_ylabel("‖A‖²", color=ANORM)
    ax.legend(handles=handles + phase_handles(), loc="best", fontsize=8, ncol=2, framealpha=0.9)
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
    ax.set_ylabel("loss ‖D‖²/n")
    shade_phases(ax, ds)
    ax.legend(loc="best", fontsize=8, framealpha=0.9)


def _zoom_panel(plot: Plot, ax, sub: xr.Dataset) -> None:
    eta = float(sub.attrs["eta"])
    plot.draw(ax, "zoom/Lambda", sub["step"].values, sub["sharpness"].values, color=SHARP, lw=1.2,
              marker=".", ms=3, label="Λ")
    eta_line(ax, eta)
    ax.set_ylabel("Λ (first EoS cycle)")
    ax.set_xlabel("GD step t")
    shade_phases(ax, sub)
    twin = ax.twinx()
    lines = plot.draw(twin, "zoom/loss", sub["step"].values, sub["loss"].values, color=LOSS, lw=1,
                      label="loss (right axis)")
    twin.set_yscale("log")
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

    Top: ``Lambda`` (left axis) and ``||A||^2`` (right axis) over steps, anomaly steps
    (``sign(Lambda(t+1) - Lambda(t)) != sign(||A(t+1)||^2 - ||A(t)||^2)``) as orange dots.
    Bottom left: ``Delta Lambda`` against ``Delta ||A||^2``; bottom right: the first EoS cycle.
    """
    p = check_path(path)
    ds = select(ds, window)
    plot = Plot(p, "indicator")
    fig = new_figure(10, 7.5)
    grid = fig.add_gridspec(2, 2, height_ratios=(1, 1.1))
    _indicator_panel(plot, fig.add_subplot(grid[0, :]), ds, "top")
    _difference_scatter(plot, fig.add_subplot(grid[1, 0]), ds)
    zoom = first_cycle_window(ds) if window is None else None
    ax = fig.add_subplot(grid[1, 1])
    if zoom:
        _indicator_panel(plot, ax, select(ds, zoom), "zoom", legend=False)
        ax.set_title("first EoS cycle", fontsize=9)
    else:
        ax.set_axis_off()
        ax.text(0.5, 0.5, "no EoS cycle in this window", ha="center", va="center",
                transform=ax.transAxes)
    fig.suptitle(f"‖A‖² as an indicator of the sharpness (Fig. 2): {describe(ds)}", fontsize=10)
    return Plot(save(fig, p), plot.kind, plot.data)


def _indicator_panel(plot: Plot, ax, ds: xr.Dataset, key: str, legend: bool = True) -> None:
    steps, lam = ds["step"].values, ds["sharpness"].values
    eta = float(ds.attrs["eta"])
    handles = plot.draw(ax, f"{key}/Lambda", *decimate(steps, lam), color=SHARP, lw=2.2, label="Λ")
    anomaly = ds["anomaly"].values.astype(bool)
    dots = plot.draw(ax, f"{key}/anomaly", steps[anomaly], lam[anomaly], scatter=True, s=9,
                     color=ANOMALY, zorder=5, label=f"anomaly ({int(anomaly.sum())} steps)")
    eta_line(ax, eta)
    ax.set_ylabel("sharpness Λ", color=SHARP)
    ax.set_xlabel("GD step t")
    twin = ax.twinx()
    handles += plot.draw(twin, f"{key}/||A||^2", *decimate(steps, ds["a_norm2"].values), color=ANORM,
                         lw=1, ls=(0, (4, 3)), label="‖A‖² (right axis)")
    twin.set_ylabel("‖A‖²", color=ANORM)
    if legend:
        ax.legend(handles=[*handles, dots, ax.get_lines()[-1]], loc="lower right", fontsize=8,
                  framealpha=0.9)


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
    ax.set_xlabel("GD step t")
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
    fig = new_figure(9, 4.2)
    ax = fig.subplots()
    series = (("v1_part", ds["Dv1"].values ** 2 / n, "(Dᵀv₁)²/n", "darkorange", 0.8, "-"),
              ("loss", ds["loss"].values, "L = ‖D‖²/n", LOSS, 1.6, "-"),
              ("R_part", ds["R_norm2"].values / n, "‖R‖²/n,  R = (I − v₁v₁ᵀ)D", "k", 1.2, (0, (5, 2))))
    for key, y, label, colour, lw, ls in series:
        plot.draw(ax, f"decomposition/{key}", *decimate(steps, y), color=colour, lw=lw, ls=ls,
                  label=label)
    floor = float(ds.attrs.get("y_perp2", 0.0)) / n
    if floor > 0:
        ax.axhline(floor, color="grey", ls=":", lw=1, label=f"‖Y⊥‖²/n = {floor:.3g}")
    ax.set_yscale("log")
    parts = np.concatenate([ds["loss"].values, ds["R_norm2"].values / n])
    low, high = np.nanmin(parts), np.nanmax(parts)
    ax.set_ylim(max(low, 1e-300) / 30, high * 3)  # the v_1 part dips far lower: cut it there
    shade_phases(ax, ds)
    ax.set_xlabel("GD step t")
    ax.set_ylabel("loss and its parts")
    ax.legend(handles=ax.get_legend_handles_labels()[0] + phase_handles(), loc="lower left",
              fontsize=8, ncol=2, framealpha=0.9)
    ax.set_title(f"Loss decomposition (Fig. 3b): {describe(ds)}", fontsize=10)
    return Plot(save(fig, p), plot.kind, plot.data)


# --- phase portraits ------------------------------------------------------------------------

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
    eta_line(ax, float(ds.attrs["eta"]), lw=0.9)
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
    bottom.set_ylabel("loss ‖D‖²/n")
    bottom.set_xlabel("time ηt" if time else "GD step t")
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
        Saved runs (:func:`eosdyn.open_run`); ``compare`` overlays all, the others take one.
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
    if len(runs) > 1:
        raise EosdynError(f"plot kind {kind!r} takes one run, got {len(runs)} (use --kind compare)")
    return SINGLE[kind](runs[0], path, window=window, **options)
