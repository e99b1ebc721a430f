r"""The central flow (``--engine central-flow``): GD's time-averaged trajectory at the edge of stability.

The theory (Cohen, Damian, Talwalkar, Kolter & Lee, "Understanding Optimization in Deep Learning
with Central Flows", ICLR 2025)
-------------------------------------------------------------------------------------------
Their time ``t`` counts GD steps (the gradient flow is ``dw/dt = -eta nabla L``). With
``S(w) = lambda_max(nabla^2 L(w))`` and ``Sigma = Q X Q^T`` the covariance of GD's oscillations
around the flow, supported on the eigenvectors ``Q = [q_1 .. q_k]`` whose eigenvalues are at
``2/eta``::

    dw/dt = -eta [ nabla L(w) + (1/2) nabla <H(w), Sigma> ]
          = -eta [ nabla L(w) + (1/2) sum_ij X_ij nabla^3 L(w)[q_i, q_j] ],

where ``X >= 0`` solves the semidefinite complementarity problem that keeps every eigenvalue at
or below ``2/eta`` (:mod:`eosdyn.engines.sdcp`). With one eigenvalue at the edge
``X = sigma^2 = max(0, 2 <-nabla L, nabla S> / ||nabla S||^2)`` and ``nabla S = nabla^3 L[q, q]``.
Below the edge ``X = 0``: the gradient flow. The flow predicts GD's time-averaged loss
``L(w) + (1/2) <H, Sigma> = L(w) + tr(X) / eta`` (eigenvalues at ``2/eta``) and, to the same
order, any time average ``E f(w_t) = f(w) + (1/2) <nabla^2 f, Sigma>``; for ``f = ||A||^2``,
``||A||^2 + sum_ij X_ij <q_i^A, q_j^A>`` (``q^A`` the A-part of ``q``).

Mapping to eosdyn
-----------------
eosdyn's flow engines integrate in ``t`` = GD steps with flow time ``tau = t eta``
(:mod:`eosdyn.engines.flow`): Cohen et al.'s ``t`` is eosdyn's ``t``, and row ``t`` of a run is GD step
``t``. Everything lives on the m-independent state ``(a, u, G)``: the Hessian's top eigenvectors
in the invariant subspace T, ``nabla^3 L[q_i, q_j]`` and the velocity keep it closed
(:mod:`eosdyn.kernels.third_numba`). The one exception is the residual-coupling block
``+-(2/(n sqrt m)) ||X D||`` of multiplicity ``m - r - 1``: if it is the eigenvalue that reaches
``2/eta``, the run stops (status ``diverged``, the reason in ``status_message``).

Integration
-----------
``scipy.integrate`` (``method``, ``rtol``, ``atol`` as for ``flow``) in regimes of ``k`` =
the number of eigenvalues at the edge, restarted at each event, located by root finding on the
dense output:

* ``k = 0``: the gradient flow, exactly the ``flow`` engine's field and exact Jacobian (so the two
  agree to solver tolerance before the first edge); event ``eta S = 2`` -> ``k = 1``;
* ``k = 1``: event ``sigma^2 = 0`` from above (the flow leaves the edge) -> ``k = 0``;
* ``k >= 1``: event ``eta lambda_{k+1} = 2`` -> ``k + 1``; ``k >= 2``: the k-th eigenvalue falls
  ``LEAVE_MARGIN`` below the edge -> ``k - 1`` (the SDCP lets it go; the margin keeps the
  remaining cluster well separated).

Implicit solvers get the exact Jacobian below the edge and, at the edge, finite differences of
the field (vectorised); where those fail -- the flow can drive ``C = P^T P / m`` towards rank
deficiency (eta >= 0.05 on the default data), where the field is not smooth in ``(a, u, G)`` at
the scale of the differences -- the regime restarts from the last accepted state with the
gradient-flow part's exact Jacobian (the ``sigma^2`` term's derivative left out: it only slows
the Newton iterations; the accuracy is the error control's; the restart times are kept in the
attr ``edge_jacobian_fallbacks``). The constraint
is held by the complementarity problem in its relaxed form ``d(Q^T H Q)/dt <= kappa (2/eta -
Q^T H Q)`` (``KAPPA`` per step), which is the exact condition on the constraint surface and
pulls integration drift back to it. A run that cannot proceed -- starting above the edge
(GD is unstable from step 0: catapult or divergence), a blow-up, a solver failure, more than
``MAX_SOLVER_STEPS`` solver steps (stiffness), endless switching -- ends with status
``diverged`` and the reason in ``status_message``; never a traceback.

Recorded (besides the run schema): ``sharpness_hessian`` (S), ``n_at_edge`` (k),
``central_sigma2`` (tr X), ``predicted_loss``, ``predicted_a_norm2``, ``predicted_delta2``
(self-stabilization's ``2 alpha / ||nabla S_perp||^2``, :mod:`eosdyn.engines.stable_flow`) and
``gradS_u_cos`` (``|<nabla S, q_1>| / ||nabla S||``).
"""

from __future__ import annotations

import math

import numpy as np

from ..io.schema import annotate
from ..kernels import layout as L
from ..kernels import third_numba as T
from . import sdcp
from .flow import IMPLICIT, MAX_DENSE_JACOBIAN, FlowEngine, solver_class

#: relaxation rate (per GD step) of the edge constraint towards ``Q^T H Q = 2/eta``
KAPPA = 1e-2
#: with k >= 2 at the edge, the k-th eigenvalue leaves when ``eta lambda_k < 2 - LEAVE_MARGIN``
LEAVE_MARGIN = 1e-6
#: solver steps allowed per GD step of the run (plus a constant), beyond which the run stops
MAX_SOLVER_STEPS_PER_STEP = 20
MAX_SOLVER_STEPS_MIN = 20_000
#: steps after a Jacobian fallback (see :meth:`CentralFlowEngine._new_solver`) before finite
#: differences are tried again
FD_RETRY = 2_000
#: regime switches beyond which the run stops (chattering at the edge)
MAX_SWITCHES = 5_000
#: the residual-coupling eigenvalue nu_H counts as the top one when within this relative distance
#: of it (the T-block carries copies of +-nu_H; outside T it has multiplicity m - r - 1)
NU_TIE = 1e-6
#: the extra per-row variables, in column order
EXTRAS = ("sharpness_hessian", "n_at_edge", "central_sigma2", "predicted_loss", "predicted_a_norm2",
          "predicted_delta2", "gradS_u_cos")


class CentralField:
    """The right-hand side in regime ``k`` (``k >= 1``; regime 0 is the ``flow`` engine's field),
    vectorised over columns; and the edge quantities of single states."""

    def __init__(self, data, m: float, eta: float, kappa: float = KAPPA):
        r = data.rank
        self.r = r
        self.s, self.z = np.ascontiguousarray(data.s, float), np.ascontiguousarray(data.z, float)
        self.n, self.m, self.eta, self.kappa = float(data.n), float(m), float(eta), float(kappa)
        self.ws = T.workspace(r)
        self.wa = T.args(self.ws)
        # records get their own scratch (and warm eigenvector), so that the integration does not
        # depend on how the run is chunked into records: runs are deterministic
        self.wa_rec = T.args(T.workspace(r))
        self.k = 1
        self.nfev = 0
        self.info = np.zeros((1, T.NINFO))
        self.sdcp_residual = 0.0

    def __call__(self, t, y):
        Ys = y if y.ndim == 2 else y[:, None]
        out = np.empty_like(Ys, dtype=float)
        self.nfev += Ys.shape[1]
        if self.k == 1:
            if self.info.shape[0] < Ys.shape[1]:
                self.info = np.zeros((Ys.shape[1], T.NINFO))
            T.edge_rates(np.ascontiguousarray(Ys, float), self.s, self.z, self.n, self.m, self.eta,
                         self.kappa, 1, out, self.info, *self.wa)
        else:
            for c in range(Ys.shape[1]):
                out[:, c] = self.cluster(np.ascontiguousarray(Ys[:, c], float), self.k, want_xh=False)[0]
        return out if y.ndim == 2 else out[:, 0]

    def edge(self, y, k: int, want_next: bool = False) -> np.ndarray:
        """:func:`third_numba.edge_terms` info of state ``y`` in regime ``k <= 1``."""
        info = np.empty(T.NINFO)
        T.edge_terms(np.ascontiguousarray(y, float), self.s, self.z, self.n, self.m, self.eta,
                     self.kappa, k, want_next, np.empty(y.size), info, *self.wa)
        return info

    def cluster(self, y, k: int, want_xh: bool = True):
        """Regime ``k >= 1`` by the SDCP: ``(rate, X, lam_k, nu_H, lambda_{k+1}, xh (k, r+1))``."""
        r1 = self.r + 1
        d = k * (k + 1) // 2
        Ks = np.zeros((d, r1, r1))
        lam = np.zeros(k)
        ok, nu, nxt = T.cluster_terms(y, self.s, self.z, self.n, self.m, k, Ks, lam, *self.wa)
        if not ok:
            return np.full(y.size, np.nan), np.full((k, k), np.nan), lam, nu, nxt, None
        Bv, av = np.zeros((d, d)), np.zeros(d)
        T.cluster_gram(Ks, self.ws["KL"], self.m, Bv, av)
        A = np.zeros((k, k))
        for a, (i, j) in enumerate(sdcp.pairs(k)):
            A[i, j] = A[j, i] = 2.0 * av[a]
        A += np.diag((2.0 * self.kappa / self.eta) * (2.0 / self.eta - lam))
        X, res = sdcp.solve(A, Bv)
        self.sdcp_residual = max(self.sdcp_residual, res)
        Xv = np.array([X[i, j] for i, j in sdcp.pairs(k)])
        out = np.empty(y.size)
        T.cluster_rate(Ks, self.ws["KL"], self.ws["R"], self.m, self.eta, Xv, self.ws["K"], out)
        if not want_xh:
            return out, X, lam, nu, nxt, None
        _, _, V, _ = T.spectrum(y, self.s, self.z, self.n, self.m, *self.wa[:7])
        xh = V[:r1, ::-1][:, :k].T.copy()   # the A-parts of the top k eigenvectors
        return out, X, lam, nu, nxt, xh

    def values(self, y, k: int) -> dict:
        """Event functions of regime ``k`` at state ``y``: ``up`` (next eigenvalue vs the edge,
        with ``via_nu`` when it is the residual block's), ``leave`` (k >= 1)."""
        eta = self.eta
        if k <= 1:
            info = self.edge(y, k, want_next=k == 1)
            if k == 0:
                return {"up": eta * info[T.I_S] - 2.0, "via_nu": _tie(info[T.I_NU], info[T.I_LAM1])}
            nxt = max(info[T.I_LAMNEXT], info[T.I_NU])
            return {"up": eta * nxt - 2.0, "via_nu": _tie(info[T.I_NU], info[T.I_LAMNEXT]),
                    "leave": info[T.I_SIG2RAW]}
        _, _, lam, nu, nxt, _ = self.cluster(y, k, want_xh=False)
        return {"up": eta * max(nxt, nu) - 2.0, "via_nu": _tie(nu, nxt),
                "leave": eta * lam[-1] - 2.0 + LEAVE_MARGIN}


def _tie(nu: float, lam: float) -> bool:
    """``nu_H`` is (up to ``NU_TIE``) at least ``lam``."""
    return bool(nu >= lam * (1.0 - NU_TIE))


class CentralFlowEngine(FlowEngine):
    """The central flow on ``(a, u, G)``, sampled at ``t = k`` (GD step k, flow time ``k eta``);
    its integer states go through the recording loop as the flow's do (summaries over every step
    of the sampled flow)."""

    name = "central-flow"
    exact = False
    truncation = "central flow"
    needs_parameters = False
    #: how ``predicted_loss`` / ``predicted_a_norm2`` are formed (see :meth:`_predictions`)
    theory = "central flow (Cohen et al. 2025): L + (1/2)<H, Sigma>, ||A||^2 + tr Sigma_AA"

    def __init__(self, pb):
        super().__init__(pb)
        p = pb.params
        self.cfield = CentralField(pb.data, p.m, p.eta)
        self.k = 0
        self.switches: list[tuple[float, int]] = [(0.0, 0)]   # (time, regime from then on)
        self.enter: list[float] = []
        self.leave: list[float] = []
        self.max_solver_steps = MAX_SOLVER_STEPS_MIN + MAX_SOLVER_STEPS_PER_STEP * (p.steps + 1)
        self.extras = np.full((pb.rec.shape[0], len(EXTRAS)), np.nan)
        self.jac_fallbacks: list[float] = []
        self._jac_mode = "exact"
        self._ev_prev: dict = {}
        self._start_checks()

    def _start_checks(self) -> None:
        info = self.cfield.edge(self.y0, 0)
        if not np.isfinite(info[T.I_S]):
            self.stop = (0, L.DIVERGED, "the initial state is not finite or degenerate (C = P^T P / m "
                                        "singular: m <= rank, or A and W U linearly dependent)")
            return
        self._ev_prev = self.cfield.values(self.y0, 0)
        if self.stop is not None:
            return
        es = self.pb.params.eta * info[T.I_S]
        if es > 2.0:
            where = ("the residual-coupling eigenvalue (2/(n sqrt m))||X D||, multiplicity m - r - 1"
                     if _tie(info[T.I_NU], info[T.I_LAM1]) else "the top Hessian eigenvalue")
            self.stop = (0, L.DIVERGED,
                         f"starts above the edge of stability: eta*S(0) = {es:.6g} > 2 ({where}); the "
                         f"{self.name} is defined on {{S <= 2/eta}} (GD is unstable from step 0)")

    # --- integration with regimes -----------------------------------------------------------

    def _cover(self, T_: float) -> None:
        while self.solver.status == "running":
            target = T_ if self.stop is None else min(T_, self.stop[0] + 1)
            if self.solver.t >= target or (self.stop is not None and self.stop[1] == L.DIVERGED):
                return
            self._solver_step()

    def _fail(self, k: int, message: str) -> None:
        self._set_stop(min(max(k, 0), self.pb.params.steps), L.DIVERGED, message)

    def _solver_step(self) -> None:
        s, p = self.solver, self.pb.params
        t_before, y_before = s.t, np.array(s.y, dtype=float)
        try:
            message = s.step()
        except (np.linalg.LinAlgError, ValueError, ZeroDivisionError) as exc:
            message = str(exc)
            s.status = "failed"
        self.nsteps += 1
        if s.status == "failed":
            if self._jac_mode == "fd" and np.all(np.isfinite(y_before)):   # retry: gradient-flow Jacobian
                self.jac_fallbacks.append(float(t_before))
                self._new_solver(t_before, y_before, self.k, fd=False)
                return
            self._fail(int(math.floor(t_before)) + 1, f"the {p.method} solver failed at t = {t_before:.6g} "
                                                      f"(regime k = {self.k}): {message}")
            return
        if self._jac_mode == "gf" and s.t - self.jac_fallbacks[-1] > FD_RETRY:   # try differences again
            self._new_solver(s.t, np.array(s.y, dtype=float), self.k, fd=True)
        if self.nsteps > self.max_solver_steps:
            self._fail(int(math.floor(s.t)) + 1,
                       f"more than {self.max_solver_steps} solver steps by t = {s.t:.6g} (stiff for "
                       f"{p.method}: try --method Radau or a looser --rtol)")
            return
        lo, hi, sol = s.t_old, s.t, s.dense_output()
        if not self.field.ok(s.y, p.max_loss):
            self._keep_segment(lo, hi, sol)
            self._set_stop(self._first_bad_step(lo, hi, sol), L.DIVERGED,
                           f"the flow blew up (non-finite or above max_loss = {p.max_loss:g}) by t = {hi:.6g}")
            return
        event = self._edge_event(lo, hi, sol, s.y)
        if event is None:
            self._keep_segment(lo, hi, sol)
            self._sharpness_event(lo, hi, sol, s.y)
            self._loss_event(lo, hi, sol, s.y)
            return
        t_ev, new_k, reason = event
        y_ev = np.asarray(sol(t_ev), dtype=float)
        self._keep_segment(lo, t_ev, sol)
        self._sharpness_event(lo, t_ev, sol, y_ev)
        self._loss_event(lo, t_ev, sol, y_ev)
        if reason is not None:
            self._fail(int(math.ceil(t_ev)), reason)
            return
        self._switch(t_ev, y_ev, new_k)

    def _edge_event(self, lo, hi, sol, y):
        """The earliest edge event in ``(lo, hi]``: ``(t, new k, stop reason or None)``."""
        k = self.k
        new = self.cfield.values(y, k)
        prev, self._ev_prev = self._ev_prev, new
        found = []
        if prev["up"] < 0.0 <= new["up"]:
            t = self._root(lambda t: self.cfield.values(np.asarray(sol(t)), k)["up"], lo, hi)
            via = self.cfield.values(np.asarray(sol(t)), k)["via_nu"]
            reason = None
            if via:
                reason = (f"the residual-coupling eigenvalue (2/(n sqrt m))||X D|| reached 2/eta at t = "
                          f"{t:.6g}: its eigenspace (multiplicity m - r - 1) leaves the reduced state, "
                          f"so the {self.name} cannot continue on (a, u, G)")
            found.append((t, k + 1, reason))
        if k >= 1 and prev["leave"] > 0.0 >= new["leave"]:
            t = self._root(lambda t: self.cfield.values(np.asarray(sol(t)), k)["leave"], lo, hi)
            found.append((t, k - 1, None))
        if not found:
            return None
        return min(found, key=lambda e: e[0])

    def _root(self, f, lo, hi) -> float:
        from scipy import optimize  # imported when a central flow runs, not with the engine table

        try:
            return optimize.brentq(f, lo, hi, xtol=1e-10 * max(1.0, abs(hi)), rtol=4 * np.finfo(float).eps)
        except ValueError:   # no sign change on the dense output: take the end of the step
            return hi

    def _switch(self, t: float, y: np.ndarray, k: int) -> None:
        if len(self.switches) >= MAX_SWITCHES:
            self._fail(int(math.ceil(t)), f"more than {MAX_SWITCHES} edge events by t = {t:.6g} "
                                          "(the flow chatters at the edge)")
            return
        (self.enter if k > self.k else self.leave).append(t)
        self.k = k
        self.switches.append((t, k))
        self._ev_prev = self.cfield.values(y, k)
        if "leave" in self._ev_prev and self._ev_prev["leave"] <= 0.0:   # just arrived: not leaving
            self._ev_prev["leave"] = math.copysign(1e-300, 1.0)
        if self._ev_prev["up"] >= 0.0:   # just left: the eigenvalue sits at the edge
            self._ev_prev["up"] = -1e-300
        if t >= self.t_bound:
            return
        self._new_solver(t, y, k, fd=True)

    def _new_solver(self, t: float, y: np.ndarray, k: int, fd: bool) -> None:
        """A solver from ``(t, y)`` in regime ``k``. Implicit methods: below the edge the exact
        gradient-flow Jacobian; at the edge finite differences of the field (``fd``), or, after a
        failure, the gradient-flow Jacobian (the sigma^2 term's derivative left out)."""
        p = self.pb.params
        extra = {}
        if p.method in IMPLICIT and (k == 0 or not fd):
            if y.size <= MAX_DENSE_JACOBIAN:
                extra["jac"] = self.field.jac
            elif p.method == "Radau":
                extra["jac"] = self.field.jac_sparse
        elif p.method in IMPLICIT:
            extra["vectorized"] = True
        self._jac_mode = "exact" if k == 0 or p.method not in IMPLICIT else ("fd" if fd else "gf")
        self.cfield.k = k
        fun = self.field if k == 0 else self.cfield
        self.solver = solver_class(p.method)(fun, t, y.copy(), self.t_bound, rtol=p.rtol, atol=p.atol, **extra)

    # --- recording ----------------------------------------------------------------------------

    def regime_at(self, ts: np.ndarray) -> np.ndarray:
        times = np.array([t for t, _ in self.switches])
        ks = np.array([k for _, k in self.switches])
        return ks[np.searchsorted(times, ts, side="right") - 1]

    def _rows_written(self, k0: int, k1: int, Ys: np.ndarray) -> None:
        super()._rows_written(k0, k1, Ys)
        ts = self.pb.rec_step[k0:k1].astype(float)
        ks = self.regime_at(ts).astype(np.int64)
        loss = self.pb.rec[k0:k1, L.LOSS]
        self.extras[k0:k1] = self._extras(np.ascontiguousarray(Ys), ks, loss)

    def _extras(self, Ys: np.ndarray, ks: np.ndarray, loss: np.ndarray) -> np.ndarray:
        """The EXTRAS of the states ``Ys`` (rows) in regimes ``ks``."""
        cf = self.cfield
        infos = np.full((ks.size, T.NINFO), np.nan)
        T.edge_infos(Ys, ks, cf.s, cf.z, cf.n, cf.m, cf.eta, cf.kappa, infos, *cf.wa_rec)
        out = np.full((ks.size, len(EXTRAS)), np.nan)
        beta, gsq = infos[:, T.I_BETA], infos[:, T.I_GSQ]
        with np.errstate(divide="ignore", invalid="ignore"):
            cos = np.abs(gsq) / np.sqrt(beta)
            sig2 = np.where(ks == 1, infos[:, T.I_SIG2], 0.0)
            delta2 = np.where(ks == 1, sig2 / (1.0 - cos * cos), 0.0)
        out[:, 0], out[:, 1], out[:, 2], out[:, 5], out[:, 6] = infos[:, T.I_S], ks, sig2, delta2, cos
        out[:, 3], out[:, 4] = self._predictions(Ys[:, 0], loss, sig2, delta2, infos)
        for i in np.flatnonzero(ks >= 2):   # several eigenvalues at the edge: the SDCP, row by row
            _, X, lam, _, _, xh = cf.cluster(Ys[i], int(ks[i]))
            out[i, 2], out[i, 5] = float(np.trace(X)), np.nan
            out[i, 3], out[i, 4] = self._cluster_predictions(Ys[i, 0], loss[i], X, lam, xh)
        return out

    def _predictions(self, a, loss, sig2, delta2, infos):
        """Central flow, k <= 1: ``L + sigma^2 lambda_1 / 2`` and ``a + sigma^2 ||q_1^A||^2``."""
        return loss + 0.5 * sig2 * infos[:, T.I_LAM1], a + sig2 * infos[:, T.I_XH2]

    def _cluster_predictions(self, a, loss, X, lam, xh):
        """Central flow, k >= 2: ``L + (1/2) sum_i X_ii lambda_i`` and ``a + sum_ij X_ij <q_i^A, q_j^A>``."""
        return loss + 0.5 * float(np.sum(np.diag(X) * lam)), a + float(np.sum(X * (xh @ xh.T)))

    def finish(self, ds):
        ds = super().finish(ds)
        nrow = ds.sizes["step"]
        for j, name in enumerate(EXTRAS):
            vals = self.extras[:nrow, j]
            ds[name] = (("step",), vals.astype(np.int8) if name == "n_at_edge" else vals.copy())
        ds.attrs.update(
            edge_enter=np.array(self.enter, dtype=float), edge_leave=np.array(self.leave, dtype=float),
            edge_kappa=KAPPA, edge_theory=self.theory, flow_nfev=int(self.field.nfev + self.cfield.nfev),
            edge_jacobian_fallbacks=np.array(self.jac_fallbacks, dtype=float),
            edge_sdcp_residual=float(self.cfield.sdcp_residual),
        )
        return annotate(ds)
