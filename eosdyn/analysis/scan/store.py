"""The zarr store of a scan: its schema, creation, resume bookkeeping and reading back."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import xarray as xr

from ..._version import __version__
from ...errors import EosdynError
from ...status import flag_attrs
from .grid import NOT_RUN, PHASES, STATUS_NAMES, ScanSpec

# ---------------------------------------------------------------------------------- schema

SUMMARY_DOCS = {
    "status": ("int8", NOT_RUN, "Run status (CF flag_values / flag_meanings; not_run: the cell's "
               "block was not computed yet)."),
    "status_step": ("int64", -1, "Step at which the run stopped."),
    "first_cross_step": ("int64", -1, "First step above the edge (Lambda > 2/eta for GD, the "
                         "optimizer's edge otherwise; -1: never)."),
    "n_eos_excursions": ("int64", -1, "EoS excursions: runs of >= 2 consecutive steps above the edge "
                         "(the sawtooth cycles), over every step (every sharpness_every-th)."),
    "n_period2_flips": ("int64", -1, "Period-2 flips: single steps above the edge between steps below, "
                        "over every step (every sharpness_every-th)."),
    "initial_eta_sharpness": ("float64", np.nan, "eta * Lambda at step 0."),
    "final_eta_sharpness": ("float64", np.nan, "eta * Lambda at the last step."),
    "max_loss": ("float64", np.nan, "Largest loss over the run."),
    "final_loss": ("float64", np.nan, "Loss at the last step."),
    "tail_min_eta_sharpness": ("float64", np.nan, "Minimum of eta * Lambda over the tail steps."),
    "tail_max_eta_sharpness": ("float64", np.nan, "Maximum of eta * Lambda over the tail steps."),
    "phase": ("int8", NOT_RUN, "Phase: " + ", ".join(f"{i} {p}" for i, p in enumerate(PHASES))
              + " (eosdyn.analysis.scan.classify); -1 not run."),
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
        attrs = {"long_name": doc, **(flag_attrs() if name == "status" else {})}
        variables[name] = xr.Variable(dims, arr, attrs)
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
        "eosdyn_kind": "scan",
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
    """Write the empty store (metadata and coordinates only, consolidated) atomically; an
    existing store at ``path`` is replaced only once the new one is complete."""
    from ...io.files import consolidating, move_into_place, staging

    ds, encoding = template(spec)
    with staging(path) as tmp, consolidating():
        ds.to_zarr(tmp / path.name, mode="w", compute=False, encoding=encoding, consolidated=True)
        move_into_place(tmp / path.name, path, tmp)


def _stored_spec(p: Path) -> str | None:
    import zarr

    try:
        return zarr.open_group(str(p), mode="r").attrs["scan_spec"]
    except Exception:
        return None


def open_store(spec: ScanSpec, path, overwrite: bool = False):
    """The zarr group of the scan at ``path`` (created if absent). A store of the same scan is
    resumed; a store of a different scan is replaced only with ``overwrite``; anything that is
    not an eosdyn scan store is never replaced (:func:`eosdyn.io.files.check_target`)."""
    import zarr

    from ...errors import ParameterError, TargetExistsError
    from ...io.files import check_target, foreign_entries, kind_of

    p = Path(path)
    if p.suffix != ".zarr":
        raise ParameterError("path", f"{str(p)!r}: a scan is saved as a .zarr store")
    if not p.parent.resolve().is_dir():
        raise ParameterError("path", f"{str(p)!r}: folder {str(p.parent)!r} does not exist")
    if p.exists() or p.is_symlink():
        stored = _stored_spec(p) if kind_of(p) == "scan" and not foreign_entries(p) else None
        if stored is None:
            check_target(p, "scan", overwrite)  # raises: not a scan store, or holds other files
            raise EosdynError(f"{str(p)!r} is an eosdyn scan store that cannot be read; remove it yourself")
        if overwrite:
            create_store(spec, p)
        elif not same_scan(stored, spec.to_json()):
            raise TargetExistsError("path", f"{str(p)!r} holds a different scan; pass overwrite=True to replace it, "
                                    "or choose another path")
    else:
        create_store(spec, p)
    return zarr.open_group(str(p), mode="r+")


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
    """Boolean per block: every cell of the block has a status.

    A ``status`` chunk that cannot be decoded (a write cut short by a killed process, with a zarr
    whose chunk writes are not atomic) counts as not done, so that block is computed again.
    """
    done = np.zeros(spec.nblocks, dtype=bool)
    try:
        status = np.asarray(group["status"][...]) if spec.axes else np.asarray([group["status"][...]])
    except Exception:
        status = None
    for b in range(spec.nblocks):
        sl = spec.block_slices(b)
        if status is not None:
            done[b] = bool(np.all(status[sl] >= 0))
            continue
        try:
            part = np.asarray(group["status"][sl] if spec.axes else [group["status"][...]])
        except Exception:
            continue
        done[b] = bool(np.all(part >= 0))
    return done


def write_block(spec: ScanSpec, group, b: int, result: dict) -> None:
    """Write block ``b``: every variable's chunk, ``status`` last."""
    slices = spec.block_slices(b)
    for name, value in result.items():
        region = slices + ((slice(None),) if value.ndim > len(slices) else ())
        group[name][region] = value


def open_scan(path) -> xr.Dataset:
    """Open a scan store lazily (dask-backed; ``.load()`` to read it all)."""
    from ...io.files import kind_of

    p = Path(path)
    if not p.exists():
        raise EosdynError(f"scan store {str(p)!r} does not exist")
    kind = kind_of(p)
    if kind != "scan":
        what = f"holds an eosdyn {kind}" if kind else "is not a store written by eosdyn"
        raise EosdynError(f"{str(p)!r} {what}, not a scan")
    try:
        try:
            return xr.open_zarr(p, consolidated=True)
        except Exception:  # stores written before metadata was consolidated
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
