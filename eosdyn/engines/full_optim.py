"""The parameter-space optimizer engine: every optimizer, full batch or mini-batch, on ``(A, W)``.

``engine = "full"`` with any optimizer other than plain full-batch GD runs this engine
(:func:`eosdyn.optim.select.engine_class`; plain GD keeps :class:`~eosdyn.engines.full.FullEngine`).
Kernel: :mod:`eosdyn.kernels.full_optim_numba`. RMSProp and Adam runs are driven row by row by
:class:`eosdyn.optim.precond.PreconditionedRecorder`, which adds ``preconditioned_sharpness``.
"""

from __future__ import annotations

import numpy as np

from ..kernels import full_optim_numba as K
from ..kernels import optim_layout as O
from ..kernels.diagnostics_numba import workspace
from ..model.init import Statistics
from ..optim import ADAPTIVE, MOMENTUM, outputs
from .base import Problem
from .momentum import batch_arrays, hyper


class FullOptimEngine:
    """Any optimizer on the parameters: O(m d) per step (O(m d r) at recorded steps)."""

    name = "full"
    exact = True
    needs_parameters = True

    def __new__(cls, pb: Problem):
        if pb.params.optimizer in ADAPTIVE and cls is FullOptimEngine:
            from ..optim.precond import PreconditionedRecorder

            return PreconditionedRecorder(_Engine(pb))
        return super().__new__(cls)

    def __init__(self, pb: Problem):
        self.pb = pb
        p, d = pb.params, pb.data
        m, dd, r = p.m, d.d, d.rank
        self.hyp, self.ihyp = hyper(pb)
        self.A = pb.A.copy()
        self.W = np.ascontiguousarray(pb.W.copy())
        self.XT = np.ascontiguousarray(d.X.T)
        self.U = np.ascontiguousarray(d.U)
        self.V, self.yperp = batch_arrays(d)
        one = p.optimizer in MOMENTUM or p.optimizer in ADAPTIVE
        two = p.optimizer in ADAPTIVE
        self.bA1, self.bW1 = np.zeros(m if one else 1), np.zeros((m if one else 1, dd))
        self.bA2, self.bW2 = np.zeros(m if two else 1), np.zeros((m if two else 1, dd))
        self.h, self.hl, self.st = np.zeros(dd), np.zeros(dd), np.zeros(1)
        K.initial_h(self.A, self.W, self.h, self.hl, self.st, self.bA1, self.bW1, self.hyp[O.H_GAMMA])
        self.ws = workspace(r)
        self.extra = np.full((pb.rec.shape[0], O.NX), np.nan)
        self.perm = np.arange(d.n, dtype=np.int64)
        self.epoch = np.array([-1], dtype=np.int64)
        self.work = np.arange(d.n, dtype=np.int64)
        self.scr = (np.zeros(d.n), np.zeros(dd), np.zeros(2 * dd + 1), np.zeros(r), np.zeros((r, r)),
                    np.zeros(r), np.zeros((3, r)))
        self.copies = tuple(np.empty_like(x) for x in (self.A, self.W, self.h, self.hl, self.st, self.bA1,
                                                      self.bW1, self.bA2, self.bW2))

    def advance(self, t0: int, t1: int) -> None:
        pb, d = self.pb, self.pb.data
        K.run(self.A, self.W, self.h, self.hl, self.st, self.bA1, self.bW1, self.bA2, self.bW2, self.XT, d.Y,
              self.U, d.s, d.z, self.V, self.yperp, self.hyp, self.ihyp, t0, t1, pb.rec, pb.rec_step, pb.carry,
              pb.status, self.extra, *self.ws, self.perm, self.epoch, self.work, *self.scr, *self.copies)

    def current(self) -> Statistics:
        """The statistics ``(a, u, G)`` of the parameters at the engine's step."""
        r = self.U.shape[1]
        u, G = np.zeros(r), np.zeros((r, r))
        K.statistics(self.A, self.W, self.h, self.U, u, G, np.zeros(r))
        return Statistics(float(self.st[0]), u, G)

    def final(self) -> Statistics:
        return self.current()

    def finish(self, ds):
        return outputs.finish_run(ds, self.pb.params, extra=self.extra)


class _Engine(FullOptimEngine):
    """The engine itself, for RMSProp/Adam (wrapped by the preconditioned-sharpness recorder)."""
