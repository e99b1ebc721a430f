"""The parameter-space engine: GD on (A, W) themselves, the ground truth."""

from __future__ import annotations

import numpy as np

from ..kernels import full_numba
from ..kernels.diagnostics_numba import workspace
from ..model.init import Statistics
from .base import Problem


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
