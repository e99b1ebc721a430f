"""JAX, imported on demand, and float64 without touching the process-wide JAX configuration.

eosdyn's core install has no JAX (``pip install "eosdyn[nets]"`` adds it). :func:`require`
imports it or raises a one-line :class:`~eosdyn.errors.EosdynError` saying what to install.

Float64: every entry point of :mod:`eosdyn.nets` that traces, compiles or runs JAX code does so
inside ``jax.enable_x64(True)`` (:func:`x64`), a thread-local context manager that restores the
previous setting on exit. eosdyn never calls ``jax.config.update("jax_enable_x64", ...)``, so other
JAX code in the same process keeps its own precision; arrays eosdyn returns are numpy float64.
"""

from __future__ import annotations

import functools

from ..errors import EosdynError

INSTALL = "engine network needs JAX: pip install \"eosdyn[nets]\" (or pip install jax)"


def require():
    """``jax`` or a one-line :class:`EosdynError` saying what to install."""
    try:
        import jax
    except ImportError:
        raise EosdynError(INSTALL) from None
    if not hasattr(jax, "enable_x64"):  # pragma: no cover - very old JAX
        raise EosdynError(f"JAX {jax.__version__} is too old for eosdyn's network engine (needs jax >= 0.7)")
    return jax


def x64(fn):
    """Decorator: run ``fn`` with JAX float64 enabled for this thread only."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        jax = require()
        with jax.enable_x64(True):
            return fn(*args, **kwargs)

    return wrapper
