"""Pure functions behind ``eosdyn explore`` (no Bokeh): controls to parameters, live runs, and what
the page draws from a run.

A live run is exactly :func:`eosdyn.simulate` (``build_problem`` then ``run_problem``), with the
engine wrapped so the run reports its progress and can be cancelled between chunks.
"""

from __future__ import annotations

import html
import math
import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import xarray as xr

from ..analysis.summary import summarize
from ..api import build_problem, run_problem
from ..errors import EosdynError, ParameterError, TargetExistsError
from ..io import files as io
from ..kernels.layout import NPHASE
from ..model.params import Params, make_params
from ..plot.common import PHASE_COLOURS, PHASE_LINES

#: data presets of the data control: name -> the ``data`` parameter
PRESETS = {"synthetic": None, "digits": "digits"}
#: portraits: the variable on the x axis (Lambda on the y axis) and its label
PORTRAITS = {"a_norm2": "‖A‖²", "Dv1": "Dᵀv₁"}
#: which steps a portrait shows
WINDOWS = {"eos": "from the first step with ηΛ > 2", "all": "all steps"}
#: series drawn against the step
SERIES = ("eta_sharpness", "loss", "a_norm2")
#: min/max bins per series: at most twice this many points per line
COLUMNS = 1000
#: at most this many phase bands per panel
PHASE_BINS = 800
#: at most this many points on a portrait
PORTRAIT_POINTS = 20_000


# --- controls ---------------------------------------------------------------------------------


def number(text, integer: bool = False):
    """A control's text as a number (an ``int`` for integer controls when it is one), or the stripped
    text itself when it is no number, so that :class:`Params` names the parameter and its range."""
    s = str(text).strip()
    try:
        v = float(s)
    except ValueError:
        return s
    if integer and math.isfinite(v) and v == int(v):
        return int(v)
    return v


def params_from_controls(base: Params, eta, m, init_scale, steps, data: str = "synthetic",
                         engine: str = "reduced") -> Params:
    """``base`` with the page's controls (texts as typed) applied; one-line
    :class:`~eosdyn.errors.ParameterError` when a value is out of range."""
    values = {"eta": number(eta), "m": number(m, True), "init_scale": number(init_scale),
              "steps": number(steps, True), "engine": engine, "data": PRESETS.get(data, data)}
    return make_params(**{**base.to_dict(), **values})


def preset_of(params: Params) -> str:
    """The data control's value for ``params`` (a preset name, or the data file itself)."""
    for name, data in PRESETS.items():
        if params.data == data:
            return name
    return str(params.data)


def snap(x: float, digits: int = 4) -> float:
    """``x`` rounded to ``digits`` significant digits (a clicked value of eta)."""
    return float(f"{x:.{digits}g}")


# --- live runs --------------------------------------------------------------------------------


class Cancelled(Exception):
    """A live run was cancelled (a newer request replaced it)."""


@dataclass(eq=False)
class Job:
    """One live run: its parameters, progress in [0, 1] and a cancel flag (set from any thread)."""

    params: Params
    progress: float = 0.0
    cancelled: bool = False
    submitted: float = field(default_factory=time.perf_counter)


class _Watched:
    """An engine that reports progress to a :class:`Job` and stops when the job is cancelled."""

    def __init__(self, engine, job: Job):
        self._engine, self._job = engine, job
        self._total = job.params.steps + 1

    def advance(self, t0: int, t1: int) -> None:
        if self._job.cancelled:
            raise Cancelled
        self._engine.advance(t0, t1)
        self._job.progress = min(1.0, t1 / self._total)

    def __getattr__(self, name):
        return getattr(self._engine, name)


def run_live(job: Job) -> xr.Dataset:
    """The run :func:`eosdyn.simulate` gives for ``job.params``; raises :class:`Cancelled`."""
    pb = build_problem(job.params)
    return run_problem(pb, wrap=lambda engine: _Watched(engine, job))


def warm_kernels() -> None:
    """Compile (or load from numba's cache) the reduced and first-order kernels."""
    for engine in ("reduced", "first-order"):
        run_live(Job(make_params(m=4, steps=8, engine=engine)))


class Runner:
    """One daemon thread running live jobs in turn; ``done(job, view, error)`` is called from it.

    A cancelled job is skipped, or stops within one chunk of steps if it is running. Every
    exception becomes a one-line ``error`` (eosdyn's message for an :class:`EosdynError`), so no
    run can take the server down.
    """

    def __init__(self):
        self._queue: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name="eosdyn-explore-runs", daemon=True)
        self._thread.start()

    def submit(self, job: Job, done) -> None:
        self._queue.put((job, done))

    def _loop(self) -> None:
        while True:
            job, done = self._queue.get()
            if job.cancelled:
                continue
            try:
                view, error = run_view(run_live(job)), None
            except Cancelled:
                continue
            except EosdynError as exc:
                view, error = None, str(exc)
            except Exception as exc:  # noqa: BLE001  (shown in the page, never fatal)
                view, error = None, f"{type(exc).__name__}: {exc}"
            done(job, view, error)


# --- what the page draws ----------------------------------------------------------------------


def decimate(x: np.ndarray, y: np.ndarray, columns: int = COLUMNS):
    """Min/max per column, vectorised: the points :func:`eosdyn.plot.run.decimate` keeps.

    The ``x.size`` points are cut into ``columns`` consecutive groups (edges
    ``linspace(0, size, columns + 1)``); each group keeps the first position of its minimum and of
    its maximum (NaNs ignored; groups without a finite value dropped), in step order: at most
    ``2 columns`` points.
    """
    x, y = np.asarray(x), np.asarray(y, dtype=float)
    if x.size <= 2 * columns:
        return x, y
    starts = np.linspace(0, x.size, columns + 1).astype(np.int64)[:-1]
    group = np.repeat(np.arange(columns), np.diff(np.append(starts, x.size)))
    finite = np.add.reduceat(np.isfinite(y).astype(np.int64), starts) > 0
    keep = []
    for reduce in (np.fmin, np.fmax):
        extreme = reduce.reduceat(y, starts)
        hit = np.flatnonzero((y == extreme[group]) & finite[group])
        _, first = np.unique(group[hit], return_index=True)
        keep.append(hit[first])
    keep = np.unique(np.concatenate(keep))
    return x[keep], y[keep]


def series(ds: xr.Dataset, columns: int = COLUMNS) -> dict:
    """``{name: (steps, values)}`` for :data:`SERIES`, each min/max-decimated to at most
    ``2 columns`` points (every spike kept); non-positive losses become NaN (log axis)."""
    steps = ds["step"].values
    out = {}
    for key in SERIES:
        y = np.asarray(ds[key].values, dtype=float)
        if key == "loss":
            y = np.where(y > 0, y, np.nan)
        out[key] = decimate(steps, y, columns)
    return out


def phase_bands(steps: np.ndarray, phase: np.ndarray, bins: int = PHASE_BINS,
                weights: np.ndarray | None = None) -> dict:
    """Background bands ``left``, ``right``, ``phase``, ``color``: runs of constant phase.

    ``weights`` (rows x phase codes 0-5, optional): how many steps of each phase the row's window
    held (``window_phase_fraction * window_steps`` of a run), so a strided row is shaded by what
    its whole window did, not by its own step's phase (a period-2 orbit recorded at an even stride
    is not drawn as one phase). Without it each row counts once for its own ``phase``.
    With more than ``bins`` rows, the rows are cut into ``bins`` consecutive groups; each group (or
    row) takes its most frequent phase (ties: the smaller code) before equal neighbours merge, so
    fast alternations stay at most ``bins`` bands. Step ``k`` covers ``[k, next recorded step)``;
    phase 0 (unknown) gets no band.
    """
    steps, phase = np.asarray(steps), np.asarray(phase, dtype=np.int64)
    n = phase.size
    if n == 0:
        return {"left": [], "right": [], "phase": [], "color": []}
    if weights is None:
        weights = np.zeros((n, NPHASE))
        weights[np.arange(n), phase] = 1.0
    weights = np.nan_to_num(np.asarray(weights, dtype=np.float64))
    if n > bins:
        starts = np.linspace(0, n, bins + 1).astype(np.int64)[:-1]
        counts = np.add.reduceat(weights, starts, axis=0)
    else:
        starts, counts = np.arange(n), weights
    ph = counts.argmax(axis=1)
    ends = np.append(steps[starts[1:]], steps[-1] + 1)
    first = np.flatnonzero(np.diff(ph, prepend=-1) != 0)
    last = np.append(first[1:], ph.size) - 1
    keep = ph[first] > 0
    left, right, kept = steps[starts[first]][keep], ends[last][keep], ph[first][keep]
    return {"left": left, "right": right, "phase": kept,
            "color": [PHASE_COLOURS[int(k)] for k in kept]}


def run_bands(ds: xr.Dataset, bins: int = PHASE_BINS) -> dict:
    """:func:`phase_bands` of a run, weighted by its windows' phase counts when it has them."""
    weights = None
    if "window_phase_fraction" in ds and "window_steps" in ds:
        weights = ds["window_phase_fraction"].values * ds["window_steps"].values[:, None]
    return phase_bands(ds["step"].values, ds["phase"].values, bins, weights)


def portrait(ds: xr.Dataset, var: str, start: int = 0, max_points: int = PORTRAIT_POINTS) -> dict:
    """Segments of the trajectory ``(var, Lambda)`` at even steps ``>= start`` (above ``2/eta`` the
    one-step map flips the sign of ``D^T v_1``), coloured by phase, at a uniform stride of even
    steps so that at most ``max_points`` points remain; ``every`` is that stride."""
    steps = ds["step"].values
    even = (steps % 2 == 0) & (steps >= start)
    x, y = ds[var].values[even], ds["sharpness"].values[even]
    ph = ds["phase"].values[even]
    ok = np.isfinite(x) & np.isfinite(y)
    x, y, ph = x[ok], y[ok], ph[ok]
    every = max(1, -(-x.size // max_points))
    x, y, ph = x[::every], y[::every], ph[::every]
    return {"x0": x[:-1], "y0": y[:-1], "x1": x[1:], "y1": y[1:],
            "color": [PHASE_LINES.get(int(k), PHASE_LINES[0]) for k in ph[:-1]],
            "ends": (x[[0, -1]] if x.size else x, y[[0, -1]] if y.size else y), "every": every}


def run_view(ds: xr.Dataset) -> dict:
    """Everything the run panel shows, computed off the server's event loop."""
    summary = summarize(ds)
    starts = {"all": 0, "eos": summary["first_cross_step"] or 0}
    return {"ds": ds, "series": series(ds), "bands": run_bands(ds),
            "portrait": {(var, w): portrait(ds, var, starts[w]) for var in PORTRAITS for w in WINDOWS},
            "summary": summary}


# --- the summary ------------------------------------------------------------------------------

#: (key of :func:`eosdyn.summarize`, label) in the order shown; each value is an element with id
#: ``summary-<key>`` whose ``data-value`` attribute holds it exactly (repr of floats, ``none``)
SUMMARY = (
    ("eta", "η"), ("m", "m"), ("engine", "engine"), ("steps", "steps"), ("status", "status"),
    ("first_cross_step", "first step with ηΛ > 2"), ("max_eta_sharpness", "max ηΛ"),
    ("initial_eta_sharpness", "initial ηΛ"), ("n_eos_excursions", "EoS excursions (≥ 2 steps above 2/η)"),
    ("n_period2_flips", "period-2 flips"),
    ("final_loss", "final loss"), ("wall_time", "run time (s)"),
)


def exact(value) -> str:
    """A summary value as text that reads back exactly (``repr`` of floats, ``none`` for None)."""
    if value is None:
        return "none"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def shown(key: str, value) -> str:
    """A summary value as the page shows it."""
    if value is None:
        return "never" if key == "first_cross_step" else "–"
    if isinstance(value, float):
        return f"{value:.3g}" if key == "wall_time" else f"{value:.6g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def summary_html(summary: dict) -> str:
    """The summary as an HTML table with stable element ids (see :data:`SUMMARY`)."""
    rows = "".join(
        f'<tr><td style="color:#555;padding-right:12px">{html.escape(label)}</td>'
        f'<td id="summary-{key}" data-value="{html.escape(exact(summary[key]))}">'
        f"{html.escape(shown(key, summary[key]))}</td></tr>"
        for key, label in SUMMARY
    )
    return f'<table id="run-summary" style="font-size:13px;border-collapse:collapse">{rows}</table>'


def run_message(summary: dict) -> tuple[str, str]:
    """``(level, text)`` for the status line after a run: ``ok`` or ``warning`` (diverged)."""
    s = summary
    text = f"η = {s['eta']:g}, m = {s['m']}, {s['engine']}: {s['status']} ({s['message']}), " \
           f"{s['wall_time']:.2f} s"
    return ("warning" if s["status"] == "diverged" else "ok"), text


# --- saving -----------------------------------------------------------------------------------


def fresh_path(folder, stem: str, suffix: str = ".nc") -> Path:
    """``folder/stem.nc``, or ``stem-2.nc``, ``stem-3.nc``, ... : the first name not taken."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ParameterError("save_dir", f"must be an existing folder, got {str(folder)!r}")
    k = 1
    while True:
        path = folder / f"{stem}{'' if k == 1 else f'-{k}'}{suffix}"
        if not path.exists():
            return path
        k += 1


def save_run(ds: xr.Dataset, folder) -> Path:
    """Save ``ds`` with :func:`eosdyn.save` under a fresh name in ``folder``; the path written.

    :func:`eosdyn.save` refuses an existing target, so a name taken meanwhile is skipped, never
    overwritten."""
    a = ds.attrs
    stem = f"explore-eta{a['eta']:g}-m{a['m']}-{a['engine']}"
    while True:
        try:
            return io.save(ds, fresh_path(folder, stem)).resolve()
        except TargetExistsError:
            continue
