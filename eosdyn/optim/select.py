"""Which engine runs a parameter set: plain full-batch GD keeps the engine table
(:data:`eosdyn.engines.METHODS`); other optimizers and mini-batches go to the optimizer engines.

* ``reduced`` + ``momentum``/``nesterov``/mini-batches: :class:`~eosdyn.engines.momentum.ReducedOptimEngine`;
* ``full`` + any optimizer other than plain GD: :class:`~eosdyn.engines.full_optim.FullOptimEngine`
  (RMSProp/Adam also record ``preconditioned_sharpness``, :mod:`eosdyn.optim.precond`);
* ``network`` (JAX, another branch): its optimizer hook is described in :mod:`eosdyn.optim.network`.
"""

from __future__ import annotations

from . import is_plain_gd


def engine_class(p):
    """The engine constructor (a class or a callable ``Problem -> engine``) for ``p``."""
    from ..engines import METHODS

    if is_plain_gd(p):
        return METHODS[p.engine]
    if p.engine == "reduced":
        from ..engines.momentum import ReducedOptimEngine

        return ReducedOptimEngine
    if p.engine == "full":
        from ..engines.full_optim import FullOptimEngine

        return FullOptimEngine
    raise ValueError(f"engine {p.engine!r} cannot run optimizer {p.optimizer!r}")  # Params rejects it
