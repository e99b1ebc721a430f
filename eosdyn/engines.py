"""The engine table: how a run advances, behind one interface.

Each engine is built from a :class:`Problem` and exposes ``advance(t0, t1)`` (run the
kernel over steps ``[t0, t1)``, recording into shared arrays) and ``final()`` (the reduced
statistics of the current state). :data:`METHODS` maps ``--engine`` names to them, like
scipy's ``solve_ivp`` ``METHODS``; the gradient-flow engine slots in beside them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .data import Dataset
from .init import Statistics
from .kernels import full_numba, reduced_numba
from .kernels import layout as L
from .kernels.diagnostics_numba import workspace
from .params import Params


@dataclass(eq=False)
class Problem:
    """What an engine needs: parameters, data, the initial state (statistics, and parameters
    A, W when they were materialised), and the arrays the kernels record into."""

    params: Params
    data: Dataset
    init: Statistics
    A: np.ndarray | None
    W: np.ndarray | None
    rec: np.ndarray
    rec_step: np.ndarray
    status: np.ndarray
    carry: np.ndarray

    @classmethod
    def create(cls, params, data, init, A=None, W=None):
        every = params.stride
        rows = params.steps // every + 2
        carry = np.zeros(L.NCARRY)
        carry[L.C_WMIN], carry[L.C_WMAX] = np.inf, -np.inf
        return cls(
            params, data, init, A, W,
            rec=np.full((rows, L.NCOL), np.nan), rec_step=np.zeros(rows, dtype=np.int64),
            status=np.array([-1, -1, 0, 0], dtype=np.int64), carry=carry,
        )


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


class FullEngine:
    """GD on the parameters ``(A, W)``: O(m d) per step, the ground truth."""

    name = "full"
    exact = True
    needs_parameters = True
    refresh_every = 4096

    def __init__(self, pb: Problem):
        self.pb = pb
        d = pb.data
        self.A = pb.A.copy()
        self.W = np.ascontiguousarray(pb.W.copy())
        self.XT = np.ascontiguousarray(d.X.T)
        self.X = np.ascontiguousarray(d.X)
        self.U = np.ascontiguousarray(d.U)
        self.h = np.zeros(d.d)
        self.state = np.zeros(1)
        self.Ghat = np.zeros((d.rank, d.rank))
        self.ws = workspace(d.rank)
        self.scr = full_numba.scratch(self.A, self.W, self.U)
        self.D = np.zeros(d.n)
        self.p = np.zeros(d.d)
        full_numba.refresh(self.A, self.W, self.h, self.state, self.Ghat, self.U, self.scr["WU"])

    def advance(self, t0: int, t1: int) -> None:
        pb, p, d, s = self.pb, self.pb.params, self.pb.data, self.scr
        full_numba.run(
            self.A, self.W, self.h, self.state, self.Ghat, self.XT, self.X, d.Y, self.U, d.s,
            d.z, d.y_perp2, p.eta, t0, t1, p.steps, p.stride, p.loss_tol, p.max_loss,
            self.refresh_every, pb.rec, pb.rec_step, pb.carry, pb.status, *self.ws, self.D,
            self.p, s["kq"], s["hb"], s["u"], s["G"], s["WU"], s["sA"], s["sW"], s["sh"],
            s["sstate"], s["sGhat"],
        )

    def final(self) -> Statistics:
        full_numba.refresh(self.A, self.W, self.h, self.state, self.Ghat, self.U, self.scr["WU"])
        u, G = np.zeros(self.U.shape[1]), np.zeros_like(self.Ghat)
        full_numba.stats(self.h, self.Ghat, self.U, self.W.shape[0], u, G)
        return Statistics(float(self.state[0]), u, G)


METHODS: dict[str, type] = {
    "reduced": ReducedEngine,
    "first-order": FirstOrderEngine,
    "full": FullEngine,
}

from .flow import FlowEngine  # noqa: E402  (flow.py needs nothing from this module)

METHODS["flow"] = FlowEngine

from .nets.engine import NetworkEngine  # noqa: E402  (imports JAX only when an engine is built)

METHODS["network"] = NetworkEngine
