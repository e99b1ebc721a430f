"""Engines against each other and against plain-numpy parameter-space GD."""

import numpy as np
import pytest
from twins import diagnostics, gd_params, matrices, reduced_map

import eosdyn
from eosdyn.api import build_problem
from eosdyn.engines import METHODS

DIAG = ["loss", "sharpness", "lambda2", "sharpness_MA", "sharpness_MW", "sharpness_Mstar",
        "a_norm2", "DtF", "Dv1", "R_norm2"]


def scale_of(name, ref):
    """Natural scale for relative comparison of a diagnostic (Dv1, R can cross zero)."""
    if name in ("Dv1", "R_norm2", "DtF"):
        return max(abs(ref[name]), ref["loss"] * 1.0, 1e-300)
    return max(abs(ref[name]), 1e-300)


@pytest.mark.parametrize("engine", ["reduced", "full"])
def test_engine_matches_numpy_parameter_gd(small_problem, engine):
    p = small_problem
    steps = 60
    ds = eosdyn.simulate(X=p["X"], Y=p["Y"], A=p["A"], W=p["W"], eta=p["eta"], steps=steps,
                         engine=engine, record_every=1, loss_tol=0.0)
    traj = gd_params(p["A"], p["W"], p["X"], p["Y"], p["eta"], steps)
    # eosdyn's sign convention for v_1: continuous, starting along the top data direction
    v_prev = np.linalg.svd(p["X"], full_matrices=False)[2][0]
    for t in range(steps + 1):
        ref = diagnostics(*traj[t], p["X"], p["Y"], p["eta"], v_prev)
        v_prev = ref["v1"]
        for name in DIAG:
            got = float(ds[name].sel(step=t))
            assert abs(got - ref[name]) <= 1e-9 * scale_of(name, ref), (engine, t, name, got,
                                                                       ref[name])


def test_residual_identity_Mstar(small_problem):
    """D(t+1) = (I - eta M*(t)) D(t) exactly, on plain parameter GD (checks the schema's M*)."""
    p = small_problem
    traj = gd_params(p["A"], p["W"], p["X"], p["Y"], p["eta"], 5)
    for t in range(5):
        _, _, _, Mstar, D, _ = matrices(*traj[t], p["X"], p["Y"], p["eta"])
        D_next = matrices(*traj[t + 1], p["X"], p["Y"], p["eta"])[4]
        pred = D - p["eta"] * Mstar @ D
        np.testing.assert_allclose(D_next, pred, rtol=0, atol=1e-12 * np.abs(D).max())
    # and a deliberately wrong M* (no eta^2 correction) must fail the identity
    M, _, _, _, D, _ = matrices(*traj[0], p["X"], p["Y"], p["eta"])
    D1 = matrices(*traj[1], p["X"], p["Y"], p["eta"])[4]
    assert np.abs(D1 - (D - p["eta"] * M @ D)).max() > 1e-9


def test_reduced_kernel_step_matches_numpy_twin():
    rng = np.random.default_rng(3)
    r, n, m, eta = 6, 50, 300, 0.003
    s = np.sort(rng.uniform(1, 10, r))[::-1].copy()  # C-contiguous: the signature the engines compile
    z = rng.standard_normal(r)
    Z = rng.standard_normal((m, r + 1))
    S = Z.T @ Z
    a, u, G = S[0, 0], S[1:, 0] / np.sqrt(m), S[1:, 1:] / m
    from eosdyn.kernels.reduced_numba import step

    for order in (0, 1):
        ref = reduced_map(a, u, G, s, z, n, m, eta, 40, order=order)
        state, uu, GG = np.array([a]), u.copy(), G.copy()
        g, Gg = np.zeros(r), np.zeros(r)
        for _ in range(40):
            step(state, uu, GG, s, z, float(n), float(m), eta, float(order), g, Gg)
        a_ref, u_ref, G_ref = ref[-1]
        np.testing.assert_allclose(state[0], a_ref, rtol=1e-13)
        np.testing.assert_allclose(uu, u_ref, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(GG, G_ref, rtol=1e-12, atol=1e-14)


def test_first_order_engine_is_assumption_3_2(small_problem):
    """first-order: ||A||^2 changes by exactly -(4 eta/n) D^T F and the loss follows (I - eta M)."""
    p = small_problem
    ds = eosdyn.simulate(X=p["X"], Y=p["Y"], A=p["A"], W=p["W"], eta=p["eta"], steps=30,
                         engine="first-order", record_every=1)
    n = p["X"].shape[1]
    da = np.diff(ds["a_norm2"].values)
    pred = -4 * p["eta"] / n * ds["DtF"].values[:-1]
    np.testing.assert_allclose(da, pred, rtol=1e-9, atol=1e-13 * ds["a_norm2"].values.max())
    exact = eosdyn.simulate(X=p["X"], Y=p["Y"], A=p["A"], W=p["W"], eta=p["eta"], steps=30,
                            engine="reduced", record_every=1)
    assert np.abs(np.diff(exact["a_norm2"].values) - pred).max() > 1e-12


def test_reduced_equals_full_on_default_until_eos(default_events):
    """The default EoS scenario: full and reduced agree to 1e-9 relative at every step of the whole
    progressive-sharpening phase, up to and including the first crossing of 2/eta (the step the
    numpy twin of the map finds, as the README says)."""
    cross = default_events["first_cross"]
    kw = dict(steps=cross, record_every=1)
    red = eosdyn.simulate(engine="reduced", **kw)
    full = eosdyn.simulate(engine="full", **kw)
    assert red.sizes["step"] == full.sizes["step"] == cross + 1
    assert red.attrs["status"] == full.attrs["status"] == "max_steps"
    for ds in (red, full):
        es = ds["eta_sharpness"].values
        assert es[-1] > 2.0 and (es[:-1] < 2.0).all()          # the whole phase, and its end
    for name in ["loss", "sharpness", "a_norm2", "DtF", "lambda2", "sharpness_Mstar"]:
        x, y = red[name].values, full[name].values
        np.testing.assert_allclose(x, y, rtol=1e-9, err_msg=name)


def test_chunking_does_not_change_results():
    from eosdyn.model.params import make_params

    params = make_params(steps=3000, record_every=7)
    outs = []
    for chunks in ([3001], [1, 999, 1000, 1001], [13] * 231 + [1000]):
        pb = build_problem(params)
        eng = METHODS["reduced"](pb)
        t = 0
        for c in chunks:
            if pb.progress.done:
                break
            eng.advance(t, min(t + c, params.steps + 1))
            t = pb.progress.next_step
        assert pb.progress.done
        outs.append(pb.rec[: pb.progress.rows].copy())
    for o in outs[1:]:
        np.testing.assert_array_equal(o, outs[0])


@pytest.mark.parametrize("engine", ["reduced", "full"])
def test_G_stays_exactly_symmetric(engine):
    ds = eosdyn.simulate(engine=engine, steps=3000, m=64, record_every=3000)
    G = ds["final_G"].values
    np.testing.assert_array_equal(G, G.T)
