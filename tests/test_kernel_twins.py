"""Small kernels called directly against their numpy twins (tests/twins.py), on random inputs."""

import numpy as np
import pytest
import twins

from eosdyn.analysis.scan import tangent_start
from eosdyn.kernels import batch_numba as B
from eosdyn.kernels import (
    diagnostics_numba,
    edge_numba,
    eigen_base_numba,
    eigen_dense_numba,
    eigen_numba,
    flow_numba,
    full_numba,
    full_optim_numba,
    momentum_numba,
    optim_cells_numba,
    reduced_numba,
    sgd_numba,
    tangent_numba,
)
from eosdyn.kernels import layout as L


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
    """The tracker's Gram matrix, inertia test, warm sharpness and observation against eigvalsh."""
    p = point(seed, r)
    K_ref = twins.gram(p["a"], p["G"], p["s"], p["n"], p["m"])
    K = np.zeros((r, r))
    edge_numba.gram(p["a"], p["G"], p["s"], p["n"], p["m"], K)
    np.testing.assert_allclose(K, K_ref, rtol=1e-13, atol=1e-15)
    lam = np.linalg.eigvalsh(K_ref)[-1]
    ew = edge_numba.edge_work(r)
    for sigma in (0.5 * lam, 0.999 * lam, 1.001 * lam, 2 * lam):
        got = edge_numba.above(p["a"], p["G"], p["s"], p["n"], p["m"], sigma, ew.K, ew.work)
        assert got == twins.above_edge(p["a"], p["G"], p["s"], p["n"], p["m"], sigma), sigma
        # the observation's two parts: the general one (certifies from any start), then the
        # reference-count-free whole-space path, warm from it
        lam_g, up_g = edge_numba.observe_general(p["a"], p["G"], p["s"], p["n"], p["m"], ew, sigma)
        assert up_g == got and lam_g == pytest.approx(lam, rel=1e-11)
        assert edge_numba.whole_space(ew)
        lam_s, up_s, done = edge_numba.observe_small(p["a"], p["G"], p["s"], p["n"], p["m"], True, ew, sigma)
        assert done and up_s == got and lam_s == pytest.approx(lam, rel=1e-11)
    for t in range(3):   # warm from call to call, along a moving K
        G = p["G"] * (1 + 0.01 * t)
        edge_numba.gram(p["a"], G, p["s"], p["n"], p["m"], K)
        assert edge_numba.sharpness(K, ew) == pytest.approx(
            np.linalg.eigvalsh(twins.gram(p["a"], G, p["s"], p["n"], p["m"]))[-1], rel=1e-11)
    G = p["G"].copy()
    G[0, 0] = np.nan
    assert edge_numba.above(p["a"], G, p["s"], p["n"], p["m"], 2 * lam, ew.K, ew.work)  # NaN: not below
    lam_obs, up, done = edge_numba.observe_small(p["a"], G, p["s"], p["n"], p["m"], False, ew, 2 * lam)
    assert done and np.isnan(lam_obs) and not up                     # not finite: (nan, False)


def test_edge_tracker_bookkeeping():
    """enter / finalise / edge_run / flush_window over a Lambda series with excursions, flips,
    stationary steps and anomalies, against the tracker's definitions written in numpy."""
    eta, rng = 0.1, np.random.default_rng(3)
    sigma = 2 / eta
    lam = np.concatenate([np.linspace(15, 19, 6), [21, 22, 21.5, 19, 21, 19, 21, 19.5], [19.5, 19.5],
                          sigma + rng.uniform(-3, 3, 30), [23, 18, 22]])
    a = 1 + np.cumsum(rng.choice([-1.0, 0.0, 1.0], lam.size))
    a[10] = a[9]                                                            # Delta a = 0: an anomaly
    loss = rng.uniform(0, 1, lam.size)
    T = lam.size - 2
    ref = twins.edge_series(lam, a, sigma, eta)
    tf, ti = edge_numba.track_arrays()
    phase, anomaly = [], []
    for t in range(T + 1):
        up = lam[t] > sigma
        if edge_numba.have_next(ti):
            pytest.fail("nothing was cached")
        if ti[L.TI_PENDING]:
            ph, an = edge_numba.finalise(tf, ti, lam[t], a[t], up, True, sigma)
            phase.append(ph)
            anomaly.append(an)
        edge_numba.enter(tf, ti, t, lam[t], a[t], up, True, eta, loss[t], edge_numba.late_start(T))
    edge_numba.cache_next(tf, ti, lam[T + 1], a[T + 1], lam[T + 1] > sigma, True)   # a lookahead's cache
    assert edge_numba.have_next(ti) and tf[L.TF_NEXT_LAM] == lam[T + 1] and tf[L.TF_NEXT_A] == a[T + 1]
    ph, an = edge_numba.finalise(tf, ti, lam[T + 1], a[T + 1], lam[T + 1] > sigma, True, sigma)
    phase.append(ph)
    anomaly.append(an)
    np.testing.assert_array_equal(phase, ref["phase"])
    np.testing.assert_array_equal(anomaly, ref["anomaly"])
    assert ref["n_eos_excursions"] >= 2 and ref["n_period2_flips"] >= 2 and ref["phase_steps"][5] >= 1
    assert ti[L.TI_FIRST] == ref["first_cross_step"] and ti[L.TI_EXCURSIONS] == ref["n_eos_excursions"]
    assert ti[L.TI_FLIPS] == ref["n_period2_flips"] and ti[L.TI_ANOMALIES] == ref["n_anomalies"]
    assert tuple(ti[L.TI_PHASE:L.TI_PHASE + 6]) == ref["phase_steps"] and ti[L.TI_STEPS] == T + 1
    assert tf[L.TF_MAX_ES] == ref["max_eta_sharpness"]
    assert tf[L.TF_LOSS_MIN] == loss[:T + 1].min() and tf[L.TF_LOSS_MAX] == loss[:T + 1].max()
    late = lam[-(-T // 2):T + 1]                                            # steps ceil(T/2) .. T
    assert ti[L.TI_LATE] == late.size and tf[L.TF_LATE_SUM] == pytest.approx(late.sum(), rel=1e-14)
    rec = np.zeros((1, L.NCOL))
    edge_numba.flush_window(ti, rec, 0)
    assert rec[0, L.W_STEPS] == T + 1 and tuple(rec[0, L.W_PHASE:L.W_PHASE + 6]) == ref["phase_steps"]
    assert rec[0, L.W_FLIPS] == ref["n_period2_flips"] and rec[0, L.W_ANOMALIES] == ref["n_anomalies"]
    assert not ti[L.TI_WIN:L.TI_WIN + L.NWIN].any()                        # the window restarts
    # a step with no successor (divergence), and a non-finite successor: phase unknown
    edge_numba.enter(tf, ti, T + 1, lam[T + 1], a[T + 1], True, True, eta, 0.5, T)
    assert edge_numba.finalise_unknown(ti) == L.PH_UNKNOWN and ti[L.TI_PHASE + L.PH_UNKNOWN] == 1
    edge_numba.enter(tf, ti, T + 2, 1.0, 1.0, False, True, eta, 0.5, T)
    assert edge_numba.finalise(tf, ti, np.nan, np.nan, False, False, sigma) == (L.PH_UNKNOWN, False)


def _cells(params, kernel):
    """Call a batch kernel on cells given as dicts (steps 300, summaries only)."""
    C, r, steps = len(params), params[0]["s"].size, 300
    arr = {k: np.array([p[k] for p in params]) for k in ("s", "z", "n", "m", "eta", "a", "u", "G")}
    data = B.CellData(arr["s"], arr["z"], np.zeros(C), arr["n"], arr["m"], arr["eta"], arr["a"], arr["u"], arr["G"],
                      np.zeros(C), np.full(C, 1e100), np.tile(tangent_start(r), (C, 1)))
    ctl = B.CellControl(eta2=1.0, steps=steps, every=1, sharp_every=1, tail_start=200, orbit_start=steps + 1,
                        lyap_start=steps + 1, renorm=10)
    out = B.CellOut(np.zeros((C, 0, B.NOBS)), np.zeros((C, 0, B.NOBS)), np.full((C, B.NF), np.nan),
                    np.zeros((C, B.NI), dtype=np.int64), np.zeros((C, 1)), np.zeros((C, r)), np.zeros((C, r, r)))
    kernel(data, ctl, out)
    return out.fsum, out.isum, (out.final_a, out.final_u, out.final_G)


def test_parallel_and_chained_cells():
    base = point(8, 3, n=10.0, m=50.0)
    lam = np.linalg.eigvalsh(twins.gram(base["a"], base["G"], base["s"], base["n"], base["m"]))[-1]
    cells = [dict(base, eta=f / lam) for f in (0.5, 1.5, 2.5)]
    fsum, isum, _ = _cells(cells, B.run_cells_parallel)
    for c, p in enumerate(cells):
        ref = twins.batch_cell(p["a"], p["u"], p["G"], p["s"], p["z"], 0.0, p["n"], p["m"], p["eta"], 300, 200)
        assert isum[c, B.I_FIRST_CROSS] == ref["first"]
        assert isum[c, B.I_EXCURSIONS] == ref["excursions"] and isum[c, B.I_FLIPS] == ref["flips"]
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
    ew = eigen_numba.work(r, 1, vectors=False)
    assert flow_numba.sharpness(y, p["s"], p["n"], p["m"], u, G, np.zeros((r, r)), ew) == pytest.approx(lam, rel=1e-12)
    loss = (ex + 0.5) / p["n"]
    for max_loss in (0.99 * loss, 1.01 * loss, 0.99 * p["a"], 1.01 * p["a"], 1.01 * max(loss, p["a"])):
        expect = loss < max_loss and abs(p["a"]) < max_loss     # the GD kernels' divergence rule
        assert flow_numba.state_ok(y, p["s"], p["z"], 0.5, p["n"], max_loss, u, G, g) == expect
    bad = y.copy()
    bad[-1] = np.inf
    assert not flow_numba.state_ok(bad, p["s"], p["z"], 0.5, p["n"], 1e300, u, G, g)
    assert np.isnan(flow_numba.sharpness(bad, p["s"], p["n"], p["m"], u, G, np.zeros((r, r)), ew))
    assert diagnostics_numba.state_is_finite(p["a"], p["u"], p["G"])
    assert not diagnostics_numba.state_is_finite(p["a"], p["u"], np.where(p["G"] > 0, np.nan, p["G"]))
    for x in (y, bad, np.where(y > 0, np.nan, y), -bad):    # the finiteness predicates
        assert flow_numba.all_finite(x) == twins.finite(x)
        assert eigen_base_numba.is_finite(x.reshape(1, -1)) == twins.finite(x)


def test_full_engine_long_run_matches_numpy_gd():
    """full_numba.step (residual, fused_rows: m = 37 exercises the 4-row unrolling and its
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
    kq, hb, WU = np.zeros((2, r)), np.zeros(d + 1), np.zeros(r)
    full_numba.refresh(Af, Wf, h, state, Ghat, U, WU)
    for _ in range(steps):
        full_numba.step(Af, Wf, h, state, Ghat, np.ascontiguousarray(X.T), X, Y, U, eta, np.zeros(n),
                        np.zeros(d), kq, hb)
    A_ref, W_ref = twins.gd_params(A, W, X, Y, eta, steps)[-1]
    np.testing.assert_allclose(Af, A_ref, rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(Wf, W_ref, rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(h, W_ref.T @ A_ref, rtol=1e-11)
    assert state[0] == pytest.approx(A_ref @ A_ref, rel=1e-12)
    a_ref, u_ref, G_ref = twins.statistics(A_ref, W_ref, X)
    u, G = np.zeros(r), np.zeros((r, r))
    full_numba.stats(h, Ghat, U, m, u, G)                    # Ghat carried by rank-2 updates
    np.testing.assert_allclose(G, G_ref, rtol=1e-10)
    full_numba.refresh(Af, Wf, h, state, Ghat, U, WU)        # and recomputed from W
    full_numba.stats(h, Ghat, U, m, u, G)
    np.testing.assert_allclose(G, G_ref, rtol=1e-12)
    np.testing.assert_allclose(np.abs(u), np.abs(u_ref), rtol=1e-12)  # the SVD's signs are free


def test_jacobi_rotation_and_sweeps():
    """eigen_dense_numba's rotation against the textbook rotation matrix (both branches of its
    angle), cyclic Jacobi against eigvalsh, its dot product against np.dot, and the drift bound."""
    rng = np.random.default_rng(14)
    M = rng.standard_normal((6, 6))
    B = (M + M.T) / 2
    for T0 in (B, np.diag(np.arange(6.0)) + 1e-5 * B):      # |theta| small, and > 1e3 (the series)
        for i, j in ((0, 1), (2, 5)):
            T, Q = T0.copy(), rng.standard_normal((6, 4))
            T_ref, Q_ref = twins.jacobi_rotation(T, Q, i, j)
            eigen_dense_numba.rotate(T, Q, i, j)
            np.testing.assert_allclose(T, T_ref, rtol=0, atol=1e-14 * np.abs(T0).max())
            np.testing.assert_allclose(Q, Q_ref, rtol=0, atol=1e-14 * np.abs(Q_ref).max())
    T, Q = B.copy(), np.eye(6)
    assert eigen_dense_numba.jacobi(T, Q, 1e-15, 30) > 0
    np.testing.assert_allclose(np.sort(np.diag(T)), np.linalg.eigvalsh(B), rtol=0, atol=1e-13)
    np.testing.assert_allclose(Q @ B @ Q.T, np.diag(np.diag(T)), rtol=0, atol=1e-13)
    x, y = rng.standard_normal(9), rng.standard_normal(9)
    for n in range(10):
        assert eigen_dense_numba.dot(x, y, n) == pytest.approx(twins.inner(x[:n], y[:n]), rel=1e-14, abs=1e-15)
        XY = np.vstack([x, y])  # the 2-d row form sums in the same order: the same bits as dot
        assert eigen_dense_numba.dot_rows(XY, 0, XY, 1, n) == eigen_dense_numba.dot(x, y, n)
    prev = np.full((6, 6), np.nan)
    assert eigen_base_numba.frobenius_drift(B, prev) == twins.drift(B, np.full((6, 6), np.nan))
    assert np.array_equal(prev, B)
    B2 = B + 1e-3 * M
    assert eigen_base_numba.frobenius_drift(B2, prev) == pytest.approx(twins.drift(B2, B), rel=1e-13)
    assert np.array_equal(prev, B2)


def _optim_problem(seed=21, d=4, n=12, m=30):
    rng = np.random.default_rng(seed)
    X, Y = rng.standard_normal((d, n)), np.sign(rng.standard_normal(n))
    A, W = rng.standard_normal(m), rng.standard_normal((m, d))
    U, s, Vt = np.linalg.svd(X, full_matrices=False)
    z = Vt @ Y
    lam = np.linalg.eigvalsh(twins.matrices(A, W, X, Y, 0.0)[0])[-1]
    return dict(X=X, Y=Y, A=A, W=W, U=U, s=s, z=z, V=np.ascontiguousarray(Vt.T), yperp=Y - Vt.T @ z, lam=lam,
                n=n, m=m)


@pytest.mark.parametrize("beta, nesterov, batch", [(0.9, False, None), (0.7, True, None), (0.5, False, 5),
                                                   (0.0, False, 4)])
def test_momentum_step_matches_numpy_training(beta, nesterov, batch):
    """momentum_numba.step (heavy ball, Nesterov, mini-batch via sgd_numba's batch sequence) against
    ``train`` on the parameters: the state is the statistics of (A, W) and their velocity."""
    p = _optim_problem()
    eta, steps, seed = 0.3 / p["lam"], 25, 2
    opt = "nesterov" if nesterov else "momentum"
    traj = twins.train(p["A"], p["W"], p["X"], p["Y"], eta, steps, optimizer=opt, momentum=beta,
                       batch_size=batch, batch_seed=seed)
    zero = (np.zeros_like(p["A"]), np.zeros_like(p["W"]))
    sc, vv, MM = twins.momentum_state(p["A"], p["W"], *zero, p["U"])
    r, n, m = p["s"].size, p["n"], float(p["m"])
    perm, epoch, tmp = np.arange(n), np.array([-1]), np.zeros((momentum_numba.NSCR, r))
    for t in range(steps):
        start = 0 if batch is None else sgd_numba.batch_start(t, seed, batch, perm, epoch)
        momentum_numba.step(sc, vv, MM, p["s"], p["z"], p["V"], p["yperp"], perm, start,
                            float(n if batch is None else batch), batch is None, m, eta, beta,
                            beta if nesterov else 0.0, tmp)
        (A0, W0), (A1, W1) = traj[t], traj[t + 1]
        ref = twins.momentum_state(A1, W1, A1 - A0, W1 - W0, p["U"])
        for got, want in zip((sc, vv, MM), ref, strict=True):
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-10 * max(1.0, np.abs(want).max()))
        v2 = np.sum((A1 - A0) ** 2) + np.sum((W1 - W0) ** 2)
        assert momentum_numba.velocity_norm2(sc, MM, m) == pytest.approx(v2, rel=1e-9)


def _optim_cells(p, cells, kernel, steps, sigma):
    """Run optim_cells_numba ``kernel`` on ``cells`` (dicts: eta, beta, nesterov, batch) from (A, W) at rest."""
    C, n = len(cells), p["n"]
    sc, vv, MM = twins.momentum_state(p["A"], p["W"], np.zeros_like(p["A"]), np.zeros_like(p["W"]), p["U"])

    def rep(x):
        return np.ascontiguousarray(np.repeat(np.asarray(x, dtype=float)[None], C, axis=0))

    def col(k, dt=float):
        return np.array([c[k] for c in cells], dtype=dt)

    traj = np.full((C, steps + 1, B.NOBS), np.nan)
    fsum, isum = np.full((C, B.NF), np.nan), np.zeros((C, B.NI), dtype=np.int64)
    kernel(rep(p["s"]), rep(p["z"]), rep(p["V"]), rep(p["yperp"]), np.full(C, p["yperp"] @ p["yperp"]),
           np.full(C, float(n)), np.full(C, float(p["m"])), col("eta"), col("beta"),
           np.array([c["beta"] if c["nesterov"] else 0.0 for c in cells]), col("batch", np.int64),
           np.full(C, 3, dtype=np.int64), np.full(C, sigma), rep(sc), rep(vv), rep(MM), steps, 1, 1, steps - 5,
           steps + 1, np.zeros(C), np.full(C, 1e100), traj, np.zeros((C, 0, B.NOBS)), fsum, isum)
    return traj, fsum, isum


def _train_series(p, cell, steps, A=None, W=None):
    opt = "nesterov" if cell["nesterov"] else "momentum"
    traj = twins.train(p["A"] if A is None else A, p["W"] if W is None else W, p["X"], p["Y"], cell["eta"],
                       steps, optimizer=opt, momentum=cell["beta"], batch_size=cell["batch"] or None, batch_seed=3)
    lam = np.array([np.linalg.eigvalsh(twins.matrices(A_, W_, p["X"], p["Y"], 0.0)[0])[-1] for A_, W_ in traj])
    loss = np.array([np.mean((p["X"].T @ W_.T @ A_ / np.sqrt(p["m"]) - p["Y"]) ** 2) for A_, W_ in traj])
    a = np.array([A_ @ A_ for A_, _ in traj])
    return traj, lam, loss, a


def test_optimizer_cells_match_numpy_training():
    """optim_cells_numba's cells (heavy ball, Nesterov, mini-batch; serial, parallel, chained) against
    ``train`` on the parameters with eigvalsh sharpness: the recorded series, the summaries and
    the edge counts at an edge ``sigma`` inside the range of Lambda."""
    p = _optim_problem()
    steps = 40
    cells = [dict(eta=1.2 / p["lam"], beta=0.5, nesterov=False, batch=0),
             dict(eta=1.0 / p["lam"], beta=0.6, nesterov=True, batch=0),
             dict(eta=0.8 / p["lam"], beta=0.3, nesterov=False, batch=5)]
    refs = [_train_series(p, c, steps + 1) for c in cells]
    sigma = float(np.median(refs[0][1]))
    for kernel in (optim_cells_numba.run_cells, optim_cells_numba.run_cells_parallel):
        traj, fsum, isum = _optim_cells(p, cells, kernel, steps, sigma)
        for c, (cell, (_, lam, loss, a)) in enumerate(zip(cells, refs, strict=True)):
            es = cell["eta"] * lam
            np.testing.assert_allclose(traj[c, :, B.O_LOSS], loss[:-1], rtol=1e-10)
            np.testing.assert_allclose(traj[c, :, B.O_ES], es[:-1], rtol=1e-10)
            np.testing.assert_allclose(traj[c, :, B.O_A], a[:-1], rtol=1e-10)
            np.testing.assert_allclose(fsum[c, [B.F_INIT_ES, B.F_FINAL_ES, B.F_MAX_LOSS, B.F_TAIL_MAX]],
                                       [es[0], es[-2], loss[:-1].max(), es[steps - 5:-1].max()], rtol=1e-10)
            # the edge counts over steps 0..steps (the twin classifies them from Lambda(0..steps+1))
            ref = twins.edge_series(lam, a, sigma, cell["eta"])
            assert isum[c, B.I_FIRST_CROSS] == ref["first_cross_step"]
            assert isum[c, B.I_EXCURSIONS] == ref["n_eos_excursions"]
            assert isum[c, B.I_FLIPS] == ref["n_period2_flips"]
            assert isum[c, B.I_STATUS] == L.MAX_STEPS and isum[c, B.I_STATUS_STEP] == steps
    assert refs[0][1].min() < sigma < refs[0][1].max()
    # continuation (GD cells, where the carried velocity plays no part): cell c + 1 starts at cell c's end
    gd = [dict(eta=f / p["lam"], beta=0.0, nesterov=False, batch=0) for f in (0.5, 1.0, 1.5)]
    traj, fsum, _ = _optim_cells(p, gd, optim_cells_numba.run_chain, steps, sigma)
    A, W = p["A"], p["W"]
    for c, cell in enumerate(gd):
        tr, lam, loss, _ = _train_series(p, cell, steps, A, W)
        np.testing.assert_allclose(traj[c, :, B.O_ES], cell["eta"] * lam, rtol=1e-10)
        A, W = tr[-1]


def test_full_optim_helpers():
    """full_optim_numba's loss, residual vector, statistics, look-ahead and bias factors, in numpy."""
    p = _optim_problem(seed=22)
    A, W, X, Y, m = p["A"], p["W"], p["X"], p["Y"], float(p["m"])
    XT, h, D = np.ascontiguousarray(X.T), W.T @ A, np.zeros(p["n"])
    F = X.T @ h / np.sqrt(m)
    d2, dtf = full_optim_numba.full_loss(h, XT, Y, m, D)
    np.testing.assert_allclose([d2, dtf], [np.sum((F - Y) ** 2), (F - Y) @ F], rtol=1e-13)
    idx, pv = np.arange(p["n"])[::-1].copy(), np.zeros(X.shape[0])
    g_ref = twins.loss_grad(A, W, X, Y)[:A.size]                 # grad_A = 2/(n sqrt m) W X D
    full_optim_numba.gradient_vector(h, XT, Y, m, idx, 0, p["n"], True, pv)
    np.testing.assert_allclose(2 / (p["n"] * np.sqrt(m)) * W @ pv, g_ref, rtol=1e-12)
    full_optim_numba.gradient_vector(h, XT, Y, m, idx, 2, 5, False, pv)   # the batch idx[2:7]
    B_ = idx[2:7]
    np.testing.assert_allclose(pv, X[:, B_] @ (F[B_] - Y[B_]), rtol=1e-12)
    u, G = np.zeros(p["s"].size), np.zeros((p["s"].size,) * 2)
    full_optim_numba.statistics(A, W, h, p["U"], u, G, np.zeros(p["s"].size))
    a_ref, u_ref, G_ref = twins.statistics(A, W, X)
    np.testing.assert_allclose(np.abs(u), np.abs(u_ref), rtol=1e-12)   # the SVD's signs are free
    np.testing.assert_allclose(G, p["U"].T @ W.T @ W @ p["U"] / m, rtol=1e-12)
    np.testing.assert_allclose(np.linalg.eigvalsh(G), np.linalg.eigvalsh(G_ref), rtol=1e-12)
    rng = np.random.default_rng(1)
    bA, bW, gamma = rng.standard_normal(A.size), rng.standard_normal(W.shape), 0.7
    h2, hl, st = np.zeros(X.shape[0]), np.zeros(X.shape[0]), np.zeros(1)
    full_optim_numba.initial_h(A, W, h2, hl, st, bA, bW, gamma)
    np.testing.assert_allclose(h2, h, rtol=1e-13)
    np.testing.assert_allclose(hl, (W + gamma * bW).T @ (A + gamma * bA), rtol=1e-12)
    assert st[0] == pytest.approx(a_ref, rel=1e-14)
    from eosdyn.kernels import optim_layout as O

    for kind, bias, want in ((O.K_ADAM, 1, (1 - 0.9**4, 1 - 0.99**4)), (O.K_RMSPROP, 1, (1.0, 1 - 0.99**4)),
                             (O.K_ADAM, 0, (1.0, 1.0)), (O.K_MOMENTUM, 1, (1.0, 1.0))):
        assert full_optim_numba.bias_factors(kind, 0.9, 0.99, bias, 3) == pytest.approx(want, rel=1e-15)
