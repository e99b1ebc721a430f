"""Orbit diagrams: period detection, fresh vs continuation, the CLI and its figure."""

import json

import numpy as np
import pytest
from click.testing import CliRunner
from twins import batch_cell, minimum_exponent

import eosdyn
from eosdyn.analysis.bifurcation import NOT_SETTLED, bifurcation, detect_period, regimes
from eosdyn.analysis.scan import cell_state
from eosdyn.cli import main
from eosdyn.errors import ParameterError
from eosdyn.model.params import make_params


def run_cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.mark.parametrize("p", [1, 2, 3, 4, 8, 12])
def test_detect_period_finds_the_smallest_period(p):
    rng = np.random.default_rng(p)
    cycle = rng.uniform(1.0, 2.0, p)
    x = np.tile(cycle, 200 // p + 1)[:200] * (1 + 1e-9 * rng.standard_normal(200))
    assert detect_period(x, period_max=64, rtol=1e-6) == p


def test_detect_period_aperiodic_drifting_and_diverged():
    x = np.empty(300)
    x[0] = 0.3
    for t in range(299):  # the logistic map at r = 4 is chaotic
        x[t + 1] = 4 * x[t] * (1 - x[t])
    assert detect_period(x, 64, 1e-6) == 0
    assert detect_period(1.0 + 1e-3 * np.arange(200), 64, 1e-6) == NOT_SETTLED
    assert detect_period(np.array([1.0, np.nan, 1.0, 1.0]), 64, 1e-6) == -1


def test_orbit_diagram_of_a_small_case_against_the_numpy_map():
    """Six learning rates from sharpening-then-converging (eta Lambda_0 < 2) to catapults
    (eta Lambda_0 > 2: the first crossing at step 0, then back below 2/eta): every value's orbit,
    first crossing and final sharpness are the numpy map's, and each converged value's exponent is
    log max|1 - eta mu| at the minimum the numpy map reaches."""
    steps, keep = 3000, 64
    base = make_params(n=20, rank=3, lambda_max=400.0, lambda_min=20.0, init_scale=0.3, m=64, steps=steps)
    ds = bifurcation(base, "eta", "0.05:0.5:6:log", keep=keep, backend="serial")
    assert ds["orbit"].dims == ("eta", "k") and ds.sizes["k"] == keep
    assert np.array_equal(ds["orbit_eta_sharpness"].values, ds["orbit"].values, equal_nan=True)
    base, d, st = cell_state(base, {})  # (params with m resolved, data, initial statistics)
    for i, eta in enumerate(ds["eta"].values):
        ref = batch_cell(st.a, st.u, st.G, d.s, d.z, d.y_perp2, d.n, base.m, eta, steps, steps + 1 - keep)
        np.testing.assert_allclose(ds["orbit"].values[i], ref["es"][-keep:], rtol=1e-9)
        assert ds["first_cross_step"].values[i] == ref["first"]
        assert ds["final_eta_sharpness"].values[i] == pytest.approx(ref["final"], rel=1e-9)
        assert ds["period"].values[i] == 1 and ds["status"].values[i] == 0     # converged: a fixed point
        a, _, G = ref["state"]
        assert ds["lyapunov"].values[i] == pytest.approx(minimum_exponent(a, G, d.s, d.n, base.m, eta), abs=1e-6)
    lam0 = ds["initial_eta_sharpness"].values
    assert (lam0[:4] < 2).all() and (lam0[-2:] > 2).all()                      # the grid spans both regimes
    assert (ds["first_cross_step"].values[-2:] == 0).all() and (ds["final_eta_sharpness"].values < 2).all()
    table = regimes(ds)
    assert table == [{"regime": "period 1", "start": 0.05, "stop": pytest.approx(0.5), "count": 6,
                      "lyapunov_min": pytest.approx(float(ds["lyapunov"].min())),
                      "lyapunov_max": pytest.approx(float(ds["lyapunov"].max()))}]


def test_fresh_and_continuation_agree_at_the_first_value_and_chain_states():
    base = make_params(n=20, rank=3, lambda_max=400.0, lambda_min=20.0, init_scale=0.3, m=64, steps=3000)
    fresh = bifurcation(base, "eta", "0.1,0.12,0.14", keep=32, backend="serial")
    cont = bifurcation(base, "eta", "0.1,0.12,0.14", keep=32, mode="continuation")
    assert np.array_equal(fresh["orbit"].values[0], cont["orbit"].values[0])
    assert not np.array_equal(fresh["orbit"].values[1], cont["orbit"].values[1])
    # continuation's second value is a fresh run started from the first value's final state
    assert cont["initial_eta_sharpness"].values[1] == pytest.approx(
        cont["orbit"].values[0, -1] / 0.1 * 0.12, rel=1e-9)
    assert fresh["initial_eta_sharpness"].values[1] != pytest.approx(cont["initial_eta_sharpness"].values[1])


def test_fresh_values_equal_single_runs():
    base = make_params(n=20, rank=3, lambda_max=400.0, lambda_min=20.0, init_scale=0.3, m=64, steps=2000)
    ds = bifurcation(base, "eta", "0.1,0.3", keep=16, backend="serial")
    for i, eta in enumerate((0.1, 0.3)):
        run = eosdyn.simulate(base, eta=eta, loss_tol=0.0)
        assert np.allclose(ds["orbit_loss"].values[i], run["loss"].values[-16:], rtol=1e-12)
        assert np.allclose(ds["orbit_eta_sharpness"].values[i], run["eta_sharpness"].values[-16:], rtol=1e-9)


def test_errors_are_one_line():
    with pytest.raises(ParameterError, match="continuation"):
        bifurcation(None, "init_scale", "0.1,0.2", mode="continuation")
    with pytest.raises(ParameterError, match="observable"):
        bifurcation(None, "eta", "0.1,0.2", observable="nope")
    res = run_cli("bifurcation", "--range", "0.1:0.2:0")
    assert res.exit_code == 2 and "NUM >= 1" in res.output


def test_cli_bifurcation_default_scenario_out_and_plot(tmp_path):
    out, fig = tmp_path / "b.nc", tmp_path / "b.png"
    res = run_cli("bifurcation", "--param", "eta", "--range", "0.004:0.25:12:log", "--steps", "20000",
                  "--keep", "50", "--backend", "serial", "--out", out, "--plot", fig)
    assert res.exit_code == 0, res.output
    assert "late orbit" in res.output and "plotted" in res.output
    ds = eosdyn.open_output(out)
    assert ds.sizes == {"eta": 12, "k": 50}
    assert ds.attrs["observable"] == "eta_sharpness"
    locked = ds["first_cross_step"].values >= 0
    assert locked.any() and (~locked).any()
    # after locking, the late orbit stays at 2 (Lambda at 2/eta) unless the run diverged
    ok = locked & (ds["status"].values != 2)
    assert ok.any() and np.all(np.abs(ds["orbit"].values[ok] - 2.0) < 0.1)
    assert np.all(ds["orbit"].values[~locked] < 2.0)
    assert fig.stat().st_size > 30_000
    res = run_cli("bifurcation", "--range", "0.01,0.02", "--steps", "3000", "--keep", "20", "--json",
                  "--observable", "loss", "--mode", "continuation", "--plot", tmp_path / "c.svg")
    assert res.exit_code == 0, res.output
    assert "regimes" in json.loads(res.output)
