"""Figures from saved datasets only (no engine knowledge): runs, scans, orbit diagrams, the gallery.

:func:`plot_output` draws any eosdyn output by its kind (``attrs["eosdyn_kind"]``): runs as
:func:`plot_run` does, bifurcation files as the orbit diagram, scans as heatmaps, compare files
as the comparison.
"""

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
    "plot_heatmap", "plot_indicator", "plot_output", "plot_portrait", "plot_run", "plot_spectrum", "plot_timeseries",
    "run_labels",
]


def _kind(ds) -> str:
    from ..io.files import KINDS as OUTPUT_KINDS

    kind = ds.attrs.get("eosdyn_kind", "run")
    if kind not in OUTPUT_KINDS:
        from ..errors import EosdynError

        raise EosdynError(f"not an eosdyn output: attrs['eosdyn_kind'] is {kind!r}")
    return kind


def plot_output(outputs, path, kind: str | None = None, window=None, **options):
    """Draw eosdyn outputs by their kind; returns the figure's path.

    Parameters
    ----------
    outputs : xarray.Dataset, path, or a list of them
        Runs (several only for ``kind="compare"``), or one scan, bifurcation or compare output
        (:func:`eosdyn.io.files.open_output` opens any of them).
    path : path-like
        ``.png``, ``.pdf`` or ``.svg`` (an existing file is replaced).
    kind : str, optional
        For runs: one of :data:`KINDS` (default ``timeseries``); the other outputs have one
        figure each.
    window, **options
        For runs, as :func:`plot_run`; for the others, their plot function's options
        (:func:`plot_bifurcation`, :func:`plot_heatmap`).
    """
    from pathlib import Path

    import xarray as xr

    from ..errors import EosdynError, ParameterError
    from ..io.files import open_output

    items = [outputs] if isinstance(outputs, xr.Dataset | str | Path) else list(outputs)
    datasets = [d if isinstance(d, xr.Dataset) else open_output(d) for d in items]
    kinds = [_kind(d) for d in datasets]
    if not datasets:
        raise EosdynError("no output to plot")
    if all(k == "run" for k in kinds):
        return plot_run(datasets, path, kind=kind or "timeseries", window=window, **options).path
    if len(datasets) > 1:
        raise EosdynError(f"several outputs are drawn together only when all are runs; got {', '.join(kinds)}")
    other = kinds[0]
    if kind is not None or window is not None:
        raise ParameterError("kind" if kind is not None else "window",
                             f"applies to runs only; a {other} output has one figure")
    ds = datasets[0]
    if other == "bifurcation":
        return Path(plot_bifurcation(ds, path, **options))
    if other == "scan":
        return Path(plot_heatmap(ds.load(), path, **options))
    if ds.attrs.get("against", "flow") != "flow":   # GD's time averages vs the central/stable flow
        from ..analysis.compare_edge import plot_compare_edge

        return Path(plot_compare_edge(ds, path, **options))
    from ..analysis.compare import plot_compare as plot_gd_vs_flow

    return Path(plot_gd_vs_flow(ds, path, **options))
