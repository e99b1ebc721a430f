"""The click CLI through CliRunner: output, files, errors as one line, exit codes."""

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import eosdyn
from eosdyn.cli import main

ROOT = Path(__file__).resolve().parent.parent


def run(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_simulate_default_summary_and_files(tmp_path):
    out, fig = tmp_path / "run.nc", tmp_path / "fig.png"
    res = run("simulate", "--m", "4096", "--eta", "0.01", "--out", str(out), "--plot", str(fig))
    assert res.exit_code == 0, res.output
    assert "first step with Lambda > 2/eta" in res.output
    assert "I II III IV" in res.output
    ds = eosdyn.open_run(out)
    eosdyn.validate(ds)
    assert ds.attrs["m"] == 4096 and ds.attrs["eta"] == 0.01
    assert fig.stat().st_size > 10_000


def test_json_summary_matches_dataset(tmp_path, default_events):
    out = tmp_path / "r.zarr"
    res = run("simulate", "--steps", "40000", "--json", "--out", str(out))
    assert res.exit_code == 0, res.output
    info = json.loads(res.output)
    ds = eosdyn.open_run(out)
    ref = eosdyn.summarize(ds)
    assert info.keys() == ref.keys()
    for key, value in ref.items():
        assert info[key] == (pytest.approx(value) if isinstance(value, float) else value), key
    assert info["first_cross_step"] == default_events["first_cross"]


def test_scenario_file_and_override():
    res = run("simulate", "--scenario", str(ROOT / "scenarios/catapult.toml"), "--json")
    info = json.loads(res.output)
    assert info["status"] == "converged" and info["eta"] == 0.75
    res = run("simulate", "--scenario", str(ROOT / "scenarios/catapult.toml"), "--eta", "0.1",
              "--json")
    assert json.loads(res.output)["eta"] == 0.1


def test_default_scenario_file_is_the_default():
    assert eosdyn.load_scenario(ROOT / "scenarios/default.toml") == eosdyn.Params()


def test_divergence_exit_zero_with_message():
    res = run("simulate", "--eta", "5", "--steps", "1000")
    assert res.exit_code == 0
    assert "diverged" in res.output


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--eta", "-1"], "--eta"), (["--eta", "0"], "--eta"), (["--m", "0"], "--m"),
        (["--steps", "0"], "--steps"), (["--eta", "nan"], "--eta"), (["--m", "x"], "--m"),
        (["--record-every", "0"], "--record-every"), (["--out", "r.txt"], "--out"),
        (["--data", "/no/such.npz"], "does not exist"), (["--scenario", "/no.toml"], "scenario"),
        (["--init", "/no/i.npz"], "does not exist"), (["--plot", "x.gif", "--steps", "5"], "--plot"),
        (["--eigenvalues", "1,a"], "--eigenvalues"), (["--window", "1-2"], "--window"),
    ],
)
def test_bad_input_is_one_line(args, needle):
    res = CliRunner().invoke(main, ["simulate", *args])
    assert res.exit_code == 2, res.output
    assert res.exception is None or isinstance(res.exception, SystemExit)
    lines = [ln for ln in res.output.splitlines() if ln.startswith("Error")]
    assert len(lines) == 1 and needle in lines[0], res.output
    assert "Traceback" not in res.output


def test_bad_files(tmp_path):
    (tmp_path / "s.toml").write_text("m = [")
    res = CliRunner().invoke(main, ["simulate", "--scenario", str(tmp_path / "s.toml")])
    assert res.exit_code == 2 and "not valid TOML" in res.output
    (tmp_path / "s2.toml").write_text("mm = 3")
    res = CliRunner().invoke(main, ["simulate", "--scenario", str(tmp_path / "s2.toml")])
    assert res.exit_code == 2 and "unknown key 'mm'" in res.output
    np.savez(tmp_path / "d.npz", X=np.ones((2, 3)), Y=np.ones(4))
    res = CliRunner().invoke(main, ["simulate", "--data", str(tmp_path / "d.npz")])
    assert res.exit_code == 2 and "labels" in res.output


def test_help_explains_options():
    res = run("simulate", "--help")
    for opt in ("--m", "--eta", "--steps", "--engine", "--seed", "--n", "--rank",
                "--lambda-max", "--lambda-min", "--init-scale", "--data", "--init",
                "--scenario", "--out", "--record-every", "--plot"):
        assert opt in res.output
