"""What every run figure shares: the :class:`Plot` record, decimation, phase shading, atomic saving."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import xarray as xr

from ..errors import ParameterError

PHASE_COLOURS = {1: "#cfe8cf", 2: "#f7c9c9", 3: "#f9e0b8", 4: "#cddcf2", 5: "#e4e4e4"}
#: saturated phase colours for trajectories (the pale ones above are for backgrounds)
PHASE_LINES = {0: "#7f7f7f", 1: "#2ca02c", 2: "#d62728", 3: "#ff7f0e", 4: "#1f77b4", 5: "#9e9e9e"}
PHASE_NAMES = {1: "I: sharpening", 2: "II: above 2/η, rising", 3: "III: above 2/η, falling",
               4: "IV: below 2/η, falling",
               5: "stationary Λ (|ΔΛ| ≤ 1e-9·2/η) or settled\n(within 0.1% of 2/η to the end)"}
#: a row is drawn "settled" when Lambda stays within this fraction of the edge for the rest of the run
SETTLED_RTOL = 1e-3
FORMATS = (".png", ".pdf", ".svg")
KINDS = ("timeseries", "indicator", "spectrum", "decomposition", "portrait", "compare", "edge")
SHARP, LOSS, ANORM, ANOMALY, HESSIAN = "steelblue", "firebrick", "darkgreen", "#ff7f0e", "#6a3d9a"
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
    starts = edges[:-1]
    seg = np.repeat(np.arange(columns), np.diff(edges))  # the column of every point
    valid = ~np.isnan(y)  # +-inf are extremes like any value (nanargmin / nanargmax)
    lo_y, hi_y = np.where(valid, y, np.inf), np.where(valid, y, -np.inf)
    lo, hi = np.minimum.reduceat(lo_y, starts), np.maximum.reduceat(hi_y, starts)
    # first index of each column's minimum and maximum (as nanargmin / nanargmax pick them)
    i = _first_per_column(seg, valid & (lo_y == lo[seg]), columns)
    j = _first_per_column(seg, valid & (hi_y == hi[seg]), columns)
    ok = np.maximum.reduceat(np.isfinite(y), starts)  # columns with at least one finite value
    keep = np.unique(np.concatenate([i[ok], j[ok]]))  # sorted: in step order, each index once
    return x[keep], y[keep]


def _first_per_column(seg: np.ndarray, hit: np.ndarray, columns: int) -> np.ndarray:
    """Index of the first ``hit`` in each column (-1 where none)."""
    first = np.full(columns, -1)
    idx = np.flatnonzero(hit)
    cols, pos = np.unique(seg[idx], return_index=True)
    first[cols] = idx[pos]
    return first


def phase_spans(steps: np.ndarray, phase: np.ndarray):
    """Runs of constant phase as ``(start_step, stop_step, phase)`` triples."""
    if phase.size == 0:
        return []
    change = np.flatnonzero(np.diff(phase)) + 1
    starts = np.concatenate([[0], change])
    stops = np.concatenate([change, [phase.size]])
    ends = np.append(steps[1:], steps[-1] + 1)
    return [(steps[a], ends[b - 1], int(phase[a])) for a, b in zip(starts, stops, strict=True)]


def window_counts(ds: xr.Dataset) -> np.ndarray | None:
    """Steps per phase code in each row's window (rows x codes), or None when the run has no
    per-step windows (tracking off, or a file from an older eosdyn)."""
    if "window_phase_fraction" not in ds.variables or "window_steps" not in ds.variables:
        return None
    frac = ds["window_phase_fraction"].values
    if frac.size == 0 or not np.isfinite(frac).all():
        return None
    return frac * ds["window_steps"].values[:, None]


def edge_value(ds: xr.Dataset) -> float:
    """The edge drawn against ``Lambda``: the run's own edge where it has one, else ``2/eta``."""
    a = ds.attrs
    if "edge" in a and a.get("edge_sharpness", "sharpness") == "sharpness":
        return float(a["edge"])
    return 2.0 / float(a["eta"])


def settled_rows(ds: xr.Dataset, counts: np.ndarray | None, rtol: float = SETTLED_RTOL,
                 min_share: float = 0.1) -> np.ndarray:
    """Rows from which ``Lambda`` stays within ``rtol`` times the edge until the end of the run
    and never goes above 2/eta again (no phase II/III step in any later window), when that tail
    is at least ``min_share`` of the run's steps; none for a diverged run. A converged tail where
    ``Lambda`` creeps up by 1e-5 per step is "settled", not "sharpening"."""
    lam = ds["sharpness"].values.astype(float)
    if lam.size == 0 or ds.attrs.get("status") == "diverged" or not np.isfinite(lam).all():
        return np.zeros(lam.size, dtype=bool)
    hi = np.maximum.accumulate(lam[::-1])[::-1]
    lo = np.minimum.accumulate(lam[::-1])[::-1]
    flat = hi - lo <= rtol * edge_value(ds)
    above = counts[:, 2] + counts[:, 3] if counts is not None else np.isin(ds["phase"].values, (2, 3))
    later_above = np.cumsum(above[::-1])[::-1] > 0
    settled = flat & ~later_above  # a suffix of the rows: both conditions only get easier later
    steps = ds["step"].values
    if not settled.any() or steps[-1] - steps[np.argmax(settled)] < min_share * (steps[-1] - steps[0]):
        return np.zeros(lam.size, dtype=bool)  # the last few rows of any run are trivially flat
    return settled


def display_counts(ds: xr.Dataset) -> tuple[np.ndarray | None, np.ndarray]:
    """``(counts, phase)`` as drawn: :func:`window_counts` and the recorded phase, with the
    sharpening / falling steps of settled rows (:func:`settled_rows`) counted as stationary."""
    counts, phase = window_counts(ds), ds["phase"].values.copy()
    settled = settled_rows(ds, counts)
    if settled.any():
        if counts is not None:
            counts = counts.copy()
            counts[settled, 5] += counts[settled, 1] + counts[settled, 4]
            counts[settled, 1] = counts[settled, 4] = 0.0
        phase[settled & np.isin(phase, (1, 4))] = 5
    return counts, phase


def phase_columns(steps: np.ndarray, counts: np.ndarray, columns: int = 1500):
    """Display columns of equal width in steps and the fraction of each phase code in each.

    Row ``k``'s window (the steps after row ``k - 1`` up to ``steps[k]``) is added to the column
    holding ``steps[k]``; nothing is sampled, so a window that alternates phases every step
    shows as its mix, whatever the stride. Returns ``(edges, fractions)``; columns without
    steps have all-zero fractions.
    """
    ncol = int(max(1, min(columns, steps.size - 1)))
    edges = np.linspace(steps[0], steps[-1], ncol + 1)
    col = np.clip(np.searchsorted(edges, steps, side="left") - 1, 0, ncol - 1)
    acc = np.zeros((ncol, counts.shape[1]))
    np.add.at(acc, col[1:], counts[1:])
    acc[0] += counts[0]
    total = acc.sum(axis=1, keepdims=True)
    return edges, np.divide(acc, total, out=np.zeros_like(acc), where=total > 0)


def shade_phases(ax, ds: xr.Dataset, max_spans: int = 400, levels: int = 64):
    """Colour the background of ``ax`` by the phases of the steps (every step, not only the
    recorded ones).

    Each display column is filled from the bottom with the phases its steps had, in proportion
    (the per-row windows ``window_phase_fraction``): a period-2 orbit recorded at an even stride
    shows as half I, half III instead of a solid III band. When every window is a single phase
    and there are few runs of it, the runs are drawn as spans. Runs without per-step windows
    fall back to the phase of each recorded step.
    """
    from matplotlib.colors import to_rgba

    steps = ds["step"].values
    counts, phase = display_counts(ds)
    pure = counts is None or bool(np.all(counts.max(axis=1) == counts.sum(axis=1)))
    spans = phase_spans(steps, phase)
    if pure and len(spans) <= max_spans:
        for a, b, ph in spans:
            if ph in PHASE_COLOURS:
                ax.axvspan(a, b, color=PHASE_COLOURS[ph], lw=0, zorder=0)
        return
    if counts is None:  # one-hot windows from the recorded phases
        counts = np.zeros((phase.size, 6))
        counts[np.arange(phase.size), np.clip(phase, 0, 5)] = 1.0
    edges, frac = phase_columns(steps, counts)
    order = [1, 2, 3, 4, 5, 0]  # stacked from the bottom; unknown (0) on top, unshaded
    cum = np.cumsum(frac[:, order], axis=1)
    centres = (np.arange(levels) + 0.5) / levels
    which = (cum[:, None, :] < centres[None, :, None]).sum(axis=2)  # (columns, levels)
    palette = np.array([to_rgba(PHASE_COLOURS.get(k, "white")) for k in order] + [to_rgba("white")])
    which[frac.sum(axis=1) == 0] = len(order)
    rgba = palette[which].transpose(1, 0, 2)  # (levels, columns, 4)
    y0, y1 = ax.get_ylim()
    ax.imshow(rgba, aspect="auto", zorder=0, extent=(edges[0], edges[-1], y0, y1),
              interpolation="nearest", origin="lower")
    ax.set_ylim(y0, y1)


def phases_present(ds: xr.Dataset) -> set:
    """Phase codes 1-5 drawn for the run (every step when the run has per-step windows; settled
    rows count as stationary, see :func:`display_counts`)."""
    counts, phase = display_counts(ds)
    if counts is not None:
        return {k for k in range(1, 6) if counts[:, k].sum() > 0}
    return {int(k) for k in np.unique(phase) if 1 <= k <= 5}


def phase_handles(lines: bool = False, present=None):
    """Legend entries for the four phases (patches, or lines in the trajectory colours), and
    for stationary steps when ``present`` (a set of phase codes) includes them."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    codes = [1, 2, 3, 4] + ([5] if present is not None and 5 in present else [])
    if lines:
        return [Line2D([], [], color=PHASE_LINES[k], lw=2, label=PHASE_NAMES[k]) for k in codes]
    return [Patch(color=PHASE_COLOURS[k], label=PHASE_NAMES[k]) for k in codes]


def first_cycle_window(ds: xr.Dataset, pad: int = 40):
    """Steps around the first EoS cycle, or None: from the first excursion above 2/eta lasting
    >= 2 recorded steps to the start of the next one, so the cycle is seen to close (rising above
    2/eta again), padded by ``pad`` steps or a tenth of the cycle, whichever is more. Period-2
    flips are not cycles."""
    from ..analysis.summary import excursion_starts

    starts = excursion_starts(ds)
    if starts.size == 0:
        return None
    stop = int(starts[1]) if starts.size > 1 else int(starts[0]) + 50 * pad
    pad = max(pad, (stop - int(starts[0])) // 10)
    return max(int(starts[0]) - pad, 0), stop + pad


def select(ds: xr.Dataset, window) -> xr.Dataset:
    """The steps ``start <= t <= stop`` of ``ds`` (``window = (start, stop)``, None: all)."""
    if window is None:
        return ds
    start, stop = window
    sub = ds.sel(step=slice(start, stop))
    if sub["step"].size < 2:
        raise ParameterError("window", f"{start}:{stop} holds {sub['step'].size} recorded step(s); "
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


def check_path(path, name: str = "path") -> Path:
    """``path`` as a Path; one-line error (naming the parameter ``name``) unless its suffix is a
    figure format and its folder exists. An existing figure file is replaced."""
    p = Path(path)
    if p.suffix.lower() not in FORMATS:
        raise ParameterError(name, f"{str(p)!r}: the suffix must be one of {', '.join(FORMATS)}")
    if not p.parent.resolve().is_dir():
        raise ParameterError(name, f"{str(p)!r}: folder {str(p.parent)!r} does not exist")
    return p


def new_figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _new_file(path: Path, suffix: str) -> str:
    """A new empty hidden file beside ``path``, created with the process's umask applied."""
    for _ in range(100):
        tmp = str(path.parent / f".{path.name}.{os.urandom(4).hex()}{suffix}")
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            return tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name beside {str(path)!r}")


def save(fig, path: Path) -> Path:
    """Write ``fig`` atomically, without timestamps, so the same run gives the same bytes."""
    import matplotlib

    suffix = path.suffix.lower()
    meta = {".png": {"Software": None}, ".pdf": {"CreationDate": None, "Producer": None},
            ".svg": {"Date": None}}[suffix]
    tmp = _new_file(path, suffix)  # 0666 less the umask, like any new file (mkstemp would make it 0600)
    try:
        with matplotlib.rc_context({"svg.hashsalt": "eosdyn", "pdf.compression": 6}):
            fig.savefig(tmp, dpi=DPI, metadata=meta)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def edge_line(ax, ds, **kw):
    """The run's edge for ``Lambda`` (2/eta for GD; heavy ball's and Nesterov's own edges), else
    2/eta for reference (SGD, Adam: their edge applies to another sharpness, see plot kind edge)."""
    a = ds.attrs
    if a.get("edge_sharpness", "sharpness") != "sharpness" or a.get("optimizer", "gd") == "gd":
        return eta_line(ax, float(a["eta"]), **kw)
    label = {"momentum": "(2+2β)/η", "nesterov": "(2+2β)/((1+2β)η)"}.get(a["optimizer"], "edge")
    return ax.axhline(float(a["edge"]), **{"color": "k", "ls": "--", "lw": 1, "label": label, **kw})


def eta_line(ax, eta: float, factor: float = 2.0, **kw):
    label = "2/η" if factor == 2 else "1/η" if factor == 1 else f"{factor:g}/η"
    style = {"color": "k", "ls": "--", "lw": 1, "label": label, **kw}
    return ax.axhline(factor / eta, **style)


def zoom_to_data(ax, values, edge: float, line=None, margin: float = 0.08, reach: float = 0.5,
                 min_span: float = 0.1) -> bool:
    """Fit the y axis of ``ax`` to the finite ``values`` (a list of arrays) with a ``margin``.

    The span is at least ``min_span`` times the largest ``|value|``, so a flat curve is drawn
    flat in the middle of the panel, not as magnified rounding. The ``edge`` (its line ``line``)
    stays in view when it lies within ``reach`` spans of the data; otherwise the line is removed
    and the edge is written in the panel's top right corner, with where it is. Returns whether
    the edge is in view.
    """
    v = np.concatenate([np.asarray(x, dtype=float).ravel() for x in values])
    v = v[np.isfinite(v)]
    if v.size == 0:
        return True
    lo, hi = float(v.min()), float(v.max())
    span = max(hi - lo, min_span * max(abs(lo), abs(hi)), 1e-300)
    shown = lo - reach * span <= edge <= hi + reach * span
    if shown:
        lo, hi = min(lo, edge), max(hi, edge)
    centre, half = (lo + hi) / 2, max(hi - lo, min_span * max(abs(lo), abs(hi)), 1e-300) / 2
    ax.set_ylim(centre - half * (1 + 2 * margin), centre + half * (1 + 2 * margin))
    if not shown:
        if line is not None:
            label = line.get_label()
            line.remove()
        else:
            label = "edge"
        where = "above" if edge > hi else "below"
        arrow = "↑" if edge > hi else "↓"
        ax.text(0.99, 0.97 if edge > hi else 0.03,
                f"{arrow} {label} = {edge:.4g}: far {where} Λ, off the scale", transform=ax.transAxes,
                ha="right", va="top" if edge > hi else "bottom", fontsize=8,
                bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "0.6", "alpha": 0.9})
    return shown


def cap_log_axis(ax, top: float = 1e200) -> None:
    """Keep a log y axis below ``top``: with a diverged run's loss of 1e267 the ticks matplotlib
    places a stride beyond the view overflow to inf (values above ``top`` leave the panel)."""
    lo, hi = ax.get_ylim()
    if hi > top:
        ax.set_ylim(min(lo, top / 10), top)


def step_axis(ax, label: str = "GD step t") -> None:
    """Label ``ax``'s x axis as steps, with integer ticks only (a run of 7 steps is not drawn at
    step 2.5)."""
    from matplotlib.ticker import MaxNLocator

    ax.set_xlabel(label)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10]))


# --- Figure 1: time series ------------------------------------------------------------------
