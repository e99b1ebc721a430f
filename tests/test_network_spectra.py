"""Network engine: certified Lanczos against LAPACK; the record row's eigenvalues and the Hessian
sharpness against dense references (jax.jacrev Gram + eigvalsh, jax.hessian + eigvalsh)."""

import numpy as np
import pytest

from eosdyn.kernels import layout as L
from eosdyn.nets.lanczos import orient, top_eigs

jax = pytest.importorskip("jax")  # in the test extra; skipped only where JAX is not installed
jnp = jax.numpy

from eosdyn.nets import functions, models, spec  # noqa: E402
from eosdyn.nets.spectra import Diagnostics  # noqa: E402


def _sym(n, spectrum, seed):
    Q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((n, n)))
    return (Q * spectrum) @ Q.T


@pytest.mark.parametrize("case", ["spread", "cluster", "indefinite", "rank1"])
def test_lanczos_top_two_certified_against_lapack(case):
    n = 300
    rng = np.random.default_rng(1)
    spectra = {
        "spread": np.geomspace(1e3, 1e-3, n),
        "cluster": np.r_[10.0, 1.0 + 1e-4, 1.0, rng.uniform(0, 0.99, n - 3)],   # lambda2 ~ lambda3
        "indefinite": np.r_[5.0, 4.0, rng.uniform(-8, 3, n - 2)],                  # |lambda_min| > lambda_1
        "rank1": np.r_[7.0, np.zeros(n - 1)],
    }
    B = _sym(n, spectra[case], 2)
    ev = np.linalg.eigvalsh(B)[::-1]
    eig = top_eigs(lambda v: B @ v, rng.standard_normal(n), k=2)
    assert eig.certified
    np.testing.assert_allclose(eig.values, ev[:2], rtol=0, atol=1e-12 * abs(ev[0]))
    for i in range(2):  # the residual certificate is real
        r = B @ eig.vectors[i] - eig.values[i] * eig.vectors[i]
        assert np.linalg.norm(r) <= 1e-9 * abs(ev[0]) and abs(np.linalg.norm(r) / eig.residuals[i] - 1) < 1e-6


def test_lanczos_certificate_is_honest_on_a_near_double_eigenvalue():
    """lambda_2 - lambda_3 = 1e-9 lambda_1: the reported residual still bounds the error."""
    n = 200
    rng = np.random.default_rng(4)
    spectrum = np.r_[10.0, 1.0 + 1e-8, 1.0, rng.uniform(0, 0.9, n - 3)]
    B = _sym(n, spectrum, 5)
    eig = top_eigs(lambda v: B @ v, rng.standard_normal(n), k=2, maxdim=40, restarts=2)
    err = np.abs(eig.values - np.sort(spectrum)[::-1][:2])
    assert np.all(err <= eig.residuals * (1 + 1e-6) + 1e-14)


def test_lanczos_warm_start_and_exact_eigenvector_start():
    n = 120
    B = _sym(n, np.geomspace(50, 0.01, n), 3)
    w, V = np.linalg.eigh(B)
    cold = top_eigs(lambda v: B @ v, np.ones(n), k=2)
    warm = top_eigs(lambda v: B @ v, V[:, -1] + 1e-4 * V[:, -2] + 1e-6 * np.ones(n), k=2)
    exact = top_eigs(lambda v: B @ v, V[:, -1].copy(), k=2)   # invariant start: breakdown handled
    for e in (cold, warm, exact):
        assert e.certified
        np.testing.assert_allclose(e.values, w[::-1][:2], rtol=1e-11)
    assert warm.products < cold.products


def test_orient_convention():
    v = np.array([0.6, -0.8])
    assert np.all(orient(v, np.array([-1.0, 0.0])) == -v)
    assert np.all(orient(v, np.array([0.0, 0.0])) == -v)   # largest-modulus entry made positive


def _dense_reference(model, params, x, Y, hessian="dense"):
    """Top-2 of M = (2/n) J J^T (J by jax.jacrev, dense), lambda_max of M_A, M_W, and lambda_max
    of the Hessian: jax.hessian + eigvalsh, or for large p (resnet18) ARPACK (scipy eigsh) on
    reverse-over-reverse Hessian-vector products (another AD mode and another eigensolver than
    eosdyn's forward-over-reverse Lanczos). The AD transforms run under ``jax.jit``: the same
    derivatives compiled by XLA once instead of dispatched op by op (3-8x faster here; the results
    agree with the op-by-op ones to ~1e-17)."""
    from scipy.sparse.linalg import LinearOperator, eigsh

    flat, unravel = functions.ravel(params)
    F = lambda th: model.apply(unravel(th), x)  # noqa: E731
    J = np.asarray(jax.jit(jax.jacrev(F))(flat))
    n = J.shape[0]
    M = 2.0 / n * J @ J.T
    na = params["A"].size
    # columns of A in the flat vector: ravel_pytree orders dict keys sorted, "A" first
    MA = 2.0 / n * J[:, :na] @ J[:, :na].T
    ev = np.linalg.eigvalsh(M)[::-1]
    loss = lambda th: jnp.sum((F(th) - Y) ** 2) / n  # noqa: E731
    if hessian == "dense":
        hmax = np.linalg.eigvalsh(np.asarray(jax.jit(jax.hessian(loss))(flat)))[-1]
    else:
        g = jax.grad(loss)
        hv = jax.jit(jax.grad(lambda th, v: jnp.vdot(g(th), v)), static_argnums=())
        op = LinearOperator((flat.size,) * 2, matvec=lambda v: np.asarray(hv(flat, jnp.asarray(np.ravel(v)))),
                            dtype=float)
        hmax = eigsh(op, k=1, which="LA", tol=0, v0=np.ones(flat.size))[0][0]
    return ev, np.linalg.eigvalsh(MA)[-1], np.linalg.eigvalsh(M - MA)[-1], hmax


CASES = [  # (model, input shape, m, n, method): every kind, both eigen paths
    ("mlp:tanh:2", (6,), 5, 9, "gram"),
    ("mlp:relu:2", (6,), 5, 230, "gram"),          # n > 200: certified Lanczos on the n x n Gram
    ("mlp:elu:1", (6,), 4, 230, "operator"),       # n > 200: Lanczos on matrix-free products
    ("mlp:softplus:2", (6,), 4, 9, "operator"),     # small n: Lanczos on all of R^n
    ("cnn:tanh:2", (6, 6, 2), 3, 7, "jacobian"),   # small models: per-sample gradients
    ("resnet18", (4, 4, 1), 8, 5, "jacobian"),
]


@pytest.mark.parametrize("text, shape, m, n, method", CASES)
def test_row_and_hessian_match_dense_references(text, shape, m, n, method):
    rng = np.random.default_rng(7)
    model = models.build(spec.parse(text), shape, m)
    w = models.init_params(model, 0.9, 0.9, rng)
    x, Y = rng.standard_normal((n, *shape)), rng.standard_normal(n)
    with jax.enable_x64(True):
        params = {k: jnp.asarray(v) for k, v in w.items()}
        fns = functions.make(model)
        diag = Diagnostics(model, fns, jnp.asarray(x), jnp.asarray(Y), np.ones(n) / np.sqrt(n), 0.1,
                           method=method)
        row = diag.row(params)
        h = diag.hessian(params)
        ev, ma, mw, hmax = _dense_reference(model, params, jnp.asarray(x), Y,
                                            "eigsh" if text == "resnet18" else "dense")
    assert diag.method == method and diag.uncertified == 0
    scale = ev[0]
    for got, want in [(row[L.SHARP], ev[0]), (row[L.LAM2], ev[1]), (row[L.SHARP_MA], ma), (row[L.SHARP_MW], mw),
                      (h, hmax)]:
        assert abs(got - want) <= 1e-9 * scale, (text, got, want)
    assert np.isnan(row[L.SHARP_MSTAR])          # M* exists for the two-layer model only
    D2 = row[L.LOSS] * n
    assert abs(row[L.R_NORM2] - (D2 - row[L.DV1] ** 2)) <= 1e-12 * D2
