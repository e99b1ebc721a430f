"""The reduced engines: exact GD (and its first-order truncation) on the m-independent state."""

from __future__ import annotations

from ..kernels import edge_numba, reduced_numba
from ..kernels import record_numba as R
from ..model.init import Statistics
from .base import Engine, Problem


class ReducedEngine(Engine):
    """Exact GD on ``(a, u, G)``: O(r^2) per step, independent of m."""

    name = "reduced"
    exact = True
    truncation = None
    supports_hessian = True
    replayable = True
    supports_lyapunov = True
    supports_scan = True
    #: weight of the map's eta^2 terms (1: exact GD; 0: the first-order truncation)
    eta2_terms = 1.0

    def __init__(self, pb: Problem):
        super().__init__(pb)
        d, p = pb.data, pb.params
        self.model, self.look = reduced_numba.model(
            pb.init.a, pb.init.u, pb.init.G, d.s, d.z, d.y_perp2, d.n, p.m, p.eta, self.eta2_terms)
        self.ew = edge_numba.edge_work(d.rank)

    def advance(self, t0: int, t1: int) -> None:
        R.run(self.model, self.look, self.pb.control(t0, t1), self.pb.record, self.ew)

    def current(self) -> Statistics:
        md = self.model
        return Statistics(float(md.state[0]), md.u.copy(), md.G.copy())


class FirstOrderEngine(ReducedEngine):
    """The paper's Assumption 3.2 map: exact GD with the eta^2 terms dropped."""

    name = "first-order"
    exact = False
    truncation = "first-order"
    eta2_terms = 0.0
