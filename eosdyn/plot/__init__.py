"""Figures from saved datasets only (no engine knowledge): runs, scans, orbit diagrams, the gallery."""

from .common import FORMATS, KINDS, Plot, check_path, decimate
from .portrait import plot_portrait
from .run import (
    plot_compare,
    plot_decomposition,
    plot_indicator,
    plot_run,
    plot_spectrum,
    plot_timeseries,
    run_labels,
)
from .scan import plot_bifurcation, plot_heatmap

__all__ = [
    "FORMATS", "KINDS", "Plot", "check_path", "decimate", "plot_bifurcation", "plot_compare", "plot_decomposition",
    "plot_heatmap", "plot_indicator", "plot_portrait", "plot_run", "plot_spectrum", "plot_timeseries", "run_labels",
]
