"""The paper's statements as checks: replay fidelity, numpy twins of the replayed series,
verdicts on hand-built trajectories where a statement provably holds or fails, verdicts on
real runs (exact vs first-order GD, large steps), and the catapult thresholds of Lewkowycz et al."""

import json

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner
from twins import dense_hessian, diagnostics, gd_params, matrices, reduced_map

import eosdyn
from eosdyn.analysis import check as C
from eosdyn.analysis import replay
from eosdyn.analysis.check import statements as CS
from eosdyn.cli import main

NO_FLOW = C.CheckOptions(flow=False)
ONE_POINT = dict(X=np.ones((1, 1)), Y=np.ones(1), m=10**6, init_scale=1.0, init_sampler="wishart",
                 loss_tol=1e-20)


# --- replay -----------------------------------------------------------------------------------

@pytest.mark.parametrize("engine", ["reduced", "first-order", "flow"])
def test_replay_reproduces_the_run_exactly(engine):
    ds = eosdyn.simulate(engine=engine, steps=3000, record_every=7, eta=0.02)
    P = replay.per_step(ds, hessian=False)
    st = ds.step.values
    # GD: bit-identical; flow: the same solver steps, dense output evaluated on other time
    # grids (vectorised polynomial evaluation may differ in the last ulp)
    rtol = 0 if engine != "flow" else 1e-14
    for name in ("loss", "a_norm2", "DtF"):
        np.testing.assert_allclose(P[name][st], ds[name].values, rtol=rtol, err_msg=name)
    np.testing.assert_allclose(P["sharpness"][st], ds.sharpness.values, rtol=1e-13)
    np.testing.assert_allclose(P["Dv1"][st], ds.Dv1.values, rtol=1e-9, atol=1e-12)


def test_states_at_matches_the_numpy_map_and_flow_rows_are_na():
    ds = eosdyn.simulate(steps=60, eta=0.02, engine="first-order", record_every=10)
    steps = np.array([0, 7, 30, 60])
    got = replay.states_at(ds, steps)
    ref = reduced_map(float(ds.init_a), ds.init_u.values, ds.init_G.values, ds.data_s.values,
                      ds.data_z.values, 100, 4096, 0.02, 60, order=0)
    for k, t in enumerate(steps):
        a, u, G = ref[t]
        np.testing.assert_allclose(got[k], np.concatenate([[a], u, G.ravel()]), rtol=1e-12)
    rep = C.run_checks(eosdyn.simulate(engine="flow", steps=300))
    for key in C.GD_STEP + ("assumption_3_3",):
        assert rep.row(key).holds is None, key
    assert rep.row("lemma_3_3").measured.startswith("n/a")


def test_replayed_series_match_numpy_twin(small_problem):
    """eps_2, R', ||R - R'||, lambda_min and the Hessian, from explicit n x n matrices."""
    p = small_problem
    steps = 40
    ds = eosdyn.simulate(X=p["X"], Y=p["Y"], A=p["A"], W=p["W"], eta=p["eta"], steps=steps,
                         loss_tol=0.0)
    P = replay.per_step(ds)
    traj = gd_params(p["A"], p["W"], p["X"], p["Y"], p["eta"], steps)
    v_prev = np.linalg.svd(p["X"], full_matrices=False)[2][0]
    r = np.linalg.matrix_rank(p["X"])
    Rp, vs = None, []
    for t in range(steps + 1):
        ref = diagnostics(*traj[t], p["X"], p["Y"], p["eta"], v_prev)
        v1 = v_prev = ref["v1"]
        vs.append(v1)
        M, _, _, _, D, _ = matrices(*traj[t], p["X"], p["Y"], p["eta"])
        R = D - v1 * (v1 @ D)
        Rp = R if Rp is None else Rp
        assert P["R_diff"][t] == pytest.approx(np.linalg.norm(R - Rp), abs=1e-9 * np.linalg.norm(D))
        assert P["Rp_norm2"][t] == pytest.approx(Rp @ Rp, rel=1e-9)
        assert P["lambda_min"][t] == pytest.approx(np.linalg.eigvalsh(M)[-r], rel=1e-9)
        H = dense_hessian(*traj[t], p["X"], p["Y"])
        assert P["sharpness_hessian"][t] == pytest.approx(np.linalg.eigvalsh(H)[-1], rel=1e-9)
        Rp = Rp - p["eta"] * M @ (Rp - v1 * (v1 @ Rp))
    eps2 = [1 - abs(vs[t] @ vs[t + 1]) for t in range(steps)]
    np.testing.assert_allclose(P["eps2"][:steps], eps2, atol=1e-12)
    assert P["R_diff"][steps] > 0   # R' really is a different sequence


# --- hand-built trajectories --------------------------------------------------------------------

def hand_run(sharpness, a_norm2=None, eta=0.1, loss=None, status="max_steps", **extra):
    """A minimal run dataset with the given per-step series (phases/anomalies derived as
    eosdyn.api.to_dataset does)."""
    lam = np.asarray(sharpness, float)
    T = lam.size
    a = np.asarray(a_norm2 if a_norm2 is not None else lam, float)
    dlam = np.append(np.diff(lam), np.nan)
    da = np.append(np.diff(a), np.nan)
    phase = np.where(lam > 2 / eta, np.where(dlam > 0, 2, 3), np.where(dlam > 0, 1, 4)).astype(np.int8)
    phase[~np.isfinite(dlam)] = 0
    anomaly = (np.sign(dlam) != np.sign(da)) & np.isfinite(dlam)
    loss = np.full(T, 0.5) if loss is None else np.asarray(loss, float)
    v = {"sharpness": lam, "a_norm2": a, "phase": phase, "anomaly": anomaly, "loss": loss,
         "lambda2": np.full(T, 0.1 / eta), "DtF": np.full(T, -0.1), "sharpness_Mstar": 0.5 * lam}
    v.update({k: np.asarray(x, float) for k, x in extra.items()})
    ds = xr.Dataset({k: ("step", x) for k, x in v.items()}, coords={"step": np.arange(T)})
    ds["data_s"] = ("mode", [2.0, 1.0])
    ds["data_z"] = ("mode", [2.0, 2.0])
    ds.attrs.update(eta=eta, n=8, m=100, y_perp2=0.0, engine="reduced", status=status)
    return ds


def ctx(ds, opts=NO_FLOW, **P):
    T = ds.sizes["step"]
    series = {"step": np.arange(T)}
    series.update({k: np.asarray(v, float) for k, v in P.items()})
    return C.Context(ds, series, opts, float(ds.attrs["eta"]), 8.0, 100.0, 8.0, 2,
                     ds.step.values)


RHO_0 = C.CheckOptions(flow=False, rho=0.0)


def test_assumption_3_1_verdicts():
    up = np.linspace(1, 5, 10)
    assert CS.assumption_3_1(ctx(hand_run(up))).holds is True
    a = up.copy()
    a[4] = a[3] - 0.1   # ||A|| falls from step 3 to 4 while Lambda rises: one anomaly, at 3
    row = CS.assumption_3_1(ctx(hand_run(up, a)))
    assert row.holds is False and list(row.failing) == [3]


def test_theorem_1_verdicts():
    lam = np.linspace(1, 9, 20)          # eta = 0.1: M* = lam / 2 exceeds 1/eta = 10 never
    assert CS.theorem_1(ctx(hand_run(lam))).holds is True
    bad = lam.copy()
    bad[7] = bad[6] - 0.01               # Lambda falls from 6 to 7 -> fails at t = 6 (t >= 1)
    row = CS.theorem_1(ctx(hand_run(bad)))
    assert row.holds is False and list(row.failing) == [6]
    early = lam.copy()
    early[0] = 2.0                       # a fall from t = 0 to t = 1 does not count (t >= 1)
    assert CS.theorem_1(ctx(hand_run(early))).holds is True
    # after t0 (eta lambda_max(M*) > 1) anything goes
    late = np.concatenate([np.linspace(1, 30, 10), [25.0, 26.0]])
    row = CS.theorem_1(ctx(hand_run(late)))
    assert row.holds is True and row.values["t0"] == 6   # lam = 20.3 > 2 / eta at index 6


def test_theorem_2_1_verdicts():
    back = [19, 21, 22, 21, 19, 18]      # eta = 0.1: 2/eta = 20
    assert CS.theorem_2_1(ctx(hand_run(back), RHO_0)).holds is True
    stuck = [19, 21, 22, 25, 40, np.inf]
    row = CS.theorem_2_1(ctx(hand_run(stuck, status="diverged"), RHO_0))
    assert row.holds is False and list(row.failing) == [1]
    row = CS.theorem_2_1(ctx(hand_run([19, 21, 22, 23], status="max_steps"), RHO_0))
    assert row.holds is True and "still open" in row.measured
    assert CS.theorem_2_1(ctx(hand_run([1, 2, 3]), RHO_0)).holds is None
    # a margin rho moves the threshold: nothing exceeds (2/eta)(1 + 0.5) = 30 before the blow-up
    row = CS.theorem_2_1(ctx(hand_run(stuck, status="diverged"), C.CheckOptions(flow=False, rho=0.5)))
    assert row.holds is False and list(row.failing) == [4]


def test_assumption_3_5_lemma_3_5_and_appendix_f_verdicts():
    ds = hand_run(np.linspace(1, 5, 6), sharpness_hessian=[1.0, 1.4, 2.6, 3.4, 4.1, 5.0])
    eps2 = [1e-6, 1e-6, 0.2, 1e-6, 1e-6, np.nan]
    R2 = np.full(6, 4.0)
    c = ctx(ds, eps2=eps2, sharpness=ds.sharpness.values, R_diff=[0, 0.1, 0.1, 0.5, 0.1, 0.1],
            R_norm2=R2, D2=R2 + 1, lambda_min=np.ones(6))
    row = CS.assumption_3_5_iii(c)
    assert row.holds is False and list(row.failing) == [2]
    row = CS.lemma_3_5(c)                 # ||R|| = 2: 0.5 > 0.1 * 2
    assert row.holds is False and list(row.failing) == [3]
    row = CS.appendix_f(c)                # 1.4 vs 1.8: -22%; 4.1 vs 4.2: -2.4%
    assert row.source == "run" and list(row.failing) == [1]


def test_data_assumptions_and_proposition_3_1_verdicts():
    ds = hand_run([1, 2, 3])
    assert CS.assumption_4_1(ctx(ds)).holds is True          # lambda = 4, 1
    assert CS.assumption_4_2(ctx(ds)).holds is True          # kappa = 2/sqrt(8), r = 2
    ds["data_s"] = ("mode", [1.2, 1.0])
    ds["data_z"] = ("mode", [2.0, 0.1])
    assert CS.assumption_4_1(ctx(ds)).holds is False         # lambda_1 / lambda_2 = 1.44
    assert CS.assumption_4_2(ctx(ds)).holds is False         # kappa r = 0.07
    # ||Y||^2 = 8; loss * n = ||D||^2 = 16 > 8 at step 1 with D^T F < 0: impossible, and caught
    ds = hand_run([1, 2, 3], loss=[0.5, 2.0, 2.0], DtF=[-1.0, -1.0, 3.0])
    row = CS.proposition_3_1(ctx(ds))
    assert row.holds is False and list(row.failing) == [1]


# --- real runs ----------------------------------------------------------------------------------

def test_exact_statements_hold_for_first_order_gd_and_fail_for_exact_gd_in_a_catapult():
    lam0 = float(eosdyn.simulate(steps=1, eta=0.1, **ONE_POINT).sharpness[0])
    first = eosdyn.simulate(engine="first-order", steps=300, eta=2.5 / lam0, **ONE_POINT)
    exact = eosdyn.simulate(engine="reduced", steps=300, eta=2.5 / lam0, **ONE_POINT)
    rf, re = C.run_checks(first, NO_FLOW), C.run_checks(exact, NO_FLOW)
    for key in ("proposition_3_1", "proposition_3_2", "lemma_3_3"):
        assert rf.row(key).holds is True, key
        assert rf.row(key).values["premise_steps"] > 0, key     # and not vacuously
    assert re.row("proposition_3_1").holds is True          # exact for every dynamics
    assert re.row("proposition_3_2").holds is False         # the eta^2 terms of exact GD
    assert re.row("lemma_3_3").holds is False               # M* != M
    assert re.row("theorem_2_1").holds is True              # the catapult comes back below


def test_large_step_run_breaks_the_descent_premise_where_the_loss_rises():
    """eta = 3 / lambda0 (a catapult): the loss rises while eta Lambda > 2 -- steps outside the
    premise of Lemma 3.3, which are not counted against it."""
    lam0 = float(eosdyn.simulate(steps=1, eta=0.1, **ONE_POINT).sharpness[0])
    ds = eosdyn.simulate(steps=300, eta=3.0 / lam0, **ONE_POINT)
    loss, es = ds.loss.values, ds.eta_sharpness.values
    rises = np.flatnonzero(loss[1:] > loss[:-1])
    assert np.sum(es[rises] > 2.0) >= 5                   # the premise is broken where it rises
    row = C.run_checks(ds, NO_FLOW).row("lemma_3_3")
    assert row.values["premise_steps"] == np.sum(es[:-1] < 2.0)
    assert np.all(es[row.failing] < 2.0)


def test_default_scenario_progressive_sharpening_statements(default_events):
    ds = eosdyn.simulate(steps=33_000)
    rep = C.run_checks(ds)
    for key in ("assumption_3_3", "assumption_3_5_iii", "assumption_3_7", "assumption_4_1",
                "assumption_4_2", "proposition_3_1", "proposition_3_2", "lemma_3_3", "theorem_1"):
        assert rep.row(key).holds is True, (key, rep.row(key).measured)
    assert rep.row("theorem_1").values["t0"] == default_events["t0"]
    assert rep.row("assumption_3_3").values["until_step"] == default_events["first_cross"]
    assert rep.run["replay_fidelity"] == 0.0
    json.dumps(rep.to_dict())


@pytest.mark.parametrize("c, regime", [(1.5, "lazy"), (3.0, "catapult"), (4.5, "divergent")])
def test_lewkowycz_catapult_thresholds(c, regime):
    """One data point, m = 1e6: lazy for eta < 2/lambda0, catapult for 2/lambda0 < eta < 4/lambda0,
    divergence above 4/lambda0 (margins of 0.5/lambda0 around the thresholds)."""
    lam0 = float(eosdyn.simulate(steps=1, eta=0.1, **ONE_POINT).sharpness[0])
    ds = eosdyn.simulate(steps=3000, eta=c / lam0, **ONE_POINT)
    loss, es = ds.loss.values, ds.eta_sharpness.values
    if regime == "lazy":
        assert ds.attrs["status"] == "converged"
        assert np.all(np.diff(loss) <= 0)
        assert abs(ds.sharpness.values[-1] / lam0 - 1) < 1e-3
    elif regime == "catapult":
        assert ds.attrs["status"] == "converged"
        assert loss.max() > 100 * loss[0]        # the loss spikes ...
        assert es[0] > 2 and es[-1] < 2          # ... and the sharpness ends below 2/eta
    else:
        assert ds.attrs["status"] == "diverged"


# --- CLI ----------------------------------------------------------------------------------------

def test_cli_check_file_table_json_and_errors(tmp_path):
    out = tmp_path / "run.nc"
    eosdyn.save(eosdyn.simulate(steps=33_000), out)
    res = CliRunner().invoke(main, ["check", str(out), "--quiet"])
    assert res.exit_code == 0, res.output
    for text in ("Assumption 3.1", "Lemma 3.2", "Proposition 3.2", "Theorem 2(1)", "Appendix F"):
        assert text in res.output
    res = CliRunner().invoke(main, ["check", str(out), "--json", "--no-flow"])
    rep = json.loads(res.output)
    assert len(rep["rows"]) == len(C.CHECKS)
    assert {r["key"] for r in rep["rows"]} >= {"lemma_3_5", "theorem_1", "appendix_f"}
    assert rep["rows"][1]["verdict"] == "n/a"    # --no-flow: Assumption 3.3 not computed
    res = CliRunner().invoke(main, ["check", str(out), "--strict", "--quiet"])
    assert res.exit_code == 1                     # Lemma 3.2 / Theorem 2(2) fail on this run
    res = CliRunner().invoke(main, ["check", str(out), "--eta", "0.1"])
    assert res.exit_code == 2 and "not both" in res.output
    res = CliRunner().invoke(main, ["check", str(out), "--eps2-max", "-1"])
    assert res.exit_code == 2 and "--eps2-max must be" in res.output
    res = CliRunner().invoke(main, ["check", str(tmp_path / "nope.nc")])
    assert res.exit_code == 2


def test_cli_check_simulates_a_scenario_and_saves_it(tmp_path):
    out = tmp_path / "r.zarr"
    res = CliRunner().invoke(main, ["check", "--steps", "2000", "--engine", "first-order",
                                    "--out", str(out), "--json", "--no-flow"])
    assert res.exit_code == 0, res.output
    rep = json.loads(res.output)
    assert rep["run"]["engine"] == "first-order" and rep["run"]["steps"] == 2000
    assert eosdyn.open_run(out).attrs["engine"] == "first-order"
