"""The reduced optimizer engine: exact heavy ball, Nesterov and mini-batch SGD on an O(r^2) state.

``engine = "reduced"`` with ``optimizer`` ``momentum``/``nesterov`` or a ``batch_size`` runs this
engine (:func:`eosdyn.optim.select.engine_class`); plain full-batch GD keeps
:class:`~eosdyn.engines.reduced.ReducedEngine`. The state is the Gram matrix of
``[A, B, W U, Omega U]`` (:mod:`eosdyn.kernels.momentum_numba`), its cost per step ``O(r^2)``
(``O(b r)`` more for a batch), independent of m.
"""

from __future__ import annotations

import numpy as np

from ..kernels import edge_numba
from ..kernels import momentum_numba as K
from ..kernels import optim_layout as O
from ..kernels import record_numba as R
from ..model.init import Statistics
from ..optim import outputs, relevant_sharpness
from ..optim.params import check_batch_size
from .base import Engine, Problem


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


class ReducedOptimEngine(Engine):
    """Heavy ball / Nesterov / mini-batch SGD on ``(a, ab, bb, u, ub, wa, wb, G, H, K)``, exactly.

    Advanced by the ONE recording loop (:func:`eosdyn.kernels.record_numba.run`, model
    :data:`eosdyn.kernels.momentum_numba.Momentum`; its ``extras`` hook records the batch
    sharpness and ``||v||^2``). Heavy ball and Nesterov track every step against their edge
    (``Lambda`` is their relevant sharpness); mini-batch runs compare ``batch_sharpness``, known at
    the recorded rows only, with the edge (:mod:`eosdyn.optim.outputs`).
    """

    name = "reduced"
    exact = True
    truncation = None
    needs_parameters = False

    @classmethod
    def per_step_tracking(cls, params) -> bool:
        return relevant_sharpness(params) == "sharpness"

    def __init__(self, pb: Problem):
        super().__init__(pb)
        d = pb.data
        r = d.rank
        hyp, ihyp = hyper(pb)
        sc = np.array([pb.init.a, 0.0, 0.0])
        vv = np.zeros((4, r))
        vv[K.V_U] = pb.init.u
        MM = np.zeros((3, r, r))
        MM[K.M_G] = pb.init.G
        V, yperp = batch_arrays(d)
        self.model, self.look = K.model(sc, vv, MM, d.s, d.z, V, yperp, hyp, ihyp, d.n, pb.rec.shape[0])
        self.ew = edge_numba.edge_work(r)

    @property
    def extra(self) -> np.ndarray:
        return self.model.extra

    def advance(self, t0: int, t1: int) -> None:
        R.run(self.model, self.look, self.pb.control(t0, t1), self.pb.record, self.ew)

    def current(self) -> Statistics:
        """The parameters' statistics ``(a, u, G)`` at the engine's step."""
        md = self.model
        return Statistics(float(md.sc[K.S_A]), md.vv[K.V_U].copy(), md.MM[K.M_G].copy())

    def finish(self, ds):
        return outputs.finish_run(ds, self.pb.params, extra=self.extra)
