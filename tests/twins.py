"""The one registry of numpy reference twins of eosdyn's kernels.

Every public function of a module in ``eosdyn/kernels`` has an entry here (``tests/test_twins.py``
fails otherwise, so a new kernel without a twin fails CI; classes, the namedtuple bundles the
kernels take, are not kernels):

* :func:`twin` ``("module.function", reference, "test_file.py::test_name", ...)``: ``reference``
  is a slow, obviously-correct numpy function defined in *this* file, written from the paper's
  formulas and the notes (``shared/notes/reduced-model.md``), and each named test compares the
  kernel (directly, or through the entry point named by ``via``) with it; the test's source must
  mention the reference (or ``marker``, e.g. ``np.linalg.eigvalsh`` when LAPACK is the twin).
* :func:`plumbing` ``("module.function", why, "test_file.py::test_name")``: functions that
  compute nothing (allocate workspaces, pack arrays, write record rows), with the test that
  exercises them.

Adding a kernel is one line: ``twin("new_module.f", reference_f, "test_x.py::test_f")``. Removing
or renaming one means removing or renaming its line (stale entries fail too).

Nothing here imports ``eosdyn.kernels``: the references use numpy/LAPACK only, and parameters
are passed explicitly.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

# =============================================================================================
# references: parameter-space GD and explicit n x n matrices


def gd_params(A, W, X, Y, eta, steps):
    """Plain parameter-space GD; returns the list of (A, W) at steps 0..steps."""
    n, m = X.shape[1], A.shape[0]
    out = [(A.copy(), W.copy())]
    for _ in range(steps):
        D = X.T @ W.T @ A / np.sqrt(m) - Y
        gA = 2.0 / (n * np.sqrt(m)) * W @ (X @ D)
        gW = 2.0 / (n * np.sqrt(m)) * np.outer(A, X @ D)
        A, W = A - eta * gA, W - eta * gW
        out.append((A.copy(), W.copy()))
    return out


def matrices(A, W, X, Y, eta):
    """Explicit n x n M, M_A, M_W, M* and the residual D, output F."""
    n, m = X.shape[1], A.shape[0]
    F = X.T @ W.T @ A / np.sqrt(m)
    D = F - Y
    XtX = X.T @ X
    MW = 2.0 / (m * n) * (A @ A) * XtX
    MA = 2.0 / (m * n) * X.T @ W.T @ W @ X
    M = MW + MA
    Mstar = M - 4.0 * eta / (n * n * m) * (D @ F) * XtX
    return M, MA, MW, Mstar, D, F


def diagnostics(A, W, X, Y, eta, v_prev=None):
    """Every per-step diagnostic of the schema, from explicit matrices."""
    n = X.shape[1]
    M, MA, MW, Mstar, D, F = matrices(A, W, X, Y, eta)
    ev, vecs = np.linalg.eigh(M)
    v1 = vecs[:, -1]
    if v_prev is not None and v1 @ v_prev < 0:
        v1 = -v1
    R = D - v1 * (v1 @ D)
    return {
        "loss": D @ D / n,
        "sharpness": ev[-1],
        "lambda2": ev[-2] if n >= 2 else 0.0,
        "sharpness_MA": np.linalg.eigvalsh(MA)[-1],
        "sharpness_MW": np.linalg.eigvalsh(MW)[-1],
        "sharpness_Mstar": np.linalg.eigvalsh(Mstar)[-1],
        "a_norm2": A @ A,
        "DtF": D @ F,
        "Dv1": D @ v1,
        "R_norm2": R @ R,
        "v1": v1,
    }


def statistics(A, W, X):
    """The reduced state ``(a, u, G)`` of parameters ``(A, W)`` on data ``X`` (thin SVD ``X = U S
    V^T``): ``a = ||A||^2``, ``u = U^T W^T A / sqrt(m)``, ``G = U^T W^T W U / m``."""
    m = A.shape[0]
    U, s, _ = np.linalg.svd(X, full_matrices=False)
    U = U[:, s > s[0] * X.shape[0] * np.finfo(float).eps]
    return A @ A, U.T @ W.T @ A / np.sqrt(m), U.T @ W.T @ W @ U / m


def loss_grad(A, W, X, Y):
    """The gradient of ``L = ||X^T W^T A / sqrt(m) - Y||^2 / n`` in ``(A, W)`` (flattened)."""
    n, m = X.shape[1], A.shape[0]
    D = X.T @ W.T @ A / np.sqrt(m) - Y
    return np.concatenate([2 / (n * np.sqrt(m)) * W @ (X @ D),
                           (2 / (n * np.sqrt(m)) * np.outer(A, X @ D)).ravel()])


def dense_hessian(A, W, X, Y):
    """The Hessian of L = ||X^T W^T A / sqrt(m) - Y||^2 / n as an explicit matrix:
    (2/n) J^T J plus the residual term, entry by entry from the second derivatives of F."""
    m, d = W.shape
    n = X.shape[1]
    sq = np.sqrt(m)
    D = X.T @ W.T @ A / sq - Y
    J = np.zeros((n, m * (d + 1)))
    J[:, :m] = (W @ X).T / sq                       # dF_j / dA_q = (W x_j)_q / sqrt(m)
    for j in range(n):
        J[j, m:] = np.outer(A, X[:, j]).ravel() / sq  # dF_j / dW_qk = A_q x_jk / sqrt(m)
    H = 2.0 / n * J.T @ J
    for j in range(n):                                # d^2 F_j / dA_q dW_qk = x_jk / sqrt(m)
        for q in range(m):
            for k in range(d):
                H[q, m + q * d + k] += 2.0 / n * D[j] * X[k, j] / sq
                H[m + q * d + k, q] += 2.0 / n * D[j] * X[k, j] / sq
    return H


# =============================================================================================
# references: the reduced state (a, u, G) of the notes


def reduced_map(a, u, G, s, z, n, m, eta, steps, order=1):
    """The reduced map of the notes, in plain numpy (allocating), for ``steps`` steps."""
    out = [(a, u.copy(), G.copy())]
    for _ in range(steps):
        a, u, G = reduced_step(a, u, G, s, z, n, m, eta, order)
        out.append((a, u.copy(), G.copy()))
    return out


def reduced_step(a, u, G, s, z, n, m, eta, order=1):
    """One step of the reduced map of the notes (exact GD: ``order = 1``; first-order: 0)."""
    delta = s * u - z
    g = s * delta
    fd = (s * u) @ delta
    Gg = G @ g
    e2 = order * eta**2
    a_new = a - 4 * eta / n * (u @ g) + 4 * e2 / n**2 * (g @ Gg)
    u_new = u - 2 * eta / n * Gg - 2 * eta * a / (n * m) * g + 4 * e2 / (n**2 * m) * fd * g
    G_new = (G - 2 * eta / (n * m) * (np.outer(u, g) + np.outer(g, u))
             + 4 * e2 * a / (n**2 * m**2) * np.outer(g, g))
    return a_new, u_new, G_new


def residual_terms(u, s, z):
    """``(g = S (S u - z), ||delta||^2, FD = (S u) . delta)``."""
    delta = s * u - z
    return s * delta, delta @ delta, (s * u) @ delta


def gram(a, G, s, n, m):
    """``K = (2/n) S ((a/m) I + G) S``: the NTK restricted to span(V)."""
    S = np.diag(s)
    return 2.0 / n * S @ (a / m * np.eye(s.size) + G) @ S


def above_edge(a, G, s, n, m, sigma):
    """``Lambda >= sigma`` (``sigma I - K`` not positive definite), from eigvalsh."""
    return bool(np.linalg.eigvalsh(gram(a, G, s, n, m))[-1] >= sigma)


def flow_velocity(y, s, z, n, m):
    """The notes' gradient flow, in plain numpy, on the flat state (time = flow time)."""
    r = s.size
    a, u, G = y[0], y[1:1 + r], y[1 + r:].reshape(r, r)
    g = s * (s * u - z)
    da = -4.0 / n * (u @ g)
    du = -2.0 / n * G @ g - 2.0 * a / (n * m) * g
    dG = -2.0 / (n * m) * (np.outer(u, g) + np.outer(g, u))
    return np.concatenate([[da], du, dG.ravel()])


def reduced_diagnostics(a, u, G, s, z, y_perp2, n, m, eta):
    """The spectral-coordinate diagnostics of the notes, with numpy.linalg (names as the schema)."""
    S = np.diag(s)
    delta = s * u - z
    fd = (s * u) @ delta
    K = gram(a, G, s, n, m)
    KA = 2 / n * S @ G @ S
    KS = K - 4 * eta * fd / (n * n * m) * S @ S
    ev, V = np.linalg.eigh(K)
    q1 = V[:, -1]
    d2 = delta @ delta + y_perp2
    return {
        "loss": d2 / n, "sharpness": ev[-1], "lambda2": ev[-2] if s.size > 1 else 0.0,
        "sharpness_MA": np.linalg.eigvalsh(KA)[-1], "sharpness_MW": 2 * a / (n * m) * s[0] ** 2,
        "sharpness_Mstar": np.linalg.eigvalsh(KS)[-1], "a_norm2": a, "DtF": fd,
        "Dv1": delta @ q1, "R_norm2": d2 - (delta @ q1) ** 2, "q1": q1,
    }


def batch_cell(a, u, G, s, z, y_perp2, n, m, eta, steps, tail_start):
    """Summaries of one run from the plain-numpy map with eigvalsh (the twin of run_cell)."""
    traj = reduced_map(a, u, G, s, z, n, m, eta, steps)
    es = np.array([eta * np.linalg.eigvalsh(gram(x[0], x[2], s, n, m))[-1] for x in traj])
    loss = np.array([(np.sum((s * x[1] - z) ** 2) + y_perp2) / n for x in traj])
    above = es > 2
    ups = np.flatnonzero(above[1:] & ~above[:-1]) + 1
    ups = np.concatenate([[0], ups]) if above[0] else ups
    # runs above 2/eta: excursions last >= 2 steps; flips are single steps closed by a step below
    lengths = [len(run) for run in "".join("1" if x else "0" for x in above).split("0") if run]
    open_flip = bool(lengths) and lengths[-1] == 1 and above[-1]
    excursions = sum(k >= 2 for k in lengths)
    flips = sum(k == 1 for k in lengths) - int(open_flip)
    return dict(first=int(ups[0]) if ups.size else -1, cycles=ups.size, excursions=excursions, flips=flips,
                init=es[0], final=es[-1],
                max_loss=loss.max(), final_loss=loss[-1], tail_min=es[tail_start:].min(),
                tail_max=es[tail_start:].max(), es=es, loss=loss, state=traj[-1])


@lru_cache(maxsize=4)
def first_events(a, u, G, s, z, y2, n, m, eta, steps, eps_D=1e-2):
    """Along the numpy reduced map from a state given as tuples: the first step with
    ``eta Lambda > 2`` (the first 2/eta crossing) and Theorem 1's ``t0``, the first step with
    ``eta lambda_max(M*) > 1`` or ``||D||^2 <= eps_D ||Y||^2`` (-1: not within ``steps``)."""
    s, z, u, G = np.array(s), np.array(z), np.array(u), np.array(G)
    cross = t0 = -1
    for t in range(steps + 1):
        delta = s * u - z
        K = gram(a, G, s, n, m)
        if cross < 0 and eta * np.linalg.eigvalsh(K)[-1] > 2:
            cross = t
        if t0 < 0:
            KS = K - 4 * eta * ((s * u) @ delta) / (n * n * m) * np.diag(s * s)
            if eta * np.linalg.eigvalsh(KS)[-1] > 1 or delta @ delta + (y2 - z @ z) <= eps_D * y2:
                t0 = t
        if cross >= 0 and t0 >= 0:
            break
        a, u, G = reduced_step(a, u, G, s, z, n, m, eta)
    return {"first_cross": cross, "t0": t0}


# =============================================================================================
# references: the tangent map and Lyapunov exponents


def jvp(a, u, G, ta, tu, tG, s, z, n, m, eta, order=1.0):
    """The JVP written from the product rule on the numpy map, term by term (plain numpy)."""
    delta, g = s * u - z, s * (s * u - z)
    dg = s * s * tu
    fd, dfd = (s * u) @ delta, (s * tu) @ delta + (s * u) @ (s * tu)
    Gg, dGg = G @ g, tG @ g + G @ dg
    e2 = order * eta**2
    ta_new = ta - 4 * eta / n * (tu @ g + u @ dg) + 4 * e2 / n**2 * (dg @ Gg + g @ dGg)
    ku, dku = 2 * eta * a / (n * m) - 4 * e2 * fd / (n**2 * m), 2 * eta * ta / (n * m) - 4 * e2 * dfd / (n**2 * m)
    tu_new = tu - 2 * eta / n * dGg - ku * dg - dku * g
    tG_new = (tG - 2 * eta / (n * m) * (np.outer(tu, g) + np.outer(u, dg) + np.outer(dg, u) + np.outer(g, tu))
              + 4 * e2 * a / (n**2 * m**2) * (np.outer(dg, g) + np.outer(g, dg))
              + 4 * e2 * ta / (n**2 * m**2) * np.outer(g, g))
    return ta_new, tu_new, tG_new


def tangent_norms(ta, tu, tG, s):
    """``(full, output)`` norms of a tangent."""
    return np.sqrt(ta**2 + tu @ tu + np.sum(tG * tG)), np.linalg.norm(s * tu)


def quotient(ta, tu, tG, at_minimum, rank_one, m):
    """The tangent's representative modulo the unobservable directions: at a minimum, its output
    part; for rank one, minus its orthogonal projection on the balancedness ``(1, 0, -1/m)``."""
    ta, tu, tG = float(ta), tu.copy(), tG.copy()
    if at_minimum:
        return 0.0, tu, np.zeros_like(tG)
    if rank_one:
        k = np.zeros(1 + tu.size + tG.size)
        k[0], k[1 + tu.size] = 1.0, -1.0 / m
        v = np.concatenate([[ta], tu, tG.ravel()])
        v -= (v @ k) / (k @ k) * k
        return v[0], v[1:1 + tu.size], v[1 + tu.size:].reshape(tG.shape)
    return ta, tu, tG


def minimum_exponent(a, G, s, n, m, eta):
    """``log max_i |1 - eta mu_i|`` over the eigenvalues of ``K`` at a minimum."""
    return float(np.log(np.max(np.abs(1.0 - eta * np.linalg.eigvalsh(gram(a, G, s, n, m))))))


def output_exponent_at_minimum(a, G, s, n, m, eta, o0, T):
    """``(1/T) log(||(I - eta K)^T S o0|| / ||S o0||)`` from the eigendecomposition of ``K``:
    the output tangent at a minimum evolves by ``S o' = (I - eta K) S o`` exactly."""
    mu, V = np.linalg.eigh(gram(a, G, s, n, m))
    lam = 1.0 - eta * mu
    rho = np.max(np.abs(lam))
    c = V.T @ (s * o0)
    tail = np.linalg.norm(c * np.sign(lam) ** T * (np.abs(lam) / rho) ** T)
    return np.log(rho) + (np.log(tail) - np.log(np.linalg.norm(s * o0))) / T


def rank_one_output_map(u, H, s, z, n, m, eta):
    """For r = 1 the outputs follow a closed map on ``(u, H = G + a/m)`` (derived by hand from
    the reduced map: ``u'`` depends on ``(a, G)`` only through ``H``, and ``H' = H - (8 eta/(n m))
    u g + (4 eta^2 g^2/(n^2 m)) H``)."""
    d = s * u - z
    g = s * d
    fd = s * u * d
    return (u - 2 * eta / n * H * g + 4 * eta**2 / (n**2 * m) * fd * g,
            H - 8 * eta / (n * m) * u * g + 4 * eta**2 * g * g / (n**2 * m) * H)


# =============================================================================================
# references: symmetric eigenproblems (LAPACK is the twin)


def eigvalsh(B):
    """All eigenvalues, ascending (LAPACK)."""
    return np.linalg.eigvalsh(B)


def top_eigpair(B):
    """The largest eigenvalue and a unit eigenvector (LAPACK)."""
    ev, V = np.linalg.eigh(B)
    return ev[-1], V[:, -1]


def inner(x, y):
    """``x . y`` (numpy's dot)."""
    return float(np.dot(x, y))


def drift(B, prev):
    """``||B - prev||_F`` (``inf`` when ``prev`` is not finite)."""
    return float(np.linalg.norm(B - prev)) if np.isfinite(prev).all() else np.inf


def finite(x):
    """Every entry of ``x`` is finite."""
    return bool(np.isfinite(x).all())


def jacobi_rotation(T, Q, i, j):
    """One Jacobi rotation by the textbook angle: ``R`` acts on rows ``i, j`` by ``(q_i, q_j) <-
    (c q_i - s q_j, s q_i + c q_j)``, ``phi = arctan(2 T_ij / (T_jj - T_ii)) / 2`` (the smaller
    angle, ``|phi| <= pi/4``) so that ``(R T R^T)_ij = 0``; returns ``(R T R^T, R Q)``."""
    h = T[j, j] - T[i, i]
    phi = 0.5 * np.arctan(2 * T[i, j] / h) if h != 0 else np.copysign(np.pi / 4, T[i, j])
    R = np.eye(T.shape[0])
    R[i, i] = R[j, j] = np.cos(phi)
    R[i, j], R[j, i] = -np.sin(phi), np.sin(phi)
    return R @ T @ R.T, R @ Q


# =============================================================================================
# references: the per-step edge tracker (phases, anomalies, excursions, flips)


def edge_series(lam, a, sigma, eta):
    """Every step's classification from the series ``Lambda(t)``, ``||A||^2(t)`` (t = 0..T+1 classify
    steps 0..T), with the definitions of the tracker written out with numpy: phases I-IV by
    ``Lambda > sigma`` and the sign of ``Delta Lambda`` (5: stationary, ``|Delta Lambda| <= 1e-9 sigma``),
    anomalies (``sign Delta Lambda != sign Delta ||A||^2``), runs above ``sigma`` (excursions: >= 2
    steps; flips: one step closed by a step below)."""
    dl, da = np.diff(lam), np.diff(a)
    above = lam[:-1] > sigma
    phase = np.where(above, np.where(dl > 0, 2, 3), np.where(dl > 0, 1, 4))
    stationary = np.abs(dl) <= 1e-9 * sigma
    phase[stationary] = 5
    anomaly = ~stationary & (np.sign(dl) != np.sign(da))
    runs = "".join("1" if x else "0" for x in above).split("0")
    closed = [True] * (len(runs) - 1) + [False]  # the last run is not followed by a step below
    lengths = [(len(x), c) for x, c in zip(runs, closed, strict=True) if x]
    return {
        "first_cross_step": int(np.argmax(above)) if above.any() else -1,
        "n_eos_excursions": sum(k >= 2 for k, _ in lengths),
        "n_period2_flips": sum(k == 1 and c for k, c in lengths),
        "n_anomalies": int(anomaly.sum()),
        "phase_steps": tuple(int(x) for x in np.bincount(phase, minlength=6)),
        "max_eta_sharpness": eta * lam[:-1].max(),
        "phase": phase,
        "anomaly": anomaly,
    }


def edge_track(states, s, n, m, eta):
    """:func:`edge_series` of flat states ``[a, u, G.ravel()]`` (rows), ``Lambda`` from eigvalsh, edge ``2/eta``."""
    r = s.size
    a, G = states[:, 0], states[:, 1 + r:].reshape(-1, r, r)
    K = (2 / n) * s[None, :, None] * ((a / m)[:, None, None] * np.eye(r) + G) * s[None, None, :]
    return edge_series(np.linalg.eigvalsh(K)[:, -1], a, 2 / eta, eta)


# =============================================================================================
# references: optimizers beyond GD (the batch sequence, every optimizer's update rule, batch Hessians)
#
# * epoch_permutation, batch_indices: the documented batch sequence (splitmix64 counter stream
#   keyed by ``(batch_seed, epoch)``, Fisher-Yates), in plain Python integers;
# * train: every optimizer of eosdyn.optim on the parameters, written from the update rules;
# * batch_hessian: the dense Hessian of a mini-batch loss, from the model's formulas.

MASK = (1 << 64) - 1
GOLDEN, M1, M2 = 0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB


def mix(x: int) -> int:
    x = ((x ^ (x >> 30)) * M1) & MASK
    x = ((x ^ (x >> 27)) * M2) & MASK
    return x ^ (x >> 31)


def stream_key(seed: int, tag: int, i: int, j: int) -> int:
    x = mix((seed + GOLDEN) & MASK)
    x = mix(x ^ ((tag * GOLDEN) & MASK))
    x = mix((x + i * M1) & MASK)
    return mix((x + j * M2) & MASK)


def fisher_yates_tail(state: int, perm: list, count: int) -> list:
    n = len(perm)
    for i in range(n - 1, max(n - count, 1) - 1, -1):
        state = (state + GOLDEN) & MASK
        u = (mix(state) >> 11) * 2.0**-53
        j = min(int(u * (i + 1)), i)
        perm[i], perm[j] = perm[j], perm[i]
    return perm


def epoch_permutation(seed: int, epoch: int, n: int) -> list:
    return fisher_yates_tail(stream_key(seed, 1, epoch, 0), list(range(n)), n - 1)


def batch_indices(t: int, seed: int, n: int, b: int) -> np.ndarray:
    nb = n // b
    e, k = divmod(t, nb)
    return np.array(epoch_permutation(seed, e, n)[k * b:(k + 1) * b])


def sample_subset(seed: int, t: int, k: int, n: int, b: int) -> np.ndarray:
    return np.array(fisher_yates_tail(stream_key(seed, 2, t, k), list(range(n)), b)[n - b:])


def gradient(A, W, X, Y, idx):
    """Gradient of ``L_B = ||D_B||^2 / |B|`` at ``(A, W)``."""
    m = A.size
    XB = X[:, idx]
    D = XB.T @ W.T @ A / np.sqrt(m) - Y[idx]
    p = XB @ D
    c = 2.0 / (len(idx) * np.sqrt(m))
    return c * W @ p, c * np.outer(A, p)


def train(A, W, X, Y, eta, steps, optimizer="gd", momentum=0.9, beta1=0.9, beta2=0.999, adam_eps=1e-8,
          bias_correction=True, batch_size=None, batch_seed=0):
    """Parameters ``(A, W)`` at steps ``0..steps`` of ``optimizer`` (eosdyn.optim's update rules)."""
    n = X.shape[1]
    A, W = A.copy(), W.copy()
    vA, vW = np.zeros_like(A), np.zeros_like(W)        # velocity or first moment
    sA, sW = np.zeros_like(A), np.zeros_like(W)        # second moment
    out = [(A.copy(), W.copy())]
    for t in range(steps):
        idx = np.arange(n) if batch_size is None else batch_indices(t, batch_seed, n, batch_size)
        if optimizer in ("momentum", "nesterov"):
            gamma = momentum if optimizer == "nesterov" else 0.0
            gA, gW = gradient(A + gamma * vA, W + gamma * vW, X, Y, idx)
            vA, vW = momentum * vA - eta * gA, momentum * vW - eta * gW
            A, W = A + vA, W + vW
        elif optimizer in ("adam", "rmsprop"):
            b1 = beta1 if optimizer == "adam" else 0.0
            gA, gW = gradient(A, W, X, Y, idx)
            vA, vW = b1 * vA + (1 - b1) * gA, b1 * vW + (1 - b1) * gW
            sA, sW = beta2 * sA + (1 - beta2) * gA**2, beta2 * sW + (1 - beta2) * gW**2
            k = t + 1
            c1 = 1 - b1**k if bias_correction else 1.0
            c2 = 1 - beta2**k if bias_correction else 1.0
            A = A - eta * (vA / c1) / (np.sqrt(sA / c2) + adam_eps)
            W = W - eta * (vW / c1) / (np.sqrt(sW / c2) + adam_eps)
        else:
            gA, gW = gradient(A, W, X, Y, idx)
            A, W = A - eta * gA, W - eta * gW
        out.append((A.copy(), W.copy()))
    return out


def batch_hessian(A, W, X, Y, idx):
    """Dense Hessian of ``L_B`` over ``theta = [A, W.ravel()]``, from
    ``H = (2/b) (J^T J + sum_j D_j grad^2 F_j)`` with ``F_j = A^T W x_j / sqrt(m)``."""
    m, d = W.shape
    b = len(idx)
    XB = X[:, idx]
    D = XB.T @ W.T @ A / np.sqrt(m) - Y[idx]
    N = m * (d + 1)
    H = np.zeros((N, N))
    for j in range(b):
        x = XB[:, j]
        Jj = np.concatenate([W @ x, np.outer(A, x).ravel()]) / np.sqrt(m)
        H += np.outer(Jj, Jj)
        Fjj = np.zeros((N, N))   # d^2 F_j / dA_i dW_ik = x_k / sqrt(m)
        for i in range(m):
            Fjj[i, m + i * d:m + (i + 1) * d] = x / np.sqrt(m)
        H += D[j] * (Fjj + Fjj.T)
    return 2.0 / b * H


def momentum_state(A, W, B, Om, U):
    """The momentum map's state ``(sc, vv, MM)`` of parameters ``(A, W)`` with velocity ``(B, Omega)``,
    from the definitions (``eosdyn.kernels.momentum_numba``): ``sc = [a, ab, bb]``, ``vv = [u, ub, wa,
    wb]``, ``MM = [G, H, K]`` (``WU``, ``Omega U`` and inner products over the m units)."""
    sm = np.sqrt(A.size)
    WU, OU = W @ U, Om @ U
    sc = np.array([A @ A, A @ B, B @ B])
    vv = np.array([WU.T @ A, WU.T @ B, OU.T @ A, OU.T @ B]) / sm
    MM = np.array([WU.T @ WU, WU.T @ OU, OU.T @ OU]) / A.size
    return sc, vv, MM


# =============================================================================================
# the registry


@dataclass(frozen=True)
class Twin:
    kernel: str                    # "module.function" in eosdyn.kernels
    reference: object              # a function of this module, or None for plumbing
    tests: tuple                   # "test_file.py::test_name"
    marker: str = ""               # text the tests' source must contain (default: reference name)
    via: str = ""                  # the entry point through which the tests call the kernel
    why: str = ""                  # plumbing: why there is no numerical twin

    @property
    def needle(self) -> str:
        return self.marker or getattr(self.reference, "__name__", "")


TWINS: dict[str, Twin] = {}


def twin(kernel, reference, *tests, marker="", via=""):
    """Register ``reference`` as the numpy twin of ``eosdyn.kernels.<kernel>``, compared in ``tests``."""
    assert kernel not in TWINS, f"{kernel} registered twice"
    TWINS[kernel] = Twin(kernel, reference, tests, marker, via)


def plumbing(kernel, why, *tests):
    """Register a kernel that computes nothing to compare (``why``), exercised by ``tests``."""
    assert kernel not in TWINS, f"{kernel} registered twice"
    TWINS[kernel] = Twin(kernel, None, tests, why=why)


KT = "test_kernel_twins.py::"
# ---- reduced map, flow velocity, batch cells -------------------------------------------------
twin("reduced_numba.step", reduced_map, "test_engines.py::test_reduced_kernel_step_matches_numpy_twin")
twin("reduced_numba.residual_terms", residual_terms, KT + "test_residual_and_gradient_terms")
twin("reduced_numba.gradient_terms", residual_terms, KT + "test_residual_and_gradient_terms")
twin("reduced_numba.velocity", flow_velocity, KT + "test_velocity_and_flow_rhs")
plumbing("reduced_numba.model", "packs the reduced state, data and workspaces for the recording loop",
         "test_engines.py::test_engine_matches_numpy_parameter_gd")
twin("batch_numba.run_cell", batch_cell, "test_scan.py::test_batch_kernel_matches_numpy_twin",
     via="analysis.scan.run_batch")
twin("batch_numba.run_cells", batch_cell, "test_scan.py::test_batch_kernel_matches_numpy_twin",
     via="analysis.scan.run_batch")
twin("batch_numba.run_cells_parallel", batch_cell, KT + "test_parallel_and_chained_cells")
twin("batch_numba.run_chain", batch_cell, KT + "test_parallel_and_chained_cells")
twin("batch_numba.finish_cell", batch_cell, "test_scan.py::test_batch_kernel_matches_numpy_twin",
     via="batch_numba.run_cell (and optim_cells_numba.run_cell, against its own twin)")
# ---- the per-step edge tracker ------------------------------------------------------------------
twin("edge_numba.gram", gram, KT + "test_gram_and_above_edge")
twin("edge_numba.above", above_edge, KT + "test_gram_and_above_edge")
twin("edge_numba.sharpness", gram, KT + "test_gram_and_above_edge")
twin("edge_numba.observe_small", above_edge, KT + "test_gram_and_above_edge")
twin("edge_numba.observe_general", above_edge, KT + "test_gram_and_above_edge")
plumbing("edge_numba.whole_space", "reads the workspace's type", KT + "test_gram_and_above_edge")
plumbing("edge_numba.edge_work", "allocates the tracker's workspace", KT + "test_gram_and_above_edge")
plumbing("edge_numba.track_arrays", "allocates the tracker's state", KT + "test_edge_tracker_bookkeeping")
for _k in ("edge_run", "enter", "late_start", "finalise", "finalise_unknown", "cache_next", "have_next",
           "flush_window"):
    twin(f"edge_numba.{_k}", edge_series, KT + "test_edge_tracker_bookkeeping")
# ---- tangent map -------------------------------------------------------------------------------
twin("tangent_numba.jvp", jvp, "test_tangent_lyapunov.py::test_jvp_matches_numpy_twin_and_central_differences")
twin("tangent_numba.tangent_norms", tangent_norms, KT + "test_tangent_helpers")
twin("tangent_numba.scale_tangent", tangent_norms, KT + "test_tangent_helpers")
twin("tangent_numba.to_quotient", quotient, KT + "test_tangent_helpers")
# ---- diagnostics, Hessian, replay ----------------------------------------------------------------
twin("diagnostics_numba.diagnose", reduced_diagnostics, "test_diagnostics_kernel.py::test_diagnose_matches_numpy")
twin("diagnostics_numba.state_is_finite", reduced_diagnostics,
     "test_diagnostics_kernel.py::test_nonfinite_state_gives_nan_not_a_hang", marker="nan")
plumbing("diagnostics_numba.workspace", "allocates diagnose's work arrays",
         "test_diagnostics_kernel.py::test_diagnose_matches_numpy")
twin("hessian_numba.build", dense_hessian, "test_hessian.py::test_reduced_and_lanczos_match_dense",
     via="analysis.hessian.sharpness_reduced")
twin("hessian_numba.sharpness", dense_hessian, "test_hessian.py::test_reduced_and_lanczos_match_dense",
     via="analysis.hessian.sharpness_reduced")
twin("hessian_numba.sharpness_of_states", dense_hessian,
     "test_hessian.py::test_engines_agree_on_sharpness_hessian_at_small_m", via="eosdyn.simulate(hessian=True)")
plumbing("hessian_numba.workspace", "allocates the Hessian work arrays",
         "test_hessian.py::test_reduced_and_lanczos_match_dense")
twin("check_numba.map_states", reduced_map, "test_check.py::test_states_at_matches_the_numpy_map_and_flow_rows_are_na",
     via="analysis.replay")
twin("check_numba.map_states_at", reduced_map,
     "test_check.py::test_states_at_matches_the_numpy_map_and_flow_rows_are_na", via="analysis.replay.states_at")
twin("check_numba.derive", diagnostics, "test_check.py::test_replayed_series_match_numpy_twin",
     via="analysis.replay.per_step")
# ---- parameter-space GD ----------------------------------------------------------------------------
for _k in ("step", "residual", "fused_rows", "refresh"):
    twin(f"full_numba.{_k}", gd_params, "test_engines.py::test_engine_matches_numpy_parameter_gd",
         KT + "test_full_engine_long_run_matches_numpy_gd", via="eosdyn.simulate(engine='full')")
twin("full_numba.stats", statistics, KT + "test_full_engine_long_run_matches_numpy_gd")
twin("full_numba.full_diagnose", diagnostics, "test_engines.py::test_engine_matches_numpy_parameter_gd",
     via="eosdyn.simulate(engine='full')")
plumbing("full_numba.model", "packs the parameters, data and scratch for the recording loop",
         "test_engines.py::test_engine_matches_numpy_parameter_gd")
# ---- gradient flow -------------------------------------------------------------------------------
twin("flow_numba.rhs", flow_velocity, KT + "test_velocity_and_flow_rhs")
twin("flow_numba.jacobian", flow_velocity, "test_flow.py::test_exact_jacobians_match_finite_differences",
     marker="Jfd")
twin("flow_numba.jacobian_coo", flow_velocity, "test_flow.py::test_exact_jacobians_match_finite_differences",
     marker="Jfd")
twin("flow_numba.jacobian_nnz", flow_velocity, "test_flow.py::test_exact_jacobians_match_finite_differences",
     marker="jacobian_nnz")
twin("flow_numba.reducible_loss", residual_terms, KT + "test_flow_state_helpers")
twin("flow_numba.sharpness", gram, KT + "test_flow_state_helpers")
twin("flow_numba.state_ok", residual_terms, KT + "test_flow_state_helpers")
twin("flow_numba.all_finite", finite, KT + "test_flow_state_helpers")
plumbing("flow_numba.pack", "copies (a, u, G) into the flat state", KT + "test_flow_state_helpers")
plumbing("flow_numba.unpack", "copies the flat state into (a, u, G)", KT + "test_flow_state_helpers")
plumbing("flow_numba.states_model", "wraps the solver's sampled states for the recording loop",
         "test_flow.py::test_record_contract_is_independent_of_chunking")
# ---- recording (one contract for every engine) --------------------------------------------------------
twin("record_numba.run", edge_track, "test_summaries.py::test_tracker_matches_numpy_twin_every_step",
     via="eosdyn.simulate")
plumbing("record_numba.classify", "the stop rule (diverged / converged / max_steps)",
         "test_api.py::test_divergence_is_a_status", "test_api.py::test_convergence_stops_early")
plumbing("record_numba.fold_loss", "folds the loss into the row's window extremes",
         "test_api.py::test_strided_recording_matches_every_step")
plumbing("record_numba.write_row", "writes a diagnostics row", "test_engines.py::test_chunking_does_not_change_results")
plumbing("record_numba.write_next", "writes the successor columns of a row",
         "test_engines.py::test_chunking_does_not_change_results")
plumbing("record_numba.register", "registers an engine's hooks",
         "test_engines.py::test_chunking_does_not_change_results")
plumbing("record_numba.no_extras", "the default no-op hook", "test_engines.py::test_chunking_does_not_change_results")
for _k in ("classify", "diagnose", "edge", "step", "copy", "extras"):
    plumbing(f"record_numba.h_{_k}", "a stub resolved at compile time to the engine's hook (numba overload)",
             "test_engines.py::test_chunking_does_not_change_results")
# ---- the eigen contract (LAPACK is the twin) -----------------------------------------------------------
EK = "test_eigen_kernels.py::"
twin("eigen_numba.top_pairs", top_eigpair, EK + "test_top_pairs_match_eigh_cold_and_warm",
     EK + "test_warm_sequence_stays_certified_and_cheap", marker="eigh")
twin("eigen_numba.top_two", top_eigpair, EK + "test_top_two_and_top_value_along_a_path", marker="eigh")
twin("eigen_numba.top_value", top_eigpair, EK + "test_top_two_and_top_value_along_a_path", marker="eigh")
twin("eigen_block_numba.posdef_blocked", eigvalsh, EK + "test_blocked_inertia_proof_agrees_with_exceeds",
     marker="eigvalsh")
twin("eigen_numba.all_pairs", top_eigpair, EK + "test_all_pairs_is_a_full_eigendecomposition", marker="eigvalsh")
twin("eigen_dense_numba.sym_eigvals", eigvalsh, EK + "test_sym_eigvals_matches_eigvalsh", marker="eigvalsh",
     via="eigen_numba.sym_eigvals")
twin("eigen_dense_numba.exceeds", eigvalsh, EK + "test_exceeds_is_the_inertia_of_sigma_minus_B", marker="eigvalsh",
     via="eigen_numba.exceeds")
twin("eigen_dense_numba.rotate", jacobi_rotation, KT + "test_jacobi_rotation_and_sweeps")
twin("eigen_dense_numba.jacobi", eigvalsh, KT + "test_jacobi_rotation_and_sweeps")
twin("eigen_dense_numba.dot", inner, KT + "test_jacobi_rotation_and_sweeps")
twin("eigen_dense_numba.dot_rows", inner, KT + "test_jacobi_rotation_and_sweeps")
twin("eigen_base_numba.frobenius_drift", drift, KT + "test_jacobi_rotation_and_sweeps")
twin("eigen_base_numba.is_finite", finite, KT + "test_flow_state_helpers")
plumbing("eigen_base_numba.work", "allocates top_pairs' workspace", EK + "test_top_pairs_match_eigh_cold_and_warm")
plumbing("eigen_base_numba.new_work", "allocates top_pairs' workspace inside a kernel",
         KT + "test_optimizer_cells_match_numpy_training")
# ---- the central flow: third derivatives against the dense Hessian and finite differences -----------
CF = "test_central_flow_kernels.py::"
for _k in ("edge_terms", "edge_rates", "edge_infos", "top_pair", "next_eigenvalue", "compress", "to_T", "third_K",
           "grad_K", "inner", "state_rate", "param_vector"):
    twin(f"third_numba.{_k}", dense_hessian, CF + "test_sharpness_gradient_and_rate_against_dense_parameter_space")
for _k in ("spectrum", "cluster_terms", "cluster_gram", "cluster_rate"):
    twin(f"third_numba.{_k}", dense_hessian, CF + "test_two_eigenvectors_mixed_third_derivatives_and_rate")
plumbing("third_numba.workspace", "allocates the central flow's scratch",
         CF + "test_sharpness_gradient_and_rate_against_dense_parameter_space")
plumbing("third_numba.args", "orders the scratch as the kernels take it",
         CF + "test_sharpness_gradient_and_rate_against_dense_parameter_space")
# ---- optimizers: the batch sequence, SGD, heavy ball / Nesterov, Adam / RMSProp ----------------------
OP = "test_optim.py::"
for _k in ("mix", "stream_key", "next_uniform", "shuffle_prefix", "epoch_permutation", "batch_start",
           "random_subset"):
    twin(f"sgd_numba.{_k}", epoch_permutation, OP + "test_batch_sequence_matches_python_twin_and_partitions_each_epoch")
for _k in ("residual_delta", "batch_gradient"):
    twin(f"sgd_numba.{_k}", train, OP + "test_momentum_and_sgd_engines_match_numpy_twin",
         KT + "test_momentum_step_matches_numpy_training", via="eosdyn.simulate(batch_size=...)")
twin("sgd_numba.directional_curvature", batch_hessian, OP + "test_directional_curvature_matches_dense_batch_hessian",
     OP + "test_recorded_batch_columns_match_twin")
twin("sgd_numba.batch_sharpness", batch_hessian, OP + "test_batch_sharpness_is_the_mean_over_sampled_subsets",
     OP + "test_recorded_batch_columns_match_twin")
twin("momentum_numba.step", train, KT + "test_momentum_step_matches_numpy_training",
     OP + "test_momentum_and_sgd_engines_match_numpy_twin", via="eosdyn.simulate(optimizer='momentum')")
twin("momentum_numba.velocity_norm2", momentum_state, KT + "test_momentum_step_matches_numpy_training")
plumbing("momentum_numba.model", "packs the momentum state for the recording loop",
         OP + "test_momentum_and_sgd_engines_match_numpy_twin")
for _k in ("run_cell", "run_cells", "run_cells_parallel", "run_chain"):
    twin(f"optim_cells_numba.{_k}", train, KT + "test_optimizer_cells_match_numpy_training")
for _k in ("step", "update", "bias_factors", "gradient_vector", "initial_h"):
    twin(f"full_optim_numba.{_k}", train, OP + "test_adaptive_full_engine_matches_numpy_twin",
         OP + "test_momentum_and_sgd_engines_match_numpy_twin", via="eosdyn.simulate(engine='full', optimizer=...)")
twin("full_optim_numba.full_loss", loss_grad, KT + "test_full_optim_helpers")
twin("full_optim_numba.statistics", statistics, KT + "test_full_optim_helpers")
twin("full_optim_numba.diagnose_params", diagnostics, OP + "test_adaptive_full_engine_matches_numpy_twin",
     via="eosdyn.simulate(engine='full', optimizer=...)")
twin("full_optim_numba.extras", train, OP + "test_recorded_batch_columns_match_twin",
     OP + "test_velocity_norm_matches_twin", via="eosdyn.simulate(engine='full', ...)")
plumbing("full_optim_numba.model", "packs the parameters and buffers for the recording loop",
         OP + "test_adaptive_full_engine_matches_numpy_twin")
for _k in ("full_residual_vector", "secular_setup", "secular_matrix", "scaled_hvp"):
    twin(f"precond_numba.{_k}", batch_hessian, OP + "test_preconditioned_sharpness_is_the_generalized_eigenvalue",
         via="optim.precond.preconditioned_sharpness(_lanczos)")
twin("precond_numba.inverse_sqrt_preconditioner", batch_hessian, OP + "test_adam_preconditioner_of_the_recorded_step",
     via="eosdyn.simulate(optimizer='adam')")
