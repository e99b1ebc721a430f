"""The per-step edge tracker: phases, anomalies, excursions and flips over EVERY step.

Summaries are computed here, step by step, whatever is recorded, so they do not depend on the
recording stride. For each processed step ``t`` the loop *enters* the state's edge observation

    above(t) = [Lambda(t) > sigma]     (the inertia test of sigma I - K, :func:`above`)
    Lambda(t)                          (warm, certified top eigenvalue of K, :func:`sharpness`)
    a(t) = ||A(t)||^2

with ``K = (2/n) S ((a/m) I + G) S`` the Gram matrix on span(V) (:func:`gram`) and ``sigma`` the
run's edge (``2/eta`` for GD; the optimizer's edge otherwise, :func:`eosdyn.optim.edge`), and,
once the observation of ``t + 1`` is known, *finalises* step ``t``:

* phase(t) (codes in :mod:`.layout`): ``PH_UNKNOWN`` if ``Lambda(t)`` or ``Lambda(t+1)`` is not
  finite (or there is no step ``t + 1``: a divergence); ``PH_STATIONARY`` if
  ``|Lambda(t+1) - Lambda(t)| <= STATIONARY_RTOL * sigma``; else I-IV by ``above(t)`` and the
  sign of ``Delta Lambda(t)`` (I below/rising, II above/rising, III above/falling, IV
  below/falling);
* anomaly(t): a phase in I-IV with ``sign(Delta Lambda) != sign(Delta ||A||^2)`` (the paper's
  Figure 2; 0 where ``Delta ||A||^2 = 0``);
Entering ``above(t)`` also counts (:func:`edge_run`, shared with the scan kernels) the EoS
*excursions*, runs of >= 2 consecutive steps above the edge (counted when a run reaches 2 steps),
and the period-2 *flips*, single steps above the edge between steps below (counted at the step
below that closes them).

Both go through the one eigen contract (:mod:`.eigen_numba`): ``Lambda`` is :func:`sharpness`,
certified and warm (for ``r <= R_FULL`` :func:`eigen_numba.top_value`, the warm Rayleigh quotient
certified by one inertia test and compiled without reference counting; above it block Davidson
with the Frobenius drift of ``K`` carrying its gap proof), and ``above`` is read off its
certified bracket ``lam <= Lambda <= lam + err``, running the inertia test :func:`above`
(``eigen_numba.exceeds``) only when ``sigma`` lies within rounding of that bracket.
"""

import math
from collections import namedtuple

import numpy as np

from . import eigen_numba as E
from . import layout as L
from ._numba import jit

#: the tracker's workspace: Gram matrix ``K``, the inertia test's scratch ``work``, the previous
#: ``K`` (its drift, for the block eigen path) and the eigen tracker ``eig`` (:func:`eigen_numba.work`)
EdgeWork = namedtuple("EdgeWork", ["K", "work", "prev", "eig"])


def edge_work(r: int) -> EdgeWork:
    """A fresh tracker workspace for rank ``r`` (the warm vector starts along e_1)."""
    eig = E.work(r, 1, vectors=False)
    eig.x[0, 0] = 1.0
    return EdgeWork(np.zeros((r, r)), np.zeros((r, r)), np.full((r, r), np.nan), eig)


def track_arrays():
    """Fresh tracker state ``(track_f, track_i)`` (layout ``TF_*``, ``TI_*``)."""
    tf = np.zeros(L.NTF)
    tf[L.TF_MAX_ES] = np.nan
    tf[L.TF_LOSS_MIN], tf[L.TF_LOSS_MAX] = np.inf, -np.inf
    ti = np.zeros(L.NTI, dtype=np.int64)
    ti[L.TI_FIRST] = -1
    return tf, ti


@jit(inline="always", _nrt=False)
def gram(a, G, s, n, m, K):
    """Fill ``K = (2/n) S ((a/m) I + G) S`` (as ``diagnose`` builds it)."""
    r = s.shape[0]
    c = 2.0 / n
    am = a / m
    for i in range(r):
        for j in range(r):
            K[i, j] = c * s[i] * s[j] * G[i, j]
        K[i, i] += c * s[i] * s[i] * am


@jit
def above(a, G, s, n, m, sigma, K, work):
    """``Lambda > sigma`` for ``K = (2/n) S ((a/m) I + G) S`` (built in ``K``): the one inertia
    test of the package, :func:`eigen_numba.exceeds` (``sigma I - K`` not positive definite; a
    NaN pivot counts as above). THE edge test of every kernel: simulate's tracker, scans,
    bifurcation diagrams, optimizer cells."""
    gram(a, G, s, n, m, K)
    return E.exceeds(K, sigma, work)


@jit
def sharpness(K, ew):
    """``lambda_max(K)``, certified, warm-started from the previous call's (:func:`eigen_numba.top_value`
    for small r; :func:`eigen_numba.top_pairs` on the block path, with the drift of ``K`` since
    the previous call measured into ``ew.prev``). On exit ``lam <= lambda_max <= lam + err`` on
    the tracker ``ew.eig``."""
    eig = ew.eig
    if whole_space(ew):
        E.top_value(K, eig)
    else:
        E.top_pairs(K, eig, E.frobenius_drift(K, ew.prev))
    return eig.lam[0]


@jit(_nrt=False)
def _bracket_above(K, lam, err, scale, sigma, work):
    """``Lambda >= sigma`` (the inertia test of :func:`above`) from the certified bracket
    ``lam <= Lambda <= lam + err``, running the test only when ``sigma`` is within rounding
    (``8 r eps max|K_ij|``) of the bracket."""
    margin = 8.0 * K.shape[0] * E.EPS * scale
    if lam == lam and lam + err == lam + err:
        if sigma > lam + err + margin:
            return False
        if lam > sigma + margin:
            return True
    return E.exceeds(K, sigma, work)


@jit(inline="always")
def whole_space(ew):
    """True when the tracker's eigen workspace is the whole-space one (``r <= R_FULL``), whose
    warm values :func:`observe_small` certifies without the block path."""
    return ew.eig.Q.shape[0] == ew.K.shape[0] and ew.eig.old.shape[0] == 0


@jit(_nrt=False, inline="always")
def observe_small(a, G, s, n, m, finite, ew, sigma):
    """The tracker's observation ``(Lambda, above, done)`` of the state ``(a, G)`` where it needs
    neither the block path nor an allocation (``(nan, False, True)`` if it is not finite).

    ``Lambda`` is the certified warm top eigenvalue of ``K`` (``lam <= Lambda <= lam + err``);
    ``above`` the inertia test :func:`above`, read off that bracket when ``sigma`` is outside it
    by more than rounding, so that the test itself runs only near the edge. ``done`` is False
    where the warm value did not certify, or the workspace is not the whole-space one: then
    :func:`observe_general` gives the observation. Compiled without reference counting, so that
    the recording loop can call it every step for free."""
    if not finite:
        return math.nan, False, True
    if not whole_space(ew):
        return math.nan, False, False
    K = ew.K
    gram(a, G, s, n, m, K)
    eig = ew.eig
    if E._top_value_small(K, eig) < 0:
        return math.nan, False, False
    lam = eig.lam[0]
    return lam, _bracket_above(K, lam, eig.err[0], eig.info[E.I_SCALE], sigma, ew.work), True


@jit(inline="always")
def observe_general(a, G, s, n, m, ew, sigma):
    """The observation ``(Lambda, above)`` of a finite state where :func:`observe_small` was not done: ``K`` built,
    ``Lambda`` by :func:`sharpness` (the block path above ``R_FULL``, the dense fallback where a
    warm value does not certify), ``above`` read off its bracket."""
    K = ew.K
    gram(a, G, s, n, m, K)
    lam = sharpness(K, ew)
    eig = ew.eig
    return lam, _bracket_above(K, lam, eig.err[0], eig.info[E.I_SCALE], sigma, ew.work)


@jit(inline="always")
def have_next(ti):
    """True when a lookahead cached the observation of the step about to be entered."""
    return ti[L.TI_HAVE_NEXT] == 1


@jit(inline="always")
def cache_next(tf, ti, lam, a, up, finite):
    """Keep the observation of step ``t + 1`` (computed by a lookahead on the real state)."""
    tf[L.TF_NEXT_LAM] = lam
    tf[L.TF_NEXT_A] = a
    ti[L.TI_NEXT_ABOVE] = 1 if up else 0
    ti[L.TI_NEXT_FINITE] = 1 if finite else 0
    ti[L.TI_HAVE_NEXT] = 1


@jit(inline="always")
def _count(ti, phase, anomaly):
    ti[L.TI_STEPS] += 1
    ti[L.TI_PHASE + phase] += 1
    ti[L.TI_WIN] += 1
    ti[L.TI_WIN + 1 + phase] += 1
    if anomaly:
        ti[L.TI_ANOMALIES] += 1
        ti[L.TI_WIN + 2 + L.NPHASE] += 1


@jit(inline="always")
def edge_run(counts, k, t, up):
    """Excursions and flips from the sequence of ``above`` flags, one step at a time.

    ``counts[k:k+4] = [run, first, excursions, flips]``: the length of the run of steps above
    2/eta ending at the previous step, the first step above (-1: none), the runs that reached 2
    steps (EoS excursions), the runs of exactly one step closed by a step below (period-2
    flips; counted at the closing step). Returns True when step ``t`` closes a flip. "Above"
    means above the run's edge (``2/eta`` for GD).
    """
    flip = False
    if up:
        if counts[k] == 0 and counts[k + 1] < 0:
            counts[k + 1] = t
        counts[k] += 1
        if counts[k] == 2:
            counts[k + 2] += 1
    else:
        if counts[k] == 1:
            counts[k + 3] += 1
            flip = True
        counts[k] = 0
    return flip


@jit(inline="always")
def finalise(tf, ti, lam1, a1, up1, finite1, sigma):
    """Finalise the pending step ``t`` with the observation of ``t + 1``; returns
    ``(phase, anomaly)`` of ``t``."""
    ti[L.TI_PENDING] = 0
    lam0 = tf[L.TF_LAM]
    up0 = ti[L.TI_ABOVE] == 1
    phase = L.PH_UNKNOWN
    anomaly = False
    if ti[L.TI_FINITE] == 1 and finite1 and math.isfinite(lam0) and math.isfinite(lam1):
        dl = lam1 - lam0
        if abs(dl) <= L.STATIONARY_RTOL * sigma:
            phase = L.PH_STATIONARY
        else:
            if up0:
                phase = L.PH_II if dl > 0.0 else L.PH_III
            else:
                phase = L.PH_I if dl > 0.0 else L.PH_IV
            da = a1 - tf[L.TF_A]
            if da == da:
                sa = 1.0 if da > 0.0 else (-1.0 if da < 0.0 else 0.0)
                anomaly = sa != (1.0 if dl > 0.0 else -1.0)
    _count(ti, phase, anomaly)
    return phase, anomaly


@jit(inline="always")
def finalise_unknown(ti):
    """Finalise the pending step with no successor (the run diverged there)."""
    ti[L.TI_PENDING] = 0
    _count(ti, L.PH_UNKNOWN, False)
    return L.PH_UNKNOWN


@jit(inline="always")
def late_start(steps):
    """First step of the late window of a run of ``steps`` planned steps: ``ceil(steps / 2)``
    (the late-time mean sharpness of a run that reaches ``steps`` is over its second half,
    ``late_start .. steps``)."""
    return (steps + 1) // 2


@jit(inline="always")
def enter(tf, ti, t, lam, a, up, finite, eta, loss, late):
    """Enter step ``t``'s observation: excursions, flips, first crossing, max eta Lambda, loss
    range, and ``Lambda`` into the late-window sum when ``t >= late``."""
    if edge_run(ti, L.TI_RUN, t, up):
        ti[L.TI_WIN + 1 + L.NPHASE] += 1
    es = eta * lam
    if es == es and not (es <= tf[L.TF_MAX_ES]):
        tf[L.TF_MAX_ES] = es
    if t >= late and math.isfinite(lam):
        tf[L.TF_LATE_SUM] += lam
        ti[L.TI_LATE] += 1
    if loss < tf[L.TF_LOSS_MIN]:
        tf[L.TF_LOSS_MIN] = loss
    if loss > tf[L.TF_LOSS_MAX]:
        tf[L.TF_LOSS_MAX] = loss
    tf[L.TF_LAM] = lam
    tf[L.TF_A] = a
    ti[L.TI_ABOVE] = 1 if up else 0
    ti[L.TI_FINITE] = 1 if finite else 0
    ti[L.TI_PENDING] = 1
    ti[L.TI_HAVE_NEXT] = 0


@jit
def flush_window(ti, rec, row):
    """Write the window counters into ``rec[row]`` and reset them."""
    rec[row, L.W_STEPS] = ti[L.TI_WIN]
    for k in range(L.NPHASE):
        rec[row, L.W_PHASE + k] = ti[L.TI_WIN + 1 + k]
    rec[row, L.W_FLIPS] = ti[L.TI_WIN + 1 + L.NPHASE]
    rec[row, L.W_ANOMALIES] = ti[L.TI_WIN + 2 + L.NPHASE]
    for k in range(L.NWIN):
        ti[L.TI_WIN + k] = 0
