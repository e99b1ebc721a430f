"""Lyapunov exponents of the exact reduced GD map, and the references they are checked against.

The map ``x -> F(x)`` on ``x = (a, u, G)`` (:func:`eosdyn.kernels.reduced_numba.step`) has the
exact tangent map :func:`eosdyn.kernels.tangent_numba.jvp`. Its global minima form a manifold
``{S u = z}`` of fixed points; at one of them the Jacobian acts on the residual
``delta = S u - z`` as ``S tu' = (I - eta K) S tu`` (``K = (2/n) S ((a/m) I + G) S``, the Gram
matrix on span(V), whose eigenvalues ``mu_i`` are the nonzero curvatures of the loss) and as the
identity on the tangent of the manifold (``tu = 0``). eosdyn therefore reports the maximal
Lyapunov exponent of the network *outputs*,

    lambda = lim_T (1/T) log ||S tu_T|| / ||S tu_0||,

computed by Benettin's method (the tangent renormalised by its full norm every few steps).
Near a stable minimum it is ``log max_i |1 - eta mu_i|`` (:func:`minimum_exponent`); on a
chaotic attractor it is the usual maximal exponent (> 0).

Tangent directions that never change the outputs (the neutral part ``(ta, tG)`` at a minimum,
the balancedness direction ``(1, 0, -1/m)`` when the rank is 1) would, in floating point, leak
into the outputs at rounding level and, since they do not contract, take over the estimate at
long horizons (a converged run would report 0). The kernel therefore propagates the tangent
modulo these unobservable directions (:func:`eosdyn.kernels.tangent_numba.to_quotient`, where
the derivation is), which leaves the outputs' exponent exact at every horizon.
"""

from __future__ import annotations

import numpy as np

from ..kernels import batch_numba as B
from ..kernels import reduced_numba, tangent_numba
from ..model.params import Params
from .scan import Axis, ScanOptions, ScanSpec, run_batch


def gram(a: float, G: np.ndarray, s: np.ndarray, n: float, m: float) -> np.ndarray:
    """``K = (2/n) S ((a/m) I + G) S``."""
    return (2.0 / n) * (s[:, None] * ((a / m) * np.eye(s.size) + G) * s[None, :])


def minimum_exponent(a: float, G: np.ndarray, s: np.ndarray, n: float, m: float, eta: float) -> float:
    """``log max_i |1 - eta mu_i|`` over the eigenvalues ``mu_i`` of ``K`` at a minimum."""
    mu = np.linalg.eigvalsh(gram(a, G, s, n, m))
    return float(np.log(np.max(np.abs(1.0 - eta * mu))))


def jacobian(a: float, u: np.ndarray, G: np.ndarray, s, z, n: float, m: float, eta: float,
             order: float = 1.0) -> np.ndarray:
    """Dense Jacobian of the map in the coordinates ``(a, u, G_ij for i <= j)`` from the exact
    JVP of the symmetric basis tangents; shape ``(N, N)``, ``N = 1 + r + r (r + 1) / 2``."""
    r = s.size
    iu = np.triu_indices(r)
    N = 1 + r + iu[0].size
    J = np.zeros((N, N))
    scratch = [np.zeros(r) for _ in range(4)]
    state = np.array([a], dtype=float)
    for k in range(N):
        ta, tu, tG = np.zeros(1), np.zeros(r), np.zeros((r, r))
        if k == 0:
            ta[0] = 1.0
        elif k <= r:
            tu[k - 1] = 1.0
        else:
            i, j = iu[0][k - 1 - r], iu[1][k - 1 - r]
            tG[i, j] = tG[j, i] = 1.0
        tangent_numba.jvp(state, u.astype(float), G.astype(float), ta, tu, tG, np.asarray(s, float),
                          np.asarray(z, float), float(n), float(m), float(eta), float(order), *scratch)
        J[:, k] = np.concatenate([ta, tu, tG[iu]])
    return J


def separation_exponent(a: float, u, G, s, z, n: float, m: float, eta: float, steps: int,
                        eps: float = 1e-7, direction=None) -> float:
    """Finite-difference estimate from two nearby trajectories: ``(1/T) log(||S (u_T - u'_T)|| /
    ||S (u_0 - u'_0)||)``, the second started at ``u + eps * direction`` (valid while the
    separation stays small)."""
    s, z = np.asarray(s, float), np.asarray(z, float)
    d = np.ones(s.size) / np.sqrt(s.size) if direction is None else np.asarray(direction, float)
    runs = []
    for du in (np.zeros_like(d), eps * d):
        st, uu, GG = np.array([a], float), np.asarray(u, float) + du, np.array(G, float)
        g, Gg = np.zeros(s.size), np.zeros(s.size)
        for _ in range(steps):
            reduced_numba.step(st, uu, GG, s, z, float(n), float(m), float(eta), 1.0, g, Gg)
        runs.append(uu)
    return float(np.log(np.linalg.norm(s * (runs[1] - runs[0])) / np.linalg.norm(s * eps * d)) / steps)


def lyapunov_exponent(params: Params, transient: int | None = None, renorm: int = 10) -> float:
    """The output Lyapunov exponent of the run ``params`` over steps ``[transient, steps]``
    (default: the second half), by the batch kernel. NaN if the run diverges."""
    t0 = params.steps // 2 if transient is None else transient
    spec = ScanSpec(params, (Axis("eta", (params.eta,)),),
                    ScanOptions(record=(), lyapunov=True, lyap_start=t0, renorm=renorm))
    return float(run_batch(spec, [params])["fsum"][0, B.F_LYAP])
