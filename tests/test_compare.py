"""GD vs gradient flow from the same start: where they part, and the command."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

import eosdyn
from eosdyn.analysis.compare import compare, summary
from eosdyn.cli import main


def test_default_scenario_parts_just_after_the_first_crossing(default_events):
    cmp = compare(steps=32_400)
    a = cmp.attrs
    assert a["first_cross_gd"] == default_events["first_cross"]
    assert abs(a["first_cross_flow"] - a["first_cross_gd"]) < 10
    # O(eta) apart while eta Lambda < 2 (Assumption 3.3), then parted within ~1000 steps
    assert a["max_rel_distance_before_cross"] < a["tol"]
    assert a["first_cross_gd"] < a["parting_step"] < a["first_cross_gd"] + 2000
    rel = cmp.rel_distance.values
    assert rel[0] == 0.0 and rel[-1] > a["tol"]
    # the distance is the function-space one: compare with the recorded losses' square roots
    d_gd, d_fl = np.sqrt(cmp.loss_gd * 100), np.sqrt(cmp.loss_flow * 100)
    assert np.all(cmp.distance.values >= np.abs(d_gd - d_fl).values - 1e-9)


def test_full_and_reduced_gd_share_the_start_and_the_distance():
    kw = dict(m=64, steps=400, eta=0.01, record_every=4)
    full, red = compare(engine="full", **kw), compare(engine="reduced", **kw)
    np.testing.assert_array_equal(full.step.values, red.step.values)
    np.testing.assert_allclose(full.loss_flow.values, red.loss_flow.values, rtol=1e-12)
    np.testing.assert_allclose(full.distance.values[1:], red.distance.values[1:], rtol=1e-6)
    assert summary(full)["gd_engine"] == "full"


def test_compare_rejects_the_flow_as_gd():
    with pytest.raises(eosdyn.EosdynError, match="choose a GD engine"):
        compare(engine="flow", steps=10)


def test_cli_compare(tmp_path, default_events):
    out, fig = tmp_path / "cmp.nc", tmp_path / "cmp.png"
    res = CliRunner().invoke(main, ["compare", "--steps", "32400", "--quiet", "--out", str(out),
                                    "--plot", str(fig)])
    assert res.exit_code == 0, res.output
    assert "parting step" in res.output and str(default_events["first_cross"]) in res.output
    assert fig.stat().st_size > 10_000
    saved = eosdyn.open_output(out)
    assert saved.attrs["first_cross_gd"] == default_events["first_cross"]
    res = CliRunner().invoke(main, ["compare", "--steps", "2000", "--json", "--method", "LSODA"])
    info = json.loads(res.output)
    assert info["flow_method"] == "LSODA" and info["parting_step"] is None
    res = CliRunner().invoke(main, ["compare", "--engine", "flow"])
    assert res.exit_code == 2 and "choose a GD engine" in res.output
