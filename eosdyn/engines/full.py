"""The parameter-space engine: GD on (A, W) themselves, the ground truth."""

from __future__ import annotations

import numpy as np

from ..kernels import edge_numba, full_numba
from ..kernels import record_numba as R
from ..model.init import Statistics
from .base import Engine, Problem


class FullEngine(Engine):
    """GD on the parameters ``(A, W)``: O(m d) per step, the ground truth."""

    name = "full"
    exact = True
    truncation = None
    needs_parameters = True
    supports_hessian = True
    refresh_every = 4096

    def __init__(self, pb: Problem):
        super().__init__(pb)
        self.model, self.look = full_numba.model(pb.A, pb.W, pb.data, pb.params.eta, self.refresh_every)
        self.ew = edge_numba.edge_work(pb.data.rank)

    @property
    def A(self) -> np.ndarray:
        return self.model.A

    @property
    def W(self) -> np.ndarray:
        return self.model.W

    def advance(self, t0: int, t1: int) -> None:
        R.run(self.model, self.look, self.pb.control(t0, t1), self.pb.record, self.ew)

    def current(self) -> Statistics:
        """From the kernel's running ``h``, ``Ghat`` (no pass over ``W``)."""
        md = self.model
        r = md.U.shape[1]
        u, G = np.zeros(r), np.zeros((r, r))
        full_numba.stats(md.h, md.Ghat, md.U, md.W.shape[0], u, G)
        return Statistics(float(md.state[0]), u, G)

    def final(self) -> Statistics:
        """Recomputed from the parameters (one pass over ``W``), the model left untouched."""
        md = self.model
        r = md.U.shape[1]
        h, state, Ghat = np.zeros_like(md.h), np.zeros(1), np.zeros((r, r))
        full_numba.refresh(md.A, md.W, h, state, Ghat, md.U, np.zeros(r))
        u, G = np.zeros(r), np.zeros((r, r))
        full_numba.stats(h, Ghat, md.U, md.W.shape[0], u, G)
        return Statistics(float(state[0]), u, G)
