"""eosdyn.summarize(ds) prints as the simulate table, shows any key, and reports the Hessian
ratio and the compile time apart."""

import json

import numpy as np
from click.testing import CliRunner

import eosdyn
from eosdyn.analysis.summary_table import LABELS, Summary
from eosdyn.cli import main


def test_summary_prints_as_the_cli_table(tmp_path):
    out = tmp_path / "r.nc"
    res = CliRunner().invoke(main, ["simulate", "--steps", "3000", "--hessian", "--quiet", "--out", str(out)])
    assert res.exit_code == 0, res.output
    info = eosdyn.summarize(eosdyn.open_run(out))
    assert isinstance(info, dict) and isinstance(info, Summary)
    text = str(info)
    table = res.output.split("saved")[0].rstrip("\n")
    for label, value in info.rows():
        assert label in text and label in table
        if "time" not in label:  # the same numbers, whoever prints them
            assert value in text and value in table
    assert text.splitlines()[0].strip() == table.splitlines()[0].strip() == "eosdyn reduced: m=4096, eta=0.01"
    json.loads(json.dumps(info))  # still a plain, JSON-serialisable dict


def test_hessian_ratio_rows_match_the_recorded_curves():
    ds = eosdyn.simulate(steps=2000, hessian=True, m=256)
    info = eosdyn.summarize(ds)
    ratio = ds["sharpness_hessian"].values / ds["sharpness"].values
    assert info["max_hessian_ratio"] == np.max(ratio) and info["final_hessian_ratio"] == ratio[-1]
    rows = dict(info.rows())
    assert rows["max lambda_max(Hessian) / Lambda"] == f"{np.max(ratio):.4g}"
    assert "max_hessian_ratio" not in eosdyn.summarize(eosdyn.simulate(steps=50))


def test_compile_time_is_reported_apart():
    ds = eosdyn.simulate(steps=50)
    assert ds.attrs["compile_time"] >= 0 and ds.attrs["run_time"] >= 0
    rows = dict(eosdyn.summarize(ds).rows())
    assert "numba compile / cache load" in rows and "simulate time (without compiling)" in rows
    assert "wall time" not in rows


def test_unknown_keys_are_shown_with_their_names():
    info = Summary({"engine": "reduced", "m": 8, "eta": 0.1, "status": "converged", "status_step": 7,
                    "n_excursions": 3, "phase_fractions": {"I": 0.5, "II": 0.25}, "final_loss": float("nan")})
    text = str(info)
    assert "n excursions" in text and "3" in text and "I 0.5, II 0.25" in text
    assert "converged at step 7" in text and "nan" in text
    assert all(callable(fmt) for _, fmt in LABELS.values())
