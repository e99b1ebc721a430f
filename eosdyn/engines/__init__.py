"""The engine table: how a run advances, behind one interface.

:data:`METHODS` maps ``engine`` names to engine classes, like scipy's ``solve_ivp`` ``METHODS``.
Each is built from a :class:`~eosdyn.engines.base.Problem` and exposes ``advance(t0, t1)`` and
``final()``.
"""

from ..nets.engine import NetworkEngine  # imports JAX only when an engine is built
from .base import Problem
from .central_flow import CentralFlowEngine
from .flow import FlowEngine
from .full import FullEngine
from .reduced import FirstOrderEngine, ReducedEngine
from .stable_flow import StableFlowEngine

METHODS: dict[str, type] = {
    "reduced": ReducedEngine,
    "first-order": FirstOrderEngine,
    "full": FullEngine,
    "flow": FlowEngine,
    "central-flow": CentralFlowEngine,
    "stable-flow": StableFlowEngine,
    "network": NetworkEngine,
}

__all__ = [
    "METHODS", "CentralFlowEngine", "FirstOrderEngine", "FlowEngine", "FullEngine", "NetworkEngine", "Problem",
    "ReducedEngine", "StableFlowEngine",
]
