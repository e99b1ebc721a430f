"""``simulate``: parameters in, a labelled :class:`xarray.Dataset` out."""

from __future__ import annotations

import json
import time

import numpy as np
import xarray as xr

from ._version import __version__
from .engines import Problem
from .errors import DataError, Interrupted
from .io.schema import annotate
from .kernels import layout as L
from .model import data as data_mod
from .model import init as init_mod
from .model.datasets import options_from
from .model.memory import check_memory
from .model.params import AUTO_MATERIALISE_LIMIT, Params, make_params
from .optim import run_edge
from .optim.select import engine_class
from .progress import progress_bar


def simulate(
    params: Params | None = None, *, X=None, Y=None, A=None, W=None, progress: bool = False,
    **kwargs,
) -> xr.Dataset:
    """Run GD on the two-layer linear network ``f(x) = A^T W x / sqrt(m)`` and record it.

    Parameters
    ----------
    params : Params, optional
        A full parameter set (e.g. from a scenario); ``kwargs`` override its fields.
    X, Y : array_like, optional
        Data (d, n) and labels (n,), instead of synthetic data or a ``data`` file.
    A, W : array_like, optional
        Initial parameters (m,) and (m, d), instead of a Gaussian draw or an ``init`` file.
    progress : bool
        Show a progress bar (for runs longer than a couple of seconds).
    **kwargs
        Any field of :class:`~eosdyn.model.params.Params`: ``m``, ``eta``, ``steps``, ``engine``,
        ``seed``, ``n``, ``rank``, ``lambda_max``, ``lambda_min``, ``init_scale``, ``data``,
        ``init``, ``record_every``, ...

    Returns
    -------
    xarray.Dataset
        Variables of :data:`eosdyn.io.schema.VARIABLES` over ``step``; attrs carry the status
        (``converged`` / ``diverged`` / ``max_steps``), provenance and every parameter;
        ``compile_time`` (numba compiling or loading its cached kernels) and ``run_time`` (the
        rest, seconds).
        The update rule is ``A' = A - eta dL/dA``, ``W' = W - eta dL/dW`` with
        ``L = ||X^T W^T A / sqrt(m) - Y||^2 / n``.
    """
    if params is None:
        params = make_params(**kwargs)
    elif kwargs:
        params = make_params(**{**params.to_dict(), **kwargs})
    if A is not None or W is not None:
        if A is None or W is None:
            raise DataError("give both A and W, or neither")
        if A is not None and "m" not in kwargs:
            params = params.replace(m=int(np.asarray(A).shape[0]))
    from .kernels._numba import compile_timer

    start = time.perf_counter()
    with compile_timer() as compiling:
        problem = build_problem(params, X=X, Y=Y, A=A, W=W)
        ds = run_problem(problem, progress=progress)
    ds.attrs["compile_time"] = compiling.seconds
    ds.attrs["run_time"] = max(0.0, time.perf_counter() - start - compiling.seconds)
    return ds


def build_problem(params: Params, X=None, Y=None, A=None, W=None) -> Problem:
    """Data, initial state and record arrays for ``params`` (all validation happens here)."""
    if (X is None) != (Y is None):
        raise DataError("give both X and Y, or neither")
    if X is not None:
        data = data_mod.from_arrays(X, Y)
    elif params.data is not None:
        data = data_mod.load(params.data, **options_from(params))
    else:
        data = data_mod.synthetic(
            n=params.n, rank=params.rank, lambda_max=params.lambda_max,
            lambda_min=params.lambda_min, eigenvalues=params.eigenvalues, z=params.z,
            label_fraction=params.label_fraction, d=params.d, seed=params.seed,
        )
    if params.engine == "network":  # any model: eosdyn.nets builds the problem
        from .nets.problem import build

        return build(params, data, A=A, W=W)
    if A is None and params.init is not None:
        A, W = init_mod.load_parameters(params.init, data.d)
    if A is not None:
        A = np.ascontiguousarray(np.asarray(A, dtype=float))
        W = np.ascontiguousarray(np.asarray(W, dtype=float))
        init_mod.check_parameters(A, W, data.d)
        if A.shape[0] != params.m:
            params = params.replace(m=A.shape[0])
    engine = engine_class(params)
    materialise = params.init_sampler == "parameters" or (
        params.init_sampler == "auto"
        and (engine.needs_parameters or params.m * data.d <= AUTO_MATERIALISE_LIMIT)
    )
    if A is None and materialise:
        check_memory(params, data.d, data.rank)
        A, W = init_mod.gaussian_parameters(params.m, data.d, params.sa, params.sw, params.seed)
    if params.save_init is not None:
        init_mod.save_parameters(params.save_init, A, W)
    if A is not None:
        stats = init_mod.statistics_from_parameters(A, W, data.U)
    else:
        stats = init_mod.sample_statistics(params.m, data.rank, params.sa, params.sw, params.seed)
    return Problem.create(params, data, stats, A, W)


def run_problem(pb: Problem, progress: bool = False, wrap=None) -> xr.Dataset:
    """Run the engine over all steps in chunks (for the progress bar) and label the result.

    ``wrap(engine)``, if given, returns a stand-in with the same interface (e.g. an
    :class:`eosdyn.engines.recorder.RowRecorder` measuring something at every recorded step).
    """
    p = pb.params
    engine = engine_class(p)(pb)
    if wrap is not None:
        engine = wrap(engine)
    if p.hessian and not getattr(engine, "records_hessian", False):  # row by row, adds sharpness_hessian
        from .analysis.hessian import HessianRecorder

        engine = HessianRecorder(engine)
    total = p.steps + 1
    t, chunk = 0, 1024
    start = time.perf_counter()
    with progress_bar(total, enabled=progress, label=f"{p.engine} m={p.m} eta={p.eta:g}") as bar:
        try:
            while pb.status[0] < 0:
                c0 = time.perf_counter()
                engine.advance(t, min(t + chunk, total))
                t_new = int(pb.status[3])
                bar(t_new - t)
                t = t_new
                dt = time.perf_counter() - c0
                chunk = int(min(max(chunk * (0.25 / max(dt, 1e-4)), 256), 1 << 24))
        except KeyboardInterrupt:
            raise Interrupted(f"interrupted at step {t}", step=t) from None
    wall = time.perf_counter() - start
    ds = to_dataset(pb, engine.final(), wall)
    finish = getattr(engine, "finish", None)  # engine-specific variables and attrs
    return ds if finish is None else finish(ds)


def to_dataset(pb: Problem, final: init_mod.Statistics, wall: float) -> xr.Dataset:
    """Label the recorded arrays with the schema; compute phases and anomalies."""
    p, d = pb.params, pb.data
    nrow = int(pb.status[2])
    rec, steps = pb.rec[:nrow], pb.rec_step[:nrow].copy()
    lam, lam_next = rec[:, L.SHARP], rec[:, L.SHARP_NEXT]
    dlam = lam_next - lam
    da = rec[:, L.A_NEXT] - rec[:, L.A_NORM2]
    edge = run_edge(p)   # 2/eta for GD; the optimizer's edge otherwise (eosdyn.optim)
    above = lam > edge
    rising = dlam > 0
    phase = np.where(above, np.where(rising, 2, 3), np.where(rising, 1, 4)).astype(np.int8)
    phase[~np.isfinite(dlam)] = 0
    anomaly = (np.sign(dlam) != np.sign(da)) & np.isfinite(dlam) & np.isfinite(da)
    status_code, status_step = int(pb.status[0]), int(pb.status[1])
    status = L.STATUS_NAMES[status_code]
    step_v = ("step",)
    ds = xr.Dataset(
        {
            "loss": (step_v, rec[:, L.LOSS]),
            "sharpness": (step_v, lam),
            "eta_sharpness": (step_v, p.eta * lam),
            "edge_ratio": (step_v, lam / edge),
            "lambda2": (step_v, rec[:, L.LAM2]),
            "sharpness_MA": (step_v, rec[:, L.SHARP_MA]),
            "sharpness_MW": (step_v, rec[:, L.SHARP_MW]),
            "sharpness_Mstar": (step_v, rec[:, L.SHARP_MSTAR]),
            "a_norm2": (step_v, rec[:, L.A_NORM2]),
            "DtF": (step_v, rec[:, L.DTF]),
            "Dv1": (step_v, rec[:, L.DV1]),
            "R_norm2": (step_v, rec[:, L.R_NORM2]),
            "phase": (step_v, phase),
            "anomaly": (step_v, anomaly),
            "loss_window_min": (step_v, rec[:, L.LOSS_MIN]),
            "loss_window_max": (step_v, rec[:, L.LOSS_MAX]),
            "init_a": ((), pb.init.a),
            "init_u": (("mode",), pb.init.u),
            "init_G": (("mode", "mode2"), pb.init.G),
            "final_a": ((), final.a),
            "final_u": (("mode",), final.u),
            "final_G": (("mode", "mode2"), final.G),
            "data_s": (("mode",), d.s),
            "data_z": (("mode",), d.z),
        },
        coords={"step": steps, "mode": np.arange(d.rank)},
    )
    ds.attrs.update(provenance(p, d, status, status_step, wall))
    ds.attrs.update(edge=edge, edge_sharpness="sharpness")
    return annotate(ds)


def provenance(p: Params, d, status: str, status_step: int, wall: float) -> dict:
    """Attributes that make a run reproducible; netCDF-safe types only."""
    params = p.to_dict()
    messages = {
        "converged": f"reducible loss <= loss_tol = {p.loss_tol:g} at step {status_step}",
        "diverged": f"loss or ||A||^2 overflowed (> {p.max_loss:g} or not finite) at step "
        f"{status_step}",
        "max_steps": f"ran all {p.steps} steps",
    }
    attrs = {
        "title": "eosdyn run: GD on a two-layer linear network",
        "eosdyn_version": __version__,
        "engine": p.engine,
        "n": d.n,
        "m": p.m,
        "eta": p.eta,
        "d": d.d,
        "rank": d.rank,
        "y_perp2": d.y_perp2,
        "seed": p.seed,
        "status": status,
        "status_step": status_step,
        "status_message": messages[status],
        "record_every": p.stride,
        "data_source": d.source,
        "wall_time": wall,
        "parameters": json.dumps(params),
    }
    for key, value in params.items():
        if key not in attrs and value is not None:
            attrs[key] = list(value) if isinstance(value, tuple) else value
            if isinstance(value, bool):  # netCDF has no boolean attributes
                attrs[key] = int(value)
    return attrs
