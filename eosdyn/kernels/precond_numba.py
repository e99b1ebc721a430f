r"""Products with the preconditioned Hessian ``P^{-1/2} H P^{-1/2}`` and Adam's preconditioner.

``H = grad^2 L`` at ``(A, W)`` (derivation in :mod:`eosdyn.analysis.hessian`): for a direction
``(alpha, Omega)``, with ``J = X^T (W^T alpha + Omega^T A) / sqrt(m)`` and ``p = X D``,

    H (alpha, Omega) = (2 / (n sqrt(m))) ( W X J + Omega p,  A (X J)^T + alpha p^T ).

``P = diag(P_A, P_W)`` is positive, so ``lambda_max(P^{-1} H) = lambda_max(Q H Q)`` with
``Q = P^{-1/2}``: the symmetric form of the generalized eigenproblem ``H x = lambda P x``. One
product costs ``O(m d + n d)``.
"""

import math

from . import optim_layout as O
from ._numba import jit
from .full_optim_numba import bias_factors, gradient_vector


@jit
def full_residual_vector(h, XT, Y, m, idx, p):
    """``p = X D`` over all samples at ``h = W^T A`` (``idx``: any int64 array, unused)."""
    gradient_vector(h, XT, Y, m, idx, 0, XT.shape[0], True, p)


@jit
def scaled_hvp(A, W, XT, p, q, x, out, t1, J, XJ):
    """``out = Q H Q x`` with ``Q = diag(q)`` (``x``, ``q``, ``out`` flat ``[alpha, Omega.ravel()]``)."""
    m, d = W.shape
    n = XT.shape[0]
    sq = math.sqrt(m)
    for k in range(d):
        t1[k] = 0.0
    for i in range(m):
        ai = q[i] * x[i]
        base = m + i * d
        for k in range(d):
            t1[k] += W[i, k] * ai + q[base + k] * x[base + k] * A[i]
    for k in range(d):
        XJ[k] = 0.0
    for j in range(n):
        acc = 0.0
        for k in range(d):
            acc += XT[j, k] * t1[k]
        J[j] = acc / sq
        for k in range(d):
            XJ[k] += XT[j, k] * J[j]
    c = 2.0 / (n * sq)
    for i in range(m):
        base = m + i * d
        acc = 0.0
        ai = q[i] * x[i]
        for k in range(d):
            acc += W[i, k] * XJ[k] + q[base + k] * x[base + k] * p[k]
        out[i] = q[i] * c * acc
        for k in range(d):
            out[base + k] = q[base + k] * c * (A[i] * XJ[k] + ai * p[k])


@jit
def inverse_sqrt_preconditioner(t, A, W, h, bA2, bW2, XT, Y, hyp, ihyp, idx, start, p, q):
    """``q = P_t^{-1/2}`` (flat) for the step from the current state: the gradient ``g_t`` at ``(A, W)``
    on step ``t``'s batch ``idx[start:start+b]`` (all samples when ``ihyp[I_BATCH] = 0``; ``h = W^T A``),
    ``nu' = beta2 nu + (1 - beta2) g_t^2``, ``P_t = (1 - beta1^k) (sqrt(nu' / (1 - beta2^k)) + eps)``."""
    m, d = W.shape
    b = ihyp[O.I_BATCH]
    full = b == 0
    N = XT.shape[0] if full else b
    gradient_vector(h, XT, Y, float(m), idx, start, N, full, p)
    kind = ihyp[O.I_KIND]
    beta, beta2, eps = hyp[O.H_BETA], hyp[O.H_BETA2], hyp[O.H_EPS]
    bc1, bc2 = bias_factors(kind, beta, beta2, ihyp[O.I_BIAS], t)
    c = 2.0 / (N * math.sqrt(m))
    for i in range(m):
        acc = 0.0
        for k in range(d):
            acc += W[i, k] * p[k]
        g = c * acc
        v = beta2 * bA2[i] + (1.0 - beta2) * g * g
        q[i] = 1.0 / math.sqrt(bc1 * (math.sqrt(v / bc2) + eps))
        ca = c * A[i]
        base = m + i * d
        for k in range(d):
            g = ca * p[k]
            v = beta2 * bW2[i, k] + (1.0 - beta2) * g * g
            q[base + k] = 1.0 / math.sqrt(bc1 * (math.sqrt(v / bc2) + eps))


@jit
def secular_setup(A, W, U, s, q, p, n, T, ZtZ, beta, WU):
    """The structure of ``Q H Q = B + Z Z^T`` (:mod:`eosdyn.optim.precond`): per unit ``i`` the
    projections ``T[i] = [Z_i e_0, Z_i^W bh_i]`` (2 x r), ``Z^T Z`` (r x r) and ``beta[i] = ||B_i||``."""
    m, d = W.shape
    r = U.shape[1]
    sq = math.sqrt(m)
    cz = math.sqrt(2.0 / n) / sq
    cr = 2.0 / (n * sq)
    for k in range(r):
        for kk in range(r):
            ZtZ[k, kk] = 0.0
    for i in range(m):
        base = m + i * d
        bn = 0.0
        for l in range(d):
            bl = q[i] * q[base + l] * p[l]
            bn += bl * bl
        bn = math.sqrt(bn)
        beta[i] = cr * bn
        for k in range(r):
            acc = 0.0
            for l in range(d):
                acc += W[i, l] * U[l, k]
            WU[k] = acc
        for k in range(r):
            za = cz * s[k] * q[i] * WU[k]
            T[i, 0, k] = za
            proj = 0.0
            for l in range(d):
                if bn > 0.0:
                    proj += (q[i] * q[base + l] * p[l] / bn) * (cz * s[k] * q[base + l] * A[i] * U[l, k])
            T[i, 1, k] = proj
            for kk in range(k, r):
                zw = 0.0
                for l in range(d):
                    ql = q[base + l]
                    zw += ql * ql * U[l, k] * U[l, kk]
                ZtZ[k, kk] += za * cz * s[kk] * q[i] * WU[kk] + (cz * cz * s[k] * s[kk] * A[i] * A[i]) * zw
    for k in range(r):
        for kk in range(k):
            ZtZ[k, kk] = ZtZ[kk, k]


@jit
def secular_matrix(mu, T, beta, ZtZ, F):
    """``F(mu) = Z^T (mu I - B)^{-1} Z = Z^T Z / mu + sum_i T_i^T C_i T_i`` with
    ``C_i = beta_i / (mu^2 - beta_i^2) [[beta_i / mu, 1], [1, beta_i / mu]]`` (``mu > max beta``)."""
    m = T.shape[0]
    r = T.shape[2]
    for k in range(r):
        for kk in range(r):
            F[k, kk] = ZtZ[k, kk] / mu
    for i in range(m):
        b = beta[i]
        if b == 0.0:
            continue
        f = b / (mu * mu - b * b)
        dg = f * b / mu
        for k in range(r):
            t0k = T[i, 0, k]
            t1k = T[i, 1, k]
            for kk in range(k, r):
                t0 = T[i, 0, kk]
                t1 = T[i, 1, kk]
                F[k, kk] += dg * (t0k * t0 + t1k * t1) + f * (t0k * t1 + t1k * t0)
    for k in range(r):
        for kk in range(k):
            F[k, kk] = F[kk, k]
