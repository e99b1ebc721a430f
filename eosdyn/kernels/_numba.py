"""The one place that sets numba options for every eosdyn kernel.

Kernels are compiled in nopython mode (``njit``) with ``cache=True`` (compiled code is reused
across processes) and ``fastmath=False`` (IEEE semantics: results do not depend on the
compiler's reassociation).

numba's on-disk cache is invalidated only by changes to the file that defines a function, not
to the kernels it calls from other files (a stale caller would silently keep an old callee).
So, unless ``NUMBA_CACHE_DIR`` is set, the cache lives in a folder named after a digest of all
kernel sources: any change to any kernel starts a fresh cache.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numba

JIT_OPTIONS = {"cache": True, "fastmath": False, "nogil": True}


def _kernel_digest() -> str:
    here = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for path in sorted(here.glob("*.py")):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


if not os.environ.get("NUMBA_CACHE_DIR"):
    numba.config.CACHE_DIR = str(Path(__file__).resolve().parent / "__pycache__" / f"numba-{_kernel_digest()}")


def jit(func=None, **overrides):
    """``numba.njit`` with eosdyn's options; usable as ``@jit`` or ``@jit(parallel=True)``."""
    options = {**JIT_OPTIONS, **overrides}
    if func is None:
        return lambda f: numba.njit(**options)(f)
    return numba.njit(**options)(func)
