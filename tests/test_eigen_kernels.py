"""The one eigen contract (eosdyn.kernels.eigen_numba) against numpy.linalg, its slow twin."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eosdyn.kernels import eigen_numba as E


def _matrix(r, seed, kind, scale=1.0):
    rng = np.random.default_rng(seed)
    M = rng.standard_normal((r, r))
    Q = np.linalg.qr(M)[0]
    if kind == "psd":
        B = M @ M.T
    elif kind == "graded":  # geometric spectrum, like the default data's K
        B = (Q * np.geomspace(1e4, 1e-2, r)) @ Q.T
    elif kind == "repeated":  # the top eigenvalue three times
        ev = np.concatenate([[5.0] * min(3, r), np.linspace(-1, 1, max(r - 3, 0))])
        B = (Q * ev) @ Q.T
    elif kind == "clustered":  # a top cluster 1e-9 wide, then a gap
        ev = np.concatenate([1.0 + 1e-9 * np.arange(min(4, r)), np.linspace(0, 0.5, max(r - 4, 0))])
        B = (Q * ev) @ Q.T
    else:
        B = M + M.T
    B = (B + B.T) / 2
    return np.ascontiguousarray(B * scale)


def _check_pairs(B, w, k):
    ev, V = np.linalg.eigh(B)
    top = ev[::-1][:k]
    norm = max(np.abs(ev).max(), 1e-300)
    rnd = 1e-12 * norm  # numpy's own error and rounding in forming B
    assert np.all(np.isfinite(w.lam))
    assert np.all(w.lam <= top + rnd), (w.lam, top)
    assert np.all(top <= w.lam + w.err + rnd), (w.lam, w.err, top)
    assert np.all(np.abs(w.lam - top) <= 1e-11 * norm)
    for i in range(k):  # eigenvectors: unit, with the residual the kernel reports
        x = w.x[i]
        assert abs(np.linalg.norm(x) - 1) < 1e-12
        res = np.linalg.norm(B @ x - w.lam[i] * x)
        assert res <= max(2 * w.res[i], 1e-12 * norm) + 1e-12 * norm


@settings(deadline=None, max_examples=40)
@given(r=st.integers(1, 40), seed=st.integers(0, 10**6), k=st.integers(1, 3),
       kind=st.sampled_from(["psd", "sym", "graded", "repeated", "clustered"]),
       path=st.sampled_from(["auto", "dense", "block"]), scale=st.sampled_from([1.0, 1e-120, 1e120]))
def test_top_pairs_match_eigh_cold_and_warm(r, seed, k, kind, path, scale):
    B = _matrix(r, seed, kind, scale)
    dense = {"auto": None, "dense": True, "block": False}[path]
    k = min(k, r)
    w = E.work(r, k, dense=dense)
    status = E.top_pairs(B, w, np.inf)
    assert status in (E.CERTIFIED, E.DENSE)
    _check_pairs(B, w, k)
    # warm: a small perturbation, the drift bound given (Frobenius norm of the change)
    P = np.random.default_rng(seed + 1).standard_normal((r, r)) * 1e-6 * scale
    B2 = np.ascontiguousarray(B + (P + P.T) / 2)
    x_prev = w.x.copy()
    status = E.top_pairs(B2, w, np.linalg.norm(B2 - B))
    assert status in (E.CERTIFIED, E.DENSE)
    _check_pairs(B2, w, k)
    ev = np.linalg.eigvalsh(B2)[::-1]
    if r > k and ev[k - 1] - ev[k] > 1e-6 * np.abs(ev).max():
        assert w.info[E.I_GAP] > 0  # a separated top-k has a proven gap
        for i in range(k):  # and sign-continuous vectors
            if i == 0 or ev[i - 1] - ev[i] > 1e-6 * np.abs(ev).max():
                assert w.x[i] @ x_prev[i] > 0


@pytest.mark.parametrize("r", [5, 60])
def test_warm_sequence_stays_certified_and_cheap(r):
    """Along a slowly moving matrix the warm path certifies every call without a dense restart."""
    rng = np.random.default_rng(r)
    Q = np.linalg.qr(rng.standard_normal((r, r)))[0]
    ev = np.geomspace(10, 0.1, r)
    D = rng.standard_normal((r, r)) * 1e-3
    w = E.work(r, 2)
    prev = np.full((r, r), np.nan)
    for t in range(30):
        B = np.ascontiguousarray((Q * ev) @ Q.T + t * (D + D.T) / 2)
        status = E.top_pairs(B, w, E.frobenius_drift(B, prev))
        assert status == E.CERTIFIED
        _check_pairs(B, w, 2)
    assert w.info[E.I_DENSE] == 0
    if r > E.R_FULL:  # the inertia proof is carried by the Weyl drift, not redone every call
        assert w.info[E.I_PROOFS] < 10


@pytest.mark.parametrize("kind", ["sym", "graded", "repeated", "clustered", "linear"])
def test_dense_fallback_is_certified(kind):
    """The block path's last resort (LAPACK's eigenvectors finished by Jacobi, Weyl's bound) on
    the spectra that defeat a warm iteration, a linear one included (top gaps ~1e-2)."""
    r, k = 90, 2
    if kind == "linear":
        Q = np.linalg.qr(np.random.default_rng(3).standard_normal((r, r)))[0]
        B = np.ascontiguousarray((Q * np.linspace(-1.0, 1.0, r)) @ Q.T)
    else:
        B = _matrix(r, 11, kind)
    w = E.work(r, k, vectors="top")
    assert r > E.R_FULL and w.Q.shape[0] < r            # a block workspace
    scale = np.abs(B).max()
    assert E._dense_fallback(B, w, scale) == E.DENSE
    _check_pairs(B, w, k)
    assert np.all(w.err <= 1e-12 * scale)               # Jacobi's bound, near rounding
    ev = np.linalg.eigvalsh(B)[::-1]
    assert ev[k] <= w.info[E.I_BETA] + 1e-12 * scale and w.info[E.I_GAP] <= ev[k - 1] - ev[k] + 1e-12 * scale


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("r", [1, 4, 40])
def test_nonfinite_input_gives_nan_and_status(bad, r):
    B = _matrix(r, 0, "psd")
    B[r - 1, 0] = B[0, r - 1] = bad
    w = E.work(r, min(2, r))
    assert E.top_pairs(B, w, np.inf) == E.NONFINITE
    assert np.all(np.isnan(w.lam)) and np.all(np.isnan(w.x))
    if r > 1 or bad != -np.inf:  # (a 1 x 1 [[-inf]] is below every sigma, rightly)
        assert E.exceeds(B, 1e300, np.zeros((r, r)))  # NaN, inf "exceed" every sigma
    B = _matrix(r, 0, "psd")  # and the workspace recovers on the next finite matrix
    E.top_pairs(B, w, np.inf)
    _check_pairs(B, w, min(2, r))


def test_zero_and_one_by_one():
    w = E.work(3, 2)
    assert E.top_pairs(np.zeros((3, 3)), w, np.inf) == E.CERTIFIED
    assert np.all(w.lam == 0)
    w = E.work(1, 1)
    E.top_pairs(np.array([[-2.5]]), w, np.inf)
    assert w.lam[0] == -2.5 and abs(w.x[0, 0]) == 1


@settings(deadline=None, max_examples=60)
@given(r=st.integers(1, 30), seed=st.integers(0, 10**6), kind=st.sampled_from(["psd", "sym", "graded"]),
       where=st.floats(-3, 3))
def test_exceeds_is_the_inertia_of_sigma_minus_B(r, seed, kind, where):
    B = _matrix(r, seed, kind)
    ev = np.linalg.eigvalsh(B)
    sigma = ev[-1] + where * np.abs(ev).max() * 0.1
    if abs(sigma - ev[-1]) > 1e-8 * np.abs(ev).max():
        assert E.exceeds(B, sigma, np.zeros((r, r))) == (ev[-1] >= sigma)


@settings(deadline=None, max_examples=40)
@given(r=st.integers(1, 30), seed=st.integers(0, 10**6),
       kind=st.sampled_from(["psd", "sym", "graded", "repeated", "clustered"]),
       scale=st.sampled_from([1.0, 1e-250, 1e250]))
def test_sym_eigvals_matches_eigvalsh(r, seed, kind, scale):
    B = _matrix(r, seed, kind, scale)
    out, work, e = np.zeros(r), np.full((r, r), np.nan), np.full(r, np.nan)
    Bc = B.copy()
    E.sym_eigvals(B, out, work, e)
    ref = np.linalg.eigvalsh(B)
    assert np.array_equal(B, Bc)
    assert np.all(np.abs(out - ref) <= 1e-12 * r * np.abs(ref).max())


def test_all_pairs_is_a_full_eigendecomposition():
    B = _matrix(12, 3, "graded")
    vals, vecs = np.zeros(12), np.zeros((12, 12))
    off = E.all_pairs(B, vals, vecs, np.zeros(12))
    assert off <= 1e-12 * np.abs(vals).max()
    assert np.allclose(np.sort(vals), np.linalg.eigvalsh(B), rtol=0, atol=1e-11 * 1e4)
    assert np.allclose(vecs @ vecs.T, np.eye(12), atol=1e-13)
    assert np.allclose(vecs @ B @ vecs.T, np.diag(vals), atol=1e-10)


@settings(deadline=None, max_examples=30)
@given(r=st.integers(1, 40), seed=st.integers(0, 10**6), k=st.integers(1, 2),
       kind=st.sampled_from(["psd", "sym", "graded", "repeated"]))
def test_values_only_workspaces(r, seed, k, kind):
    """vectors=False: the eigenvalues with their bounds (dense direct for small r)."""
    B = _matrix(r, seed, kind)
    k = min(k, r)
    w = E.work(r, k, vectors=False)
    for _ in range(2):
        assert E.top_pairs(B, w, np.inf) in (E.CERTIFIED, E.DENSE)
        top = np.linalg.eigvalsh(B)[::-1][:k]
        norm = np.abs(top).max() + 1e-300
        assert np.all(np.abs(w.lam - top) <= w.err + 1e-12 * norm)
        assert np.all(np.abs(w.lam - top) <= 1e-11 * norm)


@pytest.mark.parametrize("r", [2, 3, 5, 9, 24])
@pytest.mark.parametrize("kind", ["psd", "graded", "sym"])
def test_top_two_and_top_value_along_a_path(r, kind):
    """The small-r fast paths (top_two: lambda_1, lambda_2, x_0; top_value: lambda_1) against
    numpy's eigh along a moving matrix, with their certificates and sign-continuous x_0."""
    B0 = _matrix(r, r, kind)
    rng = np.random.default_rng(r + 7)
    P = rng.standard_normal((r, r))
    P = (P + P.T) * 1e-3 * np.abs(B0).max()
    w2, w1 = E.work(r, 2, vectors="top"), E.work(r, 1, vectors=False)
    w2.x[0, 0] = w1.x[0, 0] = 1.0
    x_prev = None
    for t in range(40):
        B = np.ascontiguousarray(B0 + np.sin(0.3 * t) * P)
        ev, V = np.linalg.eigh(B)
        norm = np.abs(ev).max()
        assert E.top_two(B, w2) in (E.CERTIFIED, E.DENSE)
        assert E.top_value(B, w1) in (E.CERTIFIED, E.DENSE)
        for w, k in ((w2, 2), (w1, 1)):
            top = ev[::-1][:k]
            assert np.all(w.lam <= top + 1e-13 * norm), (w.lam, top)
            assert np.all(top <= w.lam + w.err + 1e-13 * norm), (w.lam, w.err, top)
            assert np.all(np.abs(w.lam - top) <= 1e-11 * norm)
        if ev[-1] - ev[-2] > 1e-3 * norm:
            x = w2.x[0]
            assert abs(abs(x @ V[:, -1]) - 1) < 1e-12
            assert np.linalg.norm(B @ x - w2.lam[0] * x) <= 1e-12 * norm
            if x_prev is not None:
                assert x @ x_prev > 0
            x_prev = x.copy()


@pytest.mark.parametrize("where", [1 - 1e-6, 1 + 1e-6, 0.5, 2.0])
def test_blocked_inertia_proof_agrees_with_exceeds(where):
    """The block path's proof factors blocked (BLAS trailing updates) from BLOCKED_MIN on: the same
    answer as the inertia test exceeds and as numpy's eigvalsh."""
    from eosdyn.kernels.eigen_block_numba import BLOCKED_MIN, posdef_blocked
    r = BLOCKED_MIN + 45
    B = _matrix(r, 3, "psd")
    lam = np.linalg.eigvalsh(B)[-1]
    sigma = where * lam
    A = np.ascontiguousarray(sigma * np.eye(r) - B)
    assert posdef_blocked(A, 48) == (not E.exceeds(B, sigma, np.zeros((r, r)))) == (sigma > lam)


def test_whole_space_workspaces_compile_no_block_path():
    """A whole-space workspace is a type of its own (``WholeWork``), so that kernels called with it
    are compiled without block Davidson (a third of the default run's cold compile): its block
    path resolves, at typing time, to an implementation that names none of the block kernels."""
    import numba
    from numba.core import types

    assert type(E.work(5, 2)) is E.WholeWork and type(E.work(100, 2, dense=True)) is E.WholeWork
    assert type(E.work(100, 2)) is E.Work and type(E.work(5, 2, dense=False)) is E.Work
    mat = types.float64[:, ::1]
    whole = E._block_path_impl(mat, numba.typeof(E.work(5, 2)), types.float64, types.float64)
    block = E._block_path_impl(mat, numba.typeof(E.work(5, 2, dense=False)), types.float64, types.float64)
    assert "_subspace" not in whole.__code__.co_names and "_dense_fallback" not in whole.__code__.co_names
    assert "_subspace" in block.__code__.co_names
    # and both types give the same certified pairs (the whole-space path) for a small matrix
    B = _matrix(6, 3, "sym", 1.0)
    w1, w2 = E.work(6, 2), E.work(6, 2, dense=True)
    E.top_pairs(B, w1, np.inf)
    E.top_pairs(B, w2, np.inf)
    assert np.array_equal(w1.lam, w2.lam)
    _check_pairs(B, w1, 2)
