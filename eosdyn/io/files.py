"""Atomic netCDF (h5netcdf) and zarr output that never loses or silently replaces data.

* Every file is written to a hidden temporary sibling ``.NAME.XXXXXXXX/`` and renamed into
  place, so an interrupted write never leaves a corrupt file; a temporary left behind by a
  killed process (its writer is no longer running) is removed on the next write of the same
  target.
* An existing target is refused unless ``overwrite=True``, and even then eosdyn replaces only
  its own output of the same kind (:data:`KINDS`, read from ``attrs["eosdyn_kind"]``): a file
  or a directory it did not write (a zarr store holding a ``notes.txt``, another kind of
  output) is never deleted.
* Replacing a zarr store moves the old one aside first and puts it back if the new one cannot
  be moved into place.
* zarr stores are written with consolidated metadata (``xr.open_zarr`` opens them quietly).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import tempfile
import time
import warnings
from pathlib import Path

from ..errors import EosdynError, ParameterError, TargetExistsError

SUFFIXES = (".nc", ".zarr")
#: the kinds of output eosdyn writes (``attrs["eosdyn_kind"]``)
KINDS = ("run", "scan", "bifurcation", "compare")
#: titles of files written before ``eosdyn_kind`` existed
LEGACY_TITLES = {"eosdyn run": "run", "eosdyn scan": "scan", "eosdyn bifurcation": "bifurcation",
                 "eosdyn compare": "compare"}
#: the file in a temporary directory that names its writer (host and process id)
WRITER = ".eosdyn-writer"
#: a temporary directory without a writer file is stale after this many seconds
STALE_AFTER = 600.0
#: what a zarr store holds at its top level besides array folders
ZARR_METADATA = ("zarr.json", ".zgroup", ".zattrs", ".zmetadata")


def check_path(path, name: str = "path") -> Path:
    """``path`` as a Path; one-line error unless it ends in .nc or .zarr and its folder exists."""
    p = Path(path)
    if p.suffix not in SUFFIXES:
        raise ParameterError(name, f"{str(p)!r}: the suffix must be .nc (netCDF) or .zarr")
    if not p.parent.resolve().is_dir():
        raise ParameterError(name, f"{str(p)!r}: folder {str(p.parent)!r} does not exist")
    return p


# ------------------------------------------------------------------------ what a path holds


def _attrs(p: Path) -> dict | None:
    """The global attributes of a netCDF file or zarr store, read without xarray (None if unreadable)."""
    try:
        if p.is_dir():
            if (p / "zarr.json").is_file():
                return json.loads((p / "zarr.json").read_text()).get("attributes", {})
            if (p / ".zattrs").is_file():
                return json.loads((p / ".zattrs").read_text())
            return None
        import h5py

        with h5py.File(p, "r") as f:
            return {k: (v.decode() if isinstance(v, bytes) else v) for k, v in f.attrs.items()}
    except Exception:
        return None


def kind_of(path) -> str | None:
    """The kind of eosdyn output at ``path`` (one of :data:`KINDS`), or None when eosdyn did not write it."""
    attrs = _attrs(Path(path))
    if not attrs:
        return None
    kind = attrs.get("eosdyn_kind")
    if kind in KINDS:
        return str(kind)
    title = str(attrs.get("title", ""))
    return next((k for prefix, k in LEGACY_TITLES.items() if title.startswith(prefix)), None)


def foreign_entries(path) -> list[str]:
    """Top-level entries of the directory ``path`` that are not part of a zarr store."""
    p = Path(path)
    if not p.is_dir():
        return []
    foreign = []
    for entry in sorted(p.iterdir()):
        if entry.name in ZARR_METADATA:
            continue
        if entry.is_dir() and not entry.is_symlink() and any((entry / m).exists() for m in ("zarr.json", ".zarray")):
            continue
        foreign.append(entry.name)
    return foreign


def describe(path) -> str:
    """``an eosdyn run`` / ``not written by eosdyn`` for messages."""
    kind = kind_of(path)
    return f"an eosdyn {kind}" if kind else "not written by eosdyn"


def check_target(path, kind: str, overwrite: bool = False, name: str = "path") -> Path:
    """``path`` checked as an output of ``kind``: a one-line :class:`TargetExistsError` if it
    exists, unless ``overwrite`` and it is eosdyn's own output of the same kind (then it may
    be replaced)."""
    p = check_path(path, name)
    if not (p.exists() or p.is_symlink()):
        return p
    found = kind_of(p)
    foreign = foreign_entries(p)
    never = "; eosdyn replaces only its own outputs of the same kind: remove it yourself or choose another path"
    if found is None or p.is_symlink():
        raise TargetExistsError(name, f"{str(p)!r} already exists and was not written by eosdyn{never}")
    if found != kind:
        raise TargetExistsError(name, f"{str(p)!r} already exists and holds an eosdyn {found}, not a {kind}{never}")
    if foreign:
        shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
        raise TargetExistsError(name, f"{str(p)!r} holds files eosdyn did not write ({shown}){never}")
    if not overwrite:
        raise TargetExistsError(name, f"{str(p)!r} already exists ({describe(p)}); pass overwrite=True to replace it")
    return p


# ------------------------------------------------------------------------------- writing


def _writer_alive(tmp: Path) -> bool:
    """Is the process that made the temporary directory ``tmp`` still running?"""
    try:
        host, pid = (tmp / WRITER).read_text().split()
    except (OSError, ValueError):
        return time.time() - tmp.stat().st_mtime < STALE_AFTER
    if host != socket.gethostname():
        return time.time() - tmp.stat().st_mtime < 24 * 3600.0
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError, OverflowError):
        return True
    return True


def clean_stale(path) -> list[Path]:
    """Remove the temporary directories of earlier writes of ``path`` whose writer is gone."""
    p = Path(path)
    removed = []
    prefix = f".{p.name}."
    for tmp in p.parent.glob(f".{p.name}.*"):
        rest = tmp.name[len(prefix):]
        if not tmp.is_dir() or tmp.is_symlink() or len(rest) != 8 or not rest.replace("_", "").isalnum():
            continue
        with contextlib.suppress(OSError):
            if not _writer_alive(tmp):
                shutil.rmtree(tmp)
                removed.append(tmp)
    return removed


@contextlib.contextmanager
def consolidating():
    """Silence zarr 3's note that consolidated metadata is not yet in the v3 specification
    (xarray and zarr-python read it; it is what lets ``xr.open_zarr`` open eosdyn stores quietly)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Consolidated metadata is currently not part")
        yield


@contextlib.contextmanager
def staging(path):
    """A fresh temporary directory beside ``path`` (stale ones of earlier writes removed first),
    deleted on exit whatever happens."""
    p = Path(path)
    clean_stale(p)
    tmp = Path(tempfile.mkdtemp(prefix=f".{p.name}.", dir=p.parent))
    try:
        (tmp / WRITER).write_text(f"{socket.gethostname()} {os.getpid()}\n")
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def move_into_place(src: Path, target: Path, tmp: Path) -> None:
    """Rename ``src`` to ``target``; an existing ``target`` directory is moved into ``tmp``
    first and moved back if the second rename fails, so the old output is never lost."""
    if target.is_dir() and not target.is_symlink():
        old = tmp / "old"
        os.replace(target, old)
        try:
            os.replace(src, target)
        except BaseException:
            os.replace(old, target)
            raise
    else:
        os.replace(src, target)


def save(ds, path, overwrite: bool = False, kind: str | None = None) -> Path:
    """Write ``ds`` to ``path`` (.nc or .zarr) atomically.

    Parameters
    ----------
    ds : xarray.Dataset
        An eosdyn output; its kind is ``kind`` or ``ds.attrs["eosdyn_kind"]`` (default ``run``)
        and is written to ``attrs["eosdyn_kind"]``.
    path : path-like
        ``.nc`` (netCDF via h5netcdf) or ``.zarr`` (consolidated metadata).
    overwrite : bool
        Replace an existing output of the same kind written by eosdyn (nothing else is ever
        replaced; see :func:`check_target`).
    """
    kind = kind or ds.attrs.get("eosdyn_kind", "run")
    if kind not in KINDS:
        raise ParameterError("kind", f"must be one of {', '.join(KINDS)}; got {kind!r}")
    p = check_target(path, kind, overwrite)
    ds = ds.copy(deep=False)
    ds.attrs = {**ds.attrs, "eosdyn_kind": kind}
    with staging(p) as tmp:
        target = tmp / p.name
        if p.suffix == ".nc":
            ds.to_netcdf(target, engine="h5netcdf")
        else:
            with consolidating():
                ds.to_zarr(target, mode="w", consolidated=True)
        move_into_place(target, p, tmp)
    return p


def save_weights(path, weights: dict, name: str = "save_init") -> Path:
    """Write network weights (``A``, ``W1 .. WK``; the format ``init`` files are read in) to the
    ``.npz`` file ``path``, atomically; an existing file is never replaced (a one-line
    :class:`TargetExistsError` naming the parameter ``name``)."""
    import numpy as np

    p = Path(path)
    if p.suffix != ".npz":
        raise ParameterError(name, f"must be a .npz path, got {str(p)!r}")
    if not p.parent.resolve().is_dir():
        raise ParameterError(name, f"must be in an existing folder; {str(p.parent)!r} does not exist")
    if p.exists() or p.is_symlink():
        raise TargetExistsError(name, f"{str(p)!r} exists: weights files are never replaced; choose another path")
    with staging(p) as tmp:
        target = tmp / p.name
        np.savez(target, **{k: np.asarray(v) for k, v in weights.items()})
        os.replace(target, p)
    return p


# ------------------------------------------------------------------------------- reading

#: how to open each kind from Python (for messages)
OPENERS = {"run": "eosdyn.open_run", "scan": "eosdyn.open_scan", "bifurcation": "eosdyn.open_output",
           "compare": "eosdyn.open_output"}


def _open(p: Path):
    import xarray as xr

    if p.suffix == ".zarr" or p.is_dir():
        with contextlib.suppress(Exception):
            return xr.open_zarr(p, consolidated=True)
        return xr.open_zarr(p, consolidated=False)
    return xr.open_dataset(p, engine="h5netcdf")


def open_output(path, load: bool = True):
    """Open any eosdyn output (run, scan, bifurcation, compare); ``attrs["eosdyn_kind"]`` says which.

    Scans are opened lazily (dask) unless ``load``; the others are read into memory.
    """
    p = Path(path)
    if not (p.exists()):
        raise EosdynError(f"{str(p)!r} does not exist")
    kind = kind_of(p)
    if kind is None:
        raise EosdynError(f"{str(p)!r} is not an eosdyn output (a .nc file or .zarr store written by eosdyn)")
    try:
        ds = _open(p)
        if load or kind != "scan":
            loaded = ds.load()
            ds.close()
            ds = loaded
    except Exception as exc:
        raise EosdynError(f"cannot read {str(p)!r}: {exc}") from None
    ds.attrs.setdefault("eosdyn_kind", kind)
    return ds


def open_run(path):
    """Open a saved run (netCDF or zarr) into memory with all attrs."""
    p = Path(path)
    if not p.exists():
        raise EosdynError(f"run file {str(p)!r} does not exist")
    kind = kind_of(p)
    if kind is None:
        raise EosdynError(f"{str(p)!r} is not a run file written by eosdyn (.nc or .zarr)")
    if kind != "run":
        raise EosdynError(f"{str(p)!r} holds an eosdyn {kind}, not a run (open it with {OPENERS[kind]})")
    return open_output(p)
