"""The one place that sets numba options for every eosdyn kernel, and only for them.

Kernels are compiled in nopython mode (``njit``) with

* ``fastmath=False``: IEEE semantics, results do not depend on the compiler's reassociation;
* ``error_model="numpy"``: IEEE semantics for division too, ``x / 0.0`` is ``inf`` or ``nan``
  as in numpy (numba's default ``"python"`` model raises ``ZeroDivisionError`` and pays a
  branch per division); a run that produces them stops as ``diverged``;
* ``nogil=True``: scans run blocks on threads;
* an on-disk cache of compiled code that is eosdyn's own (:class:`KernelCacheLocator`).

Nothing here changes numba's process-wide settings (``numba.config``): other packages in the
same process keep numba's defaults. numba's own cache is invalidated only by changes to the
file that defines a function, not to the kernels it calls from other files (a stale caller
would silently keep an old callee); eosdyn's cache stamps every kernel with a digest of all
kernel sources (:func:`kernel_digest`), so any change to any kernel recompiles them all. It
lives in ``eosdyn/kernels/__pycache__/numba`` (or under ``NUMBA_CACHE_DIR`` when that is set),
falling back to a per-user folder on a read-only install; worker processes (the
``processes`` and Dask scan backends) find it the same way.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path

import numba
from numba.core import caching

JIT_OPTIONS = {"fastmath": False, "error_model": "numpy", "nogil": True}
#: folders whose Python sources make up the kernels (the digest covers all of them)
KERNEL_DIRS = (Path(__file__).resolve().parent,)

_digest: dict = {}


def kernel_digest(dirs=KERNEL_DIRS) -> str:
    """A digest of every ``*.py`` file of the kernel folders (recomputed when one changes)."""
    files = sorted(p for d in dirs for p in Path(d).glob("*.py"))
    key = tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in files)
    if key not in _digest:
        h = hashlib.sha256()
        for path in files:
            h.update(path.name.encode())
            h.update(path.read_bytes())
        _digest.clear()
        _digest[key] = h.hexdigest()[:16]
    return _digest[key]


def cache_dirs() -> list[Path]:
    """Where the compiled kernels may live, in order of preference."""
    user = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    tag = hashlib.sha1(str(KERNEL_DIRS[0]).encode()).hexdigest()[:12]
    dirs = []
    if numba.config.CACHE_DIR:
        dirs.append(Path(numba.config.CACHE_DIR) / f"eosdyn-{tag}")
    dirs.append(KERNEL_DIRS[0] / "__pycache__" / "numba")
    dirs.append(Path(user) / "eosdyn" / f"numba-{tag}")
    dirs.append(Path(tempfile.gettempdir()) / f"eosdyn-numba-{os.getuid() if hasattr(os, 'getuid') else 0}-{tag}")
    return dirs


class KernelCacheLocator(caching._CacheLocator):
    """numba cache locator for eosdyn's kernels: one folder (the first writable of
    :func:`cache_dirs`), stamped with :func:`kernel_digest` instead of the defining file."""

    def __init__(self, py_func, py_file, path: Path):
        self._py_file = py_file
        self._lineno = py_func.__code__.co_firstlineno
        self._path = str(path)

    def get_cache_path(self):
        return self._path

    def get_source_stamp(self):
        return kernel_digest()

    def get_disambiguator(self):
        return str(self._lineno)

    @classmethod
    def from_function(cls, py_func, py_file):
        for path in cache_dirs():
            locator = cls(py_func, py_file, path)
            try:
                locator.ensure_cache_path()
            except OSError:
                continue
            return locator
        return None


class _KernelCacheImpl(caching.CompileResultCacheImpl):
    _locator_classes = [KernelCacheLocator]


class KernelCache(caching.FunctionCache):
    """numba's function cache with :class:`KernelCacheLocator` (set on each kernel by :func:`jit`)."""

    _impl_class = _KernelCacheImpl


def jit(func=None, **overrides):
    """``numba.njit`` with eosdyn's options and cache; usable as ``@jit`` or ``@jit(parallel=True)``."""
    options = {**JIT_OPTIONS, **overrides}
    cache = options.pop("cache", True)

    def compile_(f):
        dispatcher = numba.njit(cache=False, **options)(f)
        if cache and isinstance(dispatcher, numba.core.dispatcher.Dispatcher):
            dispatcher._cache = KernelCache(f)
        return dispatcher

    return compile_ if func is None else compile_(func)


class CompileTimer:
    """Seconds numba spent compiling or loading cached kernels (holding its compiler lock)."""

    seconds: float = 0.0

    def _add(self, duration: float) -> None:
        self.seconds += duration


@contextlib.contextmanager
def compile_timer():
    """Measure the time numba spends compiling or loading kernels inside the block."""
    from numba.core import event

    timer = CompileTimer()
    with event.install_timer("numba:compiler_lock", timer._add):
        yield timer
