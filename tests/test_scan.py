"""Scans: grid parsing, the batch kernel against a numpy twin and eosdyn.simulate, the zarr store,
backend equivalence (serial, threads, processes, prange, Dask), resume after SIGKILL, the CLI."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner
from twins import batch_cell

import eosdyn
from eosdyn.analysis import scan as S
from eosdyn.cli import main
from eosdyn.errors import EosdynError, ParameterError
from eosdyn.kernels import batch_numba as B
from eosdyn.model.params import make_params

ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


# --- grids --------------------------------------------------------------------------------------


def test_parse_values_lists_ranges_and_logs():
    assert S.parse_values("eta", "0.1,0.2,0.3").values == (0.1, 0.2, 0.3)
    lin = S.parse_values("eta", "0.1:0.5:5")
    assert np.allclose(lin.values, [0.1, 0.2, 0.3, 0.4, 0.5]) and lin.scale == "linear"
    geo = S.parse_values("init-scale", "0.001:1:4:log")
    assert geo.name == "init_scale" and geo.scale == "log"
    assert np.allclose(geo.values, [1e-3, 1e-2, 1e-1, 1.0])
    m = S.parse_values("m", "64:4096:7:log")
    assert m.values == (64, 128, 256, 512, 1024, 2048, 4096) and all(type(v) is int for v in m.values)
    assert S.parse_axis("seed=0,1,2").values == (0, 1, 2)


@pytest.mark.parametrize("name, spec, word", [
    ("steps", "1,2", "cannot be scanned"), ("eta", "0.1:0.2", "START:STOP:NUM"),
    ("eta", "a,b", "numbers"), ("eta", "-1:1:3:log", "log range"), ("m", "1.5,2", "integers"),
    ("m", "1:2:5", "distinct"), ("eta", "0.1:0.2:0", "NUM >= 1"),
])
def test_parse_values_errors_are_one_line(name, spec, word):
    with pytest.raises(ParameterError, match=word) as exc:
        S.parse_values(name, spec)
    assert "\n" not in str(exc.value)


def test_invalid_cells_are_rejected_before_running():
    with pytest.raises(ParameterError, match="rank"):
        S.make_spec(make_params(n=10), ["rank=5,20"])
    with pytest.raises(ParameterError, match="engine"):
        S.make_spec(make_params(engine="full"), ["eta=0.1,0.2"])


def test_blocks_tile_the_grid_independently_of_workers():
    spec = S.make_spec(make_params(steps=100), ["eta=0.01:0.02:7", "m=10,20,30"], block_cells=4)
    assert spec.chunks == (1, 3)
    seen = np.zeros(spec.shape, dtype=int)
    for b in range(spec.nblocks):
        seen[spec.block_slices(b)] += 1
    assert np.all(seen == 1)


# --- the batch kernel ---------------------------------------------------------------------------


def test_batch_kernel_matches_numpy_twin():
    spec = S.make_spec(make_params(steps=400, n=20, rank=3, lambda_max=400.0, lambda_min=20.0,
                                   init_scale=0.3, m=64, loss_tol=0.0),
                       ["eta=0.225,0.285,0.525"], record=("loss", "eta_sharpness"), record_every=50, tail=100)
    params = [spec.cell_params((i,)) for i in range(3)]
    res = S.run_batch(spec, params)
    cache = {}
    for c, p in enumerate(params):
        p, d, st = S.cell_state(p, cache)
        ref = batch_cell(st.a, st.u, st.G, d.s, d.z, d.y_perp2, d.n, p.m, p.eta, p.steps, spec.tail_start)
        f, i = res["fsum"][c], res["isum"][c]
        assert i[B.I_STATUS] == 0 and i[B.I_STATUS_STEP] == p.steps
        assert i[B.I_FIRST_CROSS] == ref["first"]
        assert (i[B.I_EXCURSIONS], i[B.I_FLIPS]) == (ref["excursions"], ref["flips"])
        for key, col in (("init", B.F_INIT_ES), ("final", B.F_FINAL_ES), ("max_loss", B.F_MAX_LOSS),
                         ("final_loss", B.F_FINAL_LOSS), ("tail_min", B.F_TAIL_MIN), ("tail_max", B.F_TAIL_MAX)):
            assert f[col] == pytest.approx(ref[key], rel=1e-9), key
        assert np.allclose(res["traj"][c, :, B.O_ES], ref["es"][::50], rtol=1e-9)
        assert np.allclose(res["traj"][c, :, B.O_LOSS], ref["loss"][::50], rtol=1e-9)
    assert {int(x) for x in res["isum"][:, B.I_EXCURSIONS]} != {0}  # the grid does reach the edge


def test_scan_cells_agree_with_simulate():
    base = make_params(steps=40_000)
    spec = S.make_spec(base, ["eta=0.01,0.03", "seed=0,1"], record=())
    res = S.run_batch(spec, [spec.cell_params(ix) for ix in np.ndindex(*spec.shape)])
    for c, ix in enumerate(np.ndindex(*spec.shape)):
        p = spec.cell_params(ix)
        info = eosdyn.summarize(eosdyn.simulate(p))
        assert res["isum"][c, B.I_FIRST_CROSS] == info["first_cross_step"]
        assert res["isum"][c, B.I_EXCURSIONS] == info["n_eos_excursions"]
        assert res["isum"][c, B.I_FLIPS] == info["n_period2_flips"]
        assert res["isum"][c, B.I_STATUS_STEP] == info["status_step"]
        assert res["fsum"][c, B.F_FINAL_LOSS] == info["final_loss"]  # bitwise: the same map
        assert res["fsum"][c, B.F_INIT_ES] == pytest.approx(info["initial_eta_sharpness"], rel=1e-12)


def test_statuses_and_phases():
    # catapult: standard init, eta Lambda_0 = 3; divergent: eta Lambda_0 = 5; lazy at small eta
    base = make_params(n=100, rank=5, lambda_max=100.0, lambda_min=1.0, init_scale=1.0, steps=3000)
    spec = S.make_spec(base, ["eta=0.01,0.75,1.3"], record=())
    res = S.run_batch(spec, [spec.cell_params((i,)) for i in range(3)])
    init = res["fsum"][:, B.F_INIT_ES]
    assert init[1] == pytest.approx(3.0, rel=0.05) and init[2] > 4
    assert [S.PHASES[k] for k in res["phase"]] == ["lazy", "catapult", "divergent"]
    assert res["isum"][2, B.I_STATUS] == 2 and np.isnan(res["fsum"][2, B.F_TAIL_MIN])
    assert res["isum"][1, B.I_STATUS] == 1  # the catapult converges


def test_padded_ranks_keep_the_trajectory_bitwise_and_prange_is_bitwise_identical():
    """A rank-2 cell zero-padded to rank 4 (it shares a block with a rank-4 cell) follows the same
    trajectory bit for bit (the padded modes add exact zeros to every sum); only eta Lambda, from
    the warm eigenvalue iteration on the padded K, may differ, by an ulp. prange = serial, bitwise."""
    spec = S.make_spec(make_params(steps=2000, n=30), ["rank=2,4"], record=("loss", "eta_sharpness"),
                       record_every=100, lyapunov=True)
    params = [spec.cell_params((i,)) for i in range(2)]
    both = S.run_batch(spec, params)
    alone = S.run_batch(spec, params[:1])
    assert np.array_equal(both["isum"][0], alone["isum"][0])
    exact = [B.F_MAX_LOSS, B.F_FINAL_LOSS, B.F_LYAP]
    assert np.array_equal(both["fsum"][0, exact], alone["fsum"][0, exact])
    assert np.array_equal(both["traj"][0, :, B.O_LOSS], alone["traj"][0, :, B.O_LOSS])
    ulp = [B.F_INIT_ES, B.F_FINAL_ES, B.F_TAIL_MIN, B.F_TAIL_MAX]
    np.testing.assert_allclose(both["fsum"][0, ulp], alone["fsum"][0, ulp], rtol=4 * np.finfo(float).eps, atol=0)
    np.testing.assert_allclose(both["traj"][0, :, B.O_ES], alone["traj"][0, :, B.O_ES], rtol=4 * np.finfo(float).eps)
    par = S.run_batch(spec, params, parallel=True)
    for k in ("fsum", "isum", "traj"):
        assert np.array_equal(both[k], par[k], equal_nan=True)


# --- store, backends, resume ---------------------------------------------------------------------


def small_spec(**kw):
    base = make_params(steps=3000, n=40, rank=3, lambda_max=2e4, lambda_min=10.0)
    opts = dict(record=("loss", "eta_sharpness"), record_every=100, block_cells=4, lyapunov=True)
    opts.update(kw)
    return S.make_spec(base, ["eta=0.005:0.3:6:log", "m=64,4096"], **opts)


def load(path):
    return S.open_scan(path).load()


def test_scan_store_roundtrip_and_resume_skips_done(tmp_path):
    spec = small_spec()
    out = tmp_path / "s.zarr"
    info = S.run_scan(spec, out, backend="serial")
    assert info["blocks_run"] == spec.nblocks == 3
    ds = load(out)
    assert ds["loss"].dims == ("eta", "m", "step") and ds.sizes["step"] == 31
    assert (ds["status"] >= 0).all() and set(np.unique(ds["phase"])) <= set(range(5))
    assert json.loads(ds.attrs["scan_spec"])["axes"][0][0] == "eta"
    again = S.run_scan(spec, out, backend="serial")
    assert again["blocks_run"] == 0
    xr.testing.assert_identical(load(out), ds)
    with pytest.raises(EosdynError, match="different scan"):
        S.run_scan(small_spec(record_every=50), out)


def test_backends_are_bitwise_identical(tmp_path):
    spec = small_spec()
    ref = None
    for backend in ("serial", "threads", "processes", "prange"):
        out = tmp_path / f"{backend}.zarr"
        S.run_scan(spec, out, backend=backend, workers=2)
        ds = load(out)
        if ref is None:
            ref = ds
        else:
            xr.testing.assert_identical(ds, ref)


def test_dask_local_cluster_is_identical(tmp_path):
    from distributed import Client, LocalCluster

    spec = small_spec()
    S.run_scan(spec, tmp_path / "ref.zarr", backend="serial")
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        with Client(cluster):
            S.run_scan(spec, tmp_path / "dask.zarr", scheduler=cluster.scheduler_address)
    xr.testing.assert_identical(load(tmp_path / "dask.zarr"), load(tmp_path / "ref.zarr"))


def test_interrupted_block_write_is_redone(tmp_path, monkeypatch):
    spec = small_spec()
    out = tmp_path / "s.zarr"
    from eosdyn.analysis.scan import backends

    real = backends.write_block
    calls = {"n": 0}

    def crashing(spec_, group, b, result):
        calls["n"] += 1
        if calls["n"] == 2:  # die half-way through the second block: status not yet written
            partial = {k: v for k, v in list(result.items())[:3]}
            real(spec_, group, b, partial)
            raise KeyboardInterrupt
        real(spec_, group, b, result)

    monkeypatch.setattr(backends, "write_block", crashing)
    with pytest.raises(KeyboardInterrupt):
        S.run_scan(spec, out, backend="serial")
    monkeypatch.setattr(backends, "write_block", real)
    import zarr

    assert S.blocks_done(spec, zarr.open_group(str(out), mode="r")).tolist() == [True, False, False]
    assert S.run_scan(spec, out, backend="serial")["blocks_run"] == 2
    S.run_scan(spec, tmp_path / "ref.zarr", backend="serial")
    xr.testing.assert_identical(load(out), load(tmp_path / "ref.zarr"))


def cells_done(path) -> int:
    import zarr

    try:
        return int(np.sum(np.asarray(zarr.open_group(str(path), mode="r")["status"][...]) >= 0))
    except Exception:  # not created yet
        return 0


def test_sigkill_mid_scan_then_resume_equals_uninterrupted(tmp_path):
    args = ["scan", "--grid", "eta=0.005:0.05:12:log", "--steps", "20000", "--lyapunov",
            "--block-cells", "1", "--backend", "serial", "--quiet", "--record-every", "1000"]
    out = tmp_path / "k.zarr"
    cmd = [sys.executable, "-c", "from eosdyn.cli import main; main()", *args, "--out", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if cells_done(out) >= 3:
            break
        time.sleep(0.01)
    assert proc.poll() is None, "the scan finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    ds = load(out)
    done = int((ds["status"] >= 0).sum())
    assert 3 <= done < 12
    res = run_cli(*args, "--out", out)
    assert res.exit_code == 0, res.output
    assert f"({done} already done)" in res.output
    ref = tmp_path / "ref.zarr"
    assert run_cli(*args, "--out", ref).exit_code == 0
    xr.testing.assert_identical(load(out), load(ref))


# --- CLI ------------------------------------------------------------------------------------------


def test_cli_scan_heatmap_and_user_data_file(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((6, 40)) * np.array([30.0, 10, 5, 2, 1, 0.5])[:, None]
    Y = np.sign(rng.standard_normal(40))
    data = tmp_path / "d.npz"
    np.savez(data, X=X, Y=Y)
    out, fig = tmp_path / "s.zarr", tmp_path / "h.png"
    res = run_cli("scan", "--data", data, "--grid", "eta=0.002:0.05:5:log", "--grid", "init-scale=0.01,0.1,1",
                  "--steps", "2000", "--out", out, "--json")
    assert res.exit_code == 0, res.output
    info = json.loads(res.output)
    assert info["cells"] == 15 and sum(info["status"].values()) == 15
    ds = load(out)
    assert ds.sizes == {"eta": 5, "init_scale": 3, "step": 1001}
    res = run_cli("heatmap", out, "--out", fig)
    assert res.exit_code == 0, res.output
    assert fig.stat().st_size > 20_000
    res = run_cli("heatmap", out, "--out", fig, "--x", "nope")
    assert res.exit_code == 2 and "not a scanned dimension" in res.output


def test_cli_scan_scenario_table_and_errors(tmp_path):
    scen = tmp_path / "s.toml"
    scen.write_text('[run]\nsteps = 500\n[scan]\neta = "0.01:0.02:2"\nm = [64, 128]\n')
    res = run_cli("scan", "--scenario", scen, "--out", tmp_path / "a.zarr", "--record", "none")
    assert res.exit_code == 0, res.output
    ds = load(tmp_path / "a.zarr")
    assert ds.sizes == {"eta": 2, "m": 2} and ds.attrs["steps"] == 500
    res = run_cli("scan", "--grid", "eta=0:1:3:log", "--out", tmp_path / "b.zarr")
    assert res.exit_code == 2 and "log range" in res.output
    res = run_cli("scan", "--grid", "eta=0.1", "--out", tmp_path / "b.nc")
    assert res.exit_code == 2 and ".zarr" in res.output
    res = run_cli("scan", "--out", tmp_path / "c.zarr")
    assert res.exit_code == 2 and "--grid" in res.output
