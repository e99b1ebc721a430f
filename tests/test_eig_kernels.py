"""Tests of eosdyn.kernels.eig_numba against slow, obviously correct numpy twins.

Tolerance: eigenvalue algorithms are backward stable, so errors scale with ||B||_2 (not with
each eigenvalue): |computed - eigvalsh| <= 1e-13 * r * ||B||_2 (plus a few ulps of ||B||_2).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eosdyn.kernels.eig_numba import max_eigval_warm, sym_eigvals, top_eigvec

SETTINGS = settings(deadline=None, max_examples=100, derandomize=True)

# ---------------------------------------------------------------------------------------
# numpy twins and helpers
# ---------------------------------------------------------------------------------------


def _workspace(r):
    return (np.empty(r), np.empty((r, r)), np.empty(r), np.empty(r, dtype=np.int64))


def eigvals_kernel(B):
    """sym_eigvals through freshly allocated (garbage-filled) workspaces; B must survive."""
    r = B.shape[0]
    out, work, e, _ = _workspace(r)
    work[:] = np.nan
    e[:] = np.nan
    B0 = B.copy()
    sym_eigvals(B, out, work, e)
    np.testing.assert_array_equal(B, B0)
    return out


def max_warm_kernel(B, v):
    r = B.shape[0]
    out, work, e, piv = _workspace(r)
    work[:] = np.nan
    B0 = B.copy()
    lam = max_eigval_warm(B, v, work, piv, e, out)
    np.testing.assert_array_equal(B, B0)
    return lam


def top_vec_kernel(B, lam, v_prev):
    r = B.shape[0]
    _, work, _, piv = _workspace(r)
    work[:] = np.nan
    v_out = np.full(r, np.nan)
    B0, p0 = B.copy(), v_prev.copy()
    top_eigvec(B, lam, v_prev, v_out, work, piv)
    np.testing.assert_array_equal(B, B0)
    np.testing.assert_array_equal(v_prev, p0)
    return v_out


def atol_for(B):
    r = B.shape[0]
    nb = np.linalg.norm(B, 2) if B.size else 0.0
    return 1e-13 * r * nb + 4 * np.finfo(float).eps * nb


def sign_tol(ref):
    """Sign continuity ``v . ref >= 0`` holds up to rounding: when ``v`` is (numerically)
    orthogonal to ``ref`` the kernels fall back to a sign convention, so allow a dot product
    of rounding size, ``8 r eps ||ref||``."""
    return 8 * ref.shape[0] * np.finfo(float).eps * np.linalg.norm(ref)


def eigvals_close(got, B):
    """The acceptance test: sorted ascending and within atol of eigvalsh, elementwise."""
    ref = np.linalg.eigvalsh(B)
    return got.shape == ref.shape and bool(np.all(np.abs(got - ref) <= atol_for(B)))


def random_sym(rng, r, kind, scale):
    A = rng.standard_normal((r, r))
    if kind == "gram":  # PSD, rank r // 2 + 1: many (near-)zero eigenvalues
        G = rng.standard_normal((r, r // 2 + 1))
        B = G @ G.T
    elif kind == "gram_full":  # PSD, full rank (a Hessian-like Gram matrix)
        G = rng.standard_normal((r, r + 3))
        B = G @ G.T / (r + 3)
    elif kind == "indef":
        B = A + A.T
    elif kind == "clustered":  # eigenvalues from a small set, random orthogonal basis
        Q, _ = np.linalg.qr(A)
        lam = rng.choice([-1.0, 0.5, 2.0], size=r)
        B = (Q * lam) @ Q.T
        B = (B + B.T) / 2
    else:  # "graded": entries spanning many orders of magnitude
        g = 10.0 ** rng.uniform(-6, 0, size=r)
        B = (A + A.T) * np.outer(g, g)
    return B * scale


kinds = st.sampled_from(["gram", "gram_full", "indef", "clustered", "graded"])
sizes = st.integers(1, 40)
seeds = st.integers(0, 2**32 - 1)
log_scales = st.floats(-10, 10)


# ---------------------------------------------------------------------------------------
# sym_eigvals
# ---------------------------------------------------------------------------------------


@SETTINGS
@given(r=sizes, seed=seeds, kind=kinds, ls=log_scales)
def test_sym_eigvals_random(r, seed, kind, ls):
    B = random_sym(np.random.default_rng(seed), r, kind, 10.0**ls)
    got = eigvals_kernel(B)
    assert np.all(np.diff(got) >= 0.0)
    assert eigvals_close(got, B)


@pytest.mark.parametrize("r", [1, 2, 3, 5, 8, 50, 200])
def test_sym_eigvals_sizes(r):
    rng = np.random.default_rng(r)
    for kind in ("gram", "gram_full", "indef", "clustered", "graded"):
        B = random_sym(rng, r, kind, 1.0)
        assert eigvals_close(eigvals_kernel(B), B)


@pytest.mark.parametrize("scale", [1e-300, 1e-100, 1e-12, 1.0, 1e12, 1e100, 1e300])
def test_sym_eigvals_extreme_scales(scale):
    rng = np.random.default_rng(7)
    for r in (2, 5, 17):
        B = random_sym(rng, r, "indef", 1.0)
        ref = np.linalg.eigvalsh(B) * scale  # exact scaling of the reference
        got = eigvals_kernel(B * scale)
        assert np.all(np.isfinite(got))
        assert np.all(np.abs(got - ref) <= atol_for(B) * scale)


def test_sym_eigvals_special_matrices():
    cases = [
        np.zeros((1, 1)),
        np.array([[-3.5]]),
        np.zeros((6, 6)),
        np.eye(7) * 2.5,
        np.diag([3.0, -1.0, 3.0, 0.0, -1.0, 2e-300, 7.0]),
        np.diag(np.arange(40.0)[::-1]),
        np.array([[0.0, 1.0], [1.0, 0.0]]),
        np.array([[1.0, 1e-300], [1e-300, 1.0]]),
        np.array([[1.0, 1e-20], [1e-20, 1.0 + 1e-16]]),
        np.array([[1e100, 3e99], [3e99, -2e100]]),
        np.array([[2.0, 1.0], [1.0, 2.0]]),
        np.ones((9, 9)),  # rank one: 9, and 0 eight times
        np.diag(np.ones(9), 1) + np.diag(np.ones(9), -1),  # tridiagonal already
    ]
    # Wilkinson's W21+: pairs of eigenvalues agreeing to ~1e-14
    w = np.abs(np.arange(-10.0, 11.0))
    cases.append(np.diag(w) + np.diag(np.ones(20), 1) + np.diag(np.ones(20), -1))
    # repeated eigenvalues in a random basis
    rng = np.random.default_rng(3)
    Q, _ = np.linalg.qr(rng.standard_normal((8, 8)))
    B = (Q * np.array([1.0, 1.0, 1.0, 2.0, 2.0, -4.0, -4.0, 0.0])) @ Q.T
    cases.append((B + B.T) / 2)
    for B in cases:
        got = eigvals_kernel(B)
        assert eigvals_close(got, B), (B, got, np.linalg.eigvalsh(B))
    assert eigvals_kernel(np.zeros((6, 6))).tolist() == [0.0] * 6
    assert eigvals_kernel(np.eye(7) * 2.5).tolist() == [2.5] * 7


def test_acceptance_check_can_fail():
    """The tolerance is tight enough to catch a mis-sorted output or a small error."""
    rng = np.random.default_rng(11)
    for r in (2, 5, 30):
        B = random_sym(rng, r, "indef", 1.0)
        got = eigvals_kernel(B)
        assert eigvals_close(got, B)
        swapped = got.copy()
        swapped[[0, 1]] = swapped[[1, 0]]  # off-by-one in the sort
        assert not eigvals_close(swapped, B)
        assert not eigvals_close(got[::-1].copy(), B)  # descending instead of ascending
        bumped = got.copy()
        bumped[r // 2] += 1e-9 * np.linalg.norm(B, 2)
        assert not eigvals_close(bumped, B)


# ---------------------------------------------------------------------------------------
# top_eigvec
# ---------------------------------------------------------------------------------------


def _top_pair(B):
    w, V = np.linalg.eigh(B)
    return w, V[:, -1]


@SETTINGS
@given(r=st.integers(1, 40), seed=seeds, kind=kinds, ls=log_scales)
def test_top_eigvec_random(r, seed, kind, ls):
    rng = np.random.default_rng(seed)
    B = random_sym(rng, r, kind, 10.0**ls)
    w, u = _top_pair(B)
    nb = np.linalg.norm(B, 2)
    lam = eigvals_kernel(B)[-1]
    for v_prev in (rng.standard_normal(r), np.zeros(r), u.copy(), -u):
        v = top_vec_kernel(B, lam, v_prev)
        assert abs(np.linalg.norm(v) - 1.0) <= 1e-14
        assert v @ v_prev >= -sign_tol(v_prev)
        # backward error: v is an eigenvector of a matrix within ~eps * r * ||B|| of B
        assert np.linalg.norm(B @ v - w[-1] * v) <= 1e-13 * r * nb + 1e-300
        if r > 1 and w[-1] - w[-2] >= 1e-6 * nb:
            assert abs(v @ u) >= 1 - 1e-10
        if not np.any(v_prev):  # sign undefined by v_prev: largest entry made positive
            assert v[np.argmax(np.abs(v))] > 0.0


def test_top_eigvec_sign_continuity_and_start_vectors():
    rng = np.random.default_rng(5)
    B = random_sym(rng, 6, "indef", 1.0)
    w, u = _top_pair(B)
    for v_prev in (u, -u, u + 0.3 * rng.standard_normal(6), -u + 0.3 * rng.standard_normal(6)):
        v = top_vec_kernel(B, w[-1], v_prev)
        assert np.sign(v @ u) == np.sign(v_prev @ u)
        assert abs(v @ u) >= 1 - 1e-12
    # a start vector exactly orthogonal to the top eigenvector (another eigenvector)
    for k in range(5):
        v = top_vec_kernel(B, w[-1], np.linalg.eigh(B)[1][:, k].copy())
        assert abs(v @ u) >= 1 - 1e-12
    # B with u = (1, -1)/sqrt(2) orthogonal to ones/sqrt(2) (the first fallback start)
    B2 = np.array([[0.0, -1.0], [-1.0, 0.0]])
    v = top_vec_kernel(B2, 1.0, np.array([1.0, 1.0]))
    assert abs(abs(v @ np.array([1.0, -1.0])) / np.sqrt(2) - 1.0) <= 1e-12


def test_top_eigvec_degenerate_and_special():
    # 1x1
    assert top_vec_kernel(np.array([[3.0]]), 3.0, np.array([-0.2])).tolist() == [-1.0]
    assert top_vec_kernel(np.array([[3.0]]), 3.0, np.array([0.0])).tolist() == [1.0]
    # zero matrix: any unit vector; keeps v_prev's direction
    v = top_vec_kernel(np.zeros((4, 4)), 0.0, np.array([0.0, 2.0, 0.0, 0.0]))
    np.testing.assert_allclose(v, [0.0, 1.0, 0.0, 0.0])
    # repeated top eigenvalue (identity, diag with a double top): v in the eigenspace
    for B in (np.eye(5), np.diag([1.0, 3.0, 3.0, -2.0])):
        lam = np.max(np.diag(B))
        v = top_vec_kernel(B, lam, np.ones(B.shape[0]))
        assert abs(np.linalg.norm(v) - 1.0) <= 1e-14
        assert np.linalg.norm(B @ v - lam * v) <= 1e-13
    # huge and tiny scales
    rng = np.random.default_rng(9)
    B = random_sym(rng, 7, "indef", 1.0)
    w, u = _top_pair(B)
    for scale in (1e-300, 1e-100, 1e100, 1e300):
        v = top_vec_kernel(B * scale, w[-1] * scale, u)
        assert abs(v @ u) >= 1 - 1e-10


# ---------------------------------------------------------------------------------------
# max_eigval_warm
# ---------------------------------------------------------------------------------------


def _check_warm(B, v0):
    v = v0.copy()
    lam = max_warm_kernel(B, v)
    w, u = _top_pair(B)
    r = B.shape[0]
    nb = np.linalg.norm(B, 2)
    assert abs(lam - w[-1]) <= atol_for(B), (lam, w[-1])
    assert abs(np.linalg.norm(v) - 1.0) <= 1e-14
    assert v @ v0 >= -sign_tol(v0)
    assert np.linalg.norm(B @ v - w[-1] * v) <= 1e-13 * r * nb + 1e-300
    if r > 1 and w[-1] - w[-2] >= 1e-6 * nb:
        assert abs(v @ u) >= 1 - 1e-10
    return lam, v


@SETTINGS
@given(r=st.integers(1, 40), seed=seeds, kind=kinds, ls=log_scales)
def test_max_eigval_warm_random(r, seed, kind, ls):
    rng = np.random.default_rng(seed)
    B = random_sym(rng, r, kind, 10.0**ls)
    w, V = np.linalg.eigh(B)
    # (a) the exact top eigenvector of a slightly perturbed matrix
    P = random_sym(rng, r, "indef", 1e-4 * np.linalg.norm(B, 2))
    v_a = np.linalg.eigh(B + P)[1][:, -1]
    # (b) a random vector; (c) an eigenvector of another eigenvalue; (d) zeros
    v_b = rng.standard_normal(r)
    v_c = V[:, rng.integers(0, r)].copy()
    v_d = np.zeros(r)
    for v0 in (v_a, -v_a, v_b, v_c, v_d):
        _check_warm(B, v0)


def test_max_eigval_warm_wrong_eigenvector_is_caught():
    """Warm start at an exact eigenvector of a smaller eigenvalue: RQI converges at once to
    that eigenvalue; the inertia certificate must reject it."""
    rng = np.random.default_rng(21)
    for r in (2, 3, 5, 12, 40):
        B = random_sym(rng, r, "indef", 1.0)
        w, V = np.linalg.eigh(B)
        for k in range(r):
            lam, v = _check_warm(B, V[:, k].copy())
            assert abs(lam - w[-1]) <= atol_for(B)
    # a gap far below the certificate's margin is fine too: the answer is still within atol
    B = np.diag([1.0, 1.0 - 1e-15, 0.5, -1.0])
    _check_warm(B, np.array([0.0, 1.0, 0.0, 0.0]))
    # a gap of 1e-11 ||B||: far above atol, far below what a residual test could resolve
    Q, _ = np.linalg.qr(rng.standard_normal((4, 4)))
    for basis in (np.eye(4), Q):
        B = (basis * np.array([1.0, 1.0 - 1e-11, 0.5, -1.0])) @ basis.T
        B = (B + B.T) / 2
        w, V = np.linalg.eigh(B)
        lam, _ = _check_warm(B, V[:, -2].copy())
        assert abs(lam - w[-1]) < 1e-13


def test_max_eigval_warm_sign_continuity_from_random_starts():
    """v_new . v_old >= 0 however far RQI has to travel from the start vector."""
    rng = np.random.default_rng(8)
    for r in (2, 3, 5, 10):
        B = random_sym(rng, r, "indef", 1.0)
        for _ in range(100):
            _check_warm(B, rng.standard_normal(r))


def test_max_eigval_warm_special():
    assert max_warm_kernel(np.array([[-2.0]]), np.array([0.0])) == -2.0
    v = np.array([0.0, 0.0, 0.0])
    assert max_warm_kernel(np.zeros((3, 3)), v) == 0.0
    for B in (np.eye(4) * -3.0, np.diag([2.0, 5.0, 5.0, 1.0]), np.ones((6, 6))):
        for v0 in (np.ones(B.shape[0]), np.arange(B.shape[0], dtype=float), np.zeros(B.shape[0])):
            _check_warm(B, v0)
    rng = np.random.default_rng(2)
    B = random_sym(rng, 9, "indef", 1.0)
    for scale in (1e-300, 1e-100, 1e-12, 1e12, 1e100, 1e300):
        w = np.linalg.eigvalsh(B)[-1] * scale
        v = np.ones(9)
        lam = max_warm_kernel(B * scale, v)
        assert abs(lam - w) <= atol_for(B) * scale


@pytest.mark.parametrize("r", [2, 5, 20])
def test_max_eigval_warm_sequence(r):
    """A smooth path B(t) = B0 + t B1 over 200 small steps, carrying v from step to step."""
    rng = np.random.default_rng(100 + r)
    B0 = random_sym(rng, r, "gram", 1.0 / r)
    B1 = random_sym(rng, r, "indef", 0.5 / r)
    v = np.zeros(r)
    v_before = None
    for t in np.linspace(0.0, 1.0, 200):
        B = B0 + t * B1
        lam, v_new = _check_warm(B, v)
        if v_before is not None:
            assert v_new @ v_before >= 0.0
        v_before = v = v_new
