r"""The ``network`` backend of ``eosdyn scan`` and ``eosdyn bifurcation``: cells batched by ``jax.vmap``.

:func:`eosdyn.analysis.scan.run_batch` hands a block's cells here when the engine is ``network``. Cells
that share the data and the width (they differ in ``eta``, ``seed``, ``init_scale``,
``sigma_a``, ``sigma_w``) form one batch: their weights are stacked along a leading axis and
every GD step of the batch is ONE compiled call, ``jit(vmap(step))`` with a per-cell ``eta``
(:func:`eosdyn.nets.step.make_step`); cells of other widths or data run as further batches.
A cell that stops (diverged, converged, or at ``steps``) is frozen in its batch.

Per cell the summaries and observables are those of the two-layer kernel
(:func:`eosdyn.kernels.batch_numba.run_cell`), with the same rules: the stop code from the
loss at every step (``L - L* <= loss_tol`` with ``L* = ||Y_perp||^2/n`` for models linear in
``x``, else 0); ``Lambda > 2/eta`` tested every ``sharpness_every``-th step and at the stop
(a non-finite state is below), the flags counted as the numba kernels count them
(:func:`edge_runs`, the vectorised :func:`eosdyn.kernels.edge_numba.edge_run`): the first
crossing, the EoS excursions (runs of >= 2 tested steps above) and the period-2 flips (single
tested steps above between tested steps below); ``loss``, ``eta * Lambda``, ``||A||^2`` and
``D^T v_1`` (sign continuous per cell) at recorded, tail and orbit steps. ``Lambda`` and
``v_1`` come from the exact n x n Gram matrix of every cell (structured for dense models,
per-sample gradients otherwise; batched) and LAPACK's ``eigh`` (batched). The Lyapunov exponent
is not defined for the network backend (NaN): it needs the two-layer tangent map. Continuation
(``bifurcation --mode continuation``) runs the values in order, each starting from the
previous value's final weights.
"""

from __future__ import annotations

import numpy as np

from ..errors import ParameterError
from ..kernels import batch_numba as B
from ..kernels import layout as L
from ._jax import x64

#: observables (columns of ``traj``/``orbit``) in the order of eosdyn.kernels.batch_numba
O_LOSS, O_ES, O_A, O_DV1 = (B.OBSERVABLES.index(k) for k in ("loss", "eta_sharpness", "a_norm2", "Dv1"))


def edge_runs(counts: np.ndarray, t: int, up: np.ndarray, test: np.ndarray) -> None:
    """:func:`eosdyn.kernels.edge_numba.edge_run` for every cell at once: ``counts`` (cells, 4) =
    ``[run, first, excursions, flips]``; cells where ``test`` enter the flag ``up`` at step ``t``."""
    u, d = test & up, test & ~up
    start = u & (counts[:, 0] == 0) & (counts[:, 1] < 0)
    counts[start, 1] = t
    counts[u, 0] += 1
    counts[u & (counts[:, 0] == 2), 2] += 1
    counts[d & (counts[:, 0] == 1), 3] += 1
    counts[d, 0] = 0


def group_key(p) -> tuple:
    """Cells with equal keys share data and weight shapes (one vmapped batch)."""
    from ..analysis.scan.cells import _data_key

    return (_data_key(p), p.m)


@x64
def run_batch(spec, params: list, chain: bool = False) -> dict:
    """Per-cell result arrays (as :func:`eosdyn.analysis.scan.run_batch`) for the cells ``params``."""
    C = len(params)
    o = spec.options
    res = dict(traj=np.full((C, spec.nrec, B.NOBS), np.nan), orbit=np.full((C, o.orbit, B.NOBS), np.nan),
               fsum=np.full((C, B.NF), np.nan), isum=np.zeros((C, B.NI), dtype=np.int64))
    if chain:
        if len({p.m for p in params}) > 1:
            raise ParameterError("param", "continuation over m is not available for engine network "
                                 "(the weights change shape)")
        weights = None
        for c, p in enumerate(params):
            weights = _Batch(spec, [p], init=weights).run(res, [c])
    else:
        groups: dict = {}
        for c, p in enumerate(params):
            groups.setdefault(group_key(p), []).append(c)
        for cells in groups.values():
            _Batch(spec, [params[c] for c in cells]).run(res, cells)
    from ..analysis.scan import classify

    res["phase"] = classify(res["fsum"], res["isum"], o.lazy_tol)
    # the two-layer statistics (a, u, G) do not describe a network: not returned
    res.update(final_a=np.full((C, 1), np.nan), final_u=np.full((C, 1), np.nan), final_G=np.full((C, 1, 1), np.nan))
    return res


def _select(jax, mask, new, old):
    """Per cell: ``new`` where ``mask`` (still running), else ``old`` (frozen at its stop)."""
    return jax.tree_util.tree_map(
        lambda a, b: jax.numpy.where(mask.reshape((-1,) + (1,) * (a.ndim - 1)), a, b), new, old)


class _Batch:
    """One vmapped batch of cells sharing data and width."""

    def __init__(self, spec, params: list, init=None):
        import jax
        import jax.numpy as jnp

        from ..api import build_problem
        from . import functions
        from . import step as S
        from .problem import build

        self.spec, self.params = spec, params
        first = build_problem(params[0].replace(steps=1, record_every=1, save_init=None))
        self.model, data = first.model, first.data
        ws = [first.weights if init is None and k == 0 else init if init is not None else
              build(p.replace(steps=1, record_every=1, save_init=None), data).weights
              for k, p in enumerate(params)]
        stacked = {k: jnp.asarray(np.stack([w[k] for w in ws])) for k in ws[0]}
        self.fns = functions.make(self.model)
        opt = S.OPTIMIZERS["gd"]
        self.state = jax.vmap(lambda p: S.init(p, opt))(stacked)
        step = S.make_step(self.fns, opt)
        self.x, self.Y = jnp.asarray(first.x), jnp.asarray(data.Y)
        self.vstep = jax.jit(jax.vmap(lambda st, eta: step(st, {"eta": eta}, self.x, self.Y)))
        gram = self.fns.gram if self.model.spec.dense else self.fns.jac_gram
        xf = self.x.reshape(self.x.shape[0], -1)
        XtX = xf @ xf.T
        self.vgram = jax.jit(jax.vmap(lambda p: gram(p, self.x, XtX)[0::3]))   # (F, M) per cell
        self.eta = np.array([p.eta for p in params])
        self.eta_j = jnp.asarray(self.eta)
        self.lstar = data.y_perp2 / data.n if self.model.spec.linear else 0.0
        self.Ynp = np.asarray(data.Y)
        self.v1 = np.tile(data.V[:, 0], (len(params), 1))
        self.jax, self.jnp = jax, jnp

    def observe(self, params, cells):
        """``(Lambda, D^T v_1)`` of the cells (indices into the batch), exact (eigh)."""
        sub = self.jax.tree_util.tree_map(lambda a: a[cells], params)
        F, M = (np.asarray(v) for v in self.vgram(sub))
        lam = np.full(len(cells), np.nan)
        dv1 = np.full(len(cells), np.nan)
        ok = np.all(np.isfinite(M.reshape(len(cells), -1)), axis=1)
        if ok.any():
            w, V = np.linalg.eigh(M[ok])
            v = V[:, :, -1]
            ref = self.v1[np.asarray(cells)[ok]]
            v *= np.where(np.sum(v * ref, axis=1) < 0, -1.0, 1.0)[:, None]
            self.v1[np.asarray(cells)[ok]] = v
            lam[ok] = w[:, -1]
            dv1[ok] = np.sum((F[ok] - self.Ynp) * v, axis=1)
        return lam, dv1

    def run(self, res, out_cells):
        """Run every cell to its stop; write its results into row ``out_cells[k]`` of ``res``."""
        spec, o, jnp = self.spec, self.spec.options, self.jnp
        steps, every, nrec = spec.base.steps, spec.every, spec.nrec
        orbit_start, tail_start = steps + 1 - o.orbit, spec.tail_start
        C = len(self.params)
        loss_tol = np.array([p.loss_tol for p in self.params])
        max_loss = np.array([p.max_loss for p in self.params])
        active = np.ones(C, dtype=bool)
        code = np.full(C, -1)
        stop_t = np.zeros(C, dtype=np.int64)
        maxl = np.full(C, -np.inf)
        edge = np.zeros((C, 4), dtype=np.int64)   # edge_runs' [run, first, excursions, flips]
        edge[:, 1] = -1
        tmin, tmax = np.full(C, np.inf), np.full(C, -np.inf)
        last = np.full((C, B.NOBS), np.nan)
        init_es = np.full(C, np.nan)
        t = 0
        while active.any():
            new, loss = self.vstep(self.state, self.eta_j)
            loss = np.asarray(loss)
            a = np.asarray(jnp.sum(self.state.params["A"] ** 2, axis=1))
            ok = (loss < max_loss) & np.isfinite(a) & (np.abs(a) < max_loss)
            bad = ~(loss <= maxl)   # loss > maxl or loss is NaN
            maxl = np.where(active & bad, loss, maxl)
            c_now = np.where(~ok, L.DIVERGED, np.where(loss - self.lstar <= loss_tol, L.CONVERGED,
                                                       np.where(t == steps, L.MAX_STEPS, -1)))
            c_now = np.where(active, c_now, -1)
            test = active & ((t % o.sharpness_every == 0) | (c_now >= 0))
            rec = nrec > 0 and t % every == 0 and t // every < nrec
            need = active & ((t == 0) | rec | (t >= tail_start) | (t >= orbit_start) | (c_now >= 0))
            look = np.flatnonzero(test | need)
            lam = np.full(C, np.nan)
            dv1 = np.full(C, np.nan)
            if look.size:
                lam[look], dv1[look] = self.observe(self.state.params, look)
            with np.errstate(invalid="ignore"):
                above = lam * self.eta > 2.0   # a non-finite state (NaN Lambda): below
            edge_runs(edge, t, above, test)
            for c in np.flatnonzero(need):
                obs = last[c]
                obs[O_LOSS], obs[O_ES], obs[O_A], obs[O_DV1] = loss[c], self.eta[c] * lam[c], a[c], dv1[c]
                if t == 0:
                    init_es[c] = obs[O_ES]
                if rec:
                    res["traj"][out_cells[c], t // every] = obs
                if t >= orbit_start and t - orbit_start < o.orbit:
                    res["orbit"][out_cells[c], t - orbit_start] = obs
                if t >= tail_start and c_now[c] != L.DIVERGED:
                    tmin[c], tmax[c] = min(tmin[c], obs[O_ES]), max(tmax[c], obs[O_ES])
            stopping = c_now >= 0
            code = np.where(stopping, c_now, code)
            stop_t = np.where(stopping, t, stop_t)
            active &= ~stopping
            self.state = _select(self.jax, jnp.asarray(active), new, self.state)
            t += 1
        conv = (code == L.CONVERGED) & (stop_t < tail_start)
        tmin, tmax = np.where(conv, last[:, O_ES], tmin), np.where(conv, last[:, O_ES], tmax)
        bad = ~(tmin <= tmax)
        tmin, tmax = np.where(bad, np.nan, tmin), np.where(bad, np.nan, tmax)
        for c, row in enumerate(out_cells):
            f = res["fsum"][row]
            f[B.F_INIT_ES], f[B.F_FINAL_ES], f[B.F_MAX_LOSS] = init_es[c], last[c, O_ES], maxl[c]
            f[B.F_FINAL_LOSS], f[B.F_TAIL_MIN], f[B.F_TAIL_MAX] = last[c, O_LOSS], tmin[c], tmax[c]
            f[B.F_LYAP] = np.nan
            res["isum"][row, [B.I_STATUS, B.I_STATUS_STEP, B.I_FIRST_CROSS, B.I_EXCURSIONS, B.I_FLIPS,
                              B.I_RESETS]] = (code[c], stop_t[c], edge[c, 1], edge[c, 2], edge[c, 3], 0)
        return {k: np.asarray(v[-1]) for k, v in self.state.params.items()}
