"""The exact tangent map of the reduced GD map, and Lyapunov exponents with known answers."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from twins import jvp as numpy_jvp
from twins import reduced_map

from eosdyn.analysis import lyapunov as ly
from eosdyn.analysis.scan import tangent_start
from eosdyn.kernels import batch_numba as B
from eosdyn.kernels import tangent_numba


def random_point(seed, r):
    rng = np.random.default_rng(seed)
    s = rng.uniform(0.3, 3.0, r)
    z = rng.standard_normal(r)
    u = rng.standard_normal(r)
    C = rng.standard_normal((r, r))
    G = C @ C.T / r
    a = float(rng.uniform(0.5, 4))
    D = rng.standard_normal((r, r))
    return a, u, G, s, z, float(rng.standard_normal()), rng.standard_normal(r), (D + D.T) / 2


def kernel_jvp(a, u, G, ta, tu, tG, s, z, n, m, eta, order=1.0):
    r = s.size
    ta_, tu_, tG_ = np.array([ta]), tu.copy(), tG.copy()
    state = np.array([a])
    u_c, G_c = u.copy(), G.copy()
    tangent_numba.jvp(state, u_c, G_c, ta_, tu_, tG_, s, z, n, m, eta, order, *[np.zeros(r) for _ in range(4)])
    assert state[0] == a and np.array_equal(u_c, u) and np.array_equal(G_c, G)  # state untouched
    return ta_[0], tu_, tG_


@settings(deadline=None, max_examples=30)
@given(seed=st.integers(0, 10_000), r=st.integers(1, 6), eta=st.floats(0.01, 2.0), order=st.sampled_from([0.0, 1.0]))
def test_jvp_matches_numpy_twin_and_central_differences(seed, r, eta, order):
    a, u, G, s, z, ta, tu, tG = random_point(seed, r)
    n, m = 10.0, 7.0
    got = kernel_jvp(a, u, G, ta, tu, tG, s, z, n, m, eta, order)
    twin = numpy_jvp(a, u, G, ta, tu, tG, s, z, n, m, eta, order)
    flat = lambda t: np.concatenate([[t[0]], t[1], t[2].ravel()])  # noqa: E731
    scale = np.max(np.abs(flat(twin))) + 1e-300
    assert np.max(np.abs(flat(got) - flat(twin))) <= 1e-12 * scale
    assert np.allclose(got[2], got[2].T, rtol=0, atol=0)  # tG' exactly symmetric

    def F(h):
        x = reduced_map(a + h * ta, u + h * tu, G + h * tG, s, z, n, m, eta, 1, order)[-1]
        return flat(x)

    h = 1e-5
    fd = (F(h) - F(-h)) / (2 * h)
    assert np.max(np.abs(fd - flat(got))) <= 1e-6 * max(scale, np.max(np.abs(F(0.0))))


def test_jacobian_at_a_minimum_is_one_and_one_minus_eta_mu():
    rng = np.random.default_rng(3)
    r, n, m = 3, 10.0, 20.0
    s = np.array([2.0, 1.3, 0.7])
    u = rng.standard_normal(r)
    z = s * u  # exact minimum: delta = 0
    C = rng.standard_normal((r, r))
    G, a = C @ C.T / r, 2.0
    mu = np.linalg.eigvalsh(ly.gram(a, G, s, n, m))
    for eta in (0.5 / mu[-1], 2.3 / mu[-1]):
        ev = np.sort(np.abs(np.linalg.eigvals(ly.jacobian(a, u, G, s, z, n, m, eta))))
        N = 1 + r + r * (r + 1) // 2
        expect = np.sort(np.concatenate([np.abs(1 - eta * mu), np.ones(N - r)]))
        assert np.allclose(ev, expect, atol=1e-10)


def run_from(a, u, G, s, z, n, m, eta, steps, lyap_start, renorm=7):
    """One cell of the batch kernel from an explicit state; returns (fsum, isum)."""
    r = s.size
    fsum, isum = np.full((1, B.NF), np.nan), np.zeros((1, B.NI), dtype=np.int64)
    data = B.CellData(s[None], z[None], np.zeros(1), np.array([float(n)]), np.array([float(m)]),
                      np.array([eta]), np.array([a]), u[None].copy(), G[None].copy(), np.full(1, -1.0),
                      np.array([1e100]), tangent_start(r)[None])
    ctl = B.CellControl(1.0, steps, 1, 1, steps, steps + 1, lyap_start, renorm)
    out = B.CellOut(np.zeros((1, 0, B.NOBS)), np.zeros((1, 0, B.NOBS)), fsum, isum, np.zeros((1, 1)),
                    np.zeros((1, r)), np.zeros((1, r, r)))
    B.run_cells(data, ctl, out)
    return fsum[0], isum[0]


def test_exponent_at_a_stable_minimum_is_log_max_one_minus_eta_mu():
    rng = np.random.default_rng(5)
    r, n, m = 3, 10.0, 20.0
    s = np.array([2.0, 1.3, 0.9])
    u = rng.standard_normal(r)
    z = s * u
    C = rng.standard_normal((r, r))
    G, a = C @ C.T / r + 0.5 * np.eye(r), 2.0
    mu = np.linalg.eigvalsh(ly.gram(a, G, s, n, m))
    eta = 1.2 / mu[-1]  # 1 - eta mu_max = -0.2; the smallest curvature sets the exponent
    expect = ly.minimum_exponent(a, G, s, n, m, eta)
    assert expect < 0
    steps = 3000
    fsum, isum = run_from(a, u, G, s, z, n, m, eta, steps, lyap_start=500)
    assert isum[B.I_STATUS] == 0
    assert abs(fsum[B.F_LYAP] - expect) < 0.01 * abs(expect) + 2e-3
    # a longer window converges further (the error is O(1/T))
    fsum2, _ = run_from(a, u, G, s, z, n, m, eta, 4 * steps, lyap_start=500)
    assert abs(fsum2[B.F_LYAP] - expect) <= abs(fsum[B.F_LYAP] - expect) + 1e-12


def test_exponent_near_an_unstable_minimum_matches_two_trajectories():
    rng = np.random.default_rng(8)
    r, n, m = 3, 10.0, 20.0
    s = np.array([2.0, 1.1, 0.6])
    u = rng.standard_normal(r)
    z = s * u
    C = rng.standard_normal((r, r))
    G, a = C @ C.T / r + 0.5 * np.eye(r), 2.0
    mu = np.linalg.eigvalsh(ly.gram(a, G, s, n, m))
    eta = 2.2 / mu[-1]  # |1 - eta mu_max| = 1.2 > 1: the minimum repels
    expect = ly.minimum_exponent(a, G, s, n, m, eta)
    assert abs(expect - np.log(1.2)) < 1e-12
    # start on the minimum: the tangent dynamics is the Jacobian there, exactly
    steps = 60
    fsum, _ = run_from(a, u, G, s, z, n, m, eta, steps, lyap_start=20)
    assert abs(fsum[B.F_LYAP] - expect) < 0.02
    # two trajectories eps apart separate at the same rate while the separation stays small
    sep = ly.separation_exponent(a, u, G, s, z, n, m, eta, steps, eps=1e-9)
    assert abs(sep - expect) < 0.05


def test_default_run_exponent_is_finite_and_small():
    from eosdyn.model.params import make_params

    lam = ly.lyapunov_exponent(make_params(eta=0.05, steps=20_000))
    assert np.isfinite(lam) and abs(lam) < 1e-2
