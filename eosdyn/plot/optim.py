"""``edge``: each run's relevant sharpness against its own optimizer's edge of stability.

One panel per run: the sharpness that equilibrates at the run's edge (``sharpness`` for GD, heavy
ball and Nesterov, ``preconditioned_sharpness`` for RMSProp/Adam, ``batch_sharpness`` for SGD, see
:mod:`eosdyn.optim`) on a log axis with the edge as a dashed line; SGD and Adam panels also show the
full-batch sharpness Λ. A last panel overlays every run's ``edge_ratio`` (1 = at the edge).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ..errors import EosdynError
from .common import LOSS, SHARP, Plot, check_path, decimate, new_figure, save, select, step_axis

NAMES = {"sharpness": "Λ = λmax(M)", "batch_sharpness": "batch sharpness E_B[g_Bᵀ H_B g_B / ‖g_B‖²]",
         "preconditioned_sharpness": "preconditioned sharpness λmax(P⁻¹H)"}
EDGES = {"gd": "2/η", "momentum": "(2+2β)/η", "nesterov": "(2+2β)/((1+2β)η)", "rmsprop": "2/η",
         "adam": "(2+2β₁)/((1−β₁)η)"}


def describe_optimizer(ds: xr.Dataset) -> str:
    """``momentum β=0.9, η=0.019`` (``SGD b=10`` for mini-batches)."""
    a = ds.attrs
    opt = a.get("optimizer", "gd")
    parts = [opt if opt != "gd" or "batch_size" not in a else "SGD"]
    if opt in ("momentum", "nesterov"):
        parts.append(f"β={a['momentum']:g}")
    if opt == "adam":
        parts.append(f"β₁={a['beta1']:g}")
    if "batch_size" in a:
        parts.append(f"b={int(a['batch_size'])}")
    return " ".join(parts) + f", η={float(a['eta']):g}"


def plot_edge(runs, path, window=None, labels=None) -> Plot:
    """One panel per run (relevant sharpness and its edge), then all ``edge_ratio`` overlaid."""
    p = check_path(path)
    runs = [runs] if isinstance(runs, xr.Dataset) else list(runs)
    runs = [select(ds, window) for ds in runs]
    labels = list(labels) if labels else [describe_optimizer(ds) for ds in runs]
    if len(labels) != len(runs):
        raise EosdynError(f"{len(labels)} labels for {len(runs)} runs")
    for ds in runs:
        if "edge_ratio" not in ds:
            raise EosdynError("plot kind 'edge' needs runs with edge_ratio (eosdyn >= optimizers)")
    plot = Plot(p, "edge")
    fig = new_figure(9, 2.5 * (len(runs) + 1))
    axes = np.atleast_1d(fig.subplots(len(runs) + 1, 1, sharex=True))
    for ax, ds, label in zip(axes[:-1], runs, labels, strict=True):
        _run_panel(plot, ax, ds, label)
    ax = axes[-1]
    for i, (ds, label) in enumerate(zip(runs, labels, strict=True)):
        plot.draw(ax, f"edge_ratio/{label}", *decimate(ds["step"].values, ds["edge_ratio"].values),
                  color=f"C{i % 10}", lw=0.9, label=label)
    ax.axhline(1.0, color="k", ls="--", lw=1, label="the edge")
    ax.set_ylabel("sharpness / edge")
    ax.set_yscale("log")
    step_axis(ax, "step t")
    ax.legend(loc="lower right", fontsize=8, framealpha=0.9)
    return Plot(save(fig, p), plot.kind, plot.data)


def _run_panel(plot: Plot, ax, ds: xr.Dataset, label: str) -> None:
    a = ds.attrs
    rel = a.get("edge_sharpness", "sharpness")
    steps = ds["step"].values
    edge = float(a["edge"])
    plot.draw(ax, f"{rel}/{label}", *decimate(steps, ds[rel].values), color=SHARP if rel == "sharpness" else LOSS,
              lw=0.9, alpha=1.0 if rel == "sharpness" else 0.75, label=NAMES[rel])
    if rel != "sharpness":   # on top: the batch sharpness is a noisy band
        plot.draw(ax, f"sharpness/{label}", *decimate(steps, ds["sharpness"].values), color="k", lw=1.0,
                  label="Λ = λmax(M) (full batch)")
    ax.axhline(edge, color="k", ls="--", lw=1, label=f"edge {EDGES.get(a.get('optimizer', 'gd'), '')} = {edge:.4g}")
    ax.set_yscale("log")
    ax.set_ylabel("sharpness")
    late = _late(ds)
    ax.set_title(f"{label}: late-time mean {rel}/edge = {late:.3f}", fontsize=9)
    ax.legend(loc="best", fontsize=8, framealpha=0.9)


def _late(ds: xr.Dataset) -> float:
    from ..analysis.summary import late_edge_ratio

    return late_edge_ratio(ds)
