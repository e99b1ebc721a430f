"""Output Lyapunov exponents where the tangent has unobservable directions (issue 9 §6).

At a converged minimum the float state sits at ``||S u - z|| ~ 1e-15 ||z||``, not 0, and the
neutral part of the tangent leaks into the outputs at that level; on a rank-one 2-cycle the
balancedness direction does. The exponent must stay the outputs' at every horizon.
"""

import numpy as np
import pytest
from test_tangent_lyapunov import run_from
from twins import gram, minimum_exponent, output_exponent_at_minimum, rank_one_output_map, reduced_map

import eosdyn
from eosdyn.analysis.scan import tangent_start
from eosdyn.kernels import batch_numba as B
from eosdyn.model.params import make_params

HORIZONS = (100, 1_000, 10_000, 100_000)


def converge(a, u, G, s, z, n, m, eta, steps):
    """The float state reached after ``steps`` steps of the numpy map (a minimum to rounding)."""
    a, u, G = reduced_map(a, u, G, s, z, n, m, eta, steps)[-1]
    return a, u, G


@pytest.fixture(scope="module")
def converged_minimum():
    rng = np.random.default_rng(11)
    r, n, m = 3, 10.0, 20.0
    s = np.array([2.0, 1.3, 0.9])
    z = rng.standard_normal(r)
    C = rng.standard_normal((r, r))
    G, a, u = C @ C.T / r + 0.5 * np.eye(r), 2.0, rng.standard_normal(r) * 0.1
    mu = np.linalg.eigvalsh(gram(a, G, s, n, m))
    eta = 1.0 / mu[-1]
    a, u, G = converge(a, u, G, s, z, n, m, eta, 3000)
    delta = s * u - z
    assert 0 < np.linalg.norm(delta) < 1e-13 * np.linalg.norm(z)  # a float minimum, not an exact one
    return a, u, G, s, z, n, m, eta


@pytest.mark.parametrize("T", HORIZONS)
def test_exponent_at_a_converged_minimum_is_the_outputs_at_every_horizon(converged_minimum, T):
    a, u, G, s, z, n, m, eta = converged_minimum
    expect = minimum_exponent(a, G, s, n, m, eta)
    assert expect < -0.01
    fsum, isum = run_from(a, u, G, s, z, n, m, eta, T, lyap_start=0, renorm=10)
    assert isum[B.I_STATUS] == 0
    o0 = tangent_start(s.size)[1:1 + s.size]
    exact = output_exponent_at_minimum(a, G, s, n, m, eta, o0, T)
    assert abs(fsum[B.F_LYAP] - exact) < 1e-9 * abs(expect)
    # and the finite-horizon value tends to log max |1 - eta mu| as O(1/T)
    assert abs(fsum[B.F_LYAP] - expect) < 5.0 / T


def one_sample(tmp_path):
    path = tmp_path / "one.npz"
    np.savez(path, X=np.array([[1.0]]), Y=np.array([1.0]))
    return str(path)


@pytest.mark.parametrize("steps", [100, 2000, 100_000])
def test_one_sample_bifurcation_exponent_at_its_minimum(tmp_path, steps):
    """The issue's case: one sample X = [[1]], Y = [1], m = 4096, init scale 0.01, eta = 28.8
    converges to a minimum with eta Lambda* = 1.8; the exponent is log|1 - eta Lambda*| (r = 1,
    so mu = Lambda) whatever the number of steps."""
    p = make_params(data=one_sample(tmp_path), m=4096, init_scale=0.01, steps=steps)
    ds = eosdyn.bifurcation(p, "eta", [28.8], keep=20, backend="serial")
    es = float(ds["final_eta_sharpness"][0])
    assert abs(es - 1.8) < 1e-5
    assert abs(float(ds["lyapunov"][0]) - np.log(abs(1 - es))) < 1e-7


def test_rank_one_two_cycle_exponent_is_the_outputs_not_the_balancedness():
    """One sample at eta = 35: a 2-cycle whose balancedness direction (multiplier 0.8125 over two
    steps) contracts more slowly than the outputs (0.66). The output exponent is the closed
    (u, H) map's, at every horizon."""
    s, z, n, m, eta = np.array([1.0]), np.array([1.0]), 1.0, 4096.0, 35.0
    a, u, G = converge(0.4, np.array([1.4e-4]), np.array([[1e-4]]), s, z, n, m, eta, 4000)
    # the closed map reproduces the full map's outputs
    (a1, u1, G1) = reduced_map(a, u, G, s, z, n, m, eta, 1)[-1]
    u1m, H1m = rank_one_output_map(u[0], G[0, 0] + a / m, s[0], z[0], n, m, eta)
    assert abs(u1m - u1[0]) < 1e-14 and abs(H1m - (G1[0, 0] + a1 / m)) < 1e-15
    # its two-step Jacobian by central differences on the 2-cycle
    F = lambda x: np.array(rank_one_output_map(*rank_one_output_map(x[0], x[1], s[0], z[0], n, m, eta),  # noqa: E731
                                               s[0], z[0], n, m, eta))
    x0, h = np.array([u[0], G[0, 0] + a / m]), np.array([1e-7, 1e-9])
    J = np.column_stack([(F(x0 + h[k] * np.eye(2)[k]) - F(x0 - h[k] * np.eye(2)[k])) / (2 * h[k]) for k in range(2)])
    expect = np.log(np.max(np.abs(np.linalg.eigvals(J)))) / 2
    assert abs(expect - np.log(0.66015625) / 2) < 1e-6
    for T in (1000, 10_000, 100_000):
        fsum, _ = run_from(a, u, G, s, z, n, m, eta, T, lyap_start=0, renorm=10)
        assert abs(fsum[B.F_LYAP] - expect) < 5.0 / T + 1e-6, T
