"""Exceptions raised by eosdyn's validation layer (never from inside kernels)."""

from __future__ import annotations


class EosdynError(Exception):
    """Base class for errors meant to be shown to a user as one line."""


class ParameterError(EosdynError, ValueError):
    """A parameter is outside its allowed range.

    The message always names the parameter and the allowed range, e.g.
    ``eta must be a finite number > 0, got -1.0``.
    """

    def __init__(self, name: str, message: str):
        self.name = name
        super().__init__(f"{name} {message}")


class DataError(EosdynError, ValueError):
    """A data or initialisation file cannot be used (missing, unreadable, wrong shape, not finite)."""
