"""Sturm-sequence Newton kernels against numpy.linalg (the slow, obviously-correct twin)."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from eosdyn.kernels.sturm_numba import count_below, top_eigvec_shifted, top_two, tridiagonal


def _matrix(r, seed, kind):
    rng = np.random.default_rng(seed)
    M = rng.standard_normal((r, r))
    if kind == "psd":
        return M @ M.T * 10.0 ** rng.uniform(-6, 6)
    if kind == "graded":  # geometric spectrum like the default data's K
        Q = np.linalg.qr(M)[0]
        return (Q * np.geomspace(1e4, 1e-2, r)) @ Q.T
    return (M + M.T) * 10.0 ** rng.uniform(-6, 6)


@settings(deadline=None, max_examples=60)
@given(r=st.integers(1, 30), seed=st.integers(0, 10**6), kind=st.sampled_from(["psd", "sym", "graded"]),
       warm=st.sampled_from(["none", "exact", "off", "wrong"]))
def test_top_two_and_counts_match_eigvalsh(r, seed, kind, warm):
    B = _matrix(r, seed, kind)
    ev = np.linalg.eigvalsh(B)
    norm = np.abs(ev).max()
    work, d, e2 = np.zeros((r, r)), np.zeros(r), np.zeros(r)
    lo, hi = tridiagonal(B, work, d, e2)
    assert lo <= ev[0] + 1e-12 * norm and hi >= ev[-1] - 1e-12 * norm
    for x in np.concatenate([ev[:-1] + np.diff(ev) / 2, [ev[0] - 1, ev[-1] + 1]]):
        gap = np.abs(ev - x).min()
        if gap > 1e-8 * norm:
            assert count_below(d, e2, x, norm) == np.sum(ev < x)
    w1, w2 = {"none": (np.nan, np.nan), "exact": (ev[-1], ev[-2] if r > 1 else np.nan),
              "off": (ev[-1] * 1.01, (ev[-2] if r > 1 else 0) * 0.99),
              "wrong": (ev[0], ev[0])}[warm]
    lam1, lam2 = top_two(d, e2, lo, hi, w1, w2, True)
    tol = 1e-13 * r * norm + 1e-300
    # finite at every size: the diagnostics have no fallback when the iteration cap is hit
    assert np.isfinite(lam1) and abs(lam1 - ev[-1]) <= tol
    if r > 1:
        assert np.isfinite(lam2)
        if ev[-1] - ev[-2] > 1e-6 * norm:
            assert abs(lam2 - ev[-2]) <= tol


@settings(deadline=None, max_examples=40)
@given(r=st.integers(1, 25), seed=st.integers(0, 10**6))
def test_top_eigvec_shifted_matches_eigh(r, seed):
    B = _matrix(r, seed, "graded")
    ev, V = np.linalg.eigh(B)
    rng = np.random.default_rng(seed + 1)
    prev = V[:, -1] + 1e-3 * rng.standard_normal(r)
    prev /= np.linalg.norm(prev)
    out, work = np.zeros(r), np.zeros((r, r))
    ok = top_eigvec_shifted(B, ev[-1], np.abs(np.diag(B)).max(), prev, out, work)
    assert ok
    assert abs(out @ V[:, -1]) >= 1 - 1e-10
    assert out @ prev >= 0
    assert abs(np.linalg.norm(out) - 1) < 1e-14


@settings(deadline=None, max_examples=60)
@given(r=st.integers(1, 30), seed=st.integers(0, 10**6), kind=st.sampled_from(["psd", "sym", "graded"]),
       warm=st.sampled_from(["exact", "near", "other", "zero"]))
def test_max_eig_certified_is_right_or_declines(r, seed, kind, warm):
    """Certified: either the largest eigenvalue (to rounding) or nan — never another one."""
    from eosdyn.kernels.sturm_numba import max_eig_certified

    B = _matrix(r, seed, kind)
    ev, V = np.linalg.eigh(B)
    rng = np.random.default_rng(seed)
    v = {"exact": V[:, -1], "near": V[:, -1] + 1e-4 * rng.standard_normal(r),
         "other": V[:, 0], "zero": np.zeros(r)}[warm].copy()
    scale = np.abs(np.diag(B)).max() + np.abs(B).max()
    lam = max_eig_certified(B, v, scale, np.zeros((r, r)))
    if warm in ("exact", "near") and ev[-1] - (ev[-2] if r > 1 else -np.inf) > 1e-6 * scale:
        assert np.isfinite(lam)
    if np.isfinite(lam):
        assert abs(lam - ev[-1]) <= 1e-13 * r * scale
