"""Atomic netCDF (h5netcdf) and zarr output: an interrupted write never leaves a corrupt file."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import xarray as xr

from ..errors import EosdynError

SUFFIXES = (".nc", ".zarr")


def check_path(path) -> Path:
    """Return ``path`` as a Path; one-line error unless it ends in .nc or .zarr and its folder exists."""
    p = Path(path)
    if p.suffix not in SUFFIXES:
        raise EosdynError(f"--out {str(p)!r}: the suffix must be .nc (netCDF) or .zarr")
    if not p.parent.resolve().is_dir():
        raise EosdynError(f"--out {str(p)!r}: folder {str(p.parent)!r} does not exist")
    return p


def save(ds: xr.Dataset, path) -> Path:
    """Write ``ds`` to ``path`` (.nc or .zarr) via a temporary sibling and an atomic rename."""
    p = check_path(path)
    tmp = Path(tempfile.mkdtemp(prefix=f".{p.name}.", dir=p.parent))
    try:
        target = tmp / p.name
        if p.suffix == ".nc":
            ds.to_netcdf(target, engine="h5netcdf")
            os.replace(target, p)
        else:
            ds.to_zarr(target, mode="w", consolidated=False)
            if p.exists():
                old = tmp / "old"
                os.replace(p, old)
            os.replace(target, p)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return p


def open_run(path) -> xr.Dataset:
    """Open a saved run (netCDF or zarr) into memory with all attrs."""
    p = Path(path)
    if not p.exists():
        raise EosdynError(f"run file {str(p)!r} does not exist")
    try:
        if p.suffix == ".zarr" or p.is_dir():
            return xr.open_zarr(p, consolidated=False).load()
        with xr.open_dataset(p, engine="h5netcdf") as ds:
            return ds.load()
    except EosdynError:
        raise
    except Exception as exc:
        raise EosdynError(f"cannot read run file {str(p)!r}: {exc}") from None
