"""Validation of the optimizer parameters of :class:`~eosdyn.model.params.Params` (one-line errors).

``optimizer`` (``gd``, ``momentum``, ``nesterov``, ``rmsprop``, ``adam``), ``momentum`` (beta of
heavy ball / Nesterov, in [0, 1)), ``beta1``, ``beta2`` (in [0, 1)), ``adam_eps`` (> 0),
``bias_correction``, ``batch_size`` (1 <= b <= n; None: full batch), ``batch_seed`` and
``batch_sharpness_samples`` (batches averaged per recorded step for ``batch_sharpness``).
Constants an optimizer uses default to :data:`eosdyn.optim.DEFAULTS`; giving one it does not use
is an error (a scan over ``momentum`` with ``optimizer = "gd"`` would silently do nothing).
"""

from __future__ import annotations

import math

from ..errors import ParameterError
from . import ADAPTIVE, DEFAULTS, OPTIMIZERS, USES

#: engines that run each kind of optimizer (reduced maps exist for the rotation-invariant ones)
ENGINES_FOR = {"gd": ("reduced", "full"), "momentum": ("reduced", "full"), "nesterov": ("reduced", "full"),
               "rmsprop": ("full",), "adam": ("full",)}


def check(p) -> None:
    """Validate and complete the optimizer fields of ``p`` in place (frozen dataclass)."""
    if p.optimizer not in OPTIMIZERS:
        raise ParameterError("optimizer", f"must be one of {', '.join(OPTIMIZERS)}; got {p.optimizer!r}")
    for key, default in DEFAULTS.items():
        value = getattr(p, key)
        if key not in USES[p.optimizer]:
            if value is not None:
                raise ParameterError(key, f"does not apply to optimizer {p.optimizer!r} (used by "
                                     f"{', '.join(o for o in OPTIMIZERS if key in USES[o])})")
            continue
        if value is None:
            value = default
        if key == "adam_eps":
            _number(key, value, "a finite number > 0", lambda v: v > 0)
        else:
            _number(key, value, "a number in [0, 1)", lambda v: 0 <= v < 1)
        object.__setattr__(p, key, float(value))
    if not isinstance(p.bias_correction, bool | int) or p.bias_correction not in (0, 1):
        raise ParameterError("bias_correction", f"must be true or false, got {p.bias_correction!r}")
    object.__setattr__(p, "bias_correction", bool(p.bias_correction))
    if p.batch_size is not None:
        b = p.batch_size
        bad = isinstance(b, bool) or not isinstance(b, int | float) or b != b or b != int(b) or b < 1
        if p.data is None and (bad or b > p.n):
            raise ParameterError("batch_size", f"must be an integer in [1, n = {p.n}], got {b!r}")
        _integer("batch_size", b, 1)
        object.__setattr__(p, "batch_size", int(b))
    _integer("batch_seed", p.batch_seed, 0)
    _integer("batch_sharpness_samples", p.batch_sharpness_samples, 1)
    if p.optimizer == "gd" and p.batch_size is None:
        return
    engines = ENGINES_FOR[p.optimizer]
    if p.engine not in engines:
        why = (" (its coordinate-wise preconditioner breaks the rotation invariance the reduced map "
               "relies on)" if p.optimizer in ADAPTIVE and p.engine == "reduced" else "")
        what = f"optimizer {p.optimizer!r}" + (f" with batch_size {p.batch_size}" if p.batch_size else "")
        raise ParameterError("engine", f"must be {' or '.join(engines)} for {what}{why}; got {p.engine!r}")


def check_batch_size(batch_size, n: int) -> None:
    """``1 <= batch_size <= n`` once the data (and so n) are known."""
    if batch_size is not None and not 1 <= batch_size <= n:
        raise ParameterError("batch_size", f"must be an integer in [1, n = {n}], got {batch_size}")


def _number(key, v, what, ok) -> None:
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or not ok(v):
        raise ParameterError(key, f"must be {what}, got {v!r}")


def _integer(key, v, lo) -> None:
    if isinstance(v, bool) or not isinstance(v, int | float) or v != v or v != int(v) or v < lo:
        raise ParameterError(key, f"must be an integer >= {lo}, got {v!r}")
