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

from . import layout as L
from ._numba import jit
from .sturm_numba import max_eig_certified, top_eigvec_shifted, top_two, tridiagonal

# rows of the ``vecs`` workspace (r,)-vectors; V_Q1.. persist between calls (warm starts:
# eigenvectors, and in element 0 of V_W1, V_W2 the previous lambda_1, lambda_2 of K)
V_DELTA, V_EV, V_E, V_TMP, V_Q1, V_QA, V_QS = 0, 1, 2, 3, 4, 5, 6
V_W1, V_W2, V_WA, V_WS = 7, 8, 9, 10
NVECS = 11
# slices of the ``mats`` workspace (r, r)-matrices
M_K, M_KA, M_KS, M_WORK = 0, 1, 2, 3
NMATS = 4


def workspace(r: int):
    """Fresh workspace for :func:`diagnose`; the warm eigenvectors start along e_1."""
    mats = np.zeros((NMATS, r, r))
    vecs = np.zeros((NVECS, r))
    for k in (V_Q1, V_QA, V_QS):
        vecs[k, 0] = 1.0
    for k in (V_W1, V_W2, V_WA, V_WS):
        vecs[k, 0] = np.nan
    piv = np.zeros(r, dtype=np.int64)
    return mats, vecs, piv


@jit
def state_is_finite(a, u, G):
    """True when ``a``, ``u`` and ``G`` are all finite."""
    if not math.isfinite(a):
        return False
    for i in range(u.shape[0]):
        if not math.isfinite(u[i]):
            return False
    for i in range(G.shape[0]):
        for j in range(G.shape[1]):
            if not math.isfinite(G[i, j]):
                return False
    return True


@jit
def diagnose(a, u, G, s, z, y_perp2, n, m, eta, mats, vecs, piv, out):
    """Write the ``NDIAG`` diagnostics of state ``(a, u, G)`` into ``out[0:NDIAG]``.

    ``vecs[V_Q1]``, ``vecs[V_QA]``, ``vecs[V_QS]`` carry the previous top eigenvectors of
    ``K``, ``K_A`` and ``K*`` (warm starts; ``q_1``'s sign is kept continuous).
    A non-finite state gives NaN diagnostics (``loss`` and ``a_norm2`` are still written).
    """
    r = s.shape[0]
    delta = vecs[V_DELTA]
    ex = 0.0
    fd = 0.0
    for i in range(r):
        su = s[i] * u[i]
        delta[i] = su - z[i]
        ex += delta[i] * delta[i]
        fd += su * delta[i]
    d2 = ex + y_perp2
    out[L.LOSS] = d2 / n
    out[L.A_NORM2] = a
    if not state_is_finite(a, u, G):
        for k in range(1, L.NDIAG):
            if k != L.A_NORM2:
                out[k] = np.nan
        return
    K = mats[M_K]
    KA = mats[M_KA]
    KS = mats[M_KS]
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
    _spectra(K, KA, KS, delta, d2, n, mats, vecs, piv, out)
    out[L.DTF] = fd
    out[L.SHARP_MW] = c * am * s[0] * s[0]


@jit
def _spectra(K, KA, KS, delta, d2, n, mats, vecs, piv, out):
    """Eigen-diagnostics, every one warm-started from the previous call (:mod:`.sturm_numba`).

    ``K``: Householder to tridiagonal, then Sturm-sequence Newton from a certified start for
    lambda_1 and lambda_2, bisection where Newton stalls. ``K_A``, ``K*``: the Rayleigh
    quotient of a warm vector certified by an inertia test, refined by shift-and-invert
    (:func:`.sturm_numba.max_eig_certified`), the Sturm kernels as fallback. ``q_1``:
    inverse iteration with the positive definite shift
    ``(lambda_1 + tau) I - K``. No LAPACK call and no allocation: O(r^3) per call with small
    constants, as fast as LAPACK's ``syevd`` here up to r ~ 200 and far faster for small r.
    """
    r = K.shape[0]
    work = mats[M_WORK]
    lam1, lam2 = _top(K, work, vecs, V_W1, True)
    out[L.SHARP] = lam1
    out[L.LAM2] = lam2 if (r >= 2 and (lam2 > 0.0 or n == r)) else 0.0
    q1 = vecs[V_Q1]
    tmp = vecs[V_TMP]
    scale = 0.0
    for i in range(r):
        scale = max(scale, abs(K[i, i]))
    if not top_eigvec_shifted(K, lam1, scale, q1, tmp, work):
        for i in range(r):  # no eigenvector found (not seen in practice): flag D^T v_1
            tmp[i] = np.nan
    _set_dv1(q1, tmp, delta, d2, out)
    out[L.SHARP_MA] = _top_warm(KA, work, vecs, V_QA, V_WA, scale)
    lam_s = _top_warm(KS, work, vecs, V_QS, V_WS, scale)
    out[L.SHARP_MSTAR] = lam_s if (lam_s > 0.0 or n == r) else 0.0


@jit
def _top_warm(B, work, vecs, vslot, wslot, scale):
    """``lambda_max(B)``: certified from the warm vector ``vecs[vslot]`` (O(r^3/6) per check),
    else by the Sturm kernels (whose O(4 r^3/3) reduction costs more for large r)."""
    lam = max_eig_certified(B, vecs[vslot], scale, work)
    if not (lam == lam):
        lam = _top(B, work, vecs, wslot, False)[0]
        v = vecs[vslot]
        tmp = vecs[V_TMP]
        if top_eigvec_shifted(B, lam, scale, v, tmp, work):  # a good warm vector for next time
            for i in range(v.shape[0]):
                v[i] = tmp[i]
    return lam


@jit
def _top(B, work, vecs, slot, want2):
    """Largest (and second) eigenvalue of ``B``, warm-started from ``vecs[slot(, +1), 0]``."""
    d = vecs[V_EV]
    e2 = vecs[V_E]
    lo, hi = tridiagonal(B, work, d, e2)
    warm2 = vecs[slot + 1, 0] if want2 else np.nan
    lam1, lam2 = top_two(d, e2, lo, hi, vecs[slot, 0], warm2, want2)
    vecs[slot, 0] = lam1
    if want2:
        vecs[slot + 1, 0] = lam2
    return lam1, lam2


@jit
def _second(ev, r, n):
    """lambda_2(M) from the ascending spectrum of K (M has n - r further zero eigenvalues)."""
    if r < 2:
        return 0.0
    lam2 = ev[r - 2]
    return lam2 if (lam2 > 0.0 or n == r) else 0.0


@jit
def _set_dv1(q1, q_new, delta, d2, out):
    """Store the new top eigenvector in ``q1``; write D^T v_1 and ||R||^2."""
    dv1 = 0.0
    for i in range(q1.shape[0]):
        q1[i] = q_new[i]
        dv1 += delta[i] * q_new[i]
    out[L.DV1] = dv1
    out[L.R_NORM2] = d2 - dv1 * dv1
