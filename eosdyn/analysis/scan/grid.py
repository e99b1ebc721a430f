"""Scan grids: scanned parameters (axes), options and the :class:`ScanSpec` of a whole scan."""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field

import numpy as np

from ...errors import EosdynError, ParameterError
from ...kernels import batch_numba as B
from ...model.params import Params, make_params
from ...status import Status

#: the engines a scan or an orbit diagram runs (network: cells batched by jax.vmap, eosdyn.nets.scan)
SCAN_ENGINES = ("reduced", "first-order", "network")
#: parameters a scan axis may vary
SCANNABLE = ("eta", "m", "seed", "init_scale", "sigma_a", "sigma_w", "lambda_max", "lambda_min",
             "n", "rank", "d", "label_fraction", "momentum", "batch_size", "batch_seed")
INTEGER = ("m", "seed", "n", "rank", "d", "batch_size", "batch_seed")
#: the phase of a cell (``phase`` variable), see :func:`classify`
PHASES = ("lazy", "sharpening", "catapult", "eos", "divergent")
NOT_RUN = int(Status.NOT_RUN)
BACKENDS = ("auto", "serial", "threads", "processes", "prange")
STATUS_NAMES = {int(s): s.label for s in Status}


@dataclass(frozen=True)
class Axis:
    """One scanned parameter: its name, values, and how they were given (``list``,
    ``linear`` or ``log``: the scale plots use)."""

    name: str
    values: tuple
    scale: str = "list"
    #: how it was written (``eta=0.002:0.2:64:log``), for messages
    text: str = field(default="", compare=False)


def parse_axis(text: str) -> Axis:
    """``NAME=SPEC`` (e.g. ``eta=0.002:0.2:64:log``) into an :class:`Axis`; errors name ``grid``
    and quote ``text``, as the user wrote it."""
    if "=" not in text:
        raise ParameterError("grid", f"{text!r}: must be NAME=VALUES, e.g. eta=0.002:0.2:64:log")
    name, spec = text.split("=", 1)
    try:
        return dataclasses.replace(parse_values(name.strip(), spec.strip()), text=text)
    except ParameterError as exc:
        raise ParameterError("grid", f"{text!r}: {exc}") from None


def parse_values(name: str, spec) -> Axis:
    """Values of a scanned parameter from ``a,b,c``, ``start:stop:num``, ``start:stop:num:log``
    (geometric) or a list of numbers.

    Integer parameters (``m``, ``seed``, ...) are rounded to the nearest integer; ranges whose
    rounded values repeat are an error.
    """
    key = name.replace("-", "_")
    if key not in SCANNABLE:
        raise ParameterError(key, f"cannot be scanned; scannable: {', '.join(SCANNABLE)}")
    if isinstance(spec, list | tuple):
        values, scale = _numbers(key, spec), "list"
    elif ":" in str(spec):
        values, scale = _range(key, str(spec))
    else:
        values, scale = _numbers(key, str(spec).split(",")), "list"
    if key in INTEGER:
        ints = [int(round(v)) for v in values]
        if any(abs(v - i) > 1e-9 * max(1.0, abs(v)) for v, i in zip(values, ints, strict=True)) \
                and scale == "list":
            raise ParameterError(key, f"must be integers, got {spec!r}")
        values = ints
    if len(set(values)) != len(values):
        raise ParameterError(key, f"values must be distinct, got {list(values)}")
    return Axis(key, tuple(values), scale)


def _numbers(key, items) -> list:
    try:
        values = [float(v) for v in items]
    except (TypeError, ValueError):
        raise ParameterError(key, f"must be numbers, got {items!r}") from None
    if not values or not all(math.isfinite(v) for v in values):
        raise ParameterError(key, "must be a non-empty list of finite numbers")
    return values


def _range(key, spec):
    parts = spec.split(":")
    log = len(parts) == 4 and parts[3].strip().lower() in ("log", "geom")
    if len(parts) not in (3, 4) or (len(parts) == 4 and not log):
        raise ParameterError(key, f"range must be START:STOP:NUM or START:STOP:NUM:log, got {spec!r}")
    try:
        start, stop, num = float(parts[0]), float(parts[1]), int(parts[2])
    except ValueError:
        raise ParameterError(key, f"range must be START:STOP:NUM[:log] (numbers), got {spec!r}") from None
    if num < 1:
        raise ParameterError(key, f"range needs NUM >= 1, got {num}")
    if log:
        if not (start > 0 and stop > 0):
            raise ParameterError(key, f"log range needs START, STOP > 0, got {spec!r}")
        return list(np.geomspace(start, stop, num)), "log"
    return list(np.linspace(start, stop, num)), "linear"


@dataclass(frozen=True)
class ScanOptions:
    """What each cell records beyond its summaries.

    Attributes
    ----------
    record : tuple of str
        Trajectory observables (subset of ``loss``, ``eta_sharpness``, ``a_norm2``, ``Dv1``).
    record_every : int or None
        Trajectory stride (default ``ceil(steps / 1000)``).
    tail : int or None
        ``tail_min/max_eta_sharpness`` are over steps ``>= steps - tail`` (default ``steps // 10``).
    sharpness_every : int
        Test ``Lambda > 2/eta`` every k-th step (first_cross_step, n_eos_excursions and
        n_period2_flips resolve k; flips are only meaningful at k = 1, the default).
    lyapunov : bool
        Also compute the output Lyapunov exponent over the tail (costs a tangent map per step).
    block_cells : int or None
        Cells per block (default: about 5e6 cell-steps per block).
    orbit : int
        Keep the last ``orbit`` values of every observable (bifurcation diagrams).
    lyap_start : int or None
        First step of the Lyapunov window (default: the tail).
    renorm : int
        Tangent renormalisation period.
    lazy_tol : float
        A cell that never reaches the edge is ``lazy`` when ``|Lambda_final / Lambda_0 - 1|`` is
        at most this.
    """

    record: tuple = ("loss", "eta_sharpness")
    record_every: int | None = None
    tail: int | None = None
    sharpness_every: int = 1
    lyapunov: bool = False
    block_cells: int | None = None
    orbit: int = 0
    lyap_start: int | None = None
    renorm: int = 10
    lazy_tol: float = 0.1

    def check(self, steps: int) -> None:
        bad = [o for o in self.record if o not in B.OBSERVABLES]
        if bad:
            raise ParameterError("record", f"must be among {', '.join(B.OBSERVABLES)}; got {bad[0]!r}")
        for key in ("record_every", "tail", "block_cells", "lyap_start"):
            v, lo = getattr(self, key), (0 if key in ("tail", "lyap_start") else 1)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < lo):
                raise ParameterError(key, f"must be an integer >= {lo}, got {v!r}")
        for key in ("sharpness_every", "renorm"):
            if not isinstance(getattr(self, key), int) or getattr(self, key) < 1:
                raise ParameterError(key, f"must be an integer >= 1, got {getattr(self, key)!r}")
        if self.tail is not None and self.tail > steps:
            raise ParameterError("tail", f"must be <= steps = {steps}, got {self.tail}")
        if not 0 <= self.orbit <= steps + 1:
            raise ParameterError("keep", f"must be between 0 and steps + 1 = {steps + 1}, got {self.orbit}")


@dataclass(frozen=True)
class ScanSpec:
    """A full scan: base parameters, axes (outermost first) and options."""

    base: Params
    axes: tuple
    options: ScanOptions = field(default_factory=ScanOptions)

    def __post_init__(self):
        names = [a.name for a in self.axes]
        if len(set(names)) != len(names):
            raise EosdynError(f"a parameter is scanned twice: {names}")
        from ...engines import METHODS

        if not METHODS[self.base.engine].supports_scan:
            ok = ", ".join(k for k, e in METHODS.items() if e.supports_scan)
            raise ParameterError("engine", f"must be one of {ok} in scans and diagrams "
                                 f"(engines that run as batch cells); got {self.base.engine!r}")
        self.options.check(self.base.steps)

    @property
    def shape(self) -> tuple:
        return tuple(len(a.values) for a in self.axes)

    @property
    def ncells(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def every(self) -> int:
        o = self.options
        if o.record_every is not None:
            return o.record_every
        return max(1, -(-self.base.steps // 1000))

    @property
    def nrec(self) -> int:
        return self.base.steps // self.every + 1 if self.options.record else 0

    @property
    def tail_start(self) -> int:
        tail = self.options.tail if self.options.tail is not None else self.base.steps // 10
        return self.base.steps - tail

    @property
    def lyap_start(self) -> int:
        if not self.options.lyapunov:
            return self.base.steps + 1
        o = self.options
        return o.lyap_start if o.lyap_start is not None else self.tail_start

    @property
    def chunks(self) -> tuple:
        """Block shape: filled from the innermost axis up to ``block_cells`` cells."""
        target = self.options.block_cells or int(min(4096, max(1, 5e6 // (self.base.steps + 1))))
        chunks = []
        for size in reversed(self.shape):
            c = max(1, min(size, target))
            chunks.append(c)
            target = max(1, target // c)
        return tuple(reversed(chunks))

    @property
    def block_grid(self) -> tuple:
        return tuple(-(-s // c) for s, c in zip(self.shape, self.chunks, strict=True))

    @property
    def nblocks(self) -> int:
        return int(np.prod(self.block_grid, dtype=np.int64))

    def block_slices(self, b: int) -> tuple:
        idx = np.unravel_index(b, self.block_grid) if self.axes else ()
        return tuple(slice(i * c, min((i + 1) * c, s))
                     for i, c, s in zip(idx, self.chunks, self.shape, strict=True))

    def cell_params(self, index: tuple) -> Params:
        """The validated parameters of the cell at grid ``index``."""
        return self.base.replace(**{a.name: a.values[i] for a, i in zip(self.axes, index, strict=True)})

    def to_json(self) -> str:
        return json.dumps({
            "base": self.base.to_dict(),
            "axes": [[a.name, list(a.values), a.scale] for a in self.axes],
            "options": dataclasses.asdict(self.options),
        }, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ScanSpec:
        d = json.loads(text)
        opts = d["options"]
        opts["record"] = tuple(opts["record"])
        axes = tuple(Axis(n, tuple(v), s) for n, v, s in d["axes"])
        return cls(make_params(**d["base"]), axes, ScanOptions(**opts))


def load_scan_scenario(path, **overrides) -> tuple[Params, list]:
    """A scenario TOML file with an optional ``[scan]`` table of axes (``eta = "0.002:0.2:64:log"``,
    ``m = [256, 1024]``): the base :class:`Params` (``overrides`` applied) and the axes."""
    from ...model.scenario import params_from, read_tables

    values, extra = read_tables(path)
    grid = extra.get("scan", {})
    return params_from(values, path, **overrides), [parse_values(k, v) for k, v in grid.items()]


# ------------------------------------------------------------------------------------- API


def make_spec(params: Params | None = None, axes=(), options: ScanOptions | None = None,
              **option_kwargs) -> ScanSpec:
    """A :class:`ScanSpec` from base params, axes (:class:`Axis` or ``"name=spec"`` strings,
    or ``(name, values)`` pairs) and options; validates every cell's parameters."""
    params = params or make_params()
    parsed = []
    for a in axes:
        if isinstance(a, Axis):
            parsed.append(a)
        elif isinstance(a, str):
            parsed.append(parse_axis(a))
        else:
            parsed.append(parse_values(a[0], a[1]))
    options = options or ScanOptions(**option_kwargs)
    spec = ScanSpec(params, tuple(parsed), options)
    for a in spec.axes:  # every value with the base values, then every cell when affordable
        try:
            for v in a.values:
                make_params(**{**params.to_dict(), a.name: v})
        except ParameterError as exc:
            raise ParameterError("grid", f"{a.text or a.name!r}: {exc}") from None
    if spec.ncells <= 200_000:
        for index in np.ndindex(*spec.shape):
            spec.cell_params(index)
    return spec
