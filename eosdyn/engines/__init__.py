"""The engine table: how a run advances, behind one interface.

:data:`METHODS` maps ``engine`` names to engine classes, like scipy's ``solve_ivp`` ``METHODS``.
Each is built from a :class:`~eosdyn.engines.base.Problem` and exposes ``advance(t0, t1)`` and
``final()``.
"""

from .base import Problem
from .flow import FlowEngine
from .full import FullEngine
from .reduced import FirstOrderEngine, ReducedEngine

METHODS: dict[str, type] = {
    "reduced": ReducedEngine,
    "first-order": FirstOrderEngine,
    "full": FullEngine,
    "flow": FlowEngine,
}

__all__ = ["METHODS", "FirstOrderEngine", "FlowEngine", "FullEngine", "Problem", "ReducedEngine"]
