"""Small kernels called directly against their numpy twins (tests/twins.py), on random inputs."""

import numpy as np
import pytest
import twins

from eosdyn.analysis.scan import tangent_start
from eosdyn.kernels import batch_numba as B
from eosdyn.kernels import diagnostics_numba, flow_numba, full_numba, reduced_numba, tangent_numba


def point(seed, r, n=10.0, m=7.0):
    rng = np.random.default_rng(seed)
    C = rng.standard_normal((r, r))
    return dict(a=float(rng.uniform(0.5, 4)), u=rng.standard_normal(r), G=C @ C.T / r,
                s=rng.uniform(0.3, 3.0, r), z=rng.standard_normal(r), n=n, m=m)


@pytest.mark.parametrize("seed, r", [(0, 1), (1, 3), (2, 8)])
def test_residual_and_gradient_terms(seed, r):
    p = point(seed, r)
    g_ref, ex_ref, fd_ref = twins.residual_terms(p["u"], p["s"], p["z"])
    g = np.zeros(r)
    ex, fd = reduced_numba.residual_terms(p["u"], p["s"], p["z"], g)
    np.testing.assert_allclose([ex, fd], [ex_ref, fd_ref], rtol=1e-13)
    np.testing.assert_allclose(g, g_ref, rtol=1e-13, atol=1e-15)
    g, Gg = np.zeros(r), np.zeros(r)
    ex, fd, ug, gGg = reduced_numba.gradient_terms(p["u"], p["G"], p["s"], p["z"], g, Gg)
    np.testing.assert_allclose([ex, fd, ug, gGg], [ex_ref, fd_ref, p["u"] @ g_ref, g_ref @ p["G"] @ g_ref],
                               rtol=1e-12)
    np.testing.assert_allclose(Gg, p["G"] @ g_ref, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("seed, r", [(3, 1), (4, 4)])
def test_velocity_and_flow_rhs(seed, r):
    p = point(seed, r)
    y = np.concatenate([[p["a"]], p["u"], p["G"].ravel()])
    ref = twins.flow_velocity(y, p["s"], p["z"], p["n"], p["m"])
    du, dG, g, Gg = np.zeros(r), np.zeros((r, r)), np.zeros(r), np.zeros(r)
    da = reduced_numba.velocity(p["a"], p["u"], p["G"], p["s"], p["z"], p["n"], p["m"], du, dG, g, Gg)
    np.testing.assert_allclose(np.concatenate([[da], du, dG.ravel()]), ref, rtol=1e-12, atol=1e-14)
    out, eta = np.zeros_like(y), 0.37
    flow_numba.rhs(y, p["s"], p["z"], p["n"], p["m"], eta, out, np.zeros(r), np.zeros((r, r)), du, dG, g, Gg)
    np.testing.assert_allclose(out, eta * ref, rtol=1e-12, atol=1e-14)   # time in units of eta


@pytest.mark.parametrize("seed, r", [(5, 1), (6, 3), (7, 12)])
def test_gram_and_above_edge(seed, r):
    p = point(seed, r)
    K = np.zeros((r, r))
    B.gram(p["a"], p["G"], p["s"], p["n"], p["m"], K)
    np.testing.assert_allclose(K, twins.gram(p["a"], p["G"], p["s"], p["n"], p["m"]), rtol=1e-13, atol=1e-15)
    lam = np.linalg.eigvalsh(twins.gram(p["a"], p["G"], p["s"], p["n"], p["m"]))[-1]
    work = np.zeros((r, r))
    for sigma in (0.5 * lam, 0.999 * lam, 1.001 * lam, 2 * lam):
        got = B.above_edge(p["a"], p["G"], p["s"], p["n"], p["m"], sigma, work)
        assert got == twins.above_edge(p["a"], p["G"], p["s"], p["n"], p["m"], sigma), sigma
    G = p["G"].copy()
    G[0, 0] = np.nan
    assert B.above_edge(p["a"], G, p["s"], p["n"], p["m"], 2 * lam, work)   # NaN: not below the edge


def _cells(params, kernel):
    """Call a batch kernel on cells given as dicts (steps 300, summaries only)."""
    C, r, steps = len(params), params[0]["s"].size, 300
    arr = {k: np.array([p[k] for p in params]) for k in ("s", "z", "n", "m", "eta", "a", "u", "G")}
    fsum, isum = np.full((C, B.NF), np.nan), np.zeros((C, B.NI), dtype=np.int64)
    final = (np.zeros((C, 1)), np.zeros((C, r)), np.zeros((C, r, r)))
    kernel(arr["s"], arr["z"], np.zeros(C), arr["n"], arr["m"], arr["eta"], 1.0, arr["a"], arr["u"], arr["G"],
           steps, 1, 1, 200, steps + 1, steps + 1, 10, np.zeros(C), np.full(C, 1e100),
           np.tile(tangent_start(r), (C, 1)), np.zeros((C, 0, B.NOBS)), np.zeros((C, 0, B.NOBS)), fsum, isum, *final)
    return fsum, isum, final


def test_parallel_and_chained_cells():
    base = point(8, 3, n=10.0, m=50.0)
    lam = np.linalg.eigvalsh(twins.gram(base["a"], base["G"], base["s"], base["n"], base["m"]))[-1]
    cells = [dict(base, eta=f / lam) for f in (0.5, 1.5, 2.5)]
    fsum, isum, _ = _cells(cells, B.run_cells_parallel)
    for c, p in enumerate(cells):
        ref = twins.batch_cell(p["a"], p["u"], p["G"], p["s"], p["z"], 0.0, p["n"], p["m"], p["eta"], 300, 200)
        assert isum[c, B.I_FIRST_CROSS] == ref["first"] and isum[c, B.I_NCYCLES] == ref["cycles"]
        np.testing.assert_allclose(fsum[c, [B.F_FINAL_ES, B.F_MAX_LOSS, B.F_TAIL_MAX]],
                                   [ref["final"], ref["max_loss"], ref["tail_max"]], rtol=1e-9)
    # continuation: cell c + 1 starts where cell c ended
    fsum, isum, (fa, fu, fG) = _cells(cells, B.run_chain)
    a, u, G = cells[0]["a"], cells[0]["u"], cells[0]["G"]
    for c, p in enumerate(cells):
        ref = twins.batch_cell(a, u, G, p["s"], p["z"], 0.0, p["n"], p["m"], p["eta"], 300, 200)
        np.testing.assert_allclose(fsum[c, B.F_FINAL_ES], ref["final"], rtol=1e-9)
        a, u, G = twins.reduced_map(a, u, G, p["s"], p["z"], p["n"], p["m"], p["eta"], 300)[-1]
        np.testing.assert_allclose(fu[c], u, rtol=1e-9)


def test_tangent_helpers():
    rng = np.random.default_rng(9)
    r, s = 3, rng.uniform(0.5, 2, 3)
    ta, tu, tG = np.array([0.3]), rng.standard_normal(r), rng.standard_normal((r, r))
    tG = tG + tG.T
    full, out = tangent_numba.tangent_norms(ta, tu, tG, s)
    np.testing.assert_allclose([full, out], twins.tangent_norms(ta[0], tu, tG, s), rtol=1e-14)
    t2 = (ta.copy(), tu.copy(), tG.copy())
    tangent_numba.scale_tangent(*t2, 0.25)
    np.testing.assert_allclose(twins.tangent_norms(t2[0][0], t2[1], t2[2], s), [full / 4, out / 4], rtol=1e-14)
    for at_min, rank_one, rr in ((True, False, 3), (False, True, 1), (False, False, 3)):
        x = (ta.copy(), tu[:rr].copy(), tG[:rr, :rr].copy())
        ref = twins.quotient(x[0][0], x[1], x[2], at_min, rank_one, 7.0)
        tangent_numba.to_quotient(*x, at_min, rank_one, 7.0)
        np.testing.assert_allclose(x[0][0], ref[0], atol=1e-15)
        np.testing.assert_array_equal(x[1], ref[1])           # the output part never changes
        np.testing.assert_allclose(x[2], ref[2], rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("r", [1, 4])
def test_flow_state_helpers(r):
    p = point(10 + r, r)
    y = np.concatenate([[p["a"]], p["u"], p["G"].ravel()])
    u, G, g = np.zeros(r), np.zeros((r, r)), np.zeros(r)
    assert flow_numba.unpack(y, u, G) == p["a"] and np.array_equal(u, p["u"]) and np.array_equal(G, p["G"])
    y2 = np.zeros_like(y)
    flow_numba.pack(p["a"], p["u"], p["G"], y2)
    assert np.array_equal(y2, y)
    _, ex, _ = twins.residual_terms(p["u"], p["s"], p["z"])
    assert flow_numba.reducible_loss(y, p["s"], p["z"], p["n"], u, G, g) == pytest.approx(ex / p["n"], rel=1e-13)
    lam = np.linalg.eigvalsh(twins.gram(p["a"], p["G"], p["s"], p["n"], p["m"]))[-1]
    assert flow_numba.sharpness(y, p["s"], p["n"], p["m"], u, G, np.zeros((r, r))) == pytest.approx(lam, rel=1e-12)
    loss = (ex + 0.5) / p["n"]
    for max_loss in (0.99 * loss, 1.01 * loss, 0.99 * p["a"], 1.01 * p["a"], 1.01 * max(loss, p["a"])):
        expect = loss < max_loss and abs(p["a"]) < max_loss     # the GD kernels' divergence rule
        assert flow_numba.state_ok(y, p["s"], p["z"], 0.5, p["n"], max_loss, u, G, g) == expect
    bad = y.copy()
    bad[-1] = np.inf
    assert not flow_numba.state_ok(bad, p["s"], p["z"], 0.5, p["n"], 1e300, u, G, g)
    assert np.isnan(flow_numba.sharpness(bad, p["s"], p["n"], p["m"], u, G, np.zeros((r, r))))
    assert diagnostics_numba.state_is_finite(p["a"], p["u"], p["G"])
    assert not diagnostics_numba.state_is_finite(p["a"], p["u"], np.where(p["G"] > 0, np.nan, p["G"]))
    from eosdyn.kernels import layout as L

    out = np.zeros((2, L.NDIAG))
    flow_numba.diagnose_states(np.stack([y, y]), p["s"], p["z"], 0.5, p["n"], p["m"], 0.1,
                               *diagnostics_numba.workspace(r), u, G, out)
    ref = twins.reduced_diagnostics(p["a"], p["u"], p["G"], p["s"], p["z"], 0.5, p["n"], p["m"], 0.1)
    for k in range(2):
        np.testing.assert_allclose(out[k, [L.LOSS, L.SHARP, L.SHARP_MSTAR]],
                                   [ref["loss"], ref["sharpness"], ref["sharpness_Mstar"]], rtol=1e-12)


def test_full_engine_long_run_matches_numpy_gd():
    """full_numba.step (residual, dot4, fused_rows: m = 37 exercises the 4-row unrolling and its
    remainder), the carried ``h = W^T A``, ``||A||^2`` and rank-2 ``Ghat`` updates, refresh and
    stats against plain numpy GD and the reduced statistics of its parameters."""
    rng = np.random.default_rng(12)
    m, d, n, steps = 37, 5, 9, 120
    X, Y = rng.standard_normal((d, n)), np.sign(rng.standard_normal(n))
    A, W = 0.5 * rng.standard_normal(m), 0.5 * rng.standard_normal((m, d))
    eta = 0.3 / np.linalg.eigvalsh(twins.matrices(A, W, X, Y, 0.0)[0])[-1]
    U = np.linalg.svd(X, full_matrices=False)[0]
    r = U.shape[1]
    Af, Wf, h, state, Ghat = A.copy(), W.copy(), np.zeros(d), np.zeros(1), np.zeros((r, r))
    scr = full_numba.scratch(Af, Wf, U)
    full_numba.refresh(Af, Wf, h, state, Ghat, U, scr["WU"])
    for _ in range(steps):
        full_numba.step(Af, Wf, h, state, Ghat, np.ascontiguousarray(X.T), X, Y, U, eta, np.zeros(n),
                        np.zeros(d), scr["kq"], scr["hb"])
    A_ref, W_ref = twins.gd_params(A, W, X, Y, eta, steps)[-1]
    np.testing.assert_allclose(Af, A_ref, rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(Wf, W_ref, rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(h, W_ref.T @ A_ref, rtol=1e-11)
    assert state[0] == pytest.approx(A_ref @ A_ref, rel=1e-12)
    a_ref, u_ref, G_ref = twins.statistics(A_ref, W_ref, X)
    u, G = np.zeros(r), np.zeros((r, r))
    full_numba.stats(h, Ghat, U, m, u, G)                    # Ghat carried by rank-2 updates
    np.testing.assert_allclose(G, G_ref, rtol=1e-10)
    full_numba.refresh(Af, Wf, h, state, Ghat, U, scr["WU"])  # and recomputed from W
    full_numba.stats(h, Ghat, U, m, u, G)
    np.testing.assert_allclose(G, G_ref, rtol=1e-12)
    np.testing.assert_allclose(np.abs(u), np.abs(u_ref), rtol=1e-12)  # the SVD's signs are free
