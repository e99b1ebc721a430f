"""``lambda_max`` of the loss Hessian from the m-independent state (derivation: eosdyn.analysis.hessian).

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

from . import eigen_numba as E
from ._numba import jit

_EPS = 2.220446049250313e-16


def workspace(r: int):
    """Scratch ``(H, C, R, gh, prev, ew)`` for :func:`sharpness` at rank r: the eigen tracker
    ``ew`` (:func:`eigen_numba.work`) keeps the warm top eigenvector of ``H`` and ``prev`` the
    previous ``H`` (its Weyl drift)."""
    k = 3 * r + 2
    ew = E.work(k, 1, vectors=False)
    ew.x[0, :] = 1.0 / math.sqrt(k)
    return (np.zeros((k, k)), np.zeros((r + 1, r + 1)), np.zeros((r + 1, r + 1)), np.zeros(r),
            np.full((k, k), np.nan), ew)


@jit
def _gram(a, u, G, m, C):
    """``C = [[a/m, u^T/sqrt(m)], [u/sqrt(m), G]]``."""
    r = u.shape[0]
    sm = math.sqrt(m)
    C[0, 0] = a / m
    for i in range(r):
        C[0, i + 1] = u[i] / sm
        C[i + 1, 0] = u[i] / sm
        for j in range(r):
            C[i + 1, j + 1] = G[i, j]


@jit
def _factor_cholesky(C, R):
    """``C = R^T R`` with R upper triangular; False if a pivot is not clearly positive."""
    p = C.shape[0]
    top = 0.0
    for i in range(p):
        top = max(top, abs(C[i, i]))
    cut = 64.0 * p * _EPS * max(top, 1e-300)
    for i in range(p):
        for j in range(p):
            R[i, j] = 0.0
    for j in range(p):
        acc = C[j, j]
        for k in range(j):
            acc -= R[k, j] * R[k, j]
        if not (acc > cut):
            return False
        d = math.sqrt(acc)
        R[j, j] = d
        for i in range(j + 1, p):
            acc = C[j, i]
            for k in range(j):
                acc -= R[k, j] * R[k, i]
            R[j, i] = acc / d
    return True


@jit
def _factor_eigh(C, R):
    """``C = R^T R`` with ``R`` (rho rows used) from the eigenpairs above a relative cut
    (rank-deficient C, e.g. m < r + 1; :func:`eigen_numba.all_pairs`); returns rho."""
    p = C.shape[0]
    mu = np.empty(p)
    Phi = np.empty((p, p))  # eigenvectors as rows
    E.all_pairs(C, mu, Phi, np.empty(p))
    top = 0.0
    for k in range(p):
        top = max(top, abs(mu[k]))
    cut = 64.0 * p * _EPS * max(top, 1e-300)
    rho = 0
    for k in range(p):
        if mu[k] > cut:
            sq = math.sqrt(mu[k])
            for j in range(p):
                R[rho, j] = sq * Phi[k, j]
            rho += 1
    return rho


@jit
def build(a, u, G, s, z, m, H, C, R, gh):
    """Fill ``H[:k, :k]`` with the matrix above (``C``, ``R`` (r+1)-square scratch, ``gh``
    (r,)); return ``(k, nu, rho)``. ``H`` must be at least ``(3 r + 2)``-square."""
    r = s.shape[0]
    _gram(a, u, G, m, C)
    if _factor_cholesky(C, R):
        rho = r + 1
    else:
        rho = _factor_eigh(C, R)
    gn = 0.0
    for i in range(r):
        gh[i] = s[i] * (s[i] * u[i] - z[i])
        gn += gh[i] * gh[i]
    gn = math.sqrt(gn)
    nu = gn / math.sqrt(m)
    if gn > 0.0:
        for i in range(r):
            gh[i] /= gn
    else:
        for i in range(r):
            gh[i] = 0.0
        gh[0] = 1.0
    beta = 0.0
    for k in range(rho):
        beta += R[k, 0] * R[k, 0]
    beta = math.sqrt(beta)
    kdim = 2 * rho + r
    ox, oc, oy = 0, rho, rho + r
    for i in range(kdim):
        for j in range(kdim):
            H[i, j] = 0.0
    for i in range(rho):
        bi = R[i, 0] / beta if beta > 0.0 else (1.0 if i == 0 else 0.0)
        for j in range(rho):
            bj = R[j, 0] / beta if beta > 0.0 else (1.0 if j == 0 else 0.0)
            acc = 0.0
            for q in range(r):
                acc += R[i, q + 1] * s[q] * s[q] * R[j, q + 1]
            H[ox + i, ox + j] = acc
            proj = nu * ((1.0 if i == j else 0.0) - bi * bj)
            H[ox + i, oy + j] = proj
            H[oy + i, ox + j] = proj
        for q in range(r):
            v = beta * R[i, q + 1] * s[q] * s[q] + nu * bi * gh[q]
            H[ox + i, oc + q] = v
            H[oc + q, ox + i] = v
    for q in range(r):
        H[oc + q, oc + q] = beta * beta * s[q] * s[q]
    return kdim, nu, rho


@jit
def sharpness(a, u, G, s, z, n, m, ws):
    """``lambda_max`` of the Hessian of ``L = ||D||^2 / n`` at the state ``(a, u, G)``.

    ``ws`` from :func:`workspace`; its eigen tracker carries the previous top eigenvector (warm
    start of the certified :func:`eigen_numba.top_pairs`). NaN for a non-finite state.
    """
    H, C, R, gh, prev, ew = ws
    r = u.shape[0]
    if not math.isfinite(a):
        return math.nan
    for i in range(r):
        if not math.isfinite(u[i]):
            return math.nan
        for j in range(r):
            if not math.isfinite(G[i, j]):
                return math.nan
    kdim, nu, rho = build(a, u, G, s, z, m, H, C, R, gh)
    if kdim == H.shape[0]:
        E.top_pairs(H, ew, E.frobenius_drift(H, prev))
        lam = ew.lam[0]
    else:   # rank-deficient C: a smaller matrix, solved from scratch
        Hk = H[:kdim, :kdim].copy()
        wk = E.new_work(kdim, 1, False, -1)
        E.top_pairs(Hk, wk, math.inf)
        lam = wk.lam[0]
        prev[0, 0] = np.nan
    if m > rho and nu > lam:
        lam = nu
    return (2.0 / n) * lam


@jit
def sharpness_of_states(Y, s, z, n, m, out, ws):
    """``out[k]`` = :func:`sharpness` of the flat state ``Y[k] = [a, u, G.ravel()]``, in order
    (the warm eigenvector follows the states)."""
    r = s.shape[0]
    u = np.empty(r)
    G = np.empty((r, r))
    for k in range(Y.shape[0]):
        for i in range(r):
            u[i] = Y[k, 1 + i]
            for j in range(r):
                G[i, j] = Y[k, 1 + r + i * r + j]
        out[k] = sharpness(Y[k, 0], u, G, s, z, n, m, ws)
