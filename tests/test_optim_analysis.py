"""Optimizers through scan, bifurcation, check, summary, plots and the CLI."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

import eosdyn
from eosdyn.analysis.check import run_checks
from eosdyn.analysis.summary import late_edge_ratio, summarize
from eosdyn.cli import main
from eosdyn.model.params import make_params

SMALL = dict(steps=3000, eta=0.004)


@pytest.mark.parametrize("axis,base", [("momentum=0,0.5,0.9", dict(optimizer="momentum")),
                                       ("batch_size=10,50", dict(batch_size=10))])
def test_scan_cells_equal_simulate(tmp_path, axis, base):
    """Each scan cell of a momentum / batch-size axis is the run simulate makes."""
    params = make_params(**SMALL, **base)
    sc = eosdyn.scan([axis], tmp_path / "s.zarr", params, tail=100)
    name, values = axis.split("=")
    for i, v in enumerate(values.split(",")):
        v = float(v) if name == "momentum" else int(v)
        ds = eosdyn.simulate(params.replace(**{name: v}))
        es = ds["eta_sharpness"].values
        assert float(sc["final_eta_sharpness"][i]) == pytest.approx(es[-1], rel=1e-12)
        assert float(sc["tail_max_eta_sharpness"][i]) == pytest.approx(es[-101:].max(), rel=1e-12)
        first = summarize(ds)["first_cross_step"]
        assert int(sc["first_cross_step"][i]) == (-1 if first is None else first)


def test_scan_phase_uses_each_cells_edge(tmp_path):
    """eta Lambda_0 between 2 and the momentum edge 3.8: not a catapult for momentum 0.9."""
    base = make_params(optimizer="momentum", steps=200, eta=0.75)   # eta Lambda_0 ~ 3
    sc = eosdyn.scan(["momentum=0,0.9"], tmp_path / "p.zarr", base)
    init = sc["initial_eta_sharpness"].values
    assert np.all((init > 2) & (init < 3.8))
    codes = sc["phase"].values   # PHASES: lazy, sharpening, catapult, eos, divergent
    assert codes[0] in (2, 4) and codes[1] != 2, codes


def test_bifurcation_over_momentum_and_continuation():
    b = eosdyn.bifurcation(make_params(optimizer="momentum", steps=3000, eta=0.004), param="momentum",
                           values="0.3,0.6", keep=20)
    ds = eosdyn.simulate(optimizer="momentum", momentum=0.6, steps=3000, eta=0.004)
    np.testing.assert_allclose(b["orbit_eta_sharpness"].values[1], ds["eta_sharpness"].values[-20:], rtol=1e-12)
    assert np.all(np.isnan(b["lyapunov"].values))
    c = eosdyn.bifurcation(make_params(optimizer="momentum", momentum=0.5, steps=1000, eta=0.004), param="eta",
                           values="0.004,0.005", keep=10, mode="continuation")
    assert np.all(np.isfinite(c["orbit"].values))


def test_check_reports_the_edge_and_skips_gd_statements():
    ds = eosdyn.simulate(optimizer="momentum", momentum=0.9, eta=0.038, steps=20000)   # settled by ~10^4
    report = run_checks(ds)
    edge = report.row("edge")
    assert edge.holds is True and abs(edge.values["late_edge_ratio"] - 1) < 0.1
    assert all(r.holds is None for r in report.rows[1:]) and len(report.rows) > 10
    never = run_checks(eosdyn.simulate(optimizer="nesterov", steps=300, eta=0.001)).row("edge")
    assert never.holds is False and "never above" in never.measured


def test_summary_edge_fields():
    ds = eosdyn.simulate(optimizer="momentum", momentum=0.9, eta=0.038, steps=4000)
    s = summarize(ds)
    assert s["optimizer"] == "momentum" and s["edge"] == pytest.approx(3.8 / 0.038)
    assert s["first_cross_step"] == int(ds["step"].values[np.argmax(ds["edge_ratio"].values > 1)])
    late = ds["edge_ratio"].values[ds["step"].values >= 2000]
    assert late_edge_ratio(ds) == pytest.approx(late.mean())


def test_edge_plot_and_saved_run(tmp_path):
    runs = [eosdyn.simulate(batch_size=20, steps=300, eta=0.004, batch_sharpness_samples=4),
            eosdyn.simulate(optimizer="momentum", steps=300, eta=0.004)]
    path = tmp_path / "run.nc"
    eosdyn.save(runs[0], path)
    back = eosdyn.open_run(path)
    np.testing.assert_array_equal(back["batch_sharpness"].values, runs[0]["batch_sharpness"].values)
    eosdyn.validate(back)
    plot = eosdyn.plot_run([back, runs[1]], tmp_path / "edge.png", kind="edge")
    np.testing.assert_array_equal(plot.data["edge_ratio/SGD b=20, η=0.004"][1], runs[0]["edge_ratio"].values)
    assert (tmp_path / "edge.png").stat().st_size > 10_000
    eosdyn.plot_run(runs[1], tmp_path / "ts.png", kind="timeseries")   # momentum: its own edge line


def test_cli_optimizer_options(tmp_path):
    r = CliRunner().invoke(main, ["simulate", "--optimizer", "nesterov", "--momentum", "0.5", "--steps", "200",
                                  "--json", "--quiet"])
    assert r.exit_code == 0, r.output
    info = json.loads(r.output)
    assert info["optimizer"] == "nesterov" and info["edge"] == pytest.approx(3 / (2 * 0.01))
    r = CliRunner().invoke(main, ["simulate", "--batch-size", "101", "--steps", "5"])
    assert r.exit_code == 2 and r.output.strip().splitlines()[-1] == \
        "Error: --batch-size must be an integer in [1, n = 100], got 101"
    r = CliRunner().invoke(main, ["simulate", "--optimizer", "adam", "--steps", "5"])
    assert r.exit_code == 2 and "--engine must be full for optimizer 'adam'" in r.output
    assert len(r.output.strip().splitlines()) <= 3   # usage line(s) + one error line, no traceback
    out = tmp_path / "a.nc"
    r = CliRunner().invoke(main, ["simulate", "--optimizer", "adam", "--engine", "full", "--m", "64", "--eta",
                                  "0.001", "--steps", "50", "--quiet", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "preconditioned_sharpness" in r.output and "late-time mean" in r.output
    r = CliRunner().invoke(main, ["plot", str(out), "--kind", "edge", "--label", "adam", "--out",
                                  str(tmp_path / "e.png")])
    assert r.exit_code == 0, r.output


def test_scenarios_read():
    from eosdyn.model.scenario import load_scenario
    from eosdyn.plot.gallery import read_figure

    for name in ("optimizers", "sgd"):
        spec = read_figure(f"scenarios/{name}.toml")
        assert spec.kind == "edge" and spec.runs
        load_scenario(f"scenarios/{name}.toml")
