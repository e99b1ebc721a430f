"""Network engine in eosdyn scan / bifurcation: vmapped cells equal single runs; resumable."""

import numpy as np
import pytest

import eosdyn
from eosdyn.analysis.scan import make_spec, open_scan, run_scan
from eosdyn.analysis.summary import eos_crossings

pytest.importorskip("jax")  # in the test extra; skipped only where JAX is not installed

BASE = dict(engine="network", model="mlp:tanh:1", data="digits", subset=30, m=6, steps=30, init_scale=0.8)


def test_scan_cells_equal_single_runs_and_resume(tmp_path):
    params = eosdyn.model.params.make_params(**BASE)
    spec = make_spec(params, ["eta=1,9", "seed=0,1"], record_every=5, block_cells=2)
    out = tmp_path / "s.zarr"
    info = run_scan(spec, out)
    assert info["blocks"] == 2 and info["cells_run"] == 4      # blocks of 2 seeds: one vmapped batch each
    ds = open_scan(out).load()
    for eta in ds["eta"].values:
        for seed in ds["seed"].values:
            c = ds.sel(eta=eta, seed=seed)
            run = eosdyn.simulate(**{**BASE, "eta": float(eta), "seed": int(seed)})
            cross = eos_crossings(run)
            assert int(c["status"]) == {"max_steps": 0, "converged": 1, "diverged": 2}[run.attrs["status"]]
            assert int(c["status_step"]) == run.attrs["status_step"]
            assert int(c["first_cross_step"]) == (cross[0] if cross.size else -1)
            # every step recorded: the run's summaries (over its rows) are the cell's (over every step)
            assert run.attrs["summaries_over"] == "recorded steps" and run.sizes["step"] == run.attrs["status_step"] + 1
            assert int(c["first_cross_step"]) == run.attrs["first_cross_step"]
            assert int(c["n_eos_excursions"]) == run.attrs["n_eos_excursions"]
            assert int(c["n_period2_flips"]) == run.attrs["n_period2_flips"]
            es = c["eta_sharpness"].values
            ok = np.isfinite(es)
            ref = run["eta_sharpness"].sel(step=c["step"].values[ok]).values
            if run.attrs["status"] != "diverged":
                np.testing.assert_allclose(es[ok], ref, rtol=1e-10)
                assert float(c["final_loss"]) == pytest.approx(float(run["loss"].values[-1]), rel=1e-10)
    assert np.all(ds["phase"].values >= 0) and set(np.unique(ds["status"].values)) <= {0, 1, 2}
    # resume: a rerun finds every block written and runs nothing
    assert run_scan(spec, out)["blocks_run"] == 0


def test_bifurcation_over_eta_runs_on_the_network_engine():
    from eosdyn.analysis.bifurcation import bifurcation

    params = eosdyn.model.params.make_params(**{**BASE, "steps": 60})
    ds = bifurcation(params, "eta", "2,3", keep=8)
    assert ds.sizes["eta"] == 2 and np.isnan(ds["lyapunov"].values).all()
    assert np.all(np.isfinite(ds["orbit"].values))
