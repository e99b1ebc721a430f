r"""Self-stabilization (``--engine stable-flow``): the constrained trajectory theta-dagger and delta^2.

The theory (Damian, Nichani & Lee, "Self-Stabilization: The Implicit Bias of Gradient Descent at
the Edge of Stability", ICLR 2023)
----------------------------------------------------------------------------------------
With ``S = lambda_max(nabla^2 L)``, ``u`` its unit eigenvector and ``nabla S = nabla^3 L[u, u]``,
GD at the edge of stability follows a *constrained trajectory* ``theta-dagger`` -- projected
gradient descent onto the stable set ``{S <= 2/eta}`` (their stable set also asks
``nabla L . u = 0``) -- while oscillating along ``u`` with a predicted size ``delta`` fixed by the
balance of progressive sharpening ``alpha = -nabla L . nabla S`` and self-stabilization
``beta = ||nabla S_perp||^2``, ``nabla S_perp`` the part of ``nabla S`` orthogonal to ``u``::

    x_t^2  ->  delta^2 = 2 alpha / beta,      predicted loss  L(theta-dagger) + S delta^2 / 2.

Their time is GD steps, as eosdyn's ``t`` (flow time ``t eta``).

What this engine integrates
---------------------------
The continuous-time constrained trajectory: the gradient flow ``theta' = -eta nabla L``
projected onto the tangent cone of ``{S <= 2/eta}`` where ``S = 2/eta``. With one eigenvalue at
the edge the projection removes the outward ``nabla S`` component,
``theta' = -eta (nabla L - (<nabla L, nabla S>/||nabla S||^2) nabla S)``, which is *the central
flow* (``sigma^2 = 2 alpha / ||nabla S||^2``); with ``k`` eigenvalues at ``2/eta`` the tangent
cone of ``{lambda_max <= 2/eta}`` is ``{v : Q^T (nabla^3 L[v]) Q <= 0}`` and the projection's
optimality conditions are the central flow's complementarity problem with multiplier ``X / 2``.
So theta-dagger and the central flow are one ODE (:mod:`eosdyn.engines.central_flow` integrates it) and
the two theories differ in what they predict about the oscillation:

* central flow: ``sigma^2 = 2 alpha / ||nabla S||^2``;
* self-stabilization: ``delta^2 = 2 alpha / ||nabla S_perp||^2 = sigma^2 / (1 - cos^2)``, with
  ``cos = <nabla S, u> / ||nabla S||`` (recorded as ``gradS_u_cos``).

They agree to leading order when ``nabla S`` is nearly orthogonal to ``u``. This engine records
``predicted_loss = L + S delta^2 / 2`` and ``predicted_a_norm2 = ||A||^2 + delta^2 ||u^A||^2``
(NaN with two or more eigenvalues at the edge, where the theory's one-direction ansatz does not
apply); ``central_sigma2`` is recorded too.

Not implemented: the discrete projected-GD map of the paper (projection after every GD step,
with the extra condition ``nabla L . u = 0``); it differs from the continuous trajectory by
``O(eta)`` per step.
"""

from __future__ import annotations

import numpy as np

from ..kernels import third_numba as T
from .central_flow import CentralFlowEngine


class StableFlowEngine(CentralFlowEngine):
    """Damian et al.'s constrained trajectory on ``(a, u, G)`` with their predicted ``delta^2``."""

    name = "stable-flow"
    truncation = "stable flow"
    theory = "self-stabilization (Damian et al. 2023): L + S delta^2 / 2, ||A||^2 + delta^2 ||u^A||^2"

    def _predictions(self, a, loss, sig2, delta2, infos):
        """``L + S delta^2 / 2`` and ``a + delta^2 ||u^A||^2``."""
        return loss + 0.5 * delta2 * infos[:, T.I_LAM1], a + delta2 * infos[:, T.I_XH2]

    def _cluster_predictions(self, a, loss, X, lam, xh):
        """Two or more eigenvalues at the edge: outside the theory (NaN)."""
        return np.nan, np.nan
