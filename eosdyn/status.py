"""How a run ended: the one status enumeration of eosdyn.

Kernels write the integer codes (:mod:`eosdyn.kernels.layout` holds them as plain ints for
numba); datasets carry the names, and the codes with their meanings as CF flags::

    run attrs:     status = "converged", status_code = 1,
                   status_flag_values = [-1, 0, 1, 2], status_flag_meanings = "not_run max_steps ..."
    scan / bifurcation ``status`` variables: int8 codes with attrs flag_values, flag_meanings

and are read back by name (:meth:`Status.of`, :func:`decode`), never by position.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np


class Status(IntEnum):
    """The state of a run (or of a scan cell).

    ``NOT_RUN`` (-1): not finished (a run still in progress, a scan cell not computed yet);
    ``MAX_STEPS``: ran all its steps; ``CONVERGED``: the reducible loss fell to ``loss_tol``;
    ``DIVERGED``: the loss or ``||A||^2`` overflowed ``max_loss`` or stopped being finite (a
    result, not an error).
    """

    NOT_RUN = -1
    MAX_STEPS = 0
    CONVERGED = 1
    DIVERGED = 2

    @property
    def label(self) -> str:
        """The name written to files: ``not_run``, ``max_steps``, ``converged``, ``diverged``."""
        return self.name.lower()

    @classmethod
    def of(cls, value) -> Status:
        """The status of a code, a label (``"converged"``) or a member."""
        if isinstance(value, str):
            try:
                return cls[value.strip().upper()]
            except KeyError:
                raise ValueError(f"unknown status {value!r}; known: {', '.join(labels())}") from None
        return cls(int(value))

    def message(self, step: int, loss_tol: float, max_loss: float, steps: int) -> str:
        """One line saying why the run stopped where it did."""
        if self is Status.CONVERGED:
            return f"reducible loss <= loss_tol = {loss_tol:g} at step {step}"
        if self is Status.DIVERGED:
            return f"loss or ||A||^2 overflowed (> {max_loss:g} or not finite) at step {step}"
        if self is Status.MAX_STEPS:
            return f"ran all {steps} steps"
        return f"not finished (stopped at step {step})"


def labels() -> list[str]:
    return [s.label for s in Status]


def flag_attrs() -> dict:
    """CF attributes of an int8 variable holding status codes."""
    return {
        "flag_values": np.array([int(s) for s in Status], dtype=np.int8),
        "flag_meanings": " ".join(labels()),
    }


def run_attrs(status: Status, step: int) -> dict:
    """The status attributes of a run dataset (name, code, CF flag table, step)."""
    flags = flag_attrs()
    return {
        "status": status.label,
        "status_code": int(status),
        "status_flag_values": flags["flag_values"],
        "status_flag_meanings": flags["flag_meanings"],
        "status_step": int(step),
    }


def decode(codes, attrs: dict | None = None) -> np.ndarray:
    """Status labels of an array of codes, read through the variable's own CF table
    (``attrs`` with ``flag_values`` and ``flag_meanings``) when given, else :class:`Status`."""
    codes = np.asarray(codes)
    if attrs is not None and "flag_meanings" in attrs:
        table = dict(zip((int(v) for v in np.atleast_1d(attrs["flag_values"])),
                         str(attrs["flag_meanings"]).split(), strict=True))
    else:
        table = {int(s): s.label for s in Status}
    out = np.full(codes.shape, "unknown", dtype=object)
    for code, name in table.items():
        out[codes == code] = name
    return out


def encode(name: str) -> int:
    """The code of a status label (``"diverged"`` -> 2)."""
    return int(Status.of(name))
