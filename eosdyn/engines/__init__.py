"""The engine table: how a run advances, behind one interface.

:data:`METHODS` maps ``engine`` names to engine classes, like scipy's ``solve_ivp`` ``METHODS``.
Each is an :class:`~eosdyn.engines.base.Engine` built from a :class:`~eosdyn.engines.base.Problem`;
the contract (``advance``, ``current``, ``final``, ``finish``, the ONE recording loop, and the
declared capabilities read instead of probing attributes) is in :mod:`eosdyn.engines.base`.
"""

from .base import Engine, Problem, Progress
from .flow import FlowEngine
from .full import FullEngine
from .reduced import FirstOrderEngine, ReducedEngine

METHODS: dict[str, type[Engine]] = {
    "reduced": ReducedEngine,
    "first-order": FirstOrderEngine,
    "full": FullEngine,
    "flow": FlowEngine,
}

__all__ = ["METHODS", "Engine", "FirstOrderEngine", "FlowEngine", "FullEngine", "Problem", "Progress",
           "ReducedEngine"]
