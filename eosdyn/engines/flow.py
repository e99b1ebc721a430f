"""The gradient-flow engine (``--engine flow``): the continuous-time limit of GD, exactly.

The flow of ``L = ||D||^2 / n`` on the parameters closes on the same m-independent state as
exact GD (see :mod:`eosdyn.kernels.reduced_numba`); with ``g = S (S u - z)``::

    da/dtau = -(4/n) u.g,   du/dtau = -(2/n) G g - (2a/(n m)) g,
    dG/dtau = -(2/(n m)) (u g^T + g u^T).

It is integrated by a ``scipy.integrate`` solver (``RK45``, ``DOP853``, ``Radau``, ``LSODA``) in
the time ``t = tau / eta``, so that flow time ``t`` lines up with GD step ``k = t``: the solver is
created once for ``[0, steps + 1]`` and stepped on its own schedule (independent of how the run
is chunked, so a run is deterministic), and the state at integer ``t`` comes from its dense
output (each solver step samples the integers it covers, at once). Those states go through the
same recording loop as the GD engines (:func:`eosdyn.kernels.record_numba.run`, the model
:data:`eosdyn.kernels.flow_numba.FlowStates`), with the stop decided by the events below: the
same rows, phases, per-step summaries, plots and checks.

Events, located by root finding on the dense output of each solver step:

* ``eta Lambda = 2`` (the sharpness crossing ``2/eta``): times kept in the attrs
  ``flow_cross_up`` / ``flow_cross_down`` (the comparison of the paper's Assumption 3.3);
* reducible loss ``= loss_tol``: the run stops as ``converged`` at the first step after it
  (the flow's loss never increases, so every later step is below it too);
* blow-up (a non-finite state, loss or ``|a|`` above ``max_loss``, or the solver failing):
  ``diverged`` at the first step whose state is not acceptable.

Under the flow ``a - m tr(G)`` (the balancedness ``||A||^2 - ||W U||_F^2``) is conserved; the
tests check it to the solver's tolerance.
"""

from __future__ import annotations

import math

import numpy as np

from ..kernels import edge_numba, eigen_numba, flow_numba
from ..kernels import layout as L
from ..kernels import record_numba as R
from ..model.init import Statistics
from .base import Engine

#: the scipy.integrate solver classes by name (scipy is imported when a flow runs, so that
#: ``eosdyn simulate`` with a GD engine does not pay for it)
SOLVERS = ("RK45", "DOP853", "Radau", "LSODA")
#: solvers that use the Jacobian; it is passed dense up to this state size (r <= 13), and
#: above it sparse to Radau (LSODA takes dense or banded only: it differences its own)
IMPLICIT = ("Radau", "LSODA")
MAX_DENSE_JACOBIAN = 200
#: at most this many sharpness crossings are kept in the attrs
MAX_CROSSINGS = 10_000


def solver_class(name: str):
    """The ``scipy.integrate`` solver class called ``name`` (one of :data:`SOLVERS`)."""
    from scipy import integrate

    return getattr(integrate, name)


def pack(a: float, u: np.ndarray, G: np.ndarray) -> np.ndarray:
    """The flat state ``[a, u, G.ravel()]`` the solver integrates."""
    y = np.zeros(1 + u.size + G.size)
    flow_numba.pack(float(a), np.ascontiguousarray(u, float), np.ascontiguousarray(G, float), y)
    return y


def unpack(y: np.ndarray, r: int) -> Statistics:
    """:class:`Statistics` of a flat state."""
    return Statistics(float(y[0]), y[1:1 + r].copy(), y[1 + r:].reshape(r, r).copy())


class FlowField:
    """The vector field ``y -> eta * velocity(y)`` and the event functions of one problem."""

    def __init__(self, data, m: float, eta: float):
        r = data.rank
        self.s, self.z = np.ascontiguousarray(data.s), np.ascontiguousarray(data.z)
        self.n, self.m, self.eta, self.y_perp2 = float(data.n), float(m), float(eta), data.y_perp2
        self.u, self.G = np.zeros(r), np.zeros((r, r))
        self.scr = (np.zeros(r), np.zeros((r, r)), np.zeros(r), np.zeros(r))
        self.K = np.zeros((r, r))
        self.ew = eigen_numba.work(r, 1, vectors=False)
        self.nfev = 0
        self.njev = 0

    def __call__(self, t, y):
        out = np.empty_like(y)
        flow_numba.rhs(y, self.s, self.z, self.n, self.m, self.eta, out, self.u, self.G, *self.scr)
        self.nfev += 1
        return out

    def jac(self, t, y):
        """The exact Jacobian, dense (``flow_numba.jacobian``)."""
        J = np.empty((y.size, y.size))
        flow_numba.jacobian(y, self.s, self.z, self.n, self.m, self.eta, J, self.u, self.G,
                            self.scr[2])
        self.njev += 1
        return J

    def jac_sparse(self, t, y):
        """The exact Jacobian as a CSC matrix (``O(r^2)`` entries of ``(1 + r + r^2)^2``)."""
        k = flow_numba.jacobian_nnz(self.u.size)
        rows, cols, vals = np.empty(k, np.int64), np.empty(k, np.int64), np.empty(k)
        flow_numba.jacobian_coo(y, self.s, self.z, self.n, self.m, self.eta, rows, cols, vals,
                                self.u, self.G, self.scr[2])
        self.njev += 1
        from scipy import sparse

        return sparse.csc_matrix((vals, (rows, cols)), shape=(y.size, y.size))

    def eta_sharpness(self, y) -> float:
        return self.eta * flow_numba.sharpness(y, self.s, self.n, self.m, self.u, self.G, self.K,
                                               self.ew)

    def reducible_loss(self, y) -> float:
        return flow_numba.reducible_loss(y, self.s, self.z, self.n, self.u, self.G, self.scr[2])

    def ok(self, y, max_loss: float) -> bool:
        return bool(flow_numba.state_ok(y, self.s, self.z, self.y_perp2, self.n, max_loss,
                                        self.u, self.G, self.scr[2]))


class FlowEngine(Engine):
    """Gradient flow on ``(a, u, G)``, sampled at ``t = k`` (flow time ``k eta``)."""

    name = "flow"
    exact = False
    truncation = "flow"
    supports_hessian = True

    def __init__(self, pb):
        super().__init__(pb)
        p, d = pb.params, pb.data
        self.r = d.rank
        self.field = FlowField(d, p.m, p.eta)
        self.y0 = pack(pb.init.a, pb.init.u, pb.init.G)
        self.t_bound = float(p.steps + 1)
        extra = {}
        if p.method in IMPLICIT and self.y0.size <= MAX_DENSE_JACOBIAN:
            extra["jac"] = self.field.jac   # exact Jacobian (flow_numba.jacobian)
        elif p.method == "Radau":
            extra["jac"] = self.field.jac_sparse   # sparse LU inside Radau
        self.solver = solver_class(p.method)(self.field, 0.0, self.y0.copy(), self.t_bound,
                                        rtol=p.rtol, atol=p.atol, **extra)
        self.keep: np.ndarray | None = None   # if set (rows x state size): states of the rows
        self.segments: list = []   # (t_lo, t_hi, dense output) not yet consumed
        self.stop: tuple | None = None   # (step, status code, message)
        self.cross_up: list = []
        self.cross_down: list = []
        self.t_converged: float | None = None
        self.nsteps = 0
        # states at integer steps: each solver step samples the integers it covers at once (a
        # fixed grouping, so the sampled states do not depend on chunking or on the stride)
        self.ints: list = [(0, self.y0[None, :].copy())]   # (first step, states) blocks
        self.sampled = 0   # last integer step sampled
        self.model, self.look = flow_numba.states_model(self.y0[None, :], self.field.s, self.field.z,
                                                        d.y_perp2, d.n, p.m, p.eta)
        self.ew = edge_numba.edge_work(self.r)
        self._es_prev = self.field.eta_sharpness(self.y0)
        self._rl_prev = self.field.reducible_loss(self.y0)
        if not self.field.ok(self.y0, p.max_loss):
            self.stop = (0, L.DIVERGED, "the initial state is not finite or above max_loss")
        elif self._rl_prev <= p.loss_tol:
            self.t_converged = 0.0
            self.stop = (0, L.CONVERGED, None)

    # --- integration -----------------------------------------------------------------------

    def _cover(self, T: float) -> None:
        """Step the solver until it has passed ``T`` (or stopped)."""
        s = self.solver
        while s.status == "running":
            target = T if self.stop is None else min(T, self.stop[0] + 1)
            if s.t >= target or (self.stop is not None and self.stop[1] == L.DIVERGED):
                return
            self._solver_step()

    def _solver_step(self) -> None:
        s, p = self.solver, self.pb.params
        message = s.step()
        self.nsteps += 1
        if s.status == "failed":
            k = min(int(math.floor(s.t)) + 1, p.steps)
            self._set_stop(k, L.DIVERGED, f"the {p.method} solver failed at t = {s.t:.6g}: {message}")
            return
        lo, hi, sol = s.t_old, s.t, s.dense_output()
        self._keep_segment(lo, hi, sol)
        if not self.field.ok(s.y, p.max_loss):
            self._set_stop(self._first_bad_step(lo, hi, sol), L.DIVERGED,
                           f"the flow blew up (non-finite or above max_loss = {p.max_loss:g}) "
                           f"by t = {hi:.6g}")
            return
        self._sharpness_event(lo, hi, sol, s.y)
        self._loss_event(lo, hi, sol, s.y)

    def _keep_segment(self, lo: float, hi: float, sol) -> None:
        """Keep the dense output ``sol`` of ``[lo, hi]`` and sample the integer steps it newly
        covers (all at once: a fixed grouping, so the states do not depend on chunking)."""
        self.segments.append((lo, hi, sol))
        ks = np.arange(self.sampled + 1, math.floor(hi) + 1)
        if ks.size:
            self.ints.append((int(ks[0]), np.asarray(sol(ks.astype(float))).T.reshape(ks.size, -1)))
            self.sampled = int(ks[-1])

    def _set_stop(self, k: int, code: int, message: str | None) -> None:
        if self.stop is None or k < self.stop[0]:
            self.stop = (k, code, message)

    def _first_bad_step(self, lo, hi, sol) -> int:
        p = self.pb.params
        ks = np.arange(math.floor(lo) + 1, math.floor(hi) + 1)
        for k in ks:
            if not self.field.ok(sol(float(k)), p.max_loss):
                return int(min(k, p.steps))
        return int(min(math.floor(hi) + 1, p.steps))

    def _root(self, f, lo, hi) -> float:
        from scipy import optimize

        return optimize.brentq(f, lo, hi, xtol=1e-12 * max(1.0, abs(hi)), rtol=4 * np.finfo(float).eps)

    def _sharpness_event(self, lo, hi, sol, y) -> None:
        es = self.field.eta_sharpness(y)
        a, b = self._es_prev - 2.0, es - 2.0
        self._es_prev = es
        if a * b < 0 or (b == 0.0 and a != 0.0):
            t = self._root(lambda t: self.field.eta_sharpness(sol(t)) - 2.0, lo, hi)
            side = self.cross_up if b >= a else self.cross_down
            if len(side) < MAX_CROSSINGS:
                side.append(t)

    def _loss_event(self, lo, hi, sol, y) -> None:
        p = self.pb.params
        rl = self.field.reducible_loss(y)
        prev, self._rl_prev = self._rl_prev, rl
        if self.t_converged is not None or rl > p.loss_tol:
            return
        tol = p.loss_tol
        t = hi if prev <= tol else self._root(lambda t: self.field.reducible_loss(sol(t)) - tol, lo, hi)
        k = int(math.ceil(t))
        if k < hi and self.field.reducible_loss(sol(float(k))) > tol:
            k += 1   # rounding of the root: the state at ceil(t) must be below the tolerance
        self.t_converged = t
        if k <= p.steps:
            self._set_stop(k, L.CONVERGED, None)

    def sample(self, ts: np.ndarray) -> np.ndarray:
        """Dense-output states at sorted times ``ts`` (rows), which must not precede the step the
        engine sits on (earlier dense outputs are dropped); extrapolates past the last step."""
        out = np.empty((ts.size, self.y0.size))
        if not self.segments:
            out[:] = self.y0
            return out
        if ts.size and ts[0] < self.segments[0][0]:
            raise ValueError(f"flow state at t = {ts[0]} was dropped (engine is at t >= "
                             f"{self.segments[0][0]:.6g})")
        his = np.array([seg[1] for seg in self.segments])
        idx = np.minimum(np.searchsorted(his, ts, side="left"), len(self.segments) - 1)
        for j in np.unique(idx):
            sel = idx == j
            t = ts[sel]
            out[sel] = np.asarray(self.segments[j][2](t)).T.reshape(t.size, -1)
        out[ts == 0.0] = self.y0
        return out

    def _drop_before(self, t: float) -> None:
        """Forget dense outputs that end before ``t`` (keep the one covering ``t``) and the
        sampled states before ``t``."""
        k = 0
        while k < len(self.segments) - 1 and self.segments[k][1] < t:
            k += 1
        del self.segments[:k]
        self.ints = [(k0, b) for k0, b in self.ints if k0 + b.shape[0] > t]

    # --- the engine interface --------------------------------------------------------------

    #: steps per call of the recording loop (bounds the sampled states held at once)
    CHUNK = 4096

    def advance(self, t0: int, t1: int) -> None:
        """Process steps ``[t0, t1)`` through the shared recording loop, the stop decided by the
        events (:func:`eosdyn.kernels.record_numba.run`; the states are the flow's at integer
        times, sampled from the solver's dense output)."""
        pb, p = self.pb, self.pb.params
        t1 = min(t1, p.steps + 1)
        t = t0
        while t < t1 and not pb.progress.done:
            b = min(t + self.CHUNK, t1)
            self._cover(b)
            stop = self.stop if self.stop is not None and self.stop[0] < b else None
            end = b
            if stop is not None:
                end = stop[0] + 1
                if stop[1] != L.DIVERGED:
                    self._cover(stop[0] + 1)
            Ys = self.states(t, end)
            self.model.stop[:] = (stop[0], stop[1]) if stop is not None else (-1, -1)
            self.model.pos[0] = 0
            md = self.model._replace(Ys=Ys)
            look = self.look._replace(Ys=Ys)
            k0 = pb.progress.rows
            R.run(md, look, pb.control(t, end), pb.record, self.ew)
            k1 = pb.progress.rows
            if k1 > k0:
                self._rows_written(k0, k1, Ys[pb.rec_step[k0:k1] - t])
            t = end
        if not pb.progress.done:
            pb.progress.array[L.P_NEXT] = max(t, t0)
        self._drop_before(float(pb.progress.next_step))

    def _rows_written(self, k0: int, k1: int, Ys: np.ndarray) -> None:
        """Rows ``k0 <= k < k1`` were just written; ``Ys`` are their states (rows). Subclasses
        add their own per-row variables here (default: keep the states if asked to)."""
        if self.keep is not None:
            self.keep[k0:k1] = Ys

    def states(self, t0: int, t1: int) -> np.ndarray:
        """The states at integer steps ``t0..t1`` (inclusive), rows; integers the solver has not
        covered (past a failure) come from the last dense output, extrapolated."""
        out = np.empty((t1 - t0 + 1, self.y0.size))
        done = np.zeros(out.shape[0], dtype=bool)
        for k0, block in self.ints:
            lo, hi = max(k0, t0), min(k0 + block.shape[0] - 1, t1)
            if lo <= hi:
                out[lo - t0:hi - t0 + 1] = block[lo - k0:hi - k0 + 1]
                done[lo - t0:hi - t0 + 1] = True
        if not done.all():
            with np.errstate(all="ignore"):
                out[~done] = self.sample(np.arange(t0, t1 + 1, dtype=float)[~done])
        return out

    def current(self) -> Statistics:
        """The state at the step the engine sits on (``progress.next_step``)."""
        t = float(self.pb.progress.next_step)
        self._cover(t)
        return unpack(self.sample(np.array([t]))[0], self.r)

    def final(self) -> Statistics:
        return self.current()

    def finish(self, ds):
        """Attrs of the integration: solver, tolerances, events, cost."""
        p = self.pb.params
        ds.attrs.update(
            flow_method=p.method, flow_rtol=p.rtol, flow_atol=p.atol,
            flow_nfev=int(self.field.nfev), flow_njev=int(self.field.njev),
            flow_nsteps=int(self.nsteps),
            flow_cross_up=np.array(self.cross_up, dtype=float),
            flow_cross_down=np.array(self.cross_down, dtype=float),
            flow_time_unit="eta (flow time t*eta lines up with GD step t)",
        )
        if self.t_converged is not None:
            ds.attrs["flow_converged_time"] = float(self.t_converged)
        if self.stop is not None and self.stop[2] is not None:
            ds.attrs["status_message"] = self.stop[2]
        return ds
