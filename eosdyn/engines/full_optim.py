"""The parameter-space optimizer engine: every optimizer, full batch or mini-batch, on ``(A, W)``.

``engine = "full"`` with any optimizer other than plain full-batch GD runs this engine
(:func:`eosdyn.optim.select.engine_class`; plain GD keeps :class:`~eosdyn.engines.full.FullEngine`).
Kernel: :mod:`eosdyn.kernels.full_optim_numba`. RMSProp and Adam runs are driven row by row by
:class:`eosdyn.optim.precond.PreconditionedRecorder`, which adds ``preconditioned_sharpness``.
"""

from __future__ import annotations

import numpy as np

from ..kernels import edge_numba
from ..kernels import full_optim_numba as K
from ..kernels import optim_layout as O
from ..kernels import record_numba as R
from ..model.init import Statistics
from ..optim import ADAPTIVE, MOMENTUM, outputs, relevant_sharpness
from .base import Engine, Problem
from .momentum import batch_arrays, hyper


class FullOptimEngine(Engine):
    """Any optimizer on the parameters: O(m d) per step (O(m d r) at recorded steps).

    Advanced by the ONE recording loop (:func:`eosdyn.kernels.record_numba.run`, model
    :data:`eosdyn.kernels.full_optim_numba.FullOptim`). Heavy ball and Nesterov (full batch) are
    tracked at every step against their edge, which reads the statistics ``(a, G)`` of the
    parameters each step (one more ``O(m d r)`` pass per step: exact summaries, as the reduced
    engine's); mini-batch and adaptive runs compare their relevant sharpness, known at the
    recorded rows only, with the edge (:mod:`eosdyn.optim.outputs`).
    """

    name = "full"
    exact = True
    truncation = None
    needs_parameters = True

    @classmethod
    def per_step_tracking(cls, params) -> bool:
        return relevant_sharpness(params) == "sharpness"

    def __new__(cls, pb: Problem):
        if pb.params.optimizer in ADAPTIVE and cls is FullOptimEngine:
            from ..optim.precond import PreconditionedRecorder

            return PreconditionedRecorder(_Engine(pb))
        return super().__new__(cls)

    def __init__(self, pb: Problem):
        super().__init__(pb)
        p, d = pb.params, pb.data
        m, dd = p.m, d.d
        hyp, ihyp = hyper(pb)
        A = pb.A.copy()
        W = np.ascontiguousarray(pb.W.copy())
        XT = np.ascontiguousarray(d.X.T)
        U = np.ascontiguousarray(d.U)
        V, yperp = batch_arrays(d)
        one = p.optimizer in MOMENTUM or p.optimizer in ADAPTIVE
        two = p.optimizer in ADAPTIVE
        bA1, bW1 = np.zeros(m if one else 1), np.zeros((m if one else 1, dd))
        bA2, bW2 = np.zeros(m if two else 1), np.zeros((m if two else 1, dd))
        h, hl, st = np.zeros(dd), np.zeros(dd), np.zeros(1)
        K.initial_h(A, W, h, hl, st, bA1, bW1, hyp[O.H_GAMMA])
        self.model, self.look = K.model((A, W, h, hl, st, bA1, bW1, bA2, bW2),
                                        (XT, np.ascontiguousarray(d.Y, dtype=float), U, np.ascontiguousarray(d.s),
                                         np.ascontiguousarray(d.z), V, yperp),
                                        hyp, ihyp, d.n, pb.rec.shape[0])
        self.ew = edge_numba.edge_work(d.rank)

    # the state, by name (read by eosdyn.optim.precond and the tests)
    A = property(lambda self: self.model.A)
    W = property(lambda self: self.model.W)
    h = property(lambda self: self.model.h)
    bA2 = property(lambda self: self.model.bA2)
    bW2 = property(lambda self: self.model.bW2)
    XT = property(lambda self: self.model.XT)
    U = property(lambda self: self.model.U)
    hyp = property(lambda self: self.model.hyp)
    ihyp = property(lambda self: self.model.ihyp)
    extra = property(lambda self: self.model.extra)

    def advance(self, t0: int, t1: int) -> None:
        R.run(self.model, self.look, self.pb.control(t0, t1), self.pb.record, self.ew)

    def current(self) -> Statistics:
        """The statistics ``(a, u, G)`` of the parameters at the engine's step."""
        md = self.model
        r = md.U.shape[1]
        u, G = np.zeros(r), np.zeros((r, r))
        K.statistics(md.A, md.W, md.h, md.U, u, G, np.zeros(r))
        return Statistics(float(md.st[0]), u, G)

    def finish(self, ds):
        return outputs.finish_run(ds, self.pb.params, extra=self.extra)


class _Engine(FullOptimEngine):
    """The engine itself, for RMSProp/Adam (wrapped by the preconditioned-sharpness recorder)."""
