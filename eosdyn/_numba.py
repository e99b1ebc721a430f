"""The one place that sets numba options for every eosdyn kernel.

Kernels are compiled in nopython mode (``njit``) with ``cache=True`` (compiled code is reused across processes) and
``fastmath=False`` (IEEE semantics: results do not depend on the compiler's reassociation).
"""

from __future__ import annotations

import numba

JIT_OPTIONS = {"cache": True, "fastmath": False, "nogil": True}


def jit(func=None, **overrides):
    """``numba.njit`` with eosdyn's options; usable as ``@jit`` or ``@jit(parallel=True)``."""
    options = {**JIT_OPTIONS, **overrides}
    if func is None:
        return lambda f: numba.njit(**options)(f)
    return numba.njit(**options)(func)
