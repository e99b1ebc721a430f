"""The gradient-flow engine: conservation law, GD -> flow at first order in eta, stiff solvers,
events, the record contract, and an independent numpy/scipy twin of the vector field."""

import numpy as np
import pytest
from click.testing import CliRunner
from scipy.integrate import solve_ivp
from scipy.linalg import expm
from twins import flow_velocity as numpy_velocity

import eosdyn
from eosdyn.api import build_problem
from eosdyn.cli import main
from eosdyn.engines.flow import FlowEngine, pack
from eosdyn.kernels import layout as L
from eosdyn.model.params import make_params
from eosdyn.status import Status

SMALL = dict(n=10, rank=3, eigenvalues=(9.0, 4.0, 1.0), m=50, init_scale=0.5, eta=0.01)


def engine_for(**kw):
    pb = build_problem(make_params(engine="flow", **kw))
    return pb, FlowEngine(pb)


def test_flow_matches_independent_numpy_twin():
    pb, eng = engine_for(steps=400, loss_tol=0.0, **SMALL)
    d, p = pb.data, pb.params
    y0 = pack(pb.init.a, pb.init.u, pb.init.G)
    eng.advance(0, p.steps + 1)
    ts = np.array([0.0, 1.0, 57.0, 200.0, 400.0])
    ref = solve_ivp(lambda t, y: numpy_velocity(y, d.s, d.z, d.n, p.m), (0, ts[-1] * p.eta), y0,
                    method="DOP853", rtol=1e-12, atol=1e-14, t_eval=ts * p.eta)
    ys = pb.rec[:, L.A_NORM2][ts.astype(int)]
    np.testing.assert_allclose(ys, ref.y[0], rtol=1e-8)
    np.testing.assert_allclose(eng.final().u, ref.y[1:1 + d.rank, -1], rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("method", ["DOP853", "RK45", "Radau", "LSODA"])
def test_balancedness_conserved_to_solver_tolerance(method):
    pb, eng = engine_for(steps=3000, method=method, rtol=1e-9, atol=1e-12, loss_tol=0.0, **SMALL)
    m, bal = pb.params.m, []
    for t0, t1 in zip(range(0, 3000, 100), range(100, 3001, 100), strict=True):
        eng.advance(t0, t1)
        st = eng.current()
        bal.append(st.a - m * np.trace(st.G))
    bal = np.array([pb.init.a - m * np.trace(pb.init.G)] + bal)
    scale = pb.init.a + m * np.trace(pb.init.G)
    drift = np.abs(bal - bal[0]).max() / scale
    assert drift < 50 * 1e-9, drift
    # and it is not conserved by GD (the eta^2 terms), so the test can tell them apart
    gd = eosdyn.simulate(steps=3000, loss_tol=0.0, **SMALL)
    bal_gd = float(gd.final_a) - m * np.trace(gd.final_G.values)
    assert abs(bal_gd - bal[0]) / scale > 1e3 * drift


def test_gd_converges_to_flow_at_first_order_in_eta():
    """At fixed flow time tau, ||GD(tau/eta) - flow(tau)|| halves when eta halves."""
    tau = 2.0
    errs = []
    for eta in (0.02, 0.01, 0.005):
        k = int(round(tau / eta))
        kw = {**SMALL, "eta": eta, "steps": k, "loss_tol": 0.0}
        gd = eosdyn.simulate(**kw)
        fl = eosdyn.simulate(engine="flow", rtol=1e-12, atol=1e-14, **kw)
        x = np.concatenate([[gd.final_a], gd.final_u, gd.final_G.values.ravel()])
        y = np.concatenate([[fl.final_a], fl.final_u, fl.final_G.values.ravel()])
        errs.append(np.linalg.norm(x - y) / np.linalg.norm(y))
    ratios = np.array(errs[:-1]) / np.array(errs[1:])
    assert np.all((ratios > 1.8) & (ratios < 2.2)), (errs, ratios)


def test_stiff_case_radau_and_lsoda_succeed_cheaply():
    """Lazy limit (m = 1e12) with eigenvalues 1e4 and 1e-2: the flow is linear,
    D(t) = expm(-eta K t) D(0); eta Lambda = 40 makes explicit solvers crawl."""
    kw = dict(engine="flow", n=10, rank=2, eigenvalues=(1e4, 1e-2), m=10**12, init_scale=1.0,
              init_sampler="wishart", eta=0.01, steps=500, rtol=1e-8, atol=1e-12, loss_tol=0.0)
    pb = build_problem(make_params(**kw))
    d = pb.data
    K = 2.0 / d.n * np.diag(d.s) @ (pb.init.a / pb.params.m * np.eye(2) + pb.init.G) @ np.diag(d.s)
    delta0 = d.s * pb.init.u - d.z
    T = np.array([0, 3, 100, 500])
    ref = [np.sum((expm(-0.01 * K * t) @ delta0) ** 2) / d.n + d.y_perp2 / d.n for t in T]
    nfev = {}
    for method in ("RK45", "Radau", "LSODA"):
        ds = eosdyn.simulate(method=method, **{k: v for k, v in kw.items()})
        assert ds.attrs["status"] == "max_steps"
        np.testing.assert_allclose(ds.loss.values[T], ref, rtol=1e-6)
        nfev[method] = ds.attrs["flow_nfev"]
    assert nfev["Radau"] * 10 < nfev["RK45"] and nfev["LSODA"] * 10 < nfev["RK45"], nfev


def test_record_contract_is_independent_of_chunking():
    kw = dict(steps=700, record_every=7, loss_tol=0.0, **SMALL)
    recs = []
    for cuts in ([0, 701], [0, 1, 2, 50, 51, 333, 699, 700, 701], list(range(0, 702, 13)) + [701]):
        pb, eng = engine_for(**kw)
        for a, b in zip(cuts[:-1], cuts[1:], strict=True):
            eng.advance(a, b)
            assert pb.progress.next_step == min(b, 700) or pb.progress.done
        assert pb.progress.status == Status.MAX_STEPS and pb.progress.stop_step == 700
        recs.append((pb.rec[:pb.progress.rows].copy(), pb.rec_step[:pb.progress.rows].copy()))
    for rec, steps in recs[1:]:
        np.testing.assert_array_equal(rec, recs[0][0])
        np.testing.assert_array_equal(steps, recs[0][1])
    rec, steps = recs[0]
    assert list(steps) == list(range(0, 701, 7))
    # SHARP_NEXT / A_NEXT are the diagnostics one step later
    pb, eng = engine_for(steps=700, record_every=1, loss_tol=0.0, **SMALL)
    eng.advance(0, 701)
    # the same certified value up to rounding: the small-r eigen path starts warm from the previous
    # call's vector, which a stride-7 run and a stride-1 run reach by different histories
    np.testing.assert_allclose(rec[:, L.SHARP_NEXT], pb.rec[steps + 1, L.SHARP][:-1].tolist()
                               + [rec[-1, L.SHARP_NEXT]], rtol=1e-14)
    np.testing.assert_allclose(rec[:-1, L.A_NEXT], pb.rec[steps[:-1] + 1, L.A_NORM2], rtol=1e-12)


def test_flow_dataset_schema_and_sharpness_event():
    ds = eosdyn.simulate(engine="flow", steps=40_000)
    eosdyn.validate(ds)
    up = ds.attrs["flow_cross_up"]
    assert len(up) == 1
    t = up[0]
    es = ds["eta_sharpness"]
    assert float(es.sel(step=int(np.floor(t)))) < 2.0 < float(es.sel(step=int(np.ceil(t))))
    assert set(np.unique(ds.phase.values)) <= {1, 2}   # the flow has no EoS: no phases III/IV
    loss = ds.loss.values
    assert np.all(np.diff(loss) <= 1e-12 * loss[:-1])  # the flow's loss never increases


def test_converged_event_stops_at_first_step_below_tol():
    tol = 1e-3
    ds = eosdyn.simulate(engine="flow", steps=5000, loss_tol=tol, **{**SMALL, "eta": 0.05})
    assert ds.attrs["status"] == "converged"
    k = ds.attrs["status_step"]
    red = ds.loss.values - ds.attrs["y_perp2"] / ds.attrs["n"]
    assert red[-1] <= tol < red[-2]
    assert k - 1 < ds.attrs["flow_converged_time"] <= k
    assert ds.step.values[-1] == k


def test_blow_up_and_solver_failure_are_diverged(monkeypatch):
    ds = eosdyn.simulate(engine="flow", steps=100, max_loss=0.5, **SMALL)
    assert ds.attrs["status"] == "diverged" and ds.attrs["status_step"] == 0
    pb, eng = engine_for(steps=100, **SMALL)
    real = eng.solver.step

    def failing():
        real()
        if eng.solver.t > 30:
            eng.solver.status = "failed"
            return "step size too small"

    monkeypatch.setattr(eng.solver, "step", failing)
    eng.advance(0, 101)
    assert pb.progress.status == Status.DIVERGED and 30 <= pb.progress.stop_step <= 100
    assert "step size too small" in eng.stop[2]
    assert np.isnan(pb.rec[pb.progress.rows - 1, L.SHARP_NEXT])


def test_flow_parameters_and_cli():
    with pytest.raises(eosdyn.ParameterError, match="method must be one of"):
        make_params(method="Euler")
    with pytest.raises(eosdyn.ParameterError, match="rtol must be"):
        make_params(rtol=1e-20)
    with pytest.raises(eosdyn.ParameterError, match="atol must be"):
        make_params(atol=-1.0)
    res = CliRunner().invoke(main, ["simulate", "--engine", "flow", "--method", "LSODA",
                                    "--steps", "500", "--json", "--quiet"])
    assert res.exit_code == 0, res.output
    assert '"engine": "flow"' in res.output
    res = CliRunner().invoke(main, ["simulate", "--engine", "flow", "--rtol", "-1"])
    assert res.exit_code == 2 and "--rtol must be" in res.output


def test_exact_jacobians_match_finite_differences():
    from scipy import sparse

    from eosdyn.kernels import flow_numba

    rng = np.random.default_rng(0)
    r = 4
    s, z = rng.uniform(1, 3, r), rng.standard_normal(r)
    n, m, eta = 7.0, 11.0, 0.3
    y = rng.standard_normal(1 + r + r * r)
    sc = [np.zeros(r), np.zeros((r, r)), np.zeros(r), np.zeros((r, r)), np.zeros(r), np.zeros(r)]

    def f(y):
        out = np.empty_like(y)
        flow_numba.rhs(y, s, z, n, m, eta, out, *sc)
        return out

    h = 1e-6
    Jfd = np.column_stack([(f(y + h * e) - f(y - h * e)) / (2 * h) for e in np.eye(y.size)])
    J = np.zeros((y.size, y.size))
    flow_numba.jacobian(y, s, z, n, m, eta, J, np.zeros(r), np.zeros((r, r)), np.zeros(r))
    np.testing.assert_allclose(J, Jfd, atol=1e-8)
    k = flow_numba.jacobian_nnz(r)
    rows, cols, vals = np.empty(k, np.int64), np.empty(k, np.int64), np.empty(k)
    assert flow_numba.jacobian_coo(y, s, z, n, m, eta, rows, cols, vals, np.zeros(r),
                                   np.zeros((r, r)), np.zeros(r)) == k
    np.testing.assert_allclose(sparse.csc_matrix((vals, (rows, cols)), shape=J.shape).toarray(), J,
                               atol=1e-15)


def test_radau_with_sparse_jacobian_at_larger_rank():
    """r = 14: the state has 211 > 200 entries, so Radau gets the sparse Jacobian."""
    kw = dict(engine="flow", n=40, rank=14, lambda_max=1e3, lambda_min=1.0, m=200, init_scale=0.3,
              eta=0.01, steps=300, loss_tol=0.0, record_every=50)
    a = eosdyn.simulate(method="Radau", **kw)
    b = eosdyn.simulate(method="DOP853", rtol=1e-12, atol=1e-14, **kw)
    assert a.attrs["flow_njev"] > 0
    np.testing.assert_allclose(a.loss.values, b.loss.values, rtol=1e-7)
    np.testing.assert_allclose(a.sharpness.values, b.sharpness.values, rtol=1e-7)
