"""The reduced engines: exact GD (and its first-order truncation) on the m-independent state."""

from __future__ import annotations

import numpy as np

from ..kernels import reduced_numba
from ..kernels.diagnostics_numba import workspace
from ..model.init import Statistics
from .base import Problem


class ReducedEngine:
    """Exact GD on ``(a, u, G)``: O(r^2) per step, independent of m."""

    name = "reduced"
    order = 1
    exact = True
    needs_parameters = False

    def __init__(self, pb: Problem):
        self.pb = pb
        d = pb.data
        self.state = np.array([pb.init.a])
        self.u = pb.init.u.copy()
        self.G = np.ascontiguousarray(pb.init.G.copy())
        r = d.rank
        self.ws = workspace(r)
        self.scr = (np.zeros(r), np.zeros(r), np.zeros(r), np.zeros((r, r)), np.zeros(1))

    def advance(self, t0: int, t1: int) -> None:
        pb, p, d = self.pb, self.pb.params, self.pb.data
        g, Gg, su, sG, sst = self.scr
        reduced_numba.run(
            self.state, self.u, self.G, d.s, d.z, d.y_perp2, float(d.n), float(p.m), p.eta,
            float(self.order), t0, t1, p.steps, p.stride, p.loss_tol, p.max_loss,
            pb.rec, pb.rec_step, pb.carry, pb.status, *self.ws, g, Gg, su, sG, sst,
        )

    def final(self) -> Statistics:
        return Statistics(float(self.state[0]), self.u.copy(), self.G.copy())


class FirstOrderEngine(ReducedEngine):
    """The paper's Assumption 3.2 map: exact GD with the eta^2 terms dropped."""

    name = "first-order"
    order = 0
    exact = False
