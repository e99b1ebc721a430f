"""Optimizers beyond GD: exact reduced maps, the full engine, batch/preconditioned sharpness, edges."""

import numpy as np
import pytest
import scipy.linalg
from conftest import generic_problem
from twins import batch_hessian, batch_indices, diagnostics, epoch_permutation, gradient, sample_subset, train

import eosdyn
from eosdyn.errors import ParameterError
from eosdyn.kernels import sgd_numba as S
from eosdyn.optim import edge


@pytest.fixture(scope="module")
def problem():
    """A small generic problem (n > d) with labels partly outside the row space of X."""
    return generic_problem(11)


# ------------------------------------------------------------------------- the batch sequence

def test_batch_sequence_matches_python_twin_and_partitions_each_epoch():
    n, b, seed = 13, 4, 5
    perm = np.zeros(n, dtype=np.int64)
    for e in range(4):
        S.epoch_permutation(seed, e, perm)
        assert perm.tolist() == epoch_permutation(seed, e, n)
        assert sorted(perm.tolist()) == list(range(n))
    epoch = np.array([-1], dtype=np.int64)
    seen = []
    for t in range(9):   # 3 batches per epoch (13 // 4), the last 13 mod 4 = 1 sample skipped
        start = S.batch_start(t, seed, b, perm, epoch)
        got = perm[start:start + b]
        np.testing.assert_array_equal(got, batch_indices(t, seed, n, b))
        seen.append(got)
    first_epoch = np.concatenate(seen[:3])
    assert len(set(first_epoch.tolist())) == 12   # without replacement within an epoch
    assert len(set(np.concatenate(seen[3:6]).tolist())) == 12
    work = np.zeros(n, dtype=np.int64)
    start = S.random_subset(seed, 7, 3, b, work)
    np.testing.assert_array_equal(work[start:], sample_subset(seed, 7, 3, n, b))


def test_epoch_permutations_are_uniform():
    """Each position of a 4-permutation is uniform over 2000 epochs (chi-square, loose bound)."""
    n, E = 4, 2000
    perm = np.zeros(n, dtype=np.int64)
    counts = np.zeros((n, n))
    for e in range(E):
        S.epoch_permutation(1, e, perm)
        counts[np.arange(n), perm] += 1
    chi2 = ((counts - E / n) ** 2 / (E / n)).sum()
    assert chi2 < 60   # 9 degrees of freedom per row, 16 cells: mean ~ 12


# --------------------------------------------------------------------- engines vs numpy twins

CASES = [
    dict(optimizer="momentum", momentum=0.9),
    dict(optimizer="nesterov", momentum=0.8),
    dict(optimizer="gd", batch_size=5, batch_seed=3),
    dict(optimizer="momentum", momentum=0.5, batch_size=4),
    dict(optimizer="nesterov", momentum=0.9, batch_size=6, batch_seed=1),
]


def _twin_kwargs(case):
    return {k: v for k, v in case.items() if k != "optimizer"} | {"optimizer": case["optimizer"]}


@pytest.mark.parametrize("engine", ["reduced", "full"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(f"{v}" for v in c.values()))
def test_momentum_and_sgd_engines_match_numpy_twin(problem, engine, case):
    p = problem
    eta, steps = 0.3 / p["lam"], 50
    ds = eosdyn.simulate(X=p["X"], Y=p["Y"], A=p["A"], W=p["W"], eta=eta, steps=steps, engine=engine,
                         record_every=1, loss_tol=0.0, **case)
    traj = train(p["A"], p["W"], p["X"], p["Y"], eta, steps, **_twin_kwargs(case))
    for t in range(0, steps + 1, 7):
        ref = diagnostics(*traj[t], p["X"], p["Y"], eta)
        for name in ("loss", "sharpness", "lambda2", "a_norm2", "DtF"):
            got = float(ds[name].sel(step=t))
            assert abs(got - ref[name]) <= 1e-10 * max(abs(ref[name]), ref["loss"]), (t, name, got, ref[name])
    assert np.all(np.isnan(ds["sharpness_Mstar"].values))   # GD's M* is not defined here


@pytest.mark.parametrize("case", [dict(optimizer="adam"), dict(optimizer="rmsprop", beta2=0.99),
                                  dict(optimizer="adam", bias_correction=False, adam_eps=1e-3),
                                  dict(optimizer="adam", beta1=0.5, batch_size=5)],
                         ids=["adam", "rmsprop", "adam-nobias", "adam-batch"])
def test_adaptive_full_engine_matches_numpy_twin(problem, case):
    p = problem
    eta, steps = 0.01, 40
    ds = eosdyn.simulate(X=p["X"], Y=p["Y"], A=p["A"], W=p["W"], eta=eta, steps=steps, engine="full",
                         record_every=1, loss_tol=0.0, **case)
    traj = train(p["A"], p["W"], p["X"], p["Y"], eta, steps, **_twin_kwargs(case))
    for t in range(0, steps + 1, 5):
        ref = diagnostics(*traj[t], p["X"], p["Y"], eta)
        for name in ("loss", "sharpness", "a_norm2"):
            got = float(ds[name].sel(step=t))
            assert abs(got - ref[name]) <= 1e-10 * abs(ref[name]), (t, name, got, ref[name])
    assert np.all(np.isfinite(ds["preconditioned_sharpness"].values))


def test_reduced_momentum_with_beta_zero_is_gd(problem):
    """beta = 0 heavy ball is GD: the new map against the reduced GD kernel, term by term."""
    p = problem
    kw = dict(X=p["X"], Y=p["Y"], A=p["A"], W=p["W"], eta=0.5 / p["lam"], steps=200, loss_tol=0.0)
    a = eosdyn.simulate(optimizer="momentum", momentum=0.0, **kw)
    b = eosdyn.simulate(**kw)
    for name in ("loss", "sharpness", "a_norm2"):
        np.testing.assert_allclose(a[name].values, b[name].values, rtol=1e-13)


@pytest.mark.parametrize("engine", ["reduced", "full"])
def test_velocity_norm_matches_twin(problem, engine):
    p = problem
    eta, steps = 0.3 / p["lam"], 20
    ds = eosdyn.simulate(X=p["X"], Y=p["Y"], A=p["A"], W=p["W"], eta=eta, steps=steps, optimizer="momentum",
                         loss_tol=0.0, engine=engine)
    traj = train(p["A"], p["W"], p["X"], p["Y"], eta, steps, optimizer="momentum")
    for t in (1, 5, 20):
        (A0, W0), (A1, W1) = traj[t - 1], traj[t]
        ref = np.sum((A1 - A0) ** 2) + np.sum((W1 - W0) ** 2)
        assert float(ds["velocity_norm2"].sel(step=t)) == pytest.approx(ref, rel=1e-10)


# ------------------------------------------------------------------------------ batch sharpness

def test_directional_curvature_matches_dense_batch_hessian(problem):
    p = problem
    X, Y, A, W, m = p["X"], p["Y"], p["A"], p["W"], p["m"]
    U, s, Vt = np.linalg.svd(X, full_matrices=False)
    # V C-contiguous like the engines' copy: a Fortran-ordered V would compile a specialisation
    # of the kernel (and of batch_gradient) that only this test uses
    V, z = np.ascontiguousarray(Vt.T), Vt @ Y
    yperp = Y - V @ z
    WU = W @ U
    a, u, G = A @ A, WU.T @ A / np.sqrt(m), WU.T @ WU / m
    delta = s * u - z
    for idx in (np.array([0, 3, 7, 8, 11]), np.arange(12), np.array([5])):
        got = S.directional_curvature(a, u, G, s, V, yperp, float(m), delta, idx.astype(np.int64), 0, idx.size,
                                      np.zeros(4), np.zeros(4))
        gA, gW = gradient(A, W, X, Y, idx)
        g = np.concatenate([gA, gW.ravel()])
        H = batch_hessian(A, W, X, Y, idx)
        assert got == pytest.approx(g @ H @ g / (g @ g), rel=1e-11)


def test_batch_sharpness_is_the_mean_over_sampled_subsets(problem):
    p = problem
    X, Y, A, W, m = p["X"], p["Y"], p["A"], p["W"], p["m"]
    U, s, Vt = np.linalg.svd(X, full_matrices=False)
    V, z = np.ascontiguousarray(Vt.T), Vt @ Y
    WU = W @ U
    a, u, G = A @ A, WU.T @ A / np.sqrt(m), WU.T @ WU / m
    b, K, t, seed = 4, 16, 9, 2
    got = S.batch_sharpness(a, u, G, s, z, V, Y - V @ z, float(m), seed, t, K, b, np.zeros(12, np.int64),
                            np.zeros(4), np.zeros(4), np.zeros(4))
    vals = []
    for k in range(K):
        idx = sample_subset(seed, t, k, 12, b)
        gA, gW = gradient(A, W, X, Y, idx)
        g = np.concatenate([gA, gW.ravel()])
        vals.append(g @ batch_hessian(A, W, X, Y, idx) @ g / (g @ g))
    assert got == pytest.approx(np.mean(vals), rel=1e-11)


def _curvature(A, W, X, Y, idx):
    gA, gW = gradient(A, W, X, Y, idx)
    g = np.concatenate([gA, gW.ravel()])
    return g @ batch_hessian(A, W, X, Y, idx) @ g / (g @ g)


@pytest.mark.parametrize("engine", ["reduced", "full"])
def test_recorded_batch_columns_match_twin(problem, engine):
    """The recorded batch sharpness (mean over the sampled subsets) and the curvature of the batch
    each step used, at the parameters of the numpy training run, from dense batch Hessians."""
    p = problem
    X, Y = p["X"], p["Y"]
    eta, steps, b, seed, K = 0.3 / p["lam"], 4, 5, 3, 3
    ds = eosdyn.simulate(X=X, Y=Y, A=p["A"], W=p["W"], eta=eta, steps=steps, optimizer="momentum", momentum=0.5,
                         batch_size=b, batch_seed=seed, batch_sharpness_samples=K, engine=engine, record_every=1,
                         loss_tol=0.0)
    traj = train(p["A"], p["W"], X, Y, eta, steps, optimizer="momentum", momentum=0.5, batch_size=b,
                 batch_seed=seed)
    n = X.shape[1]
    for t in range(steps + 1):
        A, W = traj[t]
        mean = np.mean([_curvature(A, W, X, Y, sample_subset(seed, t, k, n, b)) for k in range(K)])
        assert float(ds["batch_sharpness"].sel(step=t)) == pytest.approx(mean, rel=1e-10)
        used = _curvature(A, W, X, Y, batch_indices(t, seed, n, b))
        assert float(ds["batch_sharpness_step"].sel(step=t)) == pytest.approx(used, rel=1e-10)


# ------------------------------------------------------------------------ preconditioned sharpness

def test_preconditioned_sharpness_is_the_generalized_eigenvalue(problem):
    from eosdyn.optim.precond import preconditioned_sharpness, preconditioned_sharpness_lanczos

    p = problem
    X, Y, A, W = p["X"], p["Y"], p["A"], p["W"]
    U, s, _ = np.linalg.svd(X, full_matrices=False)
    rng = np.random.default_rng(0)
    XT = np.ascontiguousarray(X.T)
    H = batch_hessian(A, W, X, Y, np.arange(X.shape[1]))
    for spread in (3.0, 1e3):
        P = rng.uniform(0.1, spread, A.size + W.size)
        q = 1.0 / np.sqrt(P)
        ref = scipy.linalg.eigh(H, np.diag(P), eigvals_only=True)[-1]
        assert preconditioned_sharpness(A, W, XT, Y, U, s, q) == pytest.approx(ref, rel=1e-12)
        assert preconditioned_sharpness(A, W, XT, Y, U, s, q, warm=ref * 1.0001) == pytest.approx(ref, rel=1e-12)
        lam, v = preconditioned_sharpness_lanczos(A, W, XT, Y, q)            # Lanczos (150 params)
        assert lam == pytest.approx(ref, rel=1e-10)
        lam2, _ = preconditioned_sharpness_lanczos(A, W, XT, Y, q, v0=v)     # warm start
        assert lam2 == pytest.approx(ref, rel=1e-10)


def test_preconditioned_sharpness_when_the_residual_block_dominates():
    """Tiny Gauss-Newton part, large residual: the top eigenvalue is beta_max or just above it."""
    from eosdyn.optim.precond import preconditioned_sharpness

    rng = np.random.default_rng(5)
    d, n, m = 3, 9, 7
    X = rng.standard_normal((d, n))
    Y = 5 * rng.standard_normal(n)
    A, W = 1e-3 * rng.standard_normal(m), 1e-3 * rng.standard_normal((m, d))
    U, s, _ = np.linalg.svd(X, full_matrices=False)
    P = rng.uniform(0.5, 2.0, m * (d + 1))
    ref = scipy.linalg.eigh(batch_hessian(A, W, X, Y, np.arange(n)), np.diag(P), eigvals_only=True)[-1]
    got = preconditioned_sharpness(A, W, np.ascontiguousarray(X.T), Y, U, s, 1 / np.sqrt(P))
    assert got == pytest.approx(ref, rel=1e-12)


def test_adam_preconditioner_of_the_recorded_step(problem):
    """preconditioned_sharpness at step t uses nu_{t+1} (with g_t^2) and both bias corrections."""
    p = problem
    eta, steps = 0.01, 6
    X, Y = p["X"], p["Y"]
    ds = eosdyn.simulate(X=X, Y=Y, A=p["A"], W=p["W"], eta=eta, steps=steps, engine="full", optimizer="adam",
                         loss_tol=0.0)
    traj = train(p["A"], p["W"], X, Y, eta, steps, optimizer="adam")
    sA, sW = np.zeros_like(p["A"]), np.zeros_like(p["W"])
    for t in range(steps):
        A, W = traj[t]
        gA, gW = gradient(A, W, X, Y, np.arange(X.shape[1]))
        sA, sW = 0.999 * sA + 0.001 * gA**2, 0.999 * sW + 0.001 * gW**2
        k = t + 1
        P = (1 - 0.9**k) * (np.sqrt(np.concatenate([sA, sW.ravel()]) / (1 - 0.999**k)) + 1e-8)
        H = batch_hessian(A, W, X, Y, np.arange(X.shape[1]))
        ref = scipy.linalg.eigh(H, np.diag(P), eigvals_only=True)[-1]
        assert float(ds["preconditioned_sharpness"].sel(step=t)) == pytest.approx(ref, rel=1e-9)
    assert ds.attrs["edge"] == pytest.approx(38 / eta)
    ratio = ds["edge_ratio"].values
    np.testing.assert_allclose(ratio, ds["preconditioned_sharpness"].values * eta / 38, rtol=1e-12)


# ------------------------------------------------------------------- stability thresholds

@pytest.mark.parametrize("optimizer,beta", [("gd", None), ("momentum", 0.9), ("momentum", 0.3),
                                            ("nesterov", 0.9), ("nesterov", 0.5)])
def test_edge_is_the_linear_stability_threshold_of_the_quadratic(optimizer, beta):
    """Spectral radius of the one-mode iteration on curvature c crosses 1 at c = edge (closed form)."""
    eta = 0.1

    def radius(c):
        if optimizer == "gd":
            return abs(1 - eta * c)
        if optimizer == "momentum":
            coeffs = [1, -(1 + beta - eta * c), beta]
        else:
            coeffs = [1, -(1 + beta) * (1 - eta * c), beta * (1 - eta * c)]
        return max(abs(np.roots(coeffs)))

    e = edge(optimizer, eta, beta, None)
    assert radius(e * (1 - 1e-6)) < 1 < radius(e * (1 + 1e-6))


def test_adam_edge_is_frozen_ema_momentum_threshold():
    """EMA momentum with frozen P: m' = b1 m + (1 - b1) c x, x' = x - eta m' (c an eigenvalue of P^-1 H)."""
    eta, b1 = 0.01, 0.9

    def radius(c):
        T = np.array([[b1, (1 - b1) * c], [-eta * b1, 1 - eta * (1 - b1) * c]])
        return max(abs(np.linalg.eigvals(T)))

    e = edge("adam", eta, None, b1)
    assert e == pytest.approx(38 / eta)
    assert radius(e * (1 - 1e-6)) < 1 < radius(e * (1 + 1e-6))
    assert edge("rmsprop", eta, None, None) == 2 / eta


def _minimum():
    """An interpolating minimum (F = Y exactly up to rounding) of a small problem."""
    rng = np.random.default_rng(4)
    d, n, m = 3, 10, 8
    X = rng.standard_normal((d, n))
    wstar = rng.standard_normal(d)
    Y = X.T @ wstar
    W = rng.standard_normal((m, d))
    A = np.sqrt(m) * W @ np.linalg.solve(W.T @ W, wstar)
    return X, Y, A, W, rng


@pytest.mark.parametrize("engine", ["reduced", "full"])
@pytest.mark.parametrize("optimizer,beta", [("gd", None), ("momentum", 0.9), ("nesterov", 0.9)])
def test_threshold_at_a_minimum_of_the_network(engine, optimizer, beta):
    """Near an interpolating minimum a perturbation decays for eta 3% below the optimizer's
    threshold eta_c = edge * eta / Lambda and grows 3% above it (Lambda = lambda_max of H there),
    while it is small (later the nonlinearity takes over: the run lands on a flatter minimum)."""
    X, Y, A, W, rng = _minimum()
    A = A + 1e-7 * rng.standard_normal(A.size)
    kw = dict(X=X, Y=Y, A=A, W=W, engine=engine, loss_tol=0.0, steps=400, record_every=1)
    if optimizer != "gd":
        kw.update(optimizer=optimizer, momentum=beta)
    lam = float(eosdyn.simulate(eta=1.0, steps=1, X=X, Y=Y, A=A, W=W)["sharpness"][0])
    eta_c = edge(optimizer, 1.0, beta, None) / lam
    below = eosdyn.simulate(eta=0.97 * eta_c, **kw)["loss"].values
    above = eosdyn.simulate(eta=1.03 * eta_c, **kw)["loss"].values
    _stable_unstable(below, above)


def _stable_unstable(below, above):
    assert below[-1] < 1e-3 * below[0] and below[100:].max() < below[0]
    assert above.max() > 1e3 * above[0]


@pytest.mark.parametrize("optimizer,beta1", [("adam", 0.9), ("rmsprop", None)])
def test_frozen_preconditioner_threshold_at_a_minimum(optimizer, beta1):
    """Adam/RMSProp with a preconditioner frozen (beta2 -> 1, no bias correction, nu preset) near a
    minimum: stable 3% below eta_c = edge * eta / lambda_max(P^-1 H), unstable 3% above."""
    from eosdyn.api import build_problem
    from eosdyn.engines.full_optim import _Engine
    from eosdyn.model.params import make_params
    from eosdyn.optim.precond import preconditioned_sharpness

    X, Y, A, W, rng = _minimum()
    A = A + 1e-7 * rng.standard_normal(A.size)
    nu = rng.uniform(0.5, 2.0, A.size + W.size)
    P = np.sqrt(nu) + 1e-8
    U, s, _ = np.linalg.svd(X, full_matrices=False)
    lam = preconditioned_sharpness(A, W, np.ascontiguousarray(X.T), Y, U, s, 1 / np.sqrt(P))
    eta_c = edge(optimizer, 1.0, None, beta1) / lam
    losses = []
    for eta in (0.97 * eta_c, 1.03 * eta_c):
        kw = dict(optimizer=optimizer, beta2=1 - 1e-13, bias_correction=False, engine="full", loss_tol=0.0,
                  steps=400, record_every=1, eta=eta, m=A.size)
        if beta1 is not None:
            kw["beta1"] = beta1
        pb = build_problem(make_params(**kw), X=X, Y=Y, A=A, W=W)
        eng = _Engine(pb)
        eng.bA2[:] = nu[:A.size]
        eng.bW2[:] = nu[A.size:].reshape(W.shape)
        eng.advance(0, 401)
        losses.append(pb.rec[:pb.progress.rows, 0])
    _stable_unstable(*losses)


# ------------------------------------------------------------------------------- outputs, input

def test_edge_attrs_phases_and_ratio():
    ds = eosdyn.simulate(optimizer="nesterov", momentum=0.9, steps=300, eta=0.004)
    e = (2 + 1.8) / (2.8 * 0.004)
    assert ds.attrs["edge"] == pytest.approx(e) and ds.attrs["edge_sharpness"] == "sharpness"
    np.testing.assert_allclose(ds["edge_ratio"].values, ds["sharpness"].values / e, rtol=1e-14)
    above = ds["phase"].values[:-1] >= 2
    np.testing.assert_array_equal(above & (ds["phase"].values[:-1] <= 3), (ds["sharpness"].values > e)[:-1])
    gd = eosdyn.simulate(steps=50)
    assert gd.attrs["edge"] == pytest.approx(200.0)
    np.testing.assert_allclose(gd["edge_ratio"].values, gd["eta_sharpness"].values / 2, rtol=1e-14)


def test_sgd_run_records_batch_sharpness_and_phases_from_it():
    ds = eosdyn.simulate(batch_size=20, steps=200, eta=0.004, batch_sharpness_samples=8)
    assert ds.attrs["edge_sharpness"] == "batch_sharpness"
    bs = ds["batch_sharpness"].values
    assert np.all(np.isfinite(bs)) and np.all(np.isfinite(ds["batch_sharpness_step"].values))
    np.testing.assert_allclose(ds["edge_ratio"].values, bs * 0.004 / 2, rtol=1e-14)
    ph = ds["phase"].values
    assert np.all((ph[:-1] >= 2) & (ph[:-1] <= 3) == (bs[:-1] > 500)) and ph[-1] == 0


@pytest.mark.parametrize("kwargs,message", [
    (dict(optimizer="momentum", momentum=1.0), "momentum must be a finite number >= 0 and < 1, got 1.0"),
    (dict(optimizer="nesterov", momentum=-0.1), "momentum must be a finite number >= 0 and < 1"),
    (dict(optimizer="adam", engine="full", beta1=1.0), "beta1 must be a finite number >= 0 and < 1"),
    (dict(optimizer="adam", engine="full", beta2=1.5), "beta2 must be a finite number >= 0 and < 1"),
    (dict(optimizer="adam", engine="full", adam_eps=0.0), "adam_eps must be a finite number > 0"),
    (dict(batch_size=101), "batch_size must be an integer in [1, n = 100], got 101"),
    (dict(batch_size=0), "batch_size must be an integer >= 1, got 0"),
    (dict(optimizer="adam"), "engine must be full for optimizer 'adam'"),
    (dict(optimizer="rmsprop", engine="reduced"), "engine must be full for optimizer 'rmsprop'"),
    (dict(optimizer="momentum", engine="flow"), "engine must be reduced or full"),
    (dict(momentum=0.9), "momentum does not apply to optimizer 'gd'"),
    (dict(optimizer="sgd"), "optimizer must be one of gd, momentum, nesterov, rmsprop, adam"),
])
def test_bad_optimizer_input_is_one_line(kwargs, message):
    with pytest.raises(ParameterError) as exc:
        eosdyn.simulate(steps=5, **kwargs)
    assert message in str(exc.value) and "\n" not in str(exc.value)


def test_batch_size_above_real_data_n_is_one_line():
    X = np.random.default_rng(0).standard_normal((3, 7))
    with pytest.raises(ParameterError, match=r"batch_size must be an integer in \[1, n = 7\], got 8"):
        eosdyn.simulate(X=X, Y=np.ones(7), batch_size=8, steps=3, m=5)
