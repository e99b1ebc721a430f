"""simulate(): schema, status, determinism, validation, strided recording, files."""

import numpy as np
import pytest
import xarray as xr

import eosdyn
from eosdyn.errors import DataError, ParameterError


@pytest.fixture(scope="module")
def default_run():
    return eosdyn.simulate()


def test_default_run_shows_eos(default_run):
    ds = default_run
    eosdyn.validate(ds)
    info = eosdyn.summarize(ds)
    assert info["initial_eta_sharpness"] < 0.1
    assert info["first_cross_step"] is not None and info["first_cross_step"] > 10_000
    assert info["n_eos_excursions"] >= 3 and info["n_period2_flips"] > 0
    assert info["phases"] == [1, 2, 3, 4]
    loss = ds["loss"].values
    assert np.any(np.diff(loss) > 0)  # non-monotonic
    assert loss[-1] < 0.1 * loss[0]
    assert ds.attrs["status"] in ("max_steps", "converged")


def test_phase_definition(default_run):
    ds = default_run
    lam = ds["sharpness"].values
    eta = ds.attrs["eta"]
    ph = ds["phase"].values[:-1]
    rising = np.diff(lam) > 0
    above = lam[:-1] > 2 / eta
    expected = np.where(above, np.where(rising, 2, 3), np.where(rising, 1, 4))
    np.testing.assert_array_equal(ph, expected)
    da = np.diff(ds["a_norm2"].values)
    np.testing.assert_array_equal(ds["anomaly"].values[:-1], np.sign(np.diff(lam)) != np.sign(da))


def test_provenance_attrs(default_run):
    a = default_run.attrs
    for key in ("n", "m", "eta", "y_perp2", "seed", "engine", "status", "status_step",
                "eosdyn_version", "parameters", "init_scale", "lambda_max"):
        assert key in a
    assert a["eosdyn_version"] == eosdyn.__version__
    assert a["m"] == 4096 and a["eta"] == 0.01 and a["engine"] == "reduced"


def test_determinism():
    a = eosdyn.simulate(steps=5000, seed=3)
    b = eosdyn.simulate(steps=5000, seed=3)
    for name in ("loss", "sharpness", "Dv1", "phase"):
        np.testing.assert_array_equal(a[name].values, b[name].values)


def test_divergence_is_a_status():
    ds = eosdyn.simulate(eta=5.0, steps=10_000)
    assert ds.attrs["status"] == "diverged"
    k = ds.attrs["status_step"]
    assert 0 < k < 10_000
    assert ds["step"].values[-1] == k
    assert np.all(np.isfinite(ds["loss"].values[:-1]))


def test_convergence_stops_early():
    ds = eosdyn.simulate(eta=0.001, steps=10**6, lambda_max=100.0, lambda_min=10.0,
                         init_scale=1.0, m=256, loss_tol=1e-10)
    assert ds.attrs["status"] == "converged"
    assert ds.attrs["status_step"] < 10**6
    assert ds["loss"].values[-1] <= 1e-10


def test_strided_recording_matches_every_step():
    full = eosdyn.simulate(steps=40_000, record_every=1)
    sub = eosdyn.simulate(steps=40_000, record_every=100)
    assert sub.sizes["step"] == 401
    ref = full.sel(step=sub["step"].values)
    for name in ("loss", "sharpness", "a_norm2", "lambda2", "sharpness_Mstar", "phase"):
        np.testing.assert_allclose(sub[name].values, ref[name].values, rtol=1e-12, err_msg=name)
    # the window maxima bound every loss in their window
    lmax = sub["loss_window_max"].values
    per_window = [full["loss"].values[max(0, s - 99) : s + 1].max() for s in sub["step"].values]
    np.testing.assert_allclose(lmax, per_window, rtol=1e-12)


def test_memory_bound_for_long_runs():
    from eosdyn.model.params import make_params

    p = make_params(steps=10**8)
    assert p.stride == 1000  # 1e5 rows, not 1e8


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(eta=0.0), "eta"), (dict(eta=-1.0), "eta"), (dict(eta=float("nan")), "eta"),
        (dict(m=0), "m"), (dict(steps=0), "steps"), (dict(n=0), "n"),
        (dict(lambda_min=10.0, lambda_max=1.0), "lambda_min"), (dict(rank=200, n=10), "rank"),
        (dict(engine="magic"), "engine"), (dict(record_every=0), "record_every"),
        (dict(init_scale=float("inf")), "init_scale"), (dict(bogus=1), "bogus"),
        (dict(eigenvalues=[1.0, -2.0]), "eigenvalues"), (dict(m=2.5), "m"),
    ],
)
def test_bad_parameters_name_the_parameter(kwargs, name):
    with pytest.raises(ParameterError) as info:
        eosdyn.simulate(**kwargs)
    assert info.value.name == name
    assert "\n" not in str(info.value)


def test_bad_arrays(tmp_path):
    with pytest.raises(DataError, match="non-finite"):
        eosdyn.simulate(X=np.full((3, 4), np.nan), Y=np.ones(4), steps=2)
    with pytest.raises(DataError, match="samples"):
        eosdyn.simulate(X=np.ones((3, 4)), Y=np.ones(5), steps=2)
    with pytest.raises(DataError, match="rank 0"):
        eosdyn.simulate(X=np.zeros((3, 4)), Y=np.ones(4), steps=2)
    bad = tmp_path / "bad.npz"
    np.savez(bad, X=np.ones((3, 4)))
    with pytest.raises(DataError, match="lacks"):
        eosdyn.simulate(data=str(bad), steps=2)
    with pytest.raises(DataError, match="does not exist"):
        eosdyn.simulate(data=str(tmp_path / "nope.npz"), steps=2)
    garbage = tmp_path / "g.npz"
    garbage.write_bytes(b"not a zip")
    with pytest.raises(DataError, match="cannot read"):
        eosdyn.simulate(data=str(garbage), steps=2)
    rng = np.random.default_rng(0)
    with pytest.raises(DataError, match="columns"):
        eosdyn.simulate(X=rng.standard_normal((3, 6)), Y=np.ones(6),
                        A=np.ones(5), W=np.ones((5, 4)), steps=2)


def test_data_and_init_files(tmp_path):
    rng = np.random.default_rng(2)
    X, Y = rng.standard_normal((6, 20)), np.sign(rng.standard_normal(20))
    A, W = rng.standard_normal(50), rng.standard_normal((50, 6))
    np.savez(tmp_path / "d.npz", X=X, Y=Y)
    np.savez(tmp_path / "i.npz", A=A, W=W)
    np.savetxt(tmp_path / "d.csv", np.column_stack([X.T, Y]), delimiter=",")
    kw = dict(eta=1e-3, steps=50, record_every=1)
    a = eosdyn.simulate(data=tmp_path / "d.npz", init=tmp_path / "i.npz", **kw)
    b = eosdyn.simulate(X=X, Y=Y, A=A, W=W, **kw)
    c = eosdyn.simulate(data=tmp_path / "d.csv", A=A, W=W, **kw)
    np.testing.assert_array_equal(a["loss"].values, b["loss"].values)
    np.testing.assert_allclose(c["loss"].values, b["loss"].values, rtol=1e-12)
    assert a.attrs["m"] == 50


@pytest.mark.parametrize("suffix", [".nc", ".zarr"])
def test_save_roundtrip(tmp_path, suffix):
    ds = eosdyn.simulate(steps=2000)
    path = eosdyn.save(ds, tmp_path / f"run{suffix}")
    back = eosdyn.open_run(path)
    eosdyn.validate(back)
    xr.testing.assert_identical(back.drop_attrs(), ds.drop_attrs())
    for k, v in ds.attrs.items():
        assert np.all(back.attrs[k] == v), k
    assert [p.name for p in tmp_path.iterdir()] == [f"run{suffix}"]  # no temp leftovers
    with pytest.raises(eosdyn.EosdynError, match="overwrite=True"):
        eosdyn.save(ds, path)  # never silently
    eosdyn.save(ds, path, overwrite=True)  # overwriting an eosdyn run works
    eosdyn.validate(eosdyn.open_run(path))
