"""The central flow's reduced formulas against brute force in parameter space, and the SDCP.

The reference is plain numpy at small width: the dense loss Hessian of ``(A, W)`` written out
entry by entry (``twins.dense_hessian``), its exact top eigenpair (LAPACK), ``nabla S`` by central finite differences of
that exact sharpness, and the statistics ``(a, u, G)`` of a parameter-space velocity by finite
differences of their definitions. Nothing from eosdyn is used to build it.
"""

import numpy as np
import pytest
from twins import dense_hessian

from eosdyn.engines import sdcp
from eosdyn.kernels import third_numba as T


def problem(seed=3, d=3, n=6, m=7, scale=0.7, singular=False):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((d, n))
    Y = np.sign(rng.standard_normal(n))
    A = scale * rng.standard_normal(m)
    W = scale * rng.standard_normal((m, d))
    if singular:   # A in the span of W's columns: C = P^T P / m is singular (rank d of d + 1)
        A = W @ rng.standard_normal(d)
    return X, Y, A, W


def sharpness(theta, m, d, X, Y):
    return np.linalg.eigvalsh(dense_hessian(theta[:m], theta[m:].reshape(m, d), X, Y))[-1]


def flat_state(theta, m, d, U):
    A, W = theta[:m], theta[m:].reshape(m, d)
    WU = W @ U
    return np.concatenate([[A @ A], WU.T @ A / np.sqrt(m), (WU.T @ WU / m).ravel()])


def reduced(X, Y, A, W):
    U, s, Vt = np.linalg.svd(X, full_matrices=False)
    m, d = W.shape
    theta = np.concatenate([A, W.ravel()])
    return U, s, Vt @ Y, theta, flat_state(theta, m, d, U)


def basis(R, A, W, U):
    """Orthonormal ``O`` (m x (r+1)) with ``P / sqrt(m) = O R``, completed by unit vectors
    orthogonal to ``col P`` where ``R`` is singular (the reduced coordinates' meaning)."""
    m = A.size
    Q = np.column_stack([A, W @ U]) / np.sqrt(m)
    Ur, sv, Vrt = np.linalg.svd(R)
    cols = []
    keep = sv > 1e-12 * sv[0]
    Uq, sq, _ = np.linalg.svd(Q)
    extra = Uq[:, int(np.sum(sq > 1e-12 * sq[0])):]      # orthonormal, orthogonal to col P
    e = 0
    for i in range(sv.size):
        if keep[i]:
            cols.append(Q @ Vrt[i] / sv[i])
        else:
            cols.append(extra[:, e])
            e += 1
    return np.column_stack(cols) @ Ur.T


def to_params(RK, R, A, W, U):
    """The parameter-space vector ``(P K[:, 0], P K[:, 1:] U^T)`` of ``R K``: ``P K = sqrt(m) O R K``."""
    O = basis(R, A, W, U) * np.sqrt(A.size)
    return np.concatenate([O @ RK[:, 0], (O @ RK[:, 1:] @ U.T).ravel()])


def fd_grad(f, theta, h=1e-5):
    return np.array([(f(theta + h * e) - f(theta - h * e)) / (2 * h) for e in np.eye(theta.size)])


def fd_rate(theta, vel, m, d, U, h=1e-4):
    return (flat_state(theta + h * vel, m, d, U) - flat_state(theta - h * vel, m, d, U)) / (2 * h)


@pytest.mark.parametrize("singular", [False, True])
def test_sharpness_gradient_and_rate_against_dense_parameter_space(singular):
    X, Y, A, W = problem(singular=singular)
    U, s, z, theta, y = reduced(X, Y, A, W)
    m, d = W.shape
    n = X.shape[1]
    eta, kappa = 0.01, 0.0
    ws = T.workspace(d)
    info, rate = np.zeros(T.NINFO), np.zeros(y.size)
    assert T.edge_terms(y, s, z, float(n), float(m), eta, kappa, 1, True, rate, info, *T.args(ws))
    if singular:   # the symmetric square root, not Cholesky: a genuinely singular factor
        assert np.linalg.svd(ws["R"], compute_uv=False)[-1] < 1e-6 * np.abs(ws["R"]).max()
    H = dense_hessian(A, W, X, Y)
    lam, V = np.linalg.eigh(H)
    # S, nu_H and the top eigenvector
    assert info[T.I_S] == pytest.approx(lam[-1], rel=1e-12)
    nu = 2.0 / n * np.linalg.norm(X @ (X.T @ W.T @ A / np.sqrt(m) - Y)) / np.sqrt(m)
    assert info[T.I_NU] == pytest.approx(nu, rel=1e-12)
    q = to_params(np.column_stack([ws["q"][:d + 1], ws["q"][d + 1:].reshape(d + 1, d)]) / np.sqrt(m),
                  ws["R"], A, W, U)
    assert abs(q @ V[:, -1]) == pytest.approx(1.0, abs=1e-10)
    # grad S = nabla^3 L[q, q] against finite differences of the exact sharpness
    gS = fd_grad(lambda t: sharpness(t, m, d, X, Y), theta)
    gS_red = to_params(ws["KS"], ws["R"], A, W, U)
    np.testing.assert_allclose(gS_red, gS, rtol=0, atol=1e-8 * np.abs(gS).max())
    # alpha, beta, <grad S, q>, and self-stabilization's beta_perp
    D = X.T @ W.T @ A / np.sqrt(m) - Y
    gL = np.concatenate([2 / (n * np.sqrt(m)) * W @ X @ D, (2 / (n * np.sqrt(m)) * np.outer(A, X @ D)).ravel()])
    u1 = V[:, -1]
    assert info[T.I_ALPHA] == pytest.approx(-gL @ gS, rel=1e-7)
    assert info[T.I_BETA] == pytest.approx(gS @ gS, rel=1e-7)
    assert abs(info[T.I_GSQ]) == pytest.approx(abs(gS @ u1), rel=1e-7)
    beta_perp = np.sum((gS - (gS @ u1) * u1) ** 2)
    assert info[T.I_BETA] - info[T.I_GSQ] ** 2 == pytest.approx(beta_perp, rel=1e-7)
    # lambda_2 on T: an eigenvalue of the dense Hessian, below the top one
    assert info[T.I_LAMNEXT] < lam[-1] and np.abs(lam - info[T.I_LAMNEXT]).min() <= 1e-10 * lam[-1]
    # the central flow's rate (k = 1): sigma^2 = max(0, 2 <-grad L, grad S> / ||grad S||^2) at kappa = 0
    sig2_ref = max(0.0, -2 * (gL @ gS) / (gS @ gS))
    assert info[T.I_SIG2] == pytest.approx(sig2_ref, rel=1e-6, abs=1e-12)
    want = fd_rate(theta, -eta * (gL + 0.5 * sig2_ref * gS), m, d, U)
    outs, infos = np.zeros((y.size, 2)), np.zeros((2, T.NINFO))
    T.edge_rates(np.column_stack([y, y]), s, z, float(n), float(m), eta, kappa, 1, outs, infos, *T.args(ws))
    for c in range(2):
        np.testing.assert_allclose(outs[:, c], want, rtol=0, atol=1e-6 * np.abs(want).max())
    T.edge_infos(np.stack([y, y]), np.array([1, 0]), s, z, float(n), float(m), eta, kappa, infos, *T.args(ws))
    np.testing.assert_allclose(infos[:, T.I_S], lam[-1], rtol=1e-12)
    assert infos[0, T.I_SIG2] == pytest.approx(sig2_ref, rel=1e-6, abs=1e-12) and infos[1, T.I_SIG2] == 0
    # the state rate of theta' = -eta (grad L + sigma^2 grad S / 2) for a given sigma^2 > 0
    for sig2 in (0.0, 0.37):
        out = np.zeros(y.size)
        T.cluster_terms(y, s, z, float(n), float(m), 1, np.zeros((1, d + 1, d + 1)), np.zeros(1), *T.args(ws))
        Ks = ws["KS"][None].copy()
        T.cluster_rate(Ks, ws["KL"], ws["R"], float(m), eta, np.array([sig2]), ws["K"], out)
        vel = -eta * (gL + 0.5 * sig2 * gS)
        np.testing.assert_allclose(out, fd_rate(theta, vel, m, d, U), rtol=0, atol=1e-8 * np.abs(out).max())


def test_two_eigenvectors_mixed_third_derivatives_and_rate():
    X, Y, A, W = problem(seed=5)
    U, s, z, theta, y = reduced(X, Y, A, W)
    m, d = W.shape
    n = X.shape[1]
    ws = T.workspace(d)
    k = 2
    Ks = np.zeros((3, d + 1, d + 1))
    ok, _, _ = T.cluster_terms(y, s, z, float(n), float(m), k, Ks, np.zeros(k), *T.args(ws))
    assert ok
    ok, lam, V, nu = T.spectrum(y, s, z, float(n), float(m), *T.args(ws)[:7])
    qs = [to_params(np.column_stack([V[:d + 1, -1 - i], V[d + 1:, -1 - i].reshape(d + 1, d)]) / np.sqrt(m),
                    ws["R"], A, W, U) for i in range(k)]
    H = dense_hessian(A, W, X, Y)
    np.testing.assert_allclose(lam[-k:], np.linalg.eigvalsh(H)[-k:], rtol=1e-11)
    for i in range(k):
        np.testing.assert_allclose(H @ qs[i], lam[-1 - i] * qs[i], atol=1e-10 * lam[-1])

    def bil(t, a, b):
        return a @ dense_hessian(t[:m], t[m:].reshape(m, d), X, Y) @ b

    eta, Xm = 0.02, np.array([[0.3, 0.1], [0.1, 0.2]])
    vel = np.zeros_like(theta)
    D = X.T @ W.T @ A / np.sqrt(m) - Y
    vel -= eta * np.concatenate([2 / (n * np.sqrt(m)) * W @ X @ D,
                                 (2 / (n * np.sqrt(m)) * np.outer(A, X @ D)).ravel()])
    for idx, (i, j) in enumerate(sdcp.pairs(k)):
        g = fd_grad(lambda t, i=i, j=j: bil(t, qs[i], qs[j]), theta, h=1e-4)
        np.testing.assert_allclose(to_params(Ks[idx], ws["R"], A, W, U), g, rtol=0, atol=1e-8 * np.abs(g).max())
        vel -= eta * 0.5 * Xm[i, j] * g * (1 if i == j else 2)
    out = np.zeros(y.size)
    T.cluster_rate(Ks, ws["KL"], ws["R"], float(m), eta, np.array([0.3, 0.1, 0.2]), ws["K"], out)
    np.testing.assert_allclose(out, fd_rate(theta, vel, m, d, U), rtol=0, atol=1e-8 * np.abs(out).max())
    # the Gram matrix of the third-derivative terms and their inner products with grad L, in parameter space
    vecs = [to_params(Ks[idx], ws["R"], A, W, U) for idx in range(Ks.shape[0])]
    gL = to_params(ws["KL"], ws["R"], A, W, U)
    np.testing.assert_allclose(gL, np.concatenate([2 / (n * np.sqrt(m)) * W @ X @ D,
                                                   (2 / (n * np.sqrt(m)) * np.outer(A, X @ D)).ravel()]), rtol=1e-10)
    Bv, av = np.zeros((3, 3)), np.zeros(3)
    T.cluster_gram(Ks, ws["KL"], float(m), Bv, av)
    np.testing.assert_allclose(Bv, [[x @ v for v in vecs] for x in vecs], rtol=1e-10)
    np.testing.assert_allclose(av, [x @ gL for x in vecs], rtol=1e-10)


def test_relaxed_central_flow_keeps_the_exact_sharpness_stationary():
    """With kappa = 0 and sigma^2 > 0, dS/dt = 0 along the rate; checked with eosdyn.analysis.hessian's
    independent reduced sharpness formula (the compressed matrix) by finite differences."""
    from eosdyn.analysis.hessian import sharpness_reduced

    d, n, m = 4, 9, 300
    s = np.array([3.0, 2.0, 1.2, 0.5])
    ws = T.workspace(d)
    info, rate = np.zeros(T.NINFO), np.zeros(1 + d + d * d)
    eta = 2.0 / 50.0
    for seed in range(50):   # a random state where the gradient flow sharpens (sigma^2 > 0)
        rng = np.random.default_rng(seed)
        z = 3 * rng.standard_normal(d)
        Z = rng.standard_normal((m, d + 1)) * 0.8
        C = Z.T @ Z / m
        y = np.concatenate([[m * C[0, 0]], np.sqrt(m) * C[1:, 0], C[1:, 1:].ravel()])
        T.edge_terms(y, s, z, float(n), float(m), eta, 0.0, 1, False, rate, info, *T.args(ws))
        if info[T.I_SIG2] > 0:
            break
    assert info[T.I_SIG2] > 0

    def S(yy):
        return sharpness_reduced(yy[0], yy[1:1 + d], yy[1 + d:].reshape(d, d), s, z, n, m)

    h = 1e-3
    dS = (S(y + h * rate) - S(y - h * rate)) / (2 * h)
    T.edge_terms(y, s, z, float(n), float(m), eta, 0.0, 0, False, rate, info, *T.args(ws))
    dS_gf = (S(y + h * rate) - S(y - h * rate)) / (2 * h)
    assert dS_gf > 0
    assert abs(dS) < 1e-7 * dS_gf


@pytest.mark.parametrize("k", [1, 2, 3])
def test_sdcp_complementarity_on_random_instances(k):
    rng = np.random.default_rng(k)
    d = k * (k + 1) // 2
    w = np.array([1.0 if i == j else 2.0 for i, j in sdcp.pairs(k)])
    for _ in range(60 // k):
        Gm = rng.standard_normal((d + 2, d))
        Bv = Gm.T @ Gm
        A = rng.standard_normal((k, k))
        A = A + A.T
        X, res = sdcp.solve(A, Bv)
        Zu = Bv @ (w * np.array([X[i, j] for i, j in sdcp.pairs(k)])) + np.array([A[i, j] for i, j in sdcp.pairs(k)])
        Z = np.zeros((k, k))
        for v, (i, j) in zip(Zu, sdcp.pairs(k), strict=True):
            Z[i, j] = Z[j, i] = v
        scale = np.abs(A).max()
        assert np.linalg.eigvalsh(X)[0] >= -1e-12 * max(1.0, np.abs(X).max())
        assert np.linalg.eigvalsh(Z)[0] >= -1e-9 * scale
        assert abs(np.sum(X * Z)) <= 1e-9 * scale * max(1.0, np.abs(X).max())
        assert res < 1e-8
