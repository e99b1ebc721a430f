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


class TargetExistsError(ParameterError):
    """An output path exists and may not be replaced (not without ``overwrite``, or never: eosdyn
    replaces only its own outputs of the same kind)."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during a run or a scan, with what was done (``step`` reached, ``saved``/``total``
    blocks of a scan); the command line prints :attr:`message` and exits with status 130."""

    def __init__(self, message: str, step: int | None = None, saved: int | None = None, total: int | None = None):
        super().__init__(message)
        self.message, self.step, self.saved, self.total = message, step, saved, total
