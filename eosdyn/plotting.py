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


def shade_phases(ax, ds: xr.Dataset, max_spans: int = 4000):
    """Colour the background of ``ax`` by the phase of each step (skipped if too fragmented)."""
    spans = phase_spans(ds["step"].values, ds["phase"].values)
    if len(spans) > max_spans:
        return
    for a, b, ph in spans:
        if ph in PHASE_COLOURS:
            ax.axvspan(a, b, color=PHASE_COLOURS[ph], lw=0, zorder=0)


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
    fig, axes = plt.subplots(3, 1, figsize=(9, 8), sharex=True, constrained_layout=True)
    ax = axes[0]
    shade_phases(ax, ds)
    ax.plot(*decimate(steps, ds["sharpness"].values), color="steelblue", lw=1, label="Λ = λmax(M)")
    ax.axhline(2 / eta, color="k", ls="--", lw=1, label="2/η")
    ax.set_ylabel("sharpness Λ")
    handles = ax.get_legend_handles_labels()[0]
    handles += [Patch(color=c, label=PHASE_NAMES[k]) for k, c in PHASE_COLOURS.items()]
    ax.legend(handles=handles, loc="lower right", fontsize=8, ncol=2)
    ax.set_title(
        f"GD on a two-layer linear network: m={ds.attrs['m']}, η={eta:g}, n={ds.attrs['n']}, "
        f"engine={ds.attrs['engine']} ({ds.attrs['status']})"
    )
    ax = axes[1]
    shade_phases(ax, ds)
    lmax = ds["loss_window_max"].values
    ax.plot(*decimate(steps, lmax), color="firebrick", lw=1, label="loss L")
    ax.set_yscale("log")
    ax.set_ylabel("loss ‖D‖²/n")
    ax.legend(loc="upper right", fontsize=8)
    ax = axes[2]
    shade_phases(ax, ds)
    ax.plot(*decimate(steps, ds["a_norm2"].values), color="darkgreen", lw=1, label="‖A‖²")
    ax.set_ylabel("‖A‖²")
    ax.set_xlabel("GD step t")
    ax.legend(loc="lower right", fontsize=8)
    fig.savefig(p, dpi=130)
    plt.close(fig)
    return p
