"""Per-step EoS diagnostics from the m-independent state ``(a, u, G)``.

Everything the paper tracks lives in span(V), where (``S = diag(s)``, ``delta = S u - z``)::

    M   -> K   = (2/n) S ((a/m) I + G) S
    M_A -> K_A = (2/n) S G S
    M_W -> (2 a / (n m)) S^2
    M*  -> K*  = K - (4 eta / (n^2 m)) (D^T F) S^2,     D^T F = (S u) . delta
    D^T v_1 = delta . q_1                               (q_1 the top eigenvector of K)
    ||R||^2 = ||delta||^2 + ||Y_perp||^2 - (D^T v_1)^2

and ``M`` is zero on the orthogonal complement of span(V) (when n > r).
"""

import math

import numpy as np

from . import eigen_numba as E
from . import layout as L
from ._numba import jit

# rows of the ``vecs`` workspace (r,)-vectors: delta = S u - z, the top eigenvector q_1 of K
# (a copy of the K tracker's), a scratch row, and in V_PREV[0:3] the shifts beta of K, K_A, K*
# at the previous call (the Weyl drift of the block eigen path; NaN: none yet)
V_DELTA, V_Q1, V_TMP, V_PREV = 0, 1, 2, 3
NVECS = 4
# slices of the ``mats`` workspace (r, r)-matrices: K, K_A, K*, and G at the previous call
M_K, M_KA, M_KS, M_GPREV = 0, 1, 2, 3
NMATS = 4
# the three eigen trackers of ``eig`` (each an :class:`eigen_numba.Work`)
E_K, E_KA, E_KS = 0, 1, 2


def workspace(r: int):
    """Fresh workspace ``(mats, vecs, eig)`` for :func:`diagnose`: eigen trackers for ``K``
    (top two pairs), ``K_A`` and ``K*`` (top pair); ``q_1``'s sign reference starts along e_1."""
    mats = np.zeros((NMATS, r, r))
    vecs = np.zeros((NVECS, r))
    vecs[V_Q1, 0] = 1.0
    vecs[V_PREV, :] = np.nan
    eig = (E.work(r, 2, vectors="top"), E.work(r, 1, vectors=False), E.work(r, 1, vectors=False))
    eig[E_K].x[0, 0] = 1.0
    return mats, vecs, eig


@jit(_nrt=False)
def state_is_finite(a, u, G):
    """True when ``a``, ``u`` and ``G`` are all finite."""
    if not math.isfinite(a):
        return False
    for i in range(u.shape[0]):
        if not math.isfinite(u[i]):
            return False
    return E.is_finite(G)


@jit(_nrt=False)
def _residual(u, s, z, delta):
    """``delta = S u - z`` (written) and ``(||delta||^2, F^T D = sum s_i u_i delta_i)``."""
    ex = 0.0
    fd = 0.0
    for i in range(s.shape[0]):
        su = s[i] * u[i]
        delta[i] = su - z[i]
        ex += delta[i] * delta[i]
        fd += su * delta[i]
    return ex, fd


@jit(_nrt=False)
def _grams(a, G, s, n, m, eta, fd, K, KA, KS):
    """The three r x r matrices of the diagnostics, written: ``K_A = (2/n) S G S``,
    ``K = K_A + (2/n)(a/m) S^2`` (the Gram matrix M in the data basis) and
    ``K* = K - (4 eta F^T D / (n^2 m)) S^2`` (M*); returns ``(c, a/m, cs) = (2/n, a/m,
    4 eta F^T D / (n^2 m))``."""
    r = s.shape[0]
    c = 2.0 / n
    am = a / m
    cs = 4.0 * eta * fd / (n * n * m)
    for i in range(r):
        for j in range(r):
            ss = c * s[i] * s[j]
            KA[i, j] = ss * G[i, j]
            K[i, j] = KA[i, j]
        K[i, i] += c * s[i] * s[i] * am
        for j in range(r):
            KS[i, j] = K[i, j]
        KS[i, i] -= cs * s[i] * s[i]
    return c, am, cs


@jit(_nrt=False)
def _diagnose_small(a, u, G, s, z, y_perp2, n, m, eta, mats, vecs, eig, out):
    """:func:`diagnose` for small r (whole-space eigen workspaces), without reference counting
    (which costs more than the arithmetic there): the same matrices and formulas, the eigen
    values by :func:`eigen_small_numba._top_two_small` and :func:`eigen_small_numba._top_value_small`.
    Returns False, having written nothing final, where it does not apply (large r, a state that
    is not finite) or an eigen value did not certify: :func:`diagnose` then goes the general way."""
    r = s.shape[0]
    wk = eig[E_K]
    if not (wk.Q.shape[0] == r and wk.old.shape[0] == 0 and wk.lam.shape[0] == 2):
        return False
    if not state_is_finite(a, u, G):
        return False
    K = mats[M_K]
    KA = mats[M_KA]
    KS = mats[M_KS]
    delta = vecs[V_DELTA]
    ex, fd = _residual(u, s, z, delta)
    d2 = ex + y_perp2
    c, am, cs = _grams(a, G, s, n, m, eta, fd, K, KA, KS)
    if E._top_two_small(K, wk) < 0:
        return False
    if E._top_value_small(KA, eig[E_KA]) < 0 or E._top_value_small(KS, eig[E_KS]) < 0:
        return False
    out[L.LOSS] = d2 / n
    out[L.A_NORM2] = a
    out[L.SHARP] = wk.lam[0]
    lam2 = wk.lam[1]
    out[L.LAM2] = lam2 if (lam2 > 0.0 or n == r) else 0.0
    dv1 = 0.0
    for i in range(r):
        vecs[V_Q1, i] = wk.x[0, i]
        dv1 += delta[i] * wk.x[0, i]
    out[L.DV1] = dv1
    out[L.R_NORM2] = d2 - dv1 * dv1
    out[L.SHARP_MA] = eig[E_KA].lam[0]
    lam_s = eig[E_KS].lam[0]
    out[L.SHARP_MSTAR] = lam_s if (lam_s > 0.0 or n == r) else 0.0
    out[L.DTF] = fd
    out[L.SHARP_MW] = c * am * s[0] * s[0]
    return True


@jit(inline="always")
def diagnose(a, u, G, s, z, y_perp2, n, m, eta, mats, vecs, eig, out):
    """Write the ``NDIAG`` diagnostics of state ``(a, u, G)`` into ``out[0:NDIAG]``.

    The eigen trackers in ``eig`` carry the previous eigenvectors of ``K``, ``K_A``, ``K*``
    (warm starts; ``q_1``'s sign is kept continuous). A non-finite state gives NaN diagnostics
    (``loss`` and ``a_norm2`` are still written).

    Inlined into its caller, so that the small-r path (:func:`_diagnose_small`, compiled without
    reference counting) is entered without a reference-counted call: passing the three eigen
    trackers' ~40 arrays through one costs an increment and a decrement each, ~0.8 us a call
    at r = 5, as much as the eigenvalues themselves.
    """
    if not _diagnose_small(a, u, G, s, z, y_perp2, n, m, eta, mats, vecs, eig, out):
        _diagnose_general(a, u, G, s, z, y_perp2, n, m, eta, mats, vecs, eig, out)


@jit
def _diagnose_general(a, u, G, s, z, y_perp2, n, m, eta, mats, vecs, eig, out):
    """:func:`diagnose` where :func:`_diagnose_small` does not apply or did not certify: the
    block eigen path of large r, a non-finite state, a warm start that did not certify."""
    delta = vecs[V_DELTA]
    ex, fd = _residual(u, s, z, delta)
    d2 = ex + y_perp2
    out[L.LOSS] = d2 / n
    out[L.A_NORM2] = a
    if not state_is_finite(a, u, G):
        for k in range(1, L.NDIAG):
            if k != L.A_NORM2:
                out[k] = np.nan
        vecs[V_PREV, 0] = np.nan
        return
    K = mats[M_K]
    KA = mats[M_KA]
    KS = mats[M_KS]
    wk = eig[E_K]
    f = math.inf
    if wk.Q.shape[0] == s.shape[0] and wk.old.shape[0] == 0:
        c, am, cs = _grams(a, G, s, n, m, eta, fd, K, KA, KS)
    else:
        c, am, cs, f = _grams_drift(a, G, s, n, m, eta, fd, K, KA, KS, mats[M_GPREV])
    _spectra(K, KA, KS, f, s, c, am, am - cs / c, delta, d2, n, mats, vecs, eig, out)
    out[L.DTF] = fd
    out[L.SHARP_MW] = c * am * s[0] * s[0]


@jit(_nrt=False)
def _grams_drift(a, G, s, n, m, eta, fd, K, KA, KS, Gp):
    """:func:`_grams` and ``||S (G - G_prev) S||_F`` (then ``G_prev = G``) in one pass over ``G``
    (the block path, where the passes over ``r x r`` matrices are a third of a step); returns
    ``(c, a/m, cs, f)``."""
    r = s.shape[0]
    c = 2.0 / n
    am = a / m
    cs = 4.0 * eta * fd / (n * n * m)
    acc = 0.0
    for i in range(r):
        si = s[i]
        for j in range(r):
            g = G[i, j]
            d = (g - Gp[i, j]) * si * s[j]   # the products in _drifts' and _grams' order
            acc += d * d
            Gp[i, j] = g
            ka = c * si * s[j] * g
            KA[i, j] = ka
            K[i, j] = ka
            KS[i, j] = ka
        K[i, i] += c * si * si * am
        KS[i, i] = K[i, i] - cs * si * si
    return c, am, cs, math.sqrt(acc)


@jit
def _drifts(f, s, c, beta_k, beta_s, vecs):
    """Weyl drifts ``||B - B_prev||_2`` of ``K``, ``K_A``, ``K*`` since the previous call, all
    three ``c S (G + beta I) S``: ``<= c (||S (G - G_prev) S||_F + |beta - beta_prev| max s^2)``,
    from ``f = ||S (G - G_prev) S||_F`` (:func:`_grams_drift`); the shifts are updated. ``inf``
    on the first call."""
    r = s.shape[0]
    prev = vecs[V_PREV]
    s2 = 0.0
    for i in range(r):
        s2 = max(s2, s[i] * s[i])
    first = not (prev[0] == prev[0])
    dk = math.inf if first else c * (f + abs(beta_k - prev[0]) * s2)
    da = math.inf if first else c * f
    ds = math.inf if first else c * (f + abs(beta_s - prev[2]) * s2)
    prev[0] = beta_k
    prev[1] = 0.0
    prev[2] = beta_s
    return dk, da, ds


@jit
def _seed_from_k(wk, w, shift):
    """Warm-start a cold block tracker ``w`` of ``K_A`` or ``K*`` (top pair) from ``K``'s ``wk``:
    its Ritz vectors, and the gap bound ``lambda_2 <= lam_K[1] + err_K[1] + shift`` (Weyl, with
    ``shift >= lambda_max(B - K)``), so that the first call needs neither a cold start nor an
    inertia proof. Returns True when it seeded (the caller passes drift 0 then)."""
    if w.info[E.I_WARM] != 0.0 or wk.info[E.I_WARM] == 0.0 or wk.lam.shape[0] < 2:
        return False
    up = wk.lam[1] + wk.err[1] + shift
    if not (up < math.inf):
        return False
    b = min(w.Q.shape[0], wk.Q.shape[0])
    for i in range(b):
        for j in range(w.Q.shape[1]):
            w.Q[i, j] = wk.Q[i, j]
    w.info[E.I_WARM] = 1.0
    w.info[E.I_BETA] = up
    return True


@jit
def _spectra(K, KA, KS, f, s, c, beta_k, beta_s, delta, d2, n, mats, vecs, eig, out):
    """Eigen-diagnostics through the one eigen contract: ``lambda_1, lambda_2, q_1`` of ``K`` and
    ``lambda_max`` of ``K_A`` and ``K*``, each warm-started from the previous call and certified
    (small r: :func:`eigen_numba.top_two` and :func:`eigen_numba.top_value`, warm Rayleigh
    quotients certified by inertia; large r: :func:`eigen_numba.top_pairs`, block Davidson with
    a carried inertia proof)."""
    r = K.shape[0]
    wk = eig[E_K]
    small = wk.Q.shape[0] == r and wk.old.shape[0] == 0
    dk = da = ds = math.inf
    if small:  # the whole-space path: certified warm Rayleigh quotients, no drift needed
        E.top_two(K, wk)
    else:
        dk, da, ds = _drifts(f, s, c, beta_k, beta_s, vecs)
        E.top_pairs(K, wk, dk)
    lam1 = wk.lam[0]
    out[L.SHARP] = lam1
    lam2 = wk.lam[1] if r >= 2 else 0.0
    out[L.LAM2] = lam2 if (r >= 2 and (lam2 > 0.0 or n == r)) else 0.0
    q1 = vecs[V_Q1]
    dv1 = 0.0
    for i in range(r):
        q1[i] = wk.x[0, i]
        dv1 += delta[i] * q1[i]
    out[L.DV1] = dv1
    out[L.R_NORM2] = d2 - dv1 * dv1
    if small:
        E.top_value(KA, eig[E_KA])
        E.top_value(KS, eig[E_KS])
    else:
        s2 = 0.0
        for i in range(r):
            s2 = max(s2, s[i] * s[i])
        # K_A = K - c a/m S^2 <= K and ||K* - K||_2 = c |beta_s - beta_k| max s^2: lambda_2 of both
        # is at most K's certified lambda_2 plus that, and their top vectors are K's to O(that)
        if _seed_from_k(wk, eig[E_KA], 0.0):
            da = 0.0
        if _seed_from_k(wk, eig[E_KS], c * abs(beta_s - beta_k) * s2):
            ds = 0.0
        E.top_pairs(KA, eig[E_KA], da)
        E.top_pairs(KS, eig[E_KS], ds)
    out[L.SHARP_MA] = eig[E_KA].lam[0]
    lam_s = eig[E_KS].lam[0]
    out[L.SHARP_MSTAR] = lam_s if (lam_s > 0.0 or n == r) else 0.0
