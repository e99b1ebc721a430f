"""The engine table: how a run advances, behind one interface.

:data:`METHODS` maps ``engine`` names to engine classes, like scipy's ``solve_ivp`` ``METHODS``.
Each is an :class:`~eosdyn.engines.base.Engine` built from a :class:`~eosdyn.engines.base.Problem`;
the contract (``advance``, ``current``, ``final``, ``finish``, the ONE recording loop, and the
declared capabilities read instead of probing attributes) is in :mod:`eosdyn.engines.base`.
"""

from ..nets.engine import NetworkEngine  # imports JAX only when an engine is built
from .base import Engine, Problem, Progress
from .central_flow import CentralFlowEngine
from .flow import FlowEngine
from .full import FullEngine
from .reduced import FirstOrderEngine, ReducedEngine
from .stable_flow import StableFlowEngine

METHODS: dict[str, type[Engine]] = {
    "reduced": ReducedEngine,
    "first-order": FirstOrderEngine,
    "full": FullEngine,
    "flow": FlowEngine,
    "central-flow": CentralFlowEngine,
    "stable-flow": StableFlowEngine,
    "network": NetworkEngine,
}

__all__ = [
    "METHODS", "CentralFlowEngine", "Engine", "FirstOrderEngine", "FlowEngine", "FullEngine", "NetworkEngine",
    "Problem", "Progress", "ReducedEngine", "StableFlowEngine",
]
