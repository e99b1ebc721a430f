"""The diagnostics kernel against a numpy twin, small and large r."""

import numpy as np
import pytest

from eosdyn.kernels import layout as L
from eosdyn.kernels.diagnostics_numba import diagnose, workspace


def numpy_diagnostics(a, u, G, s, z, y_perp2, n, m, eta):
    """Slow twin: the spectral-coordinate formulas of the notes, with numpy.linalg."""
    S = np.diag(s)
    delta = s * u - z
    fd = (s * u) @ delta
    K = 2 / n * S @ (a / m * np.eye(s.size) + G) @ S
    KA = 2 / n * S @ G @ S
    KS = K - 4 * eta * fd / (n * n * m) * S @ S
    ev, V = np.linalg.eigh(K)
    q1 = V[:, -1]
    d2 = delta @ delta + y_perp2
    return {
        L.LOSS: d2 / n, L.SHARP: ev[-1], L.LAM2: ev[-2] if s.size > 1 else 0.0,
        L.SHARP_MA: np.linalg.eigvalsh(KA)[-1], L.SHARP_MW: 2 * a / (n * m) * s[0] ** 2,
        L.SHARP_MSTAR: np.linalg.eigvalsh(KS)[-1], L.A_NORM2: a, L.DTF: fd,
        L.DV1: delta @ q1, L.R_NORM2: d2 - (delta @ q1) ** 2,
    }


@pytest.mark.parametrize("r", [1, 2, 5, 17, 41, 120])
def test_diagnose_matches_numpy(r):
    rng = np.random.default_rng(r)
    n, m, eta = 3 * r + 5, 500, 0.01
    s = np.sort(rng.uniform(0.5, 30, r))[::-1]
    z = rng.standard_normal(r)
    Z = rng.standard_normal((m, r + 1))
    Sm = Z.T @ Z
    a, u, G = Sm[0, 0], Sm[1:, 0] / np.sqrt(m), Sm[1:, 1:] / m
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
    s = np.sort(rng.uniform(1, 5, r))[::-1]
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
