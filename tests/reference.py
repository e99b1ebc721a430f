"""Slow, obviously-correct numpy twins of eosdyn's kernels, written from the paper's formulas.

Nothing here imports eosdyn's kernels: parameter-space GD, the Gram matrices and every
diagnostic are formed explicitly as n x n matrices and diagonalised with LAPACK.
"""

from __future__ import annotations

import numpy as np


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


def reduced_map(a, u, G, s, z, n, m, eta, steps, order=1):
    """The reduced map of the notes, in plain numpy (allocating), for ``steps`` steps."""
    out = [(a, u.copy(), G.copy())]
    for _ in range(steps):
        delta = s * u - z
        g = s * delta
        fd = (s * u) @ delta
        Gg = G @ g
        e2 = order * eta**2
        a_new = a - 4 * eta / n * (u @ g) + 4 * e2 / n**2 * (g @ Gg)
        u_new = u - 2 * eta / n * Gg - 2 * eta * a / (n * m) * g + 4 * e2 / (n**2 * m) * fd * g
        G_new = (G - 2 * eta / (n * m) * (np.outer(u, g) + np.outer(g, u))
                 + 4 * e2 * a / (n**2 * m**2) * np.outer(g, g))
        a, u, G = a_new, u_new, G_new
        out.append((a, u.copy(), G.copy()))
    return out
