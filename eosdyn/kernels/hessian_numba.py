"""``lambda_max`` of the loss Hessian from the m-independent state (derivation: eosdyn.hessian).

With ``C = [[a/m, u^T/sqrt(m)], [u/sqrt(m), G]]`` ((r+1) x (r+1), PSD) factored as ``C = R^T R`` (R: rho x (r+1),
rho = rank C), ``b = R e_0``, ``N = R [0; I_r]``, ``g = S (S u - z)``, ``nu = ||g|| / sqrt(m)``,
``bh = b/||b||``, ``gh = g/||g||`` and ``S2 = diag(s^2)``, the nonzero spectrum of the Hessian
(in units of 2/n) is that of the symmetric ``(2 rho + r)``-matrix::

    [ N S2 N^T                  ||b|| N S2 + nu bh gh^T    nu (I - bh bh^T) ]
    [ ||b|| S2 N^T + nu gh bh^T  ||b||^2 S2               0                ]
    [ nu (I - bh bh^T)           0                         0                ]

together with ``+-nu`` when ``m > rho``; the Hessian's trace is >= 0, so its top eigenvalue is
``(2/n) max(lambda_max(above), nu [m > rho])``.
"""

import math

import numpy as np

from .._numba import jit


@jit
def build(a, u, G, s, z, m, H):
    """Fill ``H[:k, :k]`` with the matrix above; return ``(k, nu, rho)``.

    ``H`` must be at least ``(3 r + 2)``-square; its unused part is left as is.
    """
    r = s.shape[0]
    p = r + 1
    C = np.empty((p, p))
    C[0, 0] = a / m
    sm = math.sqrt(m)
    for i in range(r):
        C[0, i + 1] = u[i] / sm
        C[i + 1, 0] = u[i] / sm
        for j in range(r):
            C[i + 1, j + 1] = G[i, j]
    mu, Phi = np.linalg.eigh(C)
    top = max(abs(mu[p - 1]), 1e-300)
    cut = 64.0 * p * 2.220446049250313e-16 * top
    rho = 0
    for k in range(p):
        if mu[k] > cut:
            rho += 1
    R = np.zeros((rho, p))
    row = 0
    for k in range(p):
        if mu[k] > cut:
            sq = math.sqrt(mu[k])
            for j in range(p):
                R[row, j] = sq * Phi[j, k]
            row += 1
    g = np.empty(r)
    gn = 0.0
    for i in range(r):
        g[i] = s[i] * (s[i] * u[i] - z[i])
        gn += g[i] * g[i]
    gn = math.sqrt(gn)
    nu = gn / math.sqrt(m)
    gh = np.zeros(r)
    if gn > 0.0:
        for i in range(r):
            gh[i] = g[i] / gn
    else:
        gh[0] = 1.0
    beta = 0.0
    for k in range(rho):
        beta += R[k, 0] * R[k, 0]
    beta = math.sqrt(beta)
    bh = np.zeros(rho)
    if rho > 0:
        if beta > 0.0:
            for k in range(rho):
                bh[k] = R[k, 0] / beta
        else:
            bh[0] = 1.0
    kdim = 2 * rho + r
    for i in range(kdim):
        for j in range(kdim):
            H[i, j] = 0.0
    ox, oc, oy = 0, rho, rho + r
    for i in range(rho):
        for j in range(rho):
            acc = 0.0
            for q in range(r):
                acc += R[i, q + 1] * s[q] * s[q] * R[j, q + 1]
            H[ox + i, ox + j] = acc
            proj = nu * ((1.0 if i == j else 0.0) - bh[i] * bh[j])
            H[ox + i, oy + j] = proj
            H[oy + i, ox + j] = proj
        for q in range(r):
            v = beta * R[i, q + 1] * s[q] * s[q] + nu * bh[i] * gh[q]
            H[ox + i, oc + q] = v
            H[oc + q, ox + i] = v
    for q in range(r):
        H[oc + q, oc + q] = beta * beta * s[q] * s[q]
    return kdim, nu, rho


@jit
def sharpness(a, u, G, s, z, n, m, H):
    """``lambda_max`` of the Hessian of ``L = ||D||^2 / n`` at the state ``(a, u, G)``.

    ``H`` is a ``(3 r + 2)``-square scratch matrix. NaN for a non-finite state.
    """
    if not math.isfinite(a):
        return math.nan
    for i in range(u.shape[0]):
        if not math.isfinite(u[i]):
            return math.nan
        for j in range(u.shape[0]):
            if not math.isfinite(G[i, j]):
                return math.nan
    kdim, nu, rho = build(a, u, G, s, z, m, H)
    lam = 0.0
    if kdim > 0:
        lam = np.linalg.eigvalsh(H[:kdim, :kdim].copy())[kdim - 1]
    if m > rho and nu > lam:
        lam = nu
    return (2.0 / n) * lam
