"""The diagnostics kernel against a numpy twin, small and large r."""

import numpy as np
import pytest
from twins import reduced_diagnostics

from eosdyn.kernels import layout as L
from eosdyn.kernels.diagnostics_numba import diagnose, workspace


def numpy_diagnostics(a, u, G, s, z, y_perp2, n, m, eta):
    """The registry's twin (twins.reduced_diagnostics), indexed by the record layout."""
    ref = reduced_diagnostics(a, u, G, s, z, y_perp2, n, m, eta)
    names = {L.LOSS: "loss", L.SHARP: "sharpness", L.LAM2: "lambda2", L.SHARP_MA: "sharpness_MA",
             L.SHARP_MW: "sharpness_MW", L.SHARP_MSTAR: "sharpness_Mstar", L.A_NORM2: "a_norm2",
             L.DTF: "DtF", L.DV1: "Dv1", L.R_NORM2: "R_norm2"}
    return {k: ref[v] for k, v in names.items()}


def random_state(rng, r, m):
    """Label projections ``z`` and a width-``m`` Gaussian state ``(a, u, G)`` of rank ``r``
    (``a = ||A||^2``, ``u = W U^T A / sqrt(m)``, ``G = U^T W^T W U / m`` from one draw)."""
    z = rng.standard_normal(r)
    Z = rng.standard_normal((m, r + 1))
    Sm = Z.T @ Z
    return z, Sm[0, 0], Sm[1:, 0] / np.sqrt(m), Sm[1:, 1:] / m


@pytest.mark.parametrize("r", [1, 2, 5, 17, 41, 120])
def test_diagnose_matches_numpy(r):
    rng = np.random.default_rng(r)
    n, m, eta = 3 * r + 5, 500, 0.01
    s = np.sort(rng.uniform(0.5, 30, r))[::-1].copy()  # C-contiguous: the signature the engines compile
    z, a, u, G = random_state(rng, r, m)
    mats, vecs, piv = workspace(r)
    out = np.zeros(L.NDIAG)
    diagnose(a, u, G, s, z, 0.3, float(n), float(m), eta, mats, vecs, piv, out)
    ref = numpy_diagnostics(a, u, G, s, z, 0.3, n, m, eta)
    scale = ref[L.SHARP]
    for col, value in ref.items():
        tol = 1e-12 * max(abs(value), scale if col != L.LOSS else abs(value), 1e-300)
        if col == L.DV1:
            assert abs(abs(out[col]) - abs(value)) <= 1e-10 * max(1.0, abs(value)), col
        else:
            assert abs(out[col] - value) <= tol * 10, (col, out[col], value)


def test_dv1_sign_is_continuous_along_a_path():
    """Carrying the workspace, v_1 never flips: D^T v_1 follows a smooth path smoothly."""
    rng = np.random.default_rng(0)
    r, n, m = 6, 40, 100
    s = np.sort(rng.uniform(1, 5, r))[::-1].copy()
    z = rng.standard_normal(r)
    G0 = np.eye(r)
    mats, vecs, piv = workspace(r)
    out = np.zeros(L.NDIAG)
    values = []
    for t in np.linspace(0, 1, 200):
        u = np.full(r, 0.1) + t * np.arange(r) * 0.05
        diagnose(0.5 * m, u, G0 + t * np.diag(np.arange(r) * 0.01), s, z, 0.0, float(n),
                 float(m), 0.01, mats, vecs, piv, out)
        values.append(out[L.DV1])
    jumps = np.abs(np.diff(values))
    assert jumps.max() < 0.1 * np.abs(values).max()


def test_nonfinite_state_gives_nan_not_a_hang():
    r = 4
    mats, vecs, piv = workspace(r)
    out = np.zeros(L.NDIAG)
    G = np.eye(r)
    G[1, 2] = np.nan
    diagnose(1.0, np.ones(r), G, np.ones(r), np.zeros(r), 0.0, 10.0, 10.0, 0.1, mats, vecs, piv,
             out)
    assert np.isnan(out[L.SHARP]) and out[L.A_NORM2] == 1.0


def test_block_path_along_a_path_matches_numpy_every_call():
    """r = 60 (block eigen path): warm calls along a moving state (quadratic extrapolation of the
    bases, Olsen-preconditioned expansion, the Weyl drift carried from the fused Gram pass) agree
    with numpy at every step, and the drift written equals ``||S (G - G_prev) S||_F``."""
    from eosdyn.kernels import diagnostics_numba as D

    rng = np.random.default_rng(7)
    r, n, m, eta = 60, 200, 4096, 0.01
    s = np.geomspace(30, 0.5, r)
    z, a, u, G = random_state(rng, r, m)
    mats, vecs, eig = workspace(r)
    out = np.zeros(L.NDIAG)
    step = rng.standard_normal((r, 2)) * 1e-4
    for t in range(12):
        Gt = np.ascontiguousarray(G + t * (step @ step.T) + 1e-3 * t ** 2 * np.outer(u, u) / m)
        at = a * (1 + 1e-3 * t)
        Gprev = mats[D.M_GPREV].copy()
        diagnose(at, u, Gt, s, z, 0.3, float(n), float(m), eta, mats, vecs, eig, out)
        ref = numpy_diagnostics(at, u, Gt, s, z, 0.3, n, m, eta)
        for col in (L.SHARP, L.LAM2, L.SHARP_MA, L.SHARP_MSTAR):
            assert abs(out[col] - ref[col]) <= 1e-11 * ref[L.SHARP], (t, col)
        assert abs(abs(out[L.DV1]) - abs(ref[L.DV1])) <= 1e-9 * max(1.0, abs(ref[L.DV1]))
        np.testing.assert_array_equal(mats[D.M_GPREV], Gt)
        if t:  # the fused pass's Frobenius norm, as the separate pass computed it
            f = np.linalg.norm(s[:, None] * (Gt - Gprev) * s[None, :])
            K, KA, KS = (np.empty((r, r)) for _ in range(3))
            c, am, cs, f_kernel = D._grams_drift(at, Gt, s, float(n), float(m), eta, 0.1, K, KA, KS, Gprev.copy())
            assert f_kernel == pytest.approx(f, rel=1e-12)
            K2, KA2, KS2 = (np.empty((r, r)) for _ in range(3))
            assert D._grams(at, Gt, s, float(n), float(m), eta, 0.1, K2, KA2, KS2) == (c, am, cs)
            for x, y in ((K, K2), (KA, KA2), (KS, KS2)):
                np.testing.assert_array_equal(x, y)  # the same bits as the separate Gram pass
