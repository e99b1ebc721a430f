"""``simulate``: parameters in, a labelled :class:`xarray.Dataset` out."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING

import numpy as np

from ._version import __version__
from .analysis import summary as records
from .engines import Problem
from .engines.base import TRACK_MAX_RANK
from .errors import DataError, Interrupted, ParameterError
from .io.schema import annotate
from .kernels import layout as L
from .model import data as data_mod
from .model import init as init_mod
from .model.datasets import options_from
from .model.memory import check_memory
from .model.params import AUTO_MATERIALISE_LIMIT, FIELDS, Params, make_params
from .optim import run_edge
from .optim.select import engine_class
from .progress import progress_bar
from .status import Status
from .status import run_attrs as status_attrs

if TYPE_CHECKING:  # xarray loads on first use (it costs ~0.5 s; the CLI imports it while kernels run)
    import xarray as xr


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
        Initial parameters (m,) and (m, d), instead of a Gaussian draw or an ``init`` file; ``m``
        is their width (an explicit ``m`` that differs is an error).
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
        (``converged`` / ``diverged`` / ``max_steps``), the run's summaries computed over every
        step (:data:`eosdyn.io.schema.SUMMARY_ATTRS`), provenance and every parameter;
        ``compile_time`` (numba compiling or loading its cached kernels) and ``run_time`` (the
        rest, seconds).
        The update rule is ``A' = A - eta dL/dA``, ``W' = W - eta dL/dW`` with
        ``L = ||X^T W^T A / sqrt(m) - Y||^2 / n``.
    """
    from .kernels._numba import compile_timer

    params, m_given = merge_params(params, kwargs)
    start = time.perf_counter()
    with compile_timer() as compiling:
        problem = build_problem(params, X=X, Y=Y, A=A, W=W, m_given=m_given)
        ds = run_problem(problem, progress=progress)
    ds.attrs["compile_time"] = compiling.seconds
    ds.attrs["run_time"] = max(0.0, time.perf_counter() - start - compiling.seconds)
    return ds


def merge_params(params: Params | None, kwargs: dict) -> tuple[Params, bool | None]:
    """``params`` with ``kwargs`` applied, and whether ``m`` was given explicitly (None: unknown,
    judged by :func:`resolve_width` from its value)."""
    if params is None:
        return make_params(**kwargs), "m" in kwargs
    if kwargs:
        params = make_params(**{**params.to_dict(), **kwargs})
    return params, True if "m" in kwargs else None


def load_data(params: Params, X=None, Y=None) -> data_mod.SpectralData:
    """The data of a run: ``X, Y`` if given, else the ``data`` file or dataset, else synthetic."""
    if (X is None) != (Y is None):
        raise DataError("give both X and Y, or neither")
    if X is not None:
        return data_mod.from_arrays(X, Y)
    if params.data is not None:
        return data_mod.load(params.data, **options_from(params))
    return data_mod.synthetic(
        n=params.n, rank=params.rank, lambda_max=params.lambda_max,
        lambda_min=params.lambda_min, eigenvalues=params.eigenvalues, z=params.z,
        label_fraction=params.label_fraction, d=params.d, seed=params.seed,
    )


def resolve_width(params: Params, width: int, source: str, m_given: bool | None) -> Params:
    """``params`` with ``m`` = the width of given initial parameters.

    An explicit ``m`` that differs is a :class:`ParameterError`; when ``m_given`` is None
    (unknown), ``m`` counts as explicit unless it is the default.
    """
    if params.m == width:
        return params
    explicit = m_given if m_given is not None else params.m != FIELDS["m"].default
    if explicit:
        raise ParameterError("m", f"must equal the width {width} of {source} (or be left unset), "
                             f"got {params.m}")
    return params.replace(m=width)


def initial_state(params: Params, data, A=None, W=None, m_given: bool | None = None):
    """THE builder of a run's initial state (simulate, compare, scan and bifurcation cells).

    Returns ``(params, statistics, A, W)``: ``params`` with ``m`` resolved against given
    parameters (``A, W`` or the ``init`` file, :func:`resolve_width`); the statistics
    ``(a, u, G)``; ``A, W`` when they were given or materialised (else None). Parameters are
    materialised when the engine needs them, when ``init_sampler = "parameters"``, or with
    ``"auto"`` when ``m d <= AUTO_MATERIALISE_LIMIT`` (so every engine starts from the same
    draw); otherwise the statistics are drawn from their exact Wishart law. (The ``network``
    engine builds its own weights: :func:`eosdyn.nets.problem.build`.)
    """
    source = "A, W"
    if A is None and W is not None or A is not None and W is None:
        raise DataError("give both A and W, or neither")
    if A is None and params.init is not None:
        A, W = init_mod.load_parameters(params.init, data.d)
        source = f"the init file {params.init!r}"
    if A is not None:
        A = np.ascontiguousarray(np.asarray(A, dtype=float))
        W = np.ascontiguousarray(np.asarray(W, dtype=float))
        init_mod.check_parameters(A, W, data.d)
        params = resolve_width(params, A.shape[0], source, m_given)
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
        return params, init_mod.statistics_from_parameters(A, W, data.U), A, W
    return params, init_mod.sample_statistics(params.m, data.rank, params.sa, params.sw, params.seed), None, None


def build_problem(params: Params, X=None, Y=None, A=None, W=None, m_given: bool | None = None) -> Problem:
    """Data, initial state and record arrays for ``params`` (all validation happens here)."""
    data = load_data(params, X, Y)
    if params.engine == "network":  # any model: eosdyn.nets builds the problem
        from .nets.problem import build

        return build(params, data, A=A, W=W, m_given=m_given)
    params, stats, A, W = initial_state(params, data, A, W, m_given)
    return Problem.create(params, data, stats, A, W, track=tracks_every_step(params, data))


def tracks_every_step(params: Params, data) -> bool:
    """Whether the run's summaries are computed over every step: the engine can (its declared
    :meth:`~eosdyn.engines.base.Engine.per_step_tracking`) and the rank is at most
    :data:`~eosdyn.engines.base.TRACK_MAX_RANK`."""
    return bool(engine_class(params).per_step_tracking(params)) and data.rank <= TRACK_MAX_RANK


def run_problem(pb: Problem, progress: bool = False, wrap=None) -> xr.Dataset:
    """Run the engine over all steps in chunks (for the progress bar) and label the result.

    ``wrap(engine)``, if given, returns a stand-in with the same interface (e.g. an
    :class:`eosdyn.engines.recorder.RowRecorder` measuring something at every recorded step).
    """
    p = pb.params
    engine = engine_class(p)(pb)
    if wrap is not None:
        engine = wrap(engine)
    if p.hessian and not engine.records_hessian:  # row by row, adds sharpness_hessian
        from .analysis.hessian import HessianRecorder

        engine = HessianRecorder(engine)
    total = p.steps + 1
    t, chunk = 0, 1024
    start = time.perf_counter()
    with progress_bar(total, enabled=progress, label=f"{p.engine} m={p.m} eta={p.eta:g}") as bar:
        try:
            while not pb.progress.done:
                c0 = time.perf_counter()
                engine.advance(t, min(t + chunk, total))
                t_new = pb.progress.next_step
                bar(t_new - t)
                t = t_new
                dt = time.perf_counter() - c0
                chunk = int(min(max(chunk * (0.25 / max(dt, 1e-4)), 256), 1 << 24))
        except KeyboardInterrupt:
            raise Interrupted(f"interrupted at step {t}", step=t) from None
    wall = time.perf_counter() - start
    return engine.finish(to_dataset(pb, engine.final(), wall))


def to_dataset(pb: Problem, final: init_mod.Statistics, wall: float) -> xr.Dataset:
    """Label the recorded arrays with the schema; the kernels' summaries as attrs
    (:mod:`eosdyn.analysis.summary`)."""
    p, d = pb.params, pb.data
    nrow = pb.progress.rows
    rec, steps = pb.rec[:nrow], pb.rec_step[:nrow].copy()
    lam = rec[:, L.SHARP]
    edge = run_edge(p)   # 2/eta for GD; the optimizer's edge otherwise (eosdyn.optim)
    rows = records.row_variables(pb)
    step_v = ("step",)
    import xarray as xr

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
            **{k: (step_v if v.ndim == 1 else step_v + ("phase_code",), v) for k, v in rows.items()},
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
        coords={"step": steps, "mode": np.arange(d.rank), "phase_code": np.arange(L.NPHASE)},
    )
    status = pb.progress.status
    ds.attrs.update(provenance(p, d, status, pb.progress.stop_step, wall))
    ds.attrs.update(edge=edge, edge_sharpness="sharpness")
    ds.attrs.update(records.summary_attrs(pb))
    return annotate(ds)


def provenance(p: Params, d, status: Status, status_step: int, wall: float) -> dict:
    """Attributes that make a run reproducible; netCDF-safe types only."""
    params = p.to_dict()
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
        **status_attrs(status, status_step),
        "status_message": status.message(status_step, p.loss_tol, p.max_loss, p.steps),
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
