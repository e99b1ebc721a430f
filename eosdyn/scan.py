"""Parameter scans: a cartesian grid of runs of the reduced engines, resumable, parallel, on Dask.

A scan is a :class:`ScanSpec`: a base :class:`~eosdyn.params.Params`, one :class:`Axis` per
scanned parameter (``eta``, ``m``, ``seed``, ``init_scale``, ``lambda_max``, ...) and
:class:`ScanOptions`. Its cells (one run each) are grouped into fixed rectangular *blocks* of
the grid (the zarr chunks); a block is the unit of work, computed by :func:`compute_block` as
one call of :func:`eosdyn.kernels.batch_numba.run_cells`. Blocks depend only on the spec, never
on the number of workers, so every backend (serial, threads, processes, Dask) and any resumed
scan produce bitwise the same dataset.

The output (:func:`scan` writes it to zarr, one chunk per block) has one dimension per axis
(plus ``step`` for the strided trajectories) and the per-cell summaries ``status``,
``status_step``, ``first_cross_step``, ``n_eos_cycles``, ``initial_eta_sharpness``,
``final_eta_sharpness``, ``max_loss``, ``final_loss``, ``tail_min_eta_sharpness``,
``tail_max_eta_sharpness``, ``phase`` (and ``lyapunov`` on request).

Resuming: every block's variables are written chunk by chunk (each chunk file atomically, by
zarr's temporary file + rename) and its ``status`` chunk last, so a block whose ``status`` is
set was written completely; a rerun recomputes exactly the blocks that are not.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import tempfile
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import xarray as xr

from . import init as init_mod
from ._version import __version__
from .errors import EosdynError, ParameterError
from .kernels import batch_numba as B
from .kernels import layout as L
from .params import AUTO_MATERIALISE_LIMIT, FIELDS, Params, make_params
from .progress import progress_bar

#: parameters a scan axis may vary
SCANNABLE = ("eta", "m", "seed", "init_scale", "sigma_a", "sigma_w", "lambda_max", "lambda_min",
             "n", "rank", "d", "label_fraction")
INTEGER = ("m", "seed", "n", "rank", "d")
#: the phase of a cell (``phase`` variable), see :func:`classify`
PHASES = ("lazy", "sharpening", "catapult", "eos", "divergent")
NOT_RUN = -1
BACKENDS = ("auto", "serial", "threads", "processes", "prange")
STATUS_NAMES = {NOT_RUN: "not_run", **L.STATUS_NAMES}


@dataclass(frozen=True)
class Axis:
    """One scanned parameter: its name, values, and how they were given (``list``,
    ``linear`` or ``log``: the scale plots use)."""

    name: str
    values: tuple
    scale: str = "list"


def parse_axis(text: str) -> Axis:
    """``NAME=SPEC`` (e.g. ``eta=0.002:0.2:64:log``) into an :class:`Axis`."""
    if "=" not in text:
        raise EosdynError(f"--grid {text!r}: must be NAME=VALUES, e.g. eta=0.002:0.2:64:log")
    name, spec = text.split("=", 1)
    return parse_values(name.strip(), spec.strip())


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
        Test ``Lambda > 2/eta`` every k-th step (first_cross_step and n_eos_cycles resolve k).
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
            v = getattr(self, key)
            if v is not None and (not isinstance(v, int) or v < (0 if key in ("tail", "lyap_start") else 1)):
                raise ParameterError(key, f"must be an integer >= 1, got {v!r}")
        for key in ("sharpness_every", "renorm"):
            if not isinstance(getattr(self, key), int) or getattr(self, key) < 1:
                raise ParameterError(key, f"must be an integer >= 1, got {getattr(self, key)!r}")
        if self.tail is not None and self.tail > steps:
            raise ParameterError("tail", f"must be <= steps = {steps}, got {self.tail}")
        if not 0 <= self.orbit <= steps + 1:
            raise ParameterError("keep", f"must be between 1 and steps + 1 = {steps + 1}, got {self.orbit}")


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
        if self.base.engine not in ("reduced", "first-order", "network"):
            raise ParameterError("engine", "must be reduced, first-order or network in scans and diagrams "
                                 f"(the exact map, its first-order truncation, any model); got {self.base.engine!r}")
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
    from .scenario import params_from, read_tables

    values, extra = read_tables(path)
    grid = extra.get("scan", {})
    return params_from(values, path, **overrides), [parse_values(k, v) for k, v in grid.items()]


# ----------------------------------------------------------------------------------- cells


#: fields that never change the data (everything else is part of a cell's data key)
NOT_DATA = ("m", "eta", "steps", "engine", "init_scale", "sigma_a", "sigma_w", "init_sampler",
            "init", "record_every", "loss_tol", "max_loss", "name")


def _data_key(p: Params) -> str:
    return repr([getattr(p, k) for k in FIELDS if k not in NOT_DATA])


def cell_state(p: Params, cache: dict):
    """Data and initial statistics of one cell, as :func:`eosdyn.api.build_problem` builds them.

    The first cell of each dataset goes through ``build_problem`` itself; later cells that
    share the data reuse it and draw their initial state by the same rule.
    """
    from .api import build_problem

    key = _data_key(p)
    if key not in cache:
        pb = build_problem(p.replace(steps=1, record_every=1))
        cache[key] = pb.data
        return pb.data, pb.init
    data = cache[key]
    A = W = None
    if p.init is not None:
        A, W = init_mod.load_parameters(p.init, data.d)
        if A.shape[0] != p.m:
            raise ParameterError("m", f"must equal the init file's width {A.shape[0]}, got {p.m}")
    materialise = p.init_sampler == "parameters" or (
        p.init_sampler == "auto" and p.m * data.d <= AUTO_MATERIALISE_LIMIT)
    if A is None and materialise:
        A, W = init_mod.gaussian_parameters(p.m, data.d, p.sa, p.sw, p.seed)
    if A is not None:
        return data, init_mod.statistics_from_parameters(A, W, data.U)
    return data, init_mod.sample_statistics(p.m, data.rank, p.sa, p.sw, p.seed)


def tangent_start(r: int) -> np.ndarray:
    """The fixed generic initial tangent ``(ta, tu, tG)`` (``tG`` symmetric), unit norm."""
    rng = np.random.default_rng(np.random.SeedSequence([0x1A9, r]))
    t = rng.standard_normal(1 + r + r * r)
    tG = t[1 + r:].reshape(r, r)
    tG[:] = (tG + tG.T) / 2
    return t / np.linalg.norm(t)


def cell_inputs(params: list[Params]) -> dict:
    """The per-cell arrays of :func:`batch_numba.run_cells`, ranks zero-padded to the largest
    (a mode with ``s_i = z_i = 0`` never moves and adds exact zeros)."""
    cache: dict = {}
    states = [cell_state(p, cache) for p in params]
    C, R = len(params), max(d.rank for d, _ in states)
    out = dict(s=np.zeros((C, R)), z=np.zeros((C, R)), y_perp2=np.zeros(C), n=np.zeros(C),
               m=np.zeros(C), eta=np.zeros(C), a0=np.zeros(C), u0=np.zeros((C, R)),
               G0=np.zeros((C, R, R)), loss_tol=np.zeros(C), max_loss=np.zeros(C),
               tangent0=np.zeros((C, 1 + R + R * R)))
    for c, (p, (d, st)) in enumerate(zip(params, states, strict=True)):
        r = d.rank
        out["s"][c, :r], out["z"][c, :r], out["y_perp2"][c] = d.s, d.z, d.y_perp2
        out["n"][c], out["m"][c], out["eta"][c] = d.n, p.m, p.eta
        out["a0"][c], out["u0"][c, :r], out["G0"][c, :r, :r] = st.a, st.u, st.G
        out["loss_tol"][c], out["max_loss"][c] = p.loss_tol, p.max_loss
        t0 = tangent_start(r)  # embedded with zeros in the padded modes: they never couple
        out["tangent0"][c, :1 + r] = t0[:1 + r]
        out["tangent0"][c, 1 + R:].reshape(R, R)[:r, :r] = t0[1 + r:].reshape(r, r)
    return out


def run_batch(spec: ScanSpec, params: list[Params], parallel: bool = False,
              chain: bool = False) -> dict:
    """Run the cells ``params`` in one numba call; flat per-cell result arrays."""
    if spec.base.engine == "network":  # cells batched by jax.vmap (eosdyn.nets.scan)
        from .nets.scan import run_batch as run_network_batch

        return run_network_batch(spec, params, chain=chain)
    x = cell_inputs(params)
    C, R = x["s"].shape
    o = spec.options
    res = dict(
        traj=np.full((C, spec.nrec, B.NOBS), np.nan), orbit=np.full((C, o.orbit, B.NOBS), np.nan),
        fsum=np.full((C, B.NF), np.nan), isum=np.zeros((C, B.NI), dtype=np.int64),
        final_a=np.zeros((C, 1)), final_u=np.zeros((C, R)), final_G=np.zeros((C, R, R)),
    )
    steps = spec.base.steps
    kernel = B.run_chain if chain else (B.run_cells_parallel if parallel else B.run_cells)
    kernel(
        x["s"], x["z"], x["y_perp2"], x["n"], x["m"], x["eta"], 0.0 if spec.base.engine == "first-order" else 1.0,
        x["a0"], x["u0"], x["G0"], steps, spec.every, o.sharpness_every, spec.tail_start,
        steps + 1 - o.orbit, spec.lyap_start, o.renorm, x["loss_tol"], x["max_loss"],
        x["tangent0"], res["traj"], res["orbit"], res["fsum"], res["isum"], res["final_a"],
        res["final_u"], res["final_G"],
    )
    res["phase"] = classify(res["fsum"], res["isum"], o.lazy_tol)
    return res


def classify(fsum: np.ndarray, isum: np.ndarray, lazy_tol: float) -> np.ndarray:
    """The phase of each cell (codes index :data:`PHASES`), in order of precedence:

    ``divergent`` (status diverged); ``catapult`` (started beyond the edge, ``eta Lambda_0 > 2``,
    and did not diverge: the loss spikes and the sharpness falls below 2/eta, Lewkowycz et
    al.); ``eos`` (reached ``Lambda > 2/eta`` later, after sharpening); ``lazy`` (never reached
    the edge and ``|Lambda_final / Lambda_0 - 1| <= lazy_tol``: the kernel barely moved);
    ``sharpening`` (never reached the edge, the sharpness changed by more).
    """
    init, final = fsum[:, B.F_INIT_ES], fsum[:, B.F_FINAL_ES]
    with np.errstate(invalid="ignore", divide="ignore"):
        lazy = np.abs(final / init - 1.0) <= lazy_tol
    phase = np.where(lazy, 0, 1)
    phase = np.where(isum[:, B.I_FIRST_CROSS] >= 0, 3, phase)
    phase = np.where(init > 2.0, 2, phase)
    phase = np.where(isum[:, B.I_STATUS] == L.DIVERGED, 4, phase)
    return phase.astype(np.int8)


def compute_block(spec: ScanSpec, b: int, parallel: bool = False) -> dict:
    """Results of block ``b``, shaped like the block (trajectories with a trailing ``step``)."""
    slices = spec.block_slices(b)
    bshape = tuple(s.stop - s.start for s in slices)
    index = np.ndindex(*bshape)
    params = [spec.cell_params(tuple(s.start + i for s, i in zip(slices, ix, strict=True)))
              for ix in index]
    res = run_batch(spec, params, parallel=parallel)
    return block_variables(spec, res, bshape)


def block_variables(spec: ScanSpec, res: dict, bshape: tuple) -> dict:
    """Per-cell result arrays (flat) as named variables shaped ``bshape`` (+ ``step``)."""
    f, i = res["fsum"], res["isum"]
    out = {
        "status_step": i[:, B.I_STATUS_STEP],
        "first_cross_step": i[:, B.I_FIRST_CROSS],
        "n_eos_cycles": i[:, B.I_NCYCLES],
        "initial_eta_sharpness": f[:, B.F_INIT_ES],
        "final_eta_sharpness": f[:, B.F_FINAL_ES],
        "max_loss": f[:, B.F_MAX_LOSS],
        "final_loss": f[:, B.F_FINAL_LOSS],
        "tail_min_eta_sharpness": f[:, B.F_TAIL_MIN],
        "tail_max_eta_sharpness": f[:, B.F_TAIL_MAX],
        "phase": res["phase"],
    }
    if spec.options.lyapunov:
        out["lyapunov"] = f[:, B.F_LYAP]
    for name in spec.options.record:
        out[name] = res["traj"][:, :, B.OBSERVABLES.index(name)].reshape(bshape + (spec.nrec,))
    out = {k: (v if v.ndim > len(bshape) else v.reshape(bshape)) for k, v in out.items()}
    out["status"] = i[:, B.I_STATUS].astype(np.int8).reshape(bshape)  # written last
    return out


# ---------------------------------------------------------------------------------- schema

SUMMARY_DOCS = {
    "status": ("int8", NOT_RUN, "Run status: 0 max_steps, 1 converged, 2 diverged, -1 not run yet."),
    "status_step": ("int64", -1, "Step at which the run stopped."),
    "first_cross_step": ("int64", -1, "First step with Lambda > 2/eta (-1: never)."),
    "n_eos_cycles": ("int64", -1, "Number of upward crossings of 2/eta (step 0 above counts)."),
    "initial_eta_sharpness": ("float64", np.nan, "eta * Lambda at step 0."),
    "final_eta_sharpness": ("float64", np.nan, "eta * Lambda at the last step."),
    "max_loss": ("float64", np.nan, "Largest loss over the run."),
    "final_loss": ("float64", np.nan, "Loss at the last step."),
    "tail_min_eta_sharpness": ("float64", np.nan, "Minimum of eta * Lambda over the tail steps."),
    "tail_max_eta_sharpness": ("float64", np.nan, "Maximum of eta * Lambda over the tail steps."),
    "phase": ("int8", NOT_RUN, "Phase: " + ", ".join(f"{i} {p}" for i, p in enumerate(PHASES))
              + " (eosdyn.scan.classify); -1 not run."),
    "lyapunov": ("float64", np.nan, "Maximal Lyapunov exponent of the outputs over the tail "
                 "(per step; eosdyn.kernels.batch_numba.run_cell)."),
}
TRAJ_DOCS = {
    "loss": "Training loss L = ||D||^2 / n (NaN after the run stopped).",
    "eta_sharpness": "eta * Lambda (NaN after the run stopped).",
    "a_norm2": "||A||^2 (NaN after the run stopped).",
    "Dv1": "D^T v_1 (NaN after the run stopped).",
}


def template(spec: ScanSpec) -> tuple[xr.Dataset, dict]:
    """The empty (lazily filled) dataset and its zarr encoding: chunks = blocks."""
    import dask.array as da

    dims = tuple(a.name for a in spec.axes)
    coords = {a.name: np.asarray(a.values) for a in spec.axes}
    variables, encoding = {}, {}
    names = [k for k in SUMMARY_DOCS if k != "lyapunov" or spec.options.lyapunov]
    for name in names:
        dtype, fill, doc = SUMMARY_DOCS[name]
        arr = da.full(spec.shape, fill, dtype=dtype, chunks=spec.chunks)
        variables[name] = xr.Variable(dims, arr, {"long_name": doc})
        encoding[name] = {"chunks": spec.chunks, "fill_value": fill}
    if spec.nrec:
        coords["step"] = np.arange(spec.nrec, dtype=np.int64) * spec.every
        for name in spec.options.record:
            arr = da.full(spec.shape + (spec.nrec,), np.nan, chunks=spec.chunks + (spec.nrec,))
            variables[name] = xr.Variable(dims + ("step",), arr, {"long_name": TRAJ_DOCS[name]})
            encoding[name] = {"chunks": spec.chunks + (spec.nrec,), "fill_value": np.nan}
    ds = xr.Dataset(variables, coords=coords, attrs=scan_attrs(spec))
    for a in spec.axes:
        ds[a.name].attrs.update(scale=a.scale, long_name=f"scanned parameter {a.name}")
    return ds, encoding


def scan_attrs(spec: ScanSpec) -> dict:
    return {
        "title": "eosdyn scan: GD on a two-layer linear network over a parameter grid",
        "eosdyn_version": __version__,
        "engine": spec.base.engine,
        "steps": spec.base.steps,
        "axes": [a.name for a in spec.axes],
        "phases": list(PHASES),
        "record_every": spec.every,
        "tail_start": spec.tail_start,
        "sharpness_every": spec.options.sharpness_every,
        "parameters": json.dumps(spec.base.to_dict()),
        "scan_spec": spec.to_json(),
    }


# ----------------------------------------------------------------------------------- store


def create_store(spec: ScanSpec, path: Path) -> None:
    """Write the empty store (metadata and coordinates only) atomically."""
    ds, encoding = template(spec)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        ds.to_zarr(tmp / path.name, mode="w", compute=False, encoding=encoding, consolidated=False)
        os.replace(tmp / path.name, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def open_store(spec: ScanSpec, path, overwrite: bool = False):
    """The zarr group of the scan at ``path`` (created if absent); a store that holds a
    different scan is an error unless ``overwrite``."""
    import zarr

    p = Path(path)
    if p.suffix != ".zarr":
        raise EosdynError(f"--out {str(p)!r}: a scan is saved as a .zarr store")
    if not p.parent.resolve().is_dir():
        raise EosdynError(f"--out {str(p)!r}: folder {str(p.parent)!r} does not exist")
    if p.exists() and overwrite:
        shutil.rmtree(p)
    if not p.exists():
        create_store(spec, p)
    try:
        group = zarr.open_group(str(p), mode="r+")
        stored = group.attrs["scan_spec"]
    except Exception:
        raise EosdynError(f"{str(p)!r} is not an eosdyn scan store (use --overwrite)") from None
    if not same_scan(stored, spec.to_json()):
        raise EosdynError(f"{str(p)!r} holds a different scan; use --overwrite or another path")
    return group


#: run parameters that do not affect a scan's cells (other engines' options, labels)
IRRELEVANT = ("name", "method", "rtol", "atol", "hessian", "record_every")


def same_scan(a: str, b: str) -> bool:
    """Do two ``scan_spec`` JSON strings describe the same scan? Base parameters are compared
    on the names both know (a parameter added to eosdyn later, at its default, does not make
    an old store different), except :data:`IRRELEVANT` ones."""
    da, db = json.loads(a), json.loads(b)
    if da["axes"] != db["axes"] or da["options"] != db["options"]:
        return False
    common = (set(da["base"]) & set(db["base"])) - set(IRRELEVANT)
    return all(da["base"][k] == db["base"][k] for k in common)


def blocks_done(spec: ScanSpec, group) -> np.ndarray:
    """Boolean per block: every cell of the block has a status."""
    status = np.asarray(group["status"][...]) if spec.axes else np.asarray([group["status"][...]])
    done = np.zeros(spec.nblocks, dtype=bool)
    for b in range(spec.nblocks):
        done[b] = bool(np.all(status[spec.block_slices(b)] >= 0))
    return done


def write_block(spec: ScanSpec, group, b: int, result: dict) -> None:
    """Write block ``b``: every variable's chunk, ``status`` last."""
    slices = spec.block_slices(b)
    for name, value in result.items():
        region = slices + ((slice(None),) if value.ndim > len(slices) else ())
        group[name][region] = value


# -------------------------------------------------------------------------------- backends


def _dask_client(scheduler: str, workers: int):
    from distributed import Client, LocalCluster

    if scheduler == "local":
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=None)
        return Client(cluster), cluster
    try:
        return Client(scheduler, timeout="10s"), None
    except Exception as exc:
        raise EosdynError(f"--scheduler {scheduler!r}: cannot connect ({exc})") from None


def default_workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover
        return os.cpu_count() or 1


def resolve_backend(backend: str, workers: int) -> str:
    """``auto`` is ``serial`` on one worker and ``threads`` otherwise: blocks on a thread pool,
    the numba kernels running without the GIL. ``benchmarks/bench_scan.py`` measured it at least
    as fast as ``prange`` (numba's own thread pool) and far ahead of ``processes`` (pool
    start-up, results pickled back) on a 2-core machine."""
    if backend not in BACKENDS:
        raise ParameterError("backend", f"must be one of {', '.join(BACKENDS)}; got {backend!r}")
    if backend == "auto":
        return "serial" if workers == 1 else "threads"
    return backend


def iter_blocks(spec: ScanSpec, blocks: list, backend: str = "auto", workers: int | None = None,
                scheduler: str | None = None, compute=None):
    """Yield ``(b, result)`` for the blocks, as they complete, on the chosen backend."""
    compute = compute or compute_block
    workers = workers or default_workers()
    if scheduler:
        yield from _iter_dask(spec, blocks, scheduler, workers, compute)
        return
    backend = resolve_backend(backend, workers)
    if len(blocks) <= 1 and backend in ("processes", "threads"):
        backend = "serial"  # one block: a pool would only add its start-up time
    if backend in ("serial", "prange") or not blocks:
        for b in blocks:
            yield b, compute(spec, b, backend == "prange")
        return
    if backend == "threads":
        pool = ThreadPoolExecutor(max_workers=workers)
    else:
        import multiprocessing as mp

        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(["eosdyn.scan"])
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx)
    with pool:
        yield from _iter_pool(pool, spec, blocks, workers, compute)


def _iter_pool(pool, spec, blocks, workers, compute):
    """Keep ``2 workers`` blocks in flight; results are yielded (and freed) as they arrive."""
    todo = list(blocks)[::-1]
    running = {}
    while todo or running:
        while todo and len(running) < 2 * workers:
            b = todo.pop()
            running[pool.submit(compute, spec, b)] = b
        finished, _ = wait(running, return_when=FIRST_COMPLETED)
        for fut in finished:
            yield running.pop(fut), fut.result()


def _iter_dask(spec, blocks, scheduler, workers, compute):
    from distributed import as_completed

    client, cluster = _dask_client(scheduler, workers)
    try:
        futures = {client.submit(compute, spec, b, pure=False): b for b in blocks}
        for fut in as_completed(futures):
            yield futures[fut], fut.result()
            fut.release()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


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
        for v in a.values:
            make_params(**{**params.to_dict(), a.name: v})
    if spec.ncells <= 200_000:
        for index in np.ndindex(*spec.shape):
            spec.cell_params(index)
    return spec


def scan(spec: ScanSpec, path, backend: str = "auto", workers: int | None = None,
         scheduler: str | None = None, overwrite: bool = False, progress: bool = False) -> dict:
    """Run (or resume) the scan into the zarr store ``path``; return counts and wall time.

    Blocks already written are skipped. Open the result with :func:`open_scan`.
    """
    group = open_store(spec, path, overwrite)
    done = blocks_done(spec, group)
    todo = [b for b in range(spec.nblocks) if not done[b]]
    cells = [_block_cells(spec, b) for b in range(spec.nblocks)]
    start = time.perf_counter()
    label = f"scan {'x'.join(str(s) for s in spec.shape)}"
    with progress_bar(sum(cells[b] for b in todo), enabled=progress, label=label, unit="cells") as bar:
        for b, result in iter_blocks(spec, todo, backend, workers, scheduler):
            write_block(spec, group, b, result)
            bar(cells[b])
    return {"cells": spec.ncells, "blocks": spec.nblocks, "blocks_run": len(todo),
            "cells_run": int(sum(cells[b] for b in todo)), "wall_time": time.perf_counter() - start}


def _block_cells(spec: ScanSpec, b: int) -> int:
    return int(np.prod([s.stop - s.start for s in spec.block_slices(b)]))


def open_scan(path) -> xr.Dataset:
    """Open a scan store lazily (dask-backed; ``.load()`` to read it all)."""
    p = Path(path)
    if not p.exists():
        raise EosdynError(f"scan store {str(p)!r} does not exist")
    try:
        return xr.open_zarr(p, consolidated=False)
    except Exception as exc:
        raise EosdynError(f"cannot read scan store {str(p)!r}: {exc}") from None


def scan_summary(ds: xr.Dataset) -> dict:
    """Counts of cells per status and per phase."""
    status = ds["status"].values.ravel()
    phase = ds["phase"].values.ravel()
    return {
        "cells": int(status.size),
        "status": {STATUS_NAMES[k]: int(np.sum(status == k)) for k in STATUS_NAMES if np.any(status == k)},
        "phase": {PHASES[k]: int(np.sum(phase == k)) for k in range(len(PHASES)) if np.any(phase == k)},
    }
