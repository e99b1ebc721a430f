"""Network engine: linear2 against numpy GD and the numba full engine; recording contract;
statuses; the deep-linear one-sample closed form; weights files; data loaders for every model."""

import json
import pickle

import numpy as np
import pytest
from click.testing import CliRunner
from net_reference import cnn, mlp

import eosdyn
from eosdyn.cli import main
from eosdyn.errors import ParameterError

from reference import diagnostics, gd_params

jax = pytest.importorskip("jax")  # in the test extra; skipped only where JAX is not installed
jnp = jax.numpy

from eosdyn.nets import functions, models, spec, theory  # noqa: E402
from eosdyn.nets.spectra import Diagnostics  # noqa: E402

DIAG = ["loss", "sharpness", "lambda2", "sharpness_MA", "sharpness_MW", "sharpness_Mstar",
        "a_norm2", "DtF", "Dv1", "R_norm2"]
#: a small synthetic run that sharpens to 2/eta by step ~16, then EoS cycles (found with the
#: reduced engine), phase IV from step ~57; with lambda_min = 0.5 and eta = 0.9 it diverges at step ~69
EOS = dict(n=16, rank=3, lambda_max=50.0, lambda_min=5.0, m=16, eta=1.1, init_scale=0.01, record_every=1)


def test_linear2_matches_numpy_parameter_gd(small_problem):
    p = small_problem
    steps = 25
    ds = eosdyn.simulate(X=p["X"], Y=p["Y"], A=p["A"], W=p["W"], eta=p["eta"], steps=steps,
                         engine="network", record_every=1, loss_tol=0.0)
    traj = gd_params(p["A"], p["W"], p["X"], p["Y"], p["eta"], steps)
    v_prev = np.linalg.svd(p["X"], full_matrices=False)[2][0]
    for t in range(steps + 1):
        ref = diagnostics(*traj[t], p["X"], p["Y"], p["eta"], v_prev)
        v_prev = ref["v1"]
        for name in DIAG:
            got = float(ds[name].sel(step=t))
            scale = max(abs(ref[name]), ref["loss"] if name in ("Dv1", "R_norm2", "DtF") else 0.0, 1e-300)
            assert abs(got - ref[name]) <= 1e-10 * scale, (t, name, got, ref[name])
    eosdyn.io.schema.validate(ds)
    assert ds.attrs["model"] == "linear2" and ds.attrs["eigen_uncertified"] == 0


@pytest.fixture(scope="module")
def eos_runs():
    return {eng: eosdyn.simulate(engine=eng, steps=70, **EOS) for eng in ("full", "network")}


def test_network_equals_full_through_progressive_sharpening_and_eos(eos_runs):
    a, b = eos_runs["full"], eos_runs["network"]
    cross = int(np.argmax(a["eta_sharpness"].values > 2))
    assert 10 < cross < 40
    for name in DIAG + ["loss_window_min", "loss_window_max"]:
        x, y = a[name].values, b[name].values
        scale = np.maximum(np.abs(x), a["loss"].values if name in ("Dv1", "R_norm2", "DtF") else 1e-300)
        assert np.max(np.abs(x - y)[:cross] / scale[:cross]) < 1e-10, name
        assert np.max(np.abs(x - y) / scale) < 1e-6, name      # and on through the first EoS cycles
    np.testing.assert_array_equal(a["phase"].values, b["phase"].values)
    np.testing.assert_array_equal(a["anomaly"].values, b["anomaly"].values)
    assert {2, 3, 4} <= set(np.unique(b["phase"].values))
    for key in ("init_a", "init_u", "init_G", "final_a", "final_u", "final_G"):
        np.testing.assert_allclose(b[key].values, a[key].values, rtol=1e-9)


def test_statuses_match_full_engine():
    for kw in (dict(lambda_min=0.5, eta=0.9, steps=200), dict(steps=600, loss_tol=1e-6)):
        runs = [eosdyn.simulate(engine=e, **{**EOS, **kw}) for e in ("full", "network")]
        a, b = runs
        assert b.attrs["status"] == a.attrs["status"] and b.attrs["status_step"] == a.attrs["status_step"]
        assert a.sizes["step"] == b.sizes["step"]
        if a.attrs["status"] == "diverged":
            assert np.isnan(b["sharpness"].values[-1]) == np.isnan(a["sharpness"].values[-1])
    assert {runs[0].attrs["status"]} == {"converged"}


def test_strided_recording_is_the_same_trajectory(eos_runs):
    every = eosdyn.simulate(engine="network", steps=70, **{**EOS, "record_every": 7})
    full = eos_runs["network"]
    steps = every["step"].values
    assert list(steps) == list(range(0, 71, 7))
    sub = full.sel(step=steps)
    for name in ("loss", "sharpness", "a_norm2", "phase", "anomaly"):
        np.testing.assert_allclose(every[name].values, sub[name].values, rtol=1e-12)
    loss = full["loss"].values   # the window: min/max of the per-step loss since the last row
    for k in range(1, steps.size):
        seg = loss[steps[k - 1] + 1: steps[k] + 1]
        np.testing.assert_allclose([every["loss_window_min"].values[k], every["loss_window_max"].values[k]],
                                   [seg.min(), seg.max()], rtol=1e-14)


def _one_sample_model(L, m, d):
    return models.build(spec.parse(f"deep-linear:{L}"), (d,), m)


@pytest.mark.parametrize("L, m, d, y", [(1, 3, 4, 1.0), (2, 4, 3, -0.7), (3, 2, 2, 2.5)])
def test_deep_linear_one_sample_minimal_sharpness(L, m, d, y):
    """eosdyn.nets.theory: at a balanced minimum Lambda (and the Hessian's lambda_max) equal
    2 K (C^2 y^(2L) ||x||^2)^(1/K); random global minima are sharper."""
    rng = np.random.default_rng(L)
    x = rng.standard_normal(d)
    model = _one_sample_model(L, m, d)
    mults = theory.mults_of(model)
    want = theory.deep_linear_min_sharpness(L, x, y, mults)
    with jax.enable_x64(True):
        fns = functions.make(model)
        X, Y = jnp.asarray(x[None, :]), jnp.asarray([y])
        diag = Diagnostics(model, fns, X, Y, np.ones(1), 0.1)

        def sharp(w):
            params = {k: jnp.asarray(v) for k, v in w.items()}
            row = diag.row(params)
            return row[0], row[1], diag.hessian(params)

        loss, lam, hess = sharp(theory.balanced_minimum(L, m, x, y, mults, rng))
        assert loss < 1e-28
        assert abs(lam / want - 1) < 1e-12 and abs(hess / want - 1) < 1e-9
        for _ in range(5):  # random global minima: rescale A so that f(x) = y
            w = models.init_params(model, 1.0, 1.0, rng)
            w["A"] *= y / float(mlp(w, x[:, None], "linear")[0])
            loss, lam, _ = sharp(w)
            assert loss < 1e-24 and lam >= want * (1 - 1e-12)
    # scalar-chain sanity checks of the formula itself: 2 x^2 (L = 0), 4 |x y| (two scalars)
    assert theory.deep_linear_min_sharpness(0, np.array([3.0]), 5.0, (1.0,)) == 18.0
    assert abs(theory.deep_linear_min_sharpness(1, np.array([3.0]), 5.0, (1.0, 1.0)) - 60.0) < 1e-12


def test_deep_linear_one_sample_minimum_by_numerical_optimisation():
    """Minimise ||grad f||^2 over {f(x) = y} numerically (scipy, scalar chain of 3 factors):
    the optimum is the closed form."""
    from scipy.optimize import minimize

    x, y = 1.7, -0.8

    def sharpness(logs):   # factors w1, w2 free (log-magnitudes), a fixed by f = a w2 w1 x = y
        w1, w2 = np.exp(logs)
        a = y / (w2 * w1 * x)
        g = np.array([a * w2 * x, a * w1 * x, w2 * w1 * x])
        return 2.0 * g @ g

    best = min(minimize(sharpness, s, method="Nelder-Mead", options={"xatol": 1e-12, "fatol": 1e-14}).fun
               for s in ([0.0, 0.0], [1.0, -1.0], [-2.0, 0.5]))
    want = theory.deep_linear_min_sharpness(2, np.array([x]), y, (1.0, 1.0, 1.0))
    assert abs(best / want - 1) < 1e-8


def test_eta_above_the_minimal_sharpness_edge_cannot_converge():
    """One sample, deep-linear:2: with 2/eta below Lambda_min no minimum is stable."""
    X, Y = np.array([[1.0], [0.5]]), np.array([1.0])
    model = _one_sample_model(2, 4, 2)
    lam_min = theory.deep_linear_min_sharpness(2, X[:, 0], 1.0, theory.mults_of(model))
    kw = dict(X=X, Y=Y, engine="network", model="deep-linear:2", m=4, init_scale=0.5, steps=3000,
              record_every=100, loss_tol=1e-20)
    ok = eosdyn.simulate(eta=1.8 / lam_min, **kw)
    bad = eosdyn.simulate(eta=2.2 / lam_min, **kw)
    assert ok.attrs["status"] == "converged"
    assert ok["sharpness"].values[-1] >= lam_min * (1 - 1e-9)
    assert bad.attrs["status"] != "converged"


def test_save_init_and_init_round_trip(tmp_path):
    f = tmp_path / "w.npz"
    kw = dict(engine="network", model="mlp:tanh:2", data="digits", subset=40, m=8, eta=0.5, steps=5,
              init_scale=0.8, seed=3)
    a = eosdyn.simulate(save_init=str(f), **kw)
    saved = dict(np.load(f))
    assert sorted(saved) == ["A", "W1", "W2"] and saved["W1"].shape == (8, 64)
    with pytest.raises(ParameterError, match="m must equal the width 8"):   # an explicit m that differs
        eosdyn.simulate(init=str(f), **{**kw, "seed": 99, "m": 3})
    kw.pop("m")
    b = eosdyn.simulate(init=str(f), **{**kw, "seed": 99})   # weights (and m) from the file
    assert b.attrs["m"] == 8
    np.testing.assert_array_equal(a["loss"].values, b["loss"].values)
    # linear2: a network save_init file starts the numba engines from the same A, W
    g = tmp_path / "l2.npz"
    c = eosdyn.simulate(engine="network", n=12, rank=3, m=6, eta=0.01, steps=3, save_init=str(g))
    d = eosdyn.simulate(engine="full", n=12, rank=3, m=6, eta=0.01, steps=3, init=str(g), init_scale=0.5)
    np.testing.assert_allclose(d["loss"].values, c["loss"].values, rtol=1e-12)


def test_loaders_feed_every_model(tmp_path):
    """digits, cifar10:PATH and mnist:PATH (small fake files) give each model its input shape."""
    from test_datasets import _cifar_batches, _idx

    from eosdyn.api import build_problem
    from eosdyn.model.params import make_params

    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for name, batch in _cifar_batches().items():
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
    rng = np.random.default_rng(0)
    (tmp_path / "train-images-idx3-ubyte").write_bytes(_idx(rng.integers(0, 256, (20, 28, 28), dtype=np.uint8)))
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(_idx(np.arange(20, dtype=np.uint8) % 2))
    shapes = {"digits": (8, 8, 1), f"cifar10:{tmp_path}": (32, 32, 3), f"mnist:{tmp_path}": (28, 28, 1)}
    for data, shape in shapes.items():
        for model, m in (("cnn", 3), ("mlp:relu:1", 4), ("resnet18", 8), ("deep-linear:2", 3)):
            pb = build_problem(make_params(engine="network", model=model, data=data, subset=4, m=m))
            want = shape if model in ("cnn", "resnet18") else (int(np.prod(shape)),)
            assert pb.x.shape == (4, *want), (data, model)
            if model == "cnn":   # the image is the sample: the numpy twin on X's columns agrees
                with jax.enable_x64(True):
                    params = {k: jnp.asarray(v) for k, v in pb.weights.items()}
                    got = np.asarray(pb.model.apply(params, jnp.asarray(pb.x)))
                np.testing.assert_allclose(got, cnn(pb.weights, pb.x, "relu"), rtol=1e-12, atol=1e-14)
    with pytest.raises(ParameterError, match="needs image data"):
        build_problem(make_params(engine="network", model="cnn", n=10, rank=3, m=4))


def test_cli_network_run(tmp_path):
    r = CliRunner().invoke(main, ["simulate", "--engine", "network", "--model", "cnn:tanh:1", "--data", "digits",
                                  "--subset", "20", "--m", "4", "--eta", "0.5", "--steps", "4", "--init-scale", "0.5",
                                  "--json", "--quiet", "--out", str(tmp_path / "r.nc"),
                                  "--save-init", str(tmp_path / "w.npz")])
    assert r.exit_code == 0, r.output
    info = json.loads(r.output[r.output.index("{"):])
    assert info["engine"] == "network" and info["steps"] == 4
    ds = eosdyn.io.files.open_run(tmp_path / "r.nc")
    assert ds.attrs["model"] == "cnn:tanh:1" and np.isnan(ds["sharpness_Mstar"].values).all()
    assert "M* " in ds.attrs["sharpness_Mstar_note"] and (tmp_path / "w.npz").exists()
    for args, msg in [(["--engine", "full", "--model", "mlp:tanh:2"], "needs engine network"),
                      (["--engine", "network", "--model", "cnn", "--n", "10"], "needs image data"),
                      (["--engine", "network", "--model", "mlp:tan:2"], "activation must be one of")]:
        r = CliRunner().invoke(main, ["simulate", "--steps", "2", "--m", "8", "--quiet", *args])
        assert r.exit_code == 2 and msg in r.output and "Traceback" not in r.output


def test_check_and_plots_on_a_network_run(tmp_path):
    """eosdyn check tests Section 3's statements on the run's own series; plots draw it."""
    from eosdyn.analysis.check import run_checks
    from eosdyn.plot.run import plot_run

    ds = eosdyn.simulate(engine="network", model="mlp:tanh:2", data="digits", subset=60, m=8, eta=3.0,
                         init_scale=0.7, steps=40, hessian=True)
    rep = run_checks(ds)
    rows = {r.key: r for r in rep.rows}
    valid = ds["phase"].values > 0
    same = 1 - (ds["anomaly"].values & valid).sum() / valid.sum()
    assert rows["section_3_2"].values["same_direction_fraction"] == pytest.approx(same, rel=1e-15)
    ratio = ds["sharpness_MA"].values / ds["sharpness"].values
    assert rows["figure_3a"].values["median_ratio"] == pytest.approx(np.median(ratio), rel=1e-15)
    for key in ("assumption_3_3", "assumption_3_5_iii", "lemma_3_2", "lemma_3_5", "theorem_1"):
        assert rows[key].holds is None and rows[key].measured.startswith("n/a: ")
    for key in ("assumption_3_7", "proposition_3_1", "section_3_4", "theorem_2_2", "appendix_f"):
        assert key in rows and rows[key].source == "run"
    assert rows["appendix_f"].holds is not None           # sharpness_hessian was recorded
    h = ds["sharpness_hessian"].values
    assert np.all(np.isfinite(h)) and rep.run["engine"] == "network mlp:tanh:2"
    for kind in ("indicator", "spectrum", "timeseries"):
        plot_run([ds], tmp_path / f"{kind}.png", kind=kind)
        assert (tmp_path / f"{kind}.png").stat().st_size > 10_000
