r"""The loss Hessian, its top eigenvectors and their third-derivative terms on the reduced state.

Derivation (parameters ``theta = (A, W)``, ``F = X^T W^T A / sqrt(m)``, ``L = ||F - Y||^2 / n``)
------------------------------------------------------------------------------------------
``F`` is bilinear, so ``L`` is a quartic polynomial and its derivatives are explicit. For a
direction ``q = (alpha, Omega)`` let ``j = J q = X^T (W^T alpha + Omega^T A) / sqrt(m)`` and
``c = d^2F[q, q] = 2 X^T Omega^T alpha / sqrt(m)`` (independent of theta). Then
``q^T H q = (2/n) (||j||^2 + D . c)`` and its gradient in theta (``nabla S = nabla^3 L[q, q]``
when ``q`` is the unit top eigenvector) is::

    grad_A  q^T H q = (2/(n sqrt m)) (2 Omega X j + W X c)
    grad_W  q^T H q = (2/(n sqrt m)) (2 alpha (X j)^T + A (X c)^T).

*Closure.* With ``P = [A, W U]`` (m x (r+1)) and ``C = P^T P / m = R^T R`` (R a square factor,
the m-independent state ``(a, u, G)``), the invariant subspace ``T`` of :mod:`eosdyn.analysis.hessian`
is ``{alpha = O xh, Omega = O Yh U^T}`` with ``O = P R^{-1} / sqrt(m)`` (orthonormal columns),
``xh in R^{r+1}``, ``Yh in R^{(r+1) x r}`` -- orthonormal coordinates, ``||q||^2 = ||xh||^2 +
||Yh||_F^2``. In them (``b = R e_0``, ``N = R [0; I_r]``, ``g = S (S u - z)``,
``w = N^T xh + Yh^T b``) the Hessian is

    H (xh, Yh) = (2/n) ( N S^2 w + Yh g / sqrt(m),  b (S^2 w)^T + xh g^T / sqrt(m) ),

and every gradient above is of the form ``(P xi, P Z U^T)``: writing ``K = [xi, Z]``
((r+1)-square), ``x = R^{-1} xh``, ``Y = R^{-1} Yh``, ``kappa = Yh^T xh``, hats for
``[0; .]`` ((r+1)-vectors),

    K_S(q) = (4/(n m)) ( (Y S^2 w + kappa^) e_0^T + x (S^2 w)^^T + e_0 (S^2 kappa)^^T ),
    K_L    = (2/(n sqrt m)) ( g^ e_0^T + e_0 g^^T )                 (nabla L itself).

A velocity ``theta' = (P xi, P Z U^T)`` moves ``P`` by ``P' = P K``, so the state moves by

    C' = K^T C + C K = (R K)^T R + R^T (R K):  a' = m C'_00,  u' = sqrt(m) C'_{1:,0},  G' = C'_{1:,1:},

and inner products of such vectors are ``<K1, K2> = m tr(K1^T C K2) = m <R K1, R K2>_F``. The
kernels therefore work with ``R K`` only, which needs no ``R^{-1}``:

    R K_S(q) = (4/(n m)) ( (Yh S^2 w + R kappa^) e_0^T + xh (S^2 w)^^T + b (S^2 kappa)^^T ),
    R K_L    = (2/(n sqrt m)) ( N g e_0^T + b g^^T ),      R K_q = [xh, Yh] / sqrt(m)

(``K_q``: the vector ``q`` itself). Any factor ``C = R^T R`` gives the same results (they are
invariant under ``R -> O R``): Cholesky when ``C`` is numerically positive definite, else
``rho = rank C`` rows from its eigendecomposition (the others zero). Hence any flow
``theta' = -eta [nabla L + (1/2) sum_ij X_ij nabla <q_i, H q_j>]`` with ``q_i`` in ``T`` closes
on ``(a, u, G)`` (the central flow and the projected gradient flow of
:mod:`eosdyn.engines.central_flow`). ``nabla <q_i, H q_j>`` (fixed ``q``'s) is the polarisation
``(K_S(q_i + q_j) - K_S(q_i - q_j)) / 4``.

Outside ``T`` the Hessian has only the residual-coupling eigenvalues ``+-nu_H``,
``nu_H = (2/n) ||g|| / sqrt(m)`` (present iff ``m > r + 1``), of multiplicity ``m - r - 1``;
their eigenvectors do not keep the state closed, so the engines stop when ``nu_H`` reaches
``2/eta`` (see :mod:`eosdyn.engines.central_flow`).

Eigenpairs are computed on the Hessian compressed to its range (dimension ``2 rho + r``,
:func:`eosdyn.kernels.hessian_numba.build`, coordinates ``(xh, c, y)``, ``Yh = bh c^T + y gh^T``)
-- the top one by the certified warm-started iteration of :func:`eosdyn.kernels.eigen_numba.top_pairs` -- and
mapped back to ``q = (xh, Yh)`` by :func:`to_T`.

The flat state is ``y = [a, u, G.ravel()]`` (as in :mod:`eosdyn.kernels.flow_numba`).
"""

import math

import numpy as np

from . import eigen_numba as E
from ._numba import jit
from .eigen_numba import sym_eigvals
from .flow_numba import unpack
from .hessian_numba import build

# rows of the info vector written by :func:`edge_terms`
I_S, I_LAM1, I_LAMNEXT, I_NU, I_SIG2RAW, I_SIG2, I_ALPHA, I_BETA, I_GSQ, I_XH2 = range(10)
NINFO = 10


def _tracker(k: int):
    """The eigen tracker of the compressed Hessian's top pair (:func:`eigen_numba.work`)."""
    ew = E.work(k, 1, vectors="top")
    ew.x[0, :] = 1.0 / math.sqrt(k)
    return ew


def workspace(r: int):
    """Scratch for the kernels of this module at rank r (``v`` carries the warm top eigenvector
    of the compressed Hessian from call to call)."""
    r1 = r + 1
    p = r1 * r1
    k = 3 * r + 2
    return dict(
        u=np.zeros(r), G=np.zeros((r, r)), C=np.zeros((r1, r1)), R=np.zeros((r1, r1)),
        g=np.zeros(r), Hc=np.zeros((k, k)), gh=np.zeros(r),
        KL=np.zeros((r1, r1)), KS=np.zeros((r1, r1)), K=np.zeros((r1, r1)), q=np.zeros(p),
        x=np.zeros(r1), w=np.zeros(r), kap=np.zeros(r),
        v=np.full(k, 1.0 / math.sqrt(k)), work=np.zeros((k, k)), ew=_tracker(k),
        e=np.zeros(k), ev=np.zeros(k),
    )


def args(ws):
    """The workspace in the positional order the kernels take it."""
    return (ws["u"], ws["G"], ws["C"], ws["R"], ws["g"], ws["Hc"], ws["gh"], ws["KL"], ws["KS"],
            ws["K"], ws["q"], ws["x"], ws["w"], ws["kap"], ws["v"], ws["work"], ws["ew"], ws["e"],
            ws["ev"])


@jit
def compress(y, s, z, m, u, G, C, R, g, Hc, gh):
    """The Hessian on ``T`` compressed to its range (:func:`eosdyn.kernels.hessian_numba.build`:
    ``Hc[:kdim, :kdim]`` in units of ``2/n``, coordinates ``(xh, c, y)`` with
    ``Yh = bh c^T + y gh^T``), the factor ``R`` (rows ``>= rho`` zeroed) and ``g``.
    Returns ``(ok, kdim, nu, rho)``, ``nu = ||g|| / sqrt(m)``; ok False for a non-finite state."""
    for i in range(y.shape[0]):
        if not math.isfinite(y[i]):
            return False, 0, math.nan, 0
    a = unpack(y, u, G)
    kdim, nu, rho = build(a, u, G, s, z, m, Hc, C, R, gh)
    for i in range(rho, R.shape[0]):
        for j in range(R.shape[1]):
            R[i, j] = 0.0
    for i in range(u.shape[0]):
        g[i] = s[i] * (s[i] * u[i] - z[i])
    return True, kdim, nu, rho


@jit
def to_T(vec, rho, R, gh, q):
    """``q = [xh, Yh.ravel()]`` of a vector ``(xh, c, y)`` of the compressed coordinates."""
    r1 = R.shape[0]
    r = r1 - 1
    beta = 0.0
    for i in range(rho):
        beta += R[i, 0] * R[i, 0]
    beta = math.sqrt(beta)
    for i in range(q.shape[0]):
        q[i] = 0.0
    for i in range(rho):
        q[i] = vec[i]
        bi = R[i, 0] / beta if beta > 0.0 else (1.0 if i == 0 else 0.0)
        for l in range(r):
            q[r1 + i * r + l] = bi * vec[rho + l] + vec[rho + r + i] * gh[l]


@jit
def third_K(q, R, s, n, m, K, x, w, kap):
    """``K = R K_S(q)``: the gradient of ``q^T H(theta) q`` (fixed q in T), times R (module doc)."""
    r = s.shape[0]
    r1 = r + 1
    for l in range(r):
        acc = 0.0
        ak = 0.0
        for i in range(r1):
            acc += R[i, l + 1] * q[i] + q[r1 + i * r + l] * R[i, 0]
            ak += q[r1 + i * r + l] * q[i]
        w[l] = s[l] * s[l] * acc     # S^2 w
        kap[l] = s[l] * s[l] * ak    # S^2 kappa
    for i in range(r1):
        acc = 0.0
        for l in range(r):
            acc += R[i, l + 1] * kap[l]
        x[i] = acc                   # R kappa^
    c = 4.0 / (n * m)
    for i in range(r1):
        acc = 0.0
        for l in range(r):
            acc += q[r1 + i * r + l] * w[l]
        K[i, 0] = c * (acc + x[i])
        for l in range(r):
            K[i, l + 1] = c * (q[i] * w[l] + R[i, 0] * kap[l])


@jit
def grad_K(g, R, n, m, K):
    """``K = R K_L`` for ``nabla L = (P xi, P Z U^T)``, ``xi = c [0; g]``, ``Z = c e_0 g^T``."""
    r1 = K.shape[0]
    c = 2.0 / (n * math.sqrt(m))
    for i in range(r1):
        acc = 0.0
        for l in range(r1 - 1):
            acc += R[i, l + 1] * g[l]
        K[i, 0] = c * acc
        for l in range(r1 - 1):
            K[i, l + 1] = c * R[i, 0] * g[l]


@jit
def inner(K1, K2, m):
    """``<v1, v2>`` in parameter space for ``v = (P xi, P Z U^T)`` given ``R K``: ``m <R K1, R K2>_F``."""
    acc = 0.0
    for i in range(K1.shape[0]):
        for j in range(K1.shape[1]):
            acc += K1[i, j] * K2[i, j]
    return m * acc


@jit
def state_rate(K, R, m, out):
    """``out`` = the flat-state rate of ``C' = (R K)^T R + R^T (R K)`` (``[a', u', G'.ravel()]``)."""
    r1 = R.shape[0]
    r = r1 - 1
    sm = math.sqrt(m)
    for i in range(r1):
        for j in range(i, r1):
            acc = 0.0
            for k in range(r1):
                acc += K[k, i] * R[k, j] + R[k, i] * K[k, j]
            if i == 0 and j == 0:
                out[0] = m * acc
            elif i == 0:
                out[j] = sm * acc
            else:
                out[1 + r + (i - 1) * r + (j - 1)] = acc
                out[1 + r + (j - 1) * r + (i - 1)] = acc


@jit
def param_vector(q, sm, K):
    """``K = R K_q`` of the parameter-space vector ``q`` itself: ``[xh, Yh] / sqrt(m)``."""
    r1 = K.shape[0]
    r = r1 - 1
    for i in range(r1):
        K[i, 0] = q[i] / sm
        for l in range(r):
            K[i, l + 1] = q[r1 + i * r + l] / sm


@jit
def spectrum(y, s, z, n, m, u, G, C, R, g, Hc, gh):
    """The eigenpairs of the Hessian on ``T`` that can be nonzero (ascending, in the Hessian's
    units) with the eigenvectors as ``q`` vectors (columns), and ``nu_H``: ``(ok, lam, Vq, nu_H)``."""
    p = R.shape[0] * R.shape[0]
    ok, kdim, nu, rho = compress(y, s, z, m, u, G, C, R, g, Hc, gh)
    if not ok:
        return False, np.full(1, np.nan), np.zeros((p, 1)), math.nan
    lam, V = np.linalg.eigh(Hc[:kdim, :kdim].copy())
    Vq = np.zeros((p, kdim))
    q = np.zeros(p)
    for j in range(kdim):
        to_T(V[:, j], rho, R, gh, q)
        for i in range(p):
            Vq[i, j] = q[i]
    c = 2.0 / n
    return True, c * lam, Vq, c * nu if m > rho else 0.0


@jit
def top_pair(y, s, z, n, m, u, G, C, R, g, Hc, gh, q, v, work, ew, e, ev):
    """Top eigenpair of the Hessian on ``T`` (certified, warm-started from ``v``; ``q`` gets the
    unit eigenvector), and ``nu_H``: ``(ok, lambda_1, nu_H, kdim)``."""
    ok, kdim, nu, rho = compress(y, s, z, m, u, G, C, R, g, Hc, gh)
    if not ok:
        return False, math.nan, math.nan, 0
    if kdim == Hc.shape[0]:
        E.top_pairs(Hc, ew, math.inf)   # warm from the previous call's pair; certified
        lam = ew.lam[0]
        for i in range(kdim):
            v[i] = ew.x[0, i]
        to_T(v, rho, R, gh, q)
    else:   # rank-deficient C: a smaller matrix, solved directly
        vals, V = np.linalg.eigh(Hc[:kdim, :kdim].copy())
        lam = vals[kdim - 1]
        to_T(V[:, kdim - 1], rho, R, gh, q)
    c = 2.0 / n
    return True, c * lam, c * nu if m > rho else 0.0, kdim


@jit
def next_eigenvalue(Hc, kdim, k, n, ev, work, e):
    """The ``(k+1)``-th largest eigenvalue of the Hessian on ``T`` (after :func:`top_pair`)."""
    if k >= kdim:
        return -math.inf
    if kdim == Hc.shape[0]:
        sym_eigvals(Hc, ev, work, e)
        return (2.0 / n) * ev[kdim - 1 - k]
    vals = np.linalg.eigvalsh(Hc[:kdim, :kdim].copy())
    return (2.0 / n) * vals[kdim - 1 - k]


@jit
def edge_terms(y, s, z, n, m, eta, kappa, k, want_next, out, info, u, G, C, R, g, Hc, gh, KL, KS,
               K, q, x, w, kap, v, work, ew, e, ev):
    """Rate of the flow with ``k <= 1`` eigenvalues at the edge, and its diagnostics.

    ``k = 0``: the gradient flow ``theta' = -eta nabla L``. ``k = 1``: the central flow
    ``theta' = -eta (nabla L + sigma^2 nabla S / 2)`` with
    ``sigma^2 = max(0, [2 <-nabla L, nabla S> - (2 kappa/eta)(2/eta - S)] / ||nabla S||^2)``
    (``kappa``: the constraint's relaxation rate per step, see :mod:`eosdyn.engines.central_flow`).
    ``out``: the flat-state rate per GD step. ``info`` (NINFO): S, lambda_1(T),
    lambda_{k+1}(T) (only if ``want_next``: all eigenvalues, else NaN), nu_H, sigma^2 unclipped,
    sigma^2, alpha = -<nabla L, nabla S>, beta = ||nabla S||^2, <nabla S, q_1>, ||xh_1||^2
    (q_1's share in A). Returns False (``out`` NaN) when the state is not finite or ``C`` is
    singular.
    """
    for i in range(info.shape[0]):
        info[i] = math.nan
    ok, lam1, nu, kdim = top_pair(y, s, z, n, m, u, G, C, R, g, Hc, gh, q, v, work, ew, e, ev)
    if not ok:
        for i in range(out.shape[0]):
            out[i] = math.nan
        return False
    info[I_LAM1] = lam1
    info[I_S] = max(lam1, nu)
    info[I_NU] = nu
    if want_next:
        info[I_LAMNEXT] = next_eigenvalue(Hc, kdim, k, n, ev, work, e)
    grad_K(g, R, n, m, KL)
    third_K(q, R, s, n, m, KS, x, w, kap)
    beta = inner(KS, KS, m)
    alpha = -inner(KS, KL, m)
    param_vector(q, math.sqrt(m), K)
    xh2 = 0.0
    for i in range(C.shape[0]):
        xh2 += q[i] * q[i]
    info[I_ALPHA] = alpha
    info[I_BETA] = beta
    info[I_GSQ] = inner(KS, K, m)
    info[I_XH2] = xh2
    sig2 = 0.0
    if k >= 1:
        raw = (2.0 * alpha - (2.0 * kappa / eta) * (2.0 / eta - lam1)) / beta
        info[I_SIG2RAW] = raw
        sig2 = max(raw, 0.0)
    info[I_SIG2] = sig2
    for i in range(C.shape[0]):
        for j in range(C.shape[0]):
            K[i, j] = -eta * (KL[i, j] + 0.5 * sig2 * KS[i, j])
    state_rate(K, R, m, out)
    return True


@jit
def edge_rates(Ys, s, z, n, m, eta, kappa, k, out, infos, u, G, C, R, g, Hc, gh, KL, KS, K, q, x,
               w, kap, v, work, ew, e, ev):
    """:func:`edge_terms` for the columns of ``Ys`` (state x count), as ``solve_ivp``'s
    vectorised right-hand side wants them; ``out`` the same shape."""
    col = np.empty(Ys.shape[0])
    rate = np.empty(Ys.shape[0])
    for c in range(Ys.shape[1]):
        for i in range(Ys.shape[0]):
            col[i] = Ys[i, c]
        edge_terms(col, s, z, n, m, eta, kappa, k, False, rate, infos[c], u, G, C, R, g, Hc, gh, KL,
                   KS, K, q, x, w, kap, v, work, ew, e, ev)
        for i in range(Ys.shape[0]):
            out[i, c] = rate[i]


@jit
def edge_infos(Ys, ks, s, z, n, m, eta, kappa, infos, u, G, C, R, g, Hc, gh, KL, KS, K, q, x, w,
               kap, v, work, ew, e, ev):
    """``infos[i]`` = :func:`edge_terms` info of the state ``Ys[i]`` (rows) in regime
    ``min(ks[i], 1)``, in order (the warm eigenvector follows the states)."""
    col = np.empty(Ys.shape[1])
    rate = np.empty(Ys.shape[1])
    for i in range(Ys.shape[0]):
        for j in range(Ys.shape[1]):
            col[j] = Ys[i, j]
        edge_terms(col, s, z, n, m, eta, kappa, min(ks[i], 1), False, rate, infos[i], u, G, C, R, g,
                   Hc, gh, KL, KS, K, q, x, w, kap, v, work, ew, e, ev)


@jit
def cluster_terms(y, s, z, n, m, k, Ks, lam_k, u, G, C, R, g, Hc, gh, KL, KS, K, q, x, w, kap, v,
                  work, ew, e, ev):
    """For ``k`` eigenvalues at the edge: ``Ks[idx(i, j)]`` = K of ``nabla <q_i, H q_j>``
    (``i <= j``, row-major upper triangle), ``lam_k`` the top k eigenvalues on T (descending);
    returns ``(ok, nu_H, lambda_{k+1})``. ``KL`` is left holding ``K_L``."""
    ok, lam, V, nu = spectrum(y, s, z, n, m, u, G, C, R, g, Hc, gh)
    p = V.shape[0]
    kd = V.shape[1]
    if not ok:
        return False, math.nan, math.nan
    grad_K(g, R, n, m, KL)
    r1 = C.shape[0]
    idx = 0
    for i in range(k):
        lam_k[i] = lam[kd - 1 - i]
        for j in range(i, k):
            if i == j:
                for t in range(p):
                    q[t] = V[t, kd - 1 - i]
                third_K(q, R, s, n, m, KS, x, w, kap)
                for a in range(r1):
                    for b in range(r1):
                        Ks[idx, a, b] = KS[a, b]
            else:   # polarisation of the quadratic map q -> K_S(q)
                for t in range(p):
                    q[t] = V[t, kd - 1 - i] + V[t, kd - 1 - j]
                third_K(q, R, s, n, m, KS, x, w, kap)
                for a in range(r1):
                    for b in range(r1):
                        Ks[idx, a, b] = 0.25 * KS[a, b]
                for t in range(p):
                    q[t] = V[t, kd - 1 - i] - V[t, kd - 1 - j]
                third_K(q, R, s, n, m, KS, x, w, kap)
                for a in range(r1):
                    for b in range(r1):
                        Ks[idx, a, b] -= 0.25 * KS[a, b]
            idx += 1
    nxt = lam[kd - 1 - k] if k < kd else -math.inf
    return True, nu, nxt


@jit
def cluster_gram(Ks, KL, m, Bv, av):
    """``Bv[a, b] = <Ks[a], Ks[b]>``, ``av[a] = <Ks[a], K_L>`` (parameter-space inner products)."""
    d = Ks.shape[0]
    for a in range(d):
        av[a] = inner(Ks[a], KL, m)
        for b in range(a + 1):
            v = inner(Ks[a], Ks[b], m)
            Bv[a, b] = v
            Bv[b, a] = v


@jit
def cluster_rate(Ks, KL, R, m, eta, Xv, K, out):
    """Rate of ``theta' = -eta (nabla L + (1/2) sum_ij X_ij nabla <q_i, H q_j>)``; ``Xv`` holds
    ``X_ij`` for ``i <= j`` in the order of ``Ks`` (off-diagonal terms count twice)."""
    r1 = R.shape[0]
    d = Ks.shape[0]
    k = int(round((math.sqrt(8 * d + 1) - 1) / 2))
    for a in range(r1):
        for b in range(r1):
            K[a, b] = KL[a, b]
    idx = 0
    for i in range(k):
        for j in range(i, k):
            wgt = 0.5 * Xv[idx] * (1.0 if i == j else 2.0)
            for a in range(r1):
                for b in range(r1):
                    K[a, b] += wgt * Ks[idx, a, b]
            idx += 1
    for a in range(r1):
        for b in range(r1):
            K[a, b] *= -eta
    state_rate(K, R, m, out)
