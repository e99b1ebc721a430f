"""Figures from datasets only (no engine knowledge)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from .errors import EosdynError

PHASE_COLOURS = {1: "#cfe8cf", 2: "#f7c9c9", 3: "#f9e0b8", 4: "#cddcf2"}
PHASE_NAMES = {1: "I: sharpening", 2: "II: above 2/η, rising", 3: "III: above 2/η, falling",
               4: "IV: below 2/η, falling"}
FORMATS = (".png", ".pdf", ".svg")


def decimate(x: np.ndarray, y: np.ndarray, columns: int = 2000):
    """Min/max per display column so long series plot fast without losing spikes."""
    if x.size <= 2 * columns:
        return x, y
    edges = np.linspace(0, x.size, columns + 1).astype(int)
    xs, ys = [], []
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        seg = y[lo:hi]
        if not np.isfinite(seg).any():
            continue
        i, j = np.nanargmin(seg) + lo, np.nanargmax(seg) + lo
        for k in sorted((i, j)):
            xs.append(x[k])
            ys.append(y[k])
    return np.asarray(xs), np.asarray(ys)


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


def first_cycle_window(ds: xr.Dataset, pad: int = 40):
    """Steps around the first EoS cycle (first crossing of 2/eta to the next one), or None."""
    from .summary import eos_crossings

    cross = eos_crossings(ds)
    if cross.size == 0:
        return None
    stop = cross[1] if cross.size > 1 else cross[0] + 50 * pad
    return max(int(cross[0]) - pad, 0), int(stop) + pad


def plot_timeseries(ds: xr.Dataset, path, window: tuple | None = None):
    """The paper's Figure 1: sharpness with 2/eta, loss (log), ||A||^2, phases as bands."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    p = Path(path)
    if p.suffix not in FORMATS:
        raise EosdynError(f"--plot {str(p)!r}: the suffix must be one of {', '.join(FORMATS)}")
    if window is not None:
        ds = ds.sel(step=slice(*window))
    eta = float(ds.attrs["eta"])
    steps = ds["step"].values
    zoom = first_cycle_window(ds) if window is None else None
    if zoom and zoom[1] - zoom[0] > 0.5 * (steps[-1] - steps[0]):
        zoom = None  # the whole run is about one cycle: no zoom needed
    rows = 4 if zoom else 3
    fig, axes = plt.subplots(rows, 1, figsize=(9, 2.7 * rows), constrained_layout=True)
    for ax in axes[1:3]:
        ax.sharex(axes[0])
    ax = axes[0]
    ax.plot(*decimate(steps, ds["sharpness"].values), color="steelblue", lw=1, label="Λ = λmax(M)")
    ax.axhline(2 / eta, color="k", ls="--", lw=1, label="2/η")
    ax.set_ylabel("sharpness Λ")
    shade_phases(ax, ds)
    handles = ax.get_legend_handles_labels()[0]
    handles += [Patch(color=c, label=PHASE_NAMES[k]) for k, c in PHASE_COLOURS.items()]
    ax.legend(handles=handles, loc="lower right", fontsize=8, ncol=2)
    ax.set_title(
        f"GD on a two-layer linear network: m={ds.attrs['m']}, η={eta:g}, n={ds.attrs['n']}, "
        f"engine={ds.attrs['engine']} ({ds.attrs['status']})"
    )
    ax = axes[1]
    stride = int(ds.attrs.get("record_every", 1))
    label = "loss L" if stride == 1 else f"loss L (max over each {stride} steps)"
    ax.plot(*decimate(steps, ds["loss_window_max"].values), color="firebrick", lw=1, label=label)
    ax.set_yscale("log")
    ax.set_ylabel("loss ‖D‖²/n")
    shade_phases(ax, ds)
    ax.legend(loc="upper right", fontsize=8)
    ax = axes[2]
    ax.plot(*decimate(steps, ds["a_norm2"].values), color="darkgreen", lw=1, label="‖A‖²")
    ax.set_ylabel("‖A‖²")
    ax.set_xlabel("GD step t")
    shade_phases(ax, ds)
    ax.legend(loc="lower right", fontsize=8)
    if zoom:
        sub = ds.sel(step=slice(*zoom))
        ax = axes[3]
        ax.plot(sub["step"], sub["sharpness"], color="steelblue", lw=1.2, marker=".", ms=3)
        ax.axhline(2 / eta, color="k", ls="--", lw=1)
        ax.set_ylabel("Λ (first EoS cycle)")
        ax.set_xlabel("GD step t")
        shade_phases(ax, sub)
        twin = ax.twinx()
        twin.plot(sub["step"], sub["loss"], color="firebrick", lw=1)
        twin.set_yscale("log")
        twin.set_ylabel("loss", color="firebrick")
    fig.savefig(p, dpi=130)
    plt.close(fig)
    return p
