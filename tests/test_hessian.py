"""lambda_max of the loss Hessian: m-independent formula vs Lanczos vs a dense numpy Hessian."""

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from twins import dense_hessian, gd_params, loss_grad, matrices

import eosdyn
from eosdyn.analysis.hessian import hvp, sharpness_lanczos, sharpness_reduced
from eosdyn.cli import main
from eosdyn.model.data import from_arrays
from eosdyn.model.init import gaussian_parameters, statistics_from_parameters


def problem(seed, d, n, m, r=None, scale=1.0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((d, n)) if r is None else rng.standard_normal((d, r)) @ rng.standard_normal((r, n))
    Y = np.sign(rng.standard_normal(n))
    return X, Y, scale * rng.standard_normal(m), scale * rng.standard_normal((m, d))


def three_ways(X, Y, A, W):
    data = from_arrays(X, Y)
    s = statistics_from_parameters(A, W, data.U)
    dense = np.linalg.eigvalsh(dense_hessian(A, W, X, Y))[-1]
    red = sharpness_reduced(s.a, s.u, s.G, data.s, data.z, data.n, A.size)
    lan, _ = sharpness_lanczos(A, W, X, Y)
    return dense, red, lan


def test_dense_reference_is_the_derivative_of_the_gradient():
    X, Y, A, W = problem(0, 3, 5, 4)
    H = dense_hessian(A, W, X, Y)
    theta = np.concatenate([A, W.ravel()])
    h = 1e-6
    for i in range(theta.size):
        e = np.zeros_like(theta)
        e[i] = h
        gp = loss_grad((theta + e)[:4], (theta + e)[4:].reshape(4, 3), X, Y)
        gm = loss_grad((theta - e)[:4], (theta - e)[4:].reshape(4, 3), X, Y)
        np.testing.assert_allclose((gp - gm) / (2 * h), H[:, i], atol=1e-7)
    v = np.random.default_rng(1).standard_normal(theta.size)
    np.testing.assert_allclose(hvp(A, W, X, Y, v), H @ v, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shape", [
    (3, 7, 5, None),    # n > d, m > r + 1
    (4, 10, 2, None),   # m < r + 1: C is singular, no residual-only eigenvalues
    (5, 6, 40, 3),      # rank-deficient X (r < d)
    (2, 1, 3, None),    # one sample
    (6, 20, 1, None),   # m = 1
    (3, 4, 30, None),   # Lanczos path (m (d+1) > 64)
])
def test_reduced_and_lanczos_match_dense(shape):
    d, n, m, r = shape
    dense, red, lan = three_ways(*problem(sum(shape[:3]), d, n, m, r))
    assert red == pytest.approx(dense, rel=1e-10)
    assert lan == pytest.approx(dense, rel=1e-10)


@settings(max_examples=25, deadline=None)
@given(d=st.integers(1, 4), n=st.integers(1, 6), m=st.integers(1, 9), seed=st.integers(0, 10**6),
       scale=st.sampled_from([1e-3, 0.1, 1.0, 10.0]))
def test_reduced_matches_dense_hypothesis(d, n, m, seed, scale):
    dense, red, _ = three_ways(*problem(seed, d, n, m, scale=scale))
    assert red == pytest.approx(dense, rel=1e-8, abs=1e-12 * max(1.0, abs(dense)))


def test_limits_gauss_newton_and_residual_only():
    X, Y, A, W = problem(3, 4, 9, 12)
    data = from_arrays(X, Y)
    # residual only: A = W = 0, the top eigenvalue is (2/(n sqrt m)) ||X D|| = (2/(n sqrt m)) ||X Y||
    r = data.rank
    lam = sharpness_reduced(0.0, np.zeros(r), np.zeros((r, r)), data.s, data.z, data.n, 12)
    assert lam == pytest.approx(2 / (9 * np.sqrt(12)) * np.linalg.norm(X @ Y), rel=1e-12)
    # zero residual (labels equal to the outputs): the Hessian is Gauss-Newton, top = Lambda
    Yfit = X.T @ W.T @ A / np.sqrt(12)
    M = matrices(A, W, X, Yfit, 0.1)[0]
    d2 = from_arrays(X, Yfit)
    s2 = statistics_from_parameters(A, W, d2.U)
    lam = sharpness_reduced(s2.a, s2.u, s2.G, d2.s, d2.z, d2.n, 12)
    assert lam == pytest.approx(np.linalg.eigvalsh(M)[-1], rel=1e-12)


def test_engines_agree_on_sharpness_hessian_at_small_m():
    kw = dict(m=24, d=6, n=20, rank=4, lambda_max=50.0, lambda_min=2.0, init_scale=0.7,
              eta=0.02, steps=60, record_every=3, hessian=True)
    full = eosdyn.simulate(engine="full", **kw)
    red = eosdyn.simulate(engine="reduced", **kw)
    assert "full engine's running statistics" in full.attrs["hessian_method"]
    assert red.attrs["hessian_method"].startswith("reduced")
    np.testing.assert_allclose(full.sharpness_hessian.values, red.sharpness_hessian.values,
                               rtol=1e-8)
    # and against a dense Hessian of plain numpy GD's parameters at the last step
    data = eosdyn.synthetic(n=20, rank=4, lambda_max=50.0, lambda_min=2.0, d=6, seed=0)
    A, W = gaussian_parameters(24, 6, 0.7, 0.7, 0)
    A, W = gd_params(A, W, data.X, data.Y, 0.02, 60)[-1]
    dense = np.linalg.eigvalsh(dense_hessian(A, W, data.X, data.Y))[-1]
    assert full.sharpness_hessian.values[-1] == pytest.approx(dense, rel=1e-8)


def test_recorder_leaves_the_run_unchanged_and_fills_every_row():
    kw = dict(n=10, rank=3, eigenvalues=(9.0, 4.0, 1.0), m=50, init_scale=0.5, eta=0.05,
              steps=5000, record_every=7, loss_tol=1e-4)
    plain = eosdyn.simulate(**kw)
    ds = eosdyn.simulate(hessian=True, **kw)
    for name in ("loss", "sharpness", "a_norm2", "Dv1", "phase"):
        np.testing.assert_array_equal(ds[name].values, plain[name].values)
    np.testing.assert_array_equal(ds.step.values, plain.step.values)
    assert ds.attrs["status"] == "converged" and ds.step.values[-1] % 7 != 0
    assert np.all(np.isfinite(ds.sharpness_hessian.values))
    eosdyn.validate(ds)
    assert "sharpness_hessian" not in plain


def test_cli_hessian_flag(tmp_path):
    out = tmp_path / "h.nc"
    res = CliRunner().invoke(main, ["simulate", "--steps", "200", "--hessian", "--quiet",
                                    "--out", str(out)])
    assert res.exit_code == 0, res.output
    ds = eosdyn.open_run(out)
    assert ds.sharpness_hessian.attrs["long_name"].startswith("lambda_max of the loss Hessian")
    assert ds.sharpness_hessian.size == 201


def test_flow_run_with_hessian_is_driven_row_by_row_and_unchanged():
    kw = dict(engine="flow", steps=400, record_every=9, eta=0.02)
    plain = eosdyn.simulate(**kw)
    ds = eosdyn.simulate(hessian=True, **kw)
    np.testing.assert_array_equal(ds.loss.values, plain.loss.values)
    np.testing.assert_array_equal(ds.sharpness.values, plain.sharpness.values)
    from eosdyn.analysis.replay import states_at

    Y = states_at(plain, plain.step.values)
    r = plain.sizes["mode"]
    ref = [sharpness_reduced(y[0], y[1:1 + r], y[1 + r:].reshape(r, r), plain.data_s.values,
                             plain.data_z.values, 100, 4096) for y in Y]
    np.testing.assert_allclose(ds.sharpness_hessian.values, ref, rtol=1e-12)
