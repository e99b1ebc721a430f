"""Initial states (Wishart vs materialised parameters) and datasets."""

import numpy as np
import pytest

import eosdyn
from eosdyn.model import init as init_mod
from eosdyn.model.data import from_arrays, synthetic


def _draws(sampler, count, m, r, sa, sw):
    out = []
    for seed in range(count):
        st = sampler(seed)
        out.append(np.concatenate([[st.a], st.u, st.G[np.triu_indices(r)]]))
    return np.array(out)


def test_wishart_matches_materialised_moments():
    """Bartlett draws and materialised (A, W U) draws have the same mean and covariance."""
    m, r, sa, sw, count = 9, 3, 0.7, 1.3, 4000
    U = np.linalg.qr(np.random.default_rng(0).standard_normal((5, r)))[0]

    def wish(seed):
        return init_mod.sample_statistics(m, r, sa, sw, seed)

    def mat(seed):
        A, W = init_mod.gaussian_parameters(m, 5, sa, sw, seed + 10**6)
        return init_mod.statistics_from_parameters(A, W, U)

    x, y = _draws(wish, count, m, r, sa, sw), _draws(mat, count, m, r, sa, sw)
    # exact moments: E a = m sa^2, E G = sw^2 I, E u = 0, Var a = 2 m sa^4, Var u_i = sa^2 sw^2
    se = x.std(axis=0) / np.sqrt(count)
    assert abs(x[:, 0].mean() - m * sa**2) < 5 * se[0]
    assert abs(x[:, 0].var() / (2 * m * sa**4) - 1) < 0.15
    np.testing.assert_allclose(x[:, 1 : 1 + r].var(axis=0), sa**2 * sw**2, rtol=0.15)
    diag = [1 + r + k for k, (i, j) in enumerate(zip(*np.triu_indices(r), strict=True)) if i == j]
    np.testing.assert_allclose(x[:, diag].mean(axis=0), sw**2, rtol=0.05)
    # the two samplers agree in mean and covariance (two-sample z-scores)
    z = (x.mean(0) - y.mean(0)) / np.sqrt((x.var(0) + y.var(0)) / count)
    assert np.abs(z).max() < 4.5
    cx, cy = np.cov(x.T), np.cov(y.T)
    assert np.abs(cx - cy).max() < 0.12 * np.abs(cx).max()


def test_wishart_small_m_fallback_and_huge_m():
    st = init_mod.sample_statistics(2, 5, 1.0, 1.0, 0)  # m < r + 1: materialised, rank <= 2
    assert np.linalg.matrix_rank(st.G) <= 2
    big = init_mod.sample_statistics(10**12, 5, 0.01, 0.01, 0)
    assert abs(big.a / (10**12 * 1e-4) - 1) < 1e-4
    np.testing.assert_allclose(big.G, 1e-4 * np.eye(5), atol=1e-9)


def test_statistics_from_parameters_definition():
    rng = np.random.default_rng(1)
    A, W = rng.standard_normal(20), rng.standard_normal((20, 4))
    U = np.linalg.qr(rng.standard_normal((4, 3)))[0]
    st = init_mod.statistics_from_parameters(A, W, U)
    assert st.a == pytest.approx(A @ A)
    np.testing.assert_allclose(st.u, U.T @ W.T @ A / np.sqrt(20))
    np.testing.assert_allclose(st.G, U.T @ W.T @ W @ U / 20)


@pytest.mark.parametrize("frac", [1.0, 0.6, 0.0])
def test_synthetic_data_has_requested_spectrum(frac):
    ds = synthetic(n=40, rank=4, lambda_max=100.0, lambda_min=1.0, label_fraction=frac, d=7,
                   seed=3)
    ev = np.linalg.eigvalsh(ds.X.T @ ds.X)[::-1][:4]
    np.testing.assert_allclose(ev, np.geomspace(100, 1, 4), rtol=1e-10)
    assert set(np.unique(ds.Y)) <= {-1.0, 1.0}
    back = from_arrays(ds.X, ds.Y)
    np.testing.assert_allclose(np.abs(back.z), np.sqrt(frac * 40 / 4), atol=1e-9)
    assert back.y_perp2 == pytest.approx(40 * (1 - frac), abs=1e-8)
    assert ds.y_perp2 == pytest.approx(40 * (1 - frac), abs=1e-8)


def test_same_seed_same_init_across_engines():
    """With the default sampler, reduced and full start from the same draw for the same seed."""
    a = eosdyn.simulate(steps=1, engine="reduced", m=64)
    b = eosdyn.simulate(steps=1, engine="full", m=64)
    np.testing.assert_allclose(a["init_G"].values, b["init_G"].values, rtol=1e-13)
    np.testing.assert_allclose(a["init_u"].values, b["init_u"].values, rtol=1e-12)
    c = eosdyn.simulate(steps=1, engine="reduced", m=64, seed=1)
    assert not np.allclose(a["init_u"].values, c["init_u"].values)


def test_wishart_sampler_runs_at_huge_width():
    ds = eosdyn.simulate(m=10**9, steps=200, init_sampler="wishart")
    assert ds.attrs["status"] == "max_steps"
    assert np.all(np.isfinite(ds["sharpness"].values))


@pytest.mark.parametrize("n", [1, 2, 4])
def test_synthetic_square_case_rank_equals_n(n):
    ds = synthetic(n=n, rank=n, lambda_max=10.0, lambda_min=1.0, seed=1)
    back = from_arrays(ds.X, ds.Y)
    np.testing.assert_allclose(np.abs(back.z), 1.0, atol=1e-12)
    assert back.y_perp2 < 1e-20
    with pytest.raises(eosdyn.ParameterError, match="label_fraction"):
        synthetic(n=n, rank=n, lambda_max=10.0, lambda_min=1.0, label_fraction=0.5)


@pytest.mark.parametrize("kw", [dict(n=60, rank=60), dict(n=50, rank=7, d=20), dict(n=30, rank=5, d=40)])
def test_synthetic_embedding_is_drawn_on_first_use(kw):
    """U (and X = U S V^T) are drawn lazily from the generator's saved state: the same bits in
    any order of access, after pickling, and the thin SVD of X is (U, s, V)."""
    import pickle

    a, b = synthetic(seed=4, **kw), synthetic(seed=4, **kw)
    assert a._U is None and a._X is None          # nothing drawn yet
    c = pickle.loads(pickle.dumps(b))
    X = a.X                                        # X first (draws U), U first, after pickling
    np.testing.assert_array_equal(b.U, a.U)
    np.testing.assert_array_equal(c.X, X)
    np.testing.assert_array_equal(X, (a.U * a.s) @ a.V.T)
    np.testing.assert_allclose(a.U.T @ a.U, np.eye(a.rank), atol=1e-13)
    assert a.d == X.shape[0] == kw.get("d", kw["rank"]) and a.n == X.shape[1] == kw["n"]
    assert not np.array_equal(synthetic(seed=5, **kw).U, a.U)
