"""``eosdyn figures``: every figure in ``figures/`` rebuilt from ``scenarios/*.toml``.

A scenario file says how it is drawn in an optional ``[figure]`` table (the run parameters
are the rest of the file, read by :func:`eosdyn.model.scenario.load_scenario`)::

    [figure]
    kind = "indicator"            # a plot kind of eosdyn.plot.KINDS, "bifurcation" or "central-flow"
    window = [30000, 36000]       # optional: only these steps
    caption = "..."               # optional: what the figure shows (printed, for the README)
    runs = [{engine = "first-order"}]   # compare: more runs, as overrides of this scenario
    labels = ["exact GD", "first-order map"]

Without the table a scenario is drawn as a ``timeseries`` (Figure 1). The figure file is
``OUT_DIR/<scenario file stem>.png``. Runs are deterministic (seeded) and shared between
scenarios with equal parameters (the scenario's name aside); figures are written without
timestamps, so rebuilding gives the same files. The orbit diagrams, the longest to compute, are
computed on background threads (their numba kernels release the GIL) while the other figures
are drawn, and drawn last.
"""

from __future__ import annotations

import threading
import tomllib
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

from .. import plot as plotting
from ..api import simulate
from ..engines import METHODS
from ..errors import EosdynError, ParameterError
from ..model.params import Params, make_params
from ..model.scenario import load_scenario

#: keys of the [figure] table and the plot option each becomes
OPTION_KEYS = {"a_norm": "a_norm", "log": "log", "max_points": "max_points", "time": "time",
               "labels": "labels"}
#: [figure] keys of kind "bifurcation": arguments of eosdyn.analysis.bifurcation.bifurcation and its plot
BIFURCATION_KEYS = {"param", "values", "keep", "mode", "observable", "transient", "log_x", "title",
                    "xlim"}
#: [figure] keys of kind "central-flow": GD vs a theory (eosdyn.analysis.compare_edge)
EDGE_KEYS = {"against", "avg_window"}
KEYS = {"kind", "window", "caption", "runs", *OPTION_KEYS, *BIFURCATION_KEYS, *EDGE_KEYS}
#: the plot options each kind accepts
KIND_OPTIONS = {"timeseries": {"a_norm"}, "spectrum": {"log"}, "portrait": {"max_points"},
                "compare": {"time", "labels", "runs"}, "edge": {"labels", "runs"}, "bifurcation": BIFURCATION_KEYS,
                "central-flow": EDGE_KEYS}
EXTRA_KINDS = ("bifurcation", "central-flow")


@dataclass
class FigureSpec:
    """How one scenario is drawn."""

    scenario: Path
    kind: str = "timeseries"
    window: tuple | None = None
    caption: str = ""
    runs: tuple = ()
    options: dict | None = None


def read_figure(path) -> FigureSpec:
    """The ``[figure]`` table of a scenario file, validated (one-line errors)."""
    p = Path(path)
    try:
        table = tomllib.loads(p.read_text()).get("figure", {})
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise EosdynError(f"scenario file {p.name!r} cannot be read: {exc}") from None
    unknown = sorted(set(table) - KEYS)
    if unknown:
        raise EosdynError(f"scenario file {p.name!r}: unknown [figure] key {unknown[0]!r}; "
                          f"known: {', '.join(sorted(KEYS))}")
    kind = table.get("kind", "timeseries")
    if kind not in plotting.KINDS + EXTRA_KINDS:
        raise EosdynError(f"scenario file {p.name!r}: [figure] kind must be one of "
                          f"{', '.join(plotting.KINDS + EXTRA_KINDS)}; got {kind!r}")
    misplaced = sorted(set(table) - {"kind", "window", "caption"} - KIND_OPTIONS.get(kind, set()))
    if misplaced:
        raise EosdynError(f"scenario file {p.name!r}: [figure] key {misplaced[0]!r} does not apply "
                          f"to kind {kind!r}")
    window = table.get("window")
    if window is not None:
        if len(window) != 2 or not all(isinstance(v, int) for v in window):
            raise EosdynError(f"scenario file {p.name!r}: [figure] window must be [start, stop]")
        window = tuple(window)
    runs = table.get("runs", [])
    if not isinstance(runs, list) or not all(isinstance(r, dict) for r in runs):
        raise EosdynError(f"scenario file {p.name!r}: [figure] runs must be a list of tables")
    options = {OPTION_KEYS.get(k, k): v for k, v in table.items() if k in KIND_OPTIONS.get(kind, ())}
    options.pop("runs", None)
    return FigureSpec(p, kind, window, str(table.get("caption", "")), tuple(runs), options)


class RunCache:
    """Runs by parameters, so scenarios that share a run simulate it once."""

    def __init__(self, progress: bool = False):
        self.progress = progress
        self.runs: dict[Params, object] = {}

    def get(self, params: Params):
        key = params.replace(name="custom")  # the scenario's name labels the run, it does not change it
        if key not in self.runs:
            self.runs[key] = simulate(params, progress=self.progress)
        return self.runs[key]


def build(scenarios="scenarios", out_dir="figures", fmt: str = "png", only=None, progress=False,
          echo=print) -> list[Path]:
    """Draw every scenario of ``scenarios`` into ``out_dir``; returns the files written.

    ``only``: scenario stems to draw (default all). ``echo`` receives one line per figure and
    a note for each figure that cannot be drawn here (then it is skipped, not an error).
    """
    src, out = Path(scenarios), Path(out_dir)
    if not src.is_dir():
        raise ParameterError("scenarios", f"{str(src)!r} is not a folder")
    if not out.is_dir():
        raise ParameterError("out_dir", f"{str(out)!r} is not a folder")
    if f".{fmt}" not in plotting.FORMATS:
        raise ParameterError("fmt", f"must be one of png, pdf, svg; got {fmt!r}")
    files = sorted(src.glob("*.toml"))
    if only:
        missing = sorted(set(only) - {f.stem for f in files})
        if missing:
            raise EosdynError(f"no scenario {missing[0]!r} in {str(src)!r}")
        files = [f for f in files if f.stem in set(only)]
    cache, written = RunCache(progress), []
    specs = [(f, read_figure(f)) for f in files]
    heavy = [(f, spec) for f, spec in specs if spec.kind == "bifurcation"]
    orbits = {f: in_background(_orbit_data, spec, progress) for f, spec in heavy}
    for f, spec in [(f, spec) for f, spec in specs if f not in orbits] + heavy:
        target = out / f"{f.stem}.{fmt}"
        if draw(spec, target, cache, echo, orbits.get(f)):
            written.append(target)
            echo(f"{target}  ({spec.kind}) {spec.caption}".rstrip())
    return sorted(written)


def in_background(fn, *args) -> Future:
    """``fn(*args)`` in a daemon thread, as a future: the orbit diagrams run beside the other
    figures (their kernels release the GIL), and Ctrl-C ends the command at once, where the
    threads of an executor would be joined at exit (minutes of orbit kernels)."""
    fut: Future = Future()

    def work():
        if not fut.set_running_or_notify_cancel():
            return
        try:
            fut.set_result(fn(*args))
        except BaseException as exc:  # noqa: BLE001  (handed to the caller by fut.result())
            fut.set_exception(exc)

    threading.Thread(target=work, name="eosdyn-orbit", daemon=True).start()
    return fut


def draw(spec: FigureSpec, target: Path, cache: RunCache, echo=print, orbit=None) -> bool:
    """Draw one scenario's figure; False (with a note) when it cannot be drawn here.

    ``orbit``: for kind ``bifurcation``, a future of :func:`_orbit_data` already under way."""
    params = load_scenario(spec.scenario)
    if spec.kind == "bifurcation":
        return _bifurcation(spec, target, echo, orbit.result() if orbit else _orbit_data(spec, cache.progress))
    if spec.kind == "central-flow":   # GD's moving averages vs the theory's predictions
        from ..analysis.compare_edge import compare_edge, plot_compare_edge

        opts = spec.options
        plot_compare_edge(compare_edge(params, against=opts.get("against", "central-flow"),
                                       window=opts.get("avg_window"), progress=cache.progress), target)
        return True
    given = list(spec.options.get("labels") or [])
    runs, labels = [cache.get(params)], given[:1]
    for i, override in enumerate(spec.runs):
        where = f"scenario file {spec.scenario.name!r}: [figure] runs[{i}]"
        try:
            run_params = make_params(**{**params.to_dict(), **override})
        except ParameterError as exc:
            raise EosdynError(f"{where}: {exc}") from None
        if run_params.engine not in METHODS:  # a known engine this installation lacks
            echo(f"note: {where}: engine {run_params.engine!r} is not available here; run skipped")
            continue
        runs.append(cache.get(run_params))
        labels.extend(given[i + 1:i + 2])  # the label of this run, if one was given
    options = dict(spec.options)
    if spec.kind in ("compare", "edge"):
        options["labels"] = labels if given else None
    plotting.plot_run(runs, target, kind=spec.kind, window=spec.window, **options)
    return True


def _orbit_data(spec: FigureSpec, progress=False):
    """The orbit diagram's dataset (:mod:`eosdyn.analysis.bifurcation`), or None where it is missing."""
    try:
        from ..analysis.bifurcation import bifurcation
    except ImportError:
        return None
    opts = {k: v for k, v in spec.options.items() if k not in ("log_x", "title", "xlim")}
    return bifurcation(load_scenario(spec.scenario), progress=progress, **opts)


def _bifurcation(spec: FigureSpec, target: Path, echo, ds) -> bool:
    """Draw an orbit diagram (skipped with a note where :mod:`eosdyn.analysis.bifurcation` is missing)."""
    if ds is None:
        echo(f"note: {spec.scenario.name}: eosdyn.analysis.bifurcation is not available here; "
             f"{target.name} skipped")
        return False
    from .scan import plot_bifurcation

    plot_opts = {k: spec.options[k] for k in ("log_x", "title", "xlim") if k in spec.options}
    if "xlim" in plot_opts:
        plot_opts["xlim"] = tuple(plot_opts["xlim"])
    plot_bifurcation(ds, target, **plot_opts)
    return True
