"""Orbit (bifurcation) diagrams of the GD map over a scalar parameter, with period and Lyapunov
exponent per value.

For each value ``p_k`` of the parameter (``eta`` by default) the run is advanced ``steps`` steps;
the last ``keep`` values of every observable (``eta_sharpness``, ``loss``, ``a_norm2``,
``Dv1``) form its *orbit*; the output Lyapunov exponent (:mod:`eosdyn.analysis.lyapunov`) is averaged over
steps ``[transient, steps]``; the *period* of the orbit is the smallest ``p <= period_max`` with
``max_t |x_{t+p} - x_t| <= period_tol * max_t |x_t|`` (0: none, i.e. aperiodic at that
tolerance; -1: the run diverged; -2: still drifting monotonically, not settled).
Two modes, as in dynamical-systems tools: ``fresh`` (every
value starts from the scenario's initial state; values run in parallel) and ``continuation``
(each value starts from the previous value's final state, or afresh after a divergence).

Runs do not stop at convergence (``loss_tol = 0``) unless asked, so a convergent value's orbit
is its fixed point and its exponent is measured at the minimum it reached.
"""

from __future__ import annotations

import time

import numpy as np
import xarray as xr

from .._version import __version__
from ..errors import ParameterError
from ..kernels import batch_numba as B
from ..kernels import layout as L
from ..model.params import Params, make_params
from ..progress import progress_bar
from ..status import flag_attrs
from .scan import SCANNABLE, Axis, ScanOptions, ScanSpec, iter_blocks, parse_values, run_batch

MODES = ("fresh", "continuation")
#: period code of an orbit still drifting monotonically at the end of the run
NOT_SETTLED = -2
#: parameters of the map itself: continuation keeps the state and changes only these
CONTINUABLE = ("eta", "m")


def detect_period(x: np.ndarray, period_max: int = 64, rtol: float = 1e-6) -> int:
    """Smallest ``p <= period_max`` with ``max |x[p:] - x[:-p]| <= rtol * max |x|``.

    Needs ``len(x) >= 2 p`` to accept ``p``. Otherwise :data:`NOT_SETTLED` (-2) when the orbit
    is still drifting monotonically (``x_{t+p} - x_t`` of one sign for ``p = 1`` or 2: a slow
    approach to a fixed point or 2-cycle, not an aperiodic orbit), else 0 (aperiodic at this
    tolerance); -1 if ``x`` is not finite (diverged).
    """
    x = np.asarray(x, dtype=float)
    if x.size == 0 or not np.all(np.isfinite(x)):
        return -1
    tol = rtol * max(np.max(np.abs(x)), np.finfo(float).tiny)
    for p in range(1, min(period_max, x.size // 2) + 1):
        if np.max(np.abs(x[p:] - x[:-p])) <= tol:
            return p
    for p in (1, 2):
        d = np.sign(x[p:] - x[:-p])
        if x.size > 2 * p and abs(d.sum()) == d.size:
            return NOT_SETTLED
    return 0


def _spec(params: Params, axis: Axis, keep: int, transient: int, renorm: int, block_cells):
    opts = ScanOptions(record=(), tail=keep - 1, orbit=keep, lyapunov=True, lyap_start=transient,
                       renorm=renorm, block_cells=block_cells)
    return ScanSpec(params, (axis,), opts)


def _block(spec: ScanSpec, b: int, parallel: bool = False) -> dict:
    """One block of a fresh-start diagram: the raw per-cell results."""
    sl = spec.block_slices(b)[0]
    params = [spec.cell_params((i,)) for i in range(sl.start, sl.stop)]
    res = run_batch(spec, params, parallel=parallel)
    return {k: res[k] for k in ("orbit", "fsum", "isum")}


def bifurcation(params: Params | None = None, param: str = "eta", values=None, *, keep: int = 200,
                transient: int | None = None, mode: str = "fresh", observable: str = "eta_sharpness",
                period_max: int = 64, period_tol: float = 1e-6, renorm: int = 10,
                loss_tol: float = 0.0, backend: str = "auto", workers: int | None = None,
                scheduler: str | None = None, progress: bool = False) -> xr.Dataset:
    """Orbit diagram of the GD map over ``param``.

    Parameters
    ----------
    params : Params
        The scenario (default: the default scenario); ``steps`` steps per value.
    param : str
        A scannable parameter (:data:`eosdyn.analysis.scan.SCANNABLE`); ``eta`` or ``m`` in continuation.
    values : str or sequence
        ``start:stop:num[:log]``, ``a,b,c`` or numbers.
    keep : int
        Orbit length (last ``keep`` steps).
    transient : int, optional
        First step of the Lyapunov window (default ``steps // 2``).
    mode : {"fresh", "continuation"}
    observable : str
        The observable whose orbit defines the period (all four are returned).
    period_max, period_tol : int, float
        Period detection (:func:`detect_period`).
    renorm : int
        Tangent renormalisation period (steps).
    loss_tol : float
        Stop a value as converged below this reducible loss (0: run all steps).
    backend, workers, scheduler :
        As for :func:`eosdyn.analysis.scan.scan` (fresh mode; continuation is sequential).

    Returns
    -------
    xarray.Dataset
        Over the dimension ``param`` (and ``k`` for orbits): ``orbit_<observable>`` (4),
        ``orbit`` (the chosen one), ``period``, ``lyapunov``, ``status``, ``status_step``,
        ``first_cross_step``, ``n_eos_excursions``, ``n_period2_flips``, ``initial_eta_sharpness``,
        ``final_eta_sharpness``; attrs with provenance.
    """
    params = params or make_params()
    params = params.replace(loss_tol=float(loss_tol))
    axis = _check(params, param, values, keep, transient, mode, observable, period_max, period_tol)
    t0 = params.steps // 2 if transient is None else transient
    n = len(axis.values)
    cells = max(1, min(64, -(-n // 16))) if mode == "fresh" else n
    spec = _spec(params, axis, keep, t0, renorm, cells)
    start = time.perf_counter()
    res = _run(spec, mode, backend, workers, scheduler, progress)
    wall = time.perf_counter() - start
    return _dataset(spec, res, observable, period_max, period_tol, mode, wall)


def _check(params, param, values, keep, transient, mode, observable, period_max, period_tol) -> Axis:
    key = param.replace("-", "_")
    if key not in SCANNABLE:
        raise ParameterError("param", f"must be one of {', '.join(SCANNABLE)}; got {param!r}")
    if mode not in MODES:
        raise ParameterError("mode", f"must be one of {', '.join(MODES)}; got {mode!r}")
    if mode == "continuation" and key not in CONTINUABLE:
        raise ParameterError("param", f"must be one of {', '.join(CONTINUABLE)} in continuation "
                             f"mode (the others change the start, not the map); got {param!r}")
    if observable not in B.OBSERVABLES:
        raise ParameterError("observable", f"must be one of {', '.join(B.OBSERVABLES)}; got {observable!r}")
    if values is None:
        raise ParameterError("values", "are required, e.g. 0.002:0.2:512:log")
    if not 2 <= keep <= params.steps + 1:
        raise ParameterError("keep", f"must be between 2 and steps + 1 = {params.steps + 1}, got {keep}")
    if transient is not None and not 0 <= transient < params.steps:
        raise ParameterError("transient", f"must be in [0, steps = {params.steps}), got {transient}")
    if period_max < 1:
        raise ParameterError("period_max", f"must be >= 1, got {period_max}")
    if not period_tol >= 0:
        raise ParameterError("period_tol", f"must be >= 0, got {period_tol}")
    try:  # errors name the values as given, not the parameter they set
        axis = values if isinstance(values, Axis) else parse_values(key, values)
        for v in axis.values:
            make_params(**{**params.to_dict(), key: v})
    except ParameterError as exc:
        raise ParameterError("values", f"{values!r}: {exc}") from None
    return axis


def _run(spec: ScanSpec, mode, backend, workers, scheduler, progress) -> dict:
    n = spec.shape[0]
    orbit = np.full((n, spec.options.orbit, B.NOBS), np.nan)
    fsum, isum = np.full((n, B.NF), np.nan), np.zeros((n, B.NI), dtype=np.int64)
    label = f"bifurcation {spec.axes[0].name}"
    with progress_bar(n, enabled=progress, label=label, unit="values") as bar:
        if mode == "continuation":
            params = [spec.cell_params((i,)) for i in range(n)]
            res = run_batch(spec, params, chain=True)
            orbit, fsum, isum = res["orbit"], res["fsum"], res["isum"]
            bar(n)
        else:
            for b, res in iter_blocks(spec, list(range(spec.nblocks)), backend, workers,
                                      scheduler, compute=_block):
                sl = spec.block_slices(b)[0]
                orbit[sl], fsum[sl], isum[sl] = res["orbit"], res["fsum"], res["isum"]
                bar(sl.stop - sl.start)
    return {"orbit": orbit, "fsum": fsum, "isum": isum}


def _dataset(spec, res, observable, period_max, period_tol, mode, wall) -> xr.Dataset:
    axis = spec.axes[0]
    dim = axis.name
    orbit, f, i = res["orbit"], res["fsum"], res["isum"]
    k = B.OBSERVABLES.index(observable)
    period = np.array([detect_period(o, period_max, period_tol) if s != L.DIVERGED else -1
                       for o, s in zip(orbit[:, :, k], i[:, B.I_STATUS], strict=True)], dtype=np.int64)
    keep = orbit.shape[1]
    data = {f"orbit_{name}": ((dim, "k"), orbit[:, :, j]) for j, name in enumerate(B.OBSERVABLES)}
    data.update({
        "orbit": ((dim, "k"), orbit[:, :, k], {"long_name": f"last {keep} values of {observable}"}),
        "period": ((dim,), period, {"long_name": "period of the orbit (0 aperiodic, -1 diverged, "
                                               "-2 not settled)"}),
        "lyapunov": ((dim,), f[:, B.F_LYAP], {"long_name": "maximal Lyapunov exponent of the "
                                              "outputs per step (eosdyn.analysis.lyapunov)"}),
        "status": ((dim,), i[:, B.I_STATUS].astype(np.int8), {"long_name": "run status", **flag_attrs()}),
        "status_step": ((dim,), i[:, B.I_STATUS_STEP]),
        "first_cross_step": ((dim,), i[:, B.I_FIRST_CROSS],
                             {"long_name": "first step with Lambda > 2/eta (-1 never)"}),
        "n_eos_excursions": ((dim,), i[:, B.I_EXCURSIONS],
                             {"long_name": "runs of >= 2 consecutive steps above 2/eta (EoS excursions)"}),
        "n_period2_flips": ((dim,), i[:, B.I_FLIPS],
                            {"long_name": "single steps above 2/eta between steps below (period-2 flips)"}),
        "initial_eta_sharpness": ((dim,), f[:, B.F_INIT_ES]),
        "final_eta_sharpness": ((dim,), f[:, B.F_FINAL_ES]),
        "tangent_projections": ((dim,), i[:, B.I_RESETS]),
    })
    coords = {dim: np.asarray(axis.values), "k": np.arange(keep) + spec.base.steps + 1 - keep}
    ds = xr.Dataset(data, coords=coords)
    ds[dim].attrs["scale"] = axis.scale
    ds["k"].attrs["long_name"] = "step"
    ds.attrs.update({
        "title": f"eosdyn bifurcation diagram over {dim}", "eosdyn_kind": "bifurcation",
        "eosdyn_version": __version__, "param": dim, "mode": mode, "observable": observable,
        "steps": spec.base.steps, "keep": keep, "transient": spec.lyap_start,
        "period_max": period_max, "period_tol": period_tol, "renorm": spec.options.renorm,
        "wall_time": wall, "parameters": spec.to_json(),
    })
    return ds


def regimes(ds: xr.Dataset, chaos_tol: float = 1e-3, merge_unsettled: bool = False) -> list[dict]:
    """Consecutive parameter values grouped by regime: ``diverged``, ``period p``,
    ``aperiodic, chaotic`` (Lyapunov exponent ``> chaos_tol``), ``aperiodic`` or ``not settled``
    (with ``merge_unsettled`` the last two are one regime, ``no period found``)."""
    dim = ds.attrs["param"]
    vals, period, lyap = ds[dim].values, ds["period"].values, ds["lyapunov"].values
    names = []
    for p, ly in zip(period, lyap, strict=True):
        if p == -1:
            names.append("diverged")
        elif p == NOT_SETTLED or (p == 0 and merge_unsettled and ly <= chaos_tol):
            names.append("no period found" if merge_unsettled else "not settled (still drifting)")
        elif p > 0:
            names.append(f"period {p}")
        else:
            names.append("aperiodic, chaotic" if ly > chaos_tol else "aperiodic")
    out: list[dict] = []
    for v, name, ly in zip(vals, names, lyap, strict=True):
        if out and out[-1]["regime"] == name:
            out[-1]["stop"] = float(v)
            out[-1]["count"] += 1
            out[-1]["lyap"].append(ly)
        else:
            out.append({"regime": name, "start": float(v), "stop": float(v), "count": 1, "lyap": [ly]})
    for r in out:
        ly = np.asarray(r.pop("lyap"))
        ly = ly[np.isfinite(ly)]
        r["lyapunov_min"] = float(ly.min()) if ly.size else float("nan")
        r["lyapunov_max"] = float(ly.max()) if ly.size else float("nan")
    return out
