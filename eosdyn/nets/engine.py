r"""The ``network`` engine: full-batch GD on any model of :mod:`eosdyn.nets.models`, in JAX.

Update rule (float64, jit-compiled; :mod:`eosdyn.nets.step`)::

    theta(t+1) = theta(t) - eta grad L(theta(t)),    L(theta) = ||f(X; theta) - Y||^2 / n

Recording follows the contract of the numba engines (:mod:`eosdyn.kernels.record_numba`, the
same calls on the same arrays): at every step the loss is folded into the loss window and the
step classified (``diverged``: ``L >= max_loss`` or ``||A||^2`` not finite or ``>= max_loss``;
``converged``: ``L - L* <= loss_tol`` with ``L* = ||Y_perp||^2/n`` for models linear in ``x``
and ``L* = 0`` otherwise, since a nonlinear network can fit labels outside ``X``'s row space;
``max_steps`` at ``t = steps``); at a recorded step (``t % record_every == 0`` or a stop) the
row holds the diagnostics of step ``t`` (:class:`eosdyn.nets.spectra.Diagnostics`) and
``Lambda``, ``||A||^2`` of step ``t + 1``; :class:`~eosdyn.engines.base.Progress` is updated
as by the numba loop. Between recorded steps the state never leaves the compiled loop, so
``Lambda`` is known at the recorded steps only: the engine declares ``tracks_every_step =
False`` and its phases and summaries are those of the recorded rows (attr ``summaries_over =
"recorded steps"``; at ``record_every = 1`` they cover every step). Only the first-order
optimizer ``gd`` exists; the loop threads an optimizer state (:class:`eosdyn.nets.step.NetState`)
so that others plug in.
"""

from __future__ import annotations

import numpy as np

from ..engines.base import Engine
from ..kernels import layout as L
from ..kernels import record_numba as R
from ..model.init import Statistics
from ..status import Status
from ._jax import require, x64


class NetworkEngine(Engine):
    """GD on a network's weights (JAX); ``advance``/``final``/``finish`` as the other engines."""

    name = "network"
    exact = True
    truncation = None
    needs_parameters = True
    supports_hessian = True
    #: records ``sharpness_hessian`` itself (no :class:`eosdyn.analysis.hessian.HessianRecorder`)
    records_hessian = True
    #: cells batched by jax.vmap (:mod:`eosdyn.nets.scan`)
    supports_scan = True
    #: Lambda is computed at the recorded steps only (summaries over the recorded rows)
    tracks_every_step = False

    @x64
    def __init__(self, pb):
        jax = require()
        import jax.numpy as jnp

        from . import functions
        from . import step as S
        from .spectra import Diagnostics

        super().__init__(pb)
        p, d, model = pb.params, pb.data, pb.model
        self.model = model
        self.fns = functions.make(model)
        self.optimizer = S.OPTIMIZERS["gd"]
        self.runner = S.make_runner(self.fns, self.optimizer)
        self.x = jnp.asarray(pb.x)
        self.Y = jnp.asarray(d.Y)
        params = {k: jnp.asarray(v) for k, v in pb.weights.items()}
        self.state = S.init(params, self.optimizer)
        self.hyper = {"eta": jnp.asarray(p.eta, dtype=jnp.float64)}
        self.lstar = d.y_perp2 / d.n if model.spec.linear else 0.0
        v_data = d.V[:, 0]
        self.diag = Diagnostics(model, self.fns, self.x, self.Y, v_data, p.eta, seed=p.seed)
        self.cached = None
        self.hess = np.full(pb.rec.shape[0], np.nan) if p.hessian else None
        self.device = str(jax.devices()[0])

    @x64
    def advance(self, t0: int, t1: int) -> None:
        import jax

        pb, p = self.pb, self.pb.params
        carry = pb.carry
        i64, f64 = np.int64, np.float64
        consts = (i64(p.stride), i64(p.steps))
        tail = (self.hyper, f64(self.lstar), f64(p.loss_tol), f64(p.max_loss), self.x, self.Y)
        t = t0
        while t < t1:
            st, nxt, *flags = self.runner(self.state, i64(t), i64(t1), *consts, f64(carry[L.C_WMIN]),
                                          f64(carry[L.C_WMAX]), *tail)
            t_out, code, stop, wmin, wmax = jax.device_get(flags)
            self.state = st
            t = int(t_out)
            carry[L.C_WMIN], carry[L.C_WMAX] = float(wmin), float(wmax)
            if not bool(stop):
                break
            if self._record(t, int(code), st, nxt):
                return
            t += 1
        pb.progress.array[L.P_NEXT] = t

    def _record(self, t, code, st, nxt) -> bool:
        """Write the row of step ``t``; adopt ``nxt``; True when the run stopped here."""
        pb, p = self.pb, self.pb.params
        nrow = pb.progress.rows
        row = self.cached if self.cached is not None else self.diag.row(st.params)
        self.cached = None
        if self.hess is not None:
            self.hess[nrow] = self.diag.hessian(st.params)
        R.write_row(pb.rec, pb.rec_step, nrow, row, pb.carry, t, code)
        if code != L.DIVERGED:
            go_on = code < 0
            full = go_on and ((t + 1) % p.stride == 0 or t + 1 == p.steps)
            row_next = self.diag.row(nxt.params, full=full)
            R.write_next(pb.rec, nrow, row_next, pb.carry, go_on)
            if go_on:
                self.state = nxt
                self.cached = row_next if full else None
        pb.progress.array[L.P_ROWS] = nrow + 1
        if code >= 0:
            pb.progress.stop(Status(code), t)
            return True
        return False

    def weights(self) -> dict:
        """The current weights as numpy arrays."""
        return {k: np.asarray(v) for k, v in self.state.params.items()}

    def current(self) -> Statistics:
        from .problem import statistics

        w = self.weights()
        return statistics(self.model.spec, self.pb.params, self.pb.data, w)

    def finish(self, ds):
        import jax

        from ..io.schema import annotate
        from .spectra import MSTAR_NOTE

        m = self.model
        ds.attrs.update(
            title=f"eosdyn run: GD on the network {m.spec} ({m.parameterization} parameterization)",
            model=str(m.spec), parameterization=m.parameterization,
            n_params=m.n_params(), input_shape=list(m.input_shape),
            spectra_method=f"{self.diag.method} + certified Lanczos (eosdyn.nets.spectra)",
            eigen_uncertified=self.diag.uncertified, eigen_max_rel_residual=self.diag.max_rel_residual,
            jax_version=jax.__version__,
            device=self.device, loss_star=self.lstar,
        )
        if not m.spec.bilinear_two_layer:
            ds.attrs["sharpness_Mstar_note"] = MSTAR_NOTE
        if self.hess is not None:
            ds["sharpness_hessian"] = (("step",), self.hess[: ds.sizes["step"]].copy())
            ds.attrs["hessian_method"] = ("lanczos (certified, on JAX Hessian-vector products "
                                          "by forward-over-reverse differentiation)")
        return annotate(ds)
