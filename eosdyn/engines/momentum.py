"""The reduced optimizer engine: exact heavy ball, Nesterov and mini-batch SGD on an O(r^2) state.

``engine = "reduced"`` with ``optimizer`` ``momentum``/``nesterov`` or a ``batch_size`` runs this
engine (:func:`eosdyn.optim.select.engine_class`); plain full-batch GD keeps
:class:`~eosdyn.engines.reduced.ReducedEngine`. The state is the Gram matrix of
``[A, B, W U, Omega U]`` (:mod:`eosdyn.kernels.momentum_numba`), its cost per step ``O(r^2)``
(``O(b r)`` more for a batch), independent of m.
"""

from __future__ import annotations

import numpy as np

from ..kernels import momentum_numba as K
from ..kernels import optim_layout as O
from ..kernels.diagnostics_numba import workspace
from ..model.init import Statistics
from ..optim import outputs
from ..optim.params import check_batch_size
from .base import Problem


def hyper(pb: Problem):
    """The ``hyp`` / ``ihyp`` bundles (:mod:`eosdyn.kernels.optim_layout`) of a problem."""
    p, d = pb.params, pb.data
    check_batch_size(p.batch_size, d.n)
    hyp = np.zeros(O.NHYP)
    ihyp = np.zeros(O.NIHYP, dtype=np.int64)
    beta = p.momentum if p.momentum is not None else (p.beta1 if p.beta1 is not None else 0.0)
    hyp[O.H_ETA], hyp[O.H_BETA] = p.eta, beta
    hyp[O.H_GAMMA] = p.momentum if p.optimizer == "nesterov" else 0.0
    hyp[O.H_N], hyp[O.H_M] = d.n, p.m
    hyp[O.H_LOSS_TOL], hyp[O.H_MAX_LOSS], hyp[O.H_YPERP2] = p.loss_tol, p.max_loss, d.y_perp2
    hyp[O.H_BETA2] = p.beta2 if p.beta2 is not None else 0.0
    hyp[O.H_EPS] = p.adam_eps if p.adam_eps is not None else 0.0
    ihyp[O.I_STEPS], ihyp[O.I_EVERY] = p.steps, p.stride
    ihyp[O.I_BATCH] = 0 if p.batch_size is None else p.batch_size
    ihyp[O.I_SEED], ihyp[O.I_SAMPLES] = p.batch_seed, p.batch_sharpness_samples
    ihyp[O.I_KIND] = O.KINDS[p.optimizer]
    ihyp[O.I_BIAS] = int(p.bias_correction)
    return hyp, ihyp


def batch_arrays(data):
    """``V`` (n x r, C order) and ``Y_perp = Y - V z`` (n,): what a batch gradient reads."""
    V = np.ascontiguousarray(data.V)
    return V, np.ascontiguousarray(data.Y - V @ data.z)


class ReducedOptimEngine:
    """Heavy ball / Nesterov / mini-batch SGD on ``(a, ab, bb, u, ub, wa, wb, G, H, K)``, exactly."""

    name = "reduced"
    exact = True
    needs_parameters = False

    def __init__(self, pb: Problem):
        self.pb = pb
        d = pb.data
        r = d.rank
        self.hyp, self.ihyp = hyper(pb)
        self.sc = np.array([pb.init.a, 0.0, 0.0])
        self.vv = np.zeros((4, r))
        self.vv[K.V_U] = pb.init.u
        self.MM = np.zeros((3, r, r))
        self.MM[K.M_G] = pb.init.G
        self.V, self.yperp = batch_arrays(d)
        self.ws = workspace(r)
        self.extra = np.full((pb.rec.shape[0], O.NX), np.nan)
        self.perm = np.arange(d.n, dtype=np.int64)
        self.epoch = np.array([-1], dtype=np.int64)
        self.work = np.arange(d.n, dtype=np.int64)
        self.tmp = np.zeros((K.NSCR, r))
        self.scratch = (np.zeros(3), np.zeros((4, r)), np.zeros((3, r, r)))

    def advance(self, t0: int, t1: int) -> None:
        pb, d = self.pb, self.pb.data
        K.run(self.sc, self.vv, self.MM, d.s, d.z, self.V, self.yperp, self.hyp, self.ihyp, t0, t1,
              pb.rec, pb.rec_step, pb.carry, pb.status, self.extra, *self.ws, self.perm, self.epoch,
              self.work, self.tmp, *self.scratch)

    def current(self) -> Statistics:
        """The parameters' statistics ``(a, u, G)`` at the engine's step."""
        return Statistics(float(self.sc[K.S_A]), self.vv[K.V_U].copy(), self.MM[K.M_G].copy())

    def final(self) -> Statistics:
        return self.current()

    def finish(self, ds):
        return outputs.finish_run(ds, self.pb.params, extra=self.extra)
