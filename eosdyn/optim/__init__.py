r"""Optimizers beyond plain GD, each at its own edge of stability.

Every optimizer acts on the parameters ``theta = (A, W)`` with the gradient ``g_t`` of the
loss at step ``t`` (full batch, ``L = ||D||^2 / n``, or a mini-batch ``B_t`` of ``b`` samples,
``L_B = ||D_B||^2 / b``; see :mod:`eosdyn.optim.batches`). Steps are numbered ``t = 0, 1, ...``
and ``k = t + 1`` counts the updates made so far (bias corrections).

``gd``
    ``theta_{t+1} = theta_t - eta g_t``.
``momentum`` (heavy ball, Cohen et al. 2021, Appendix; velocity ``v_0 = 0``)
    ``v_{t+1} = beta v_t - eta grad L(theta_t)``,  ``theta_{t+1} = theta_t + v_{t+1}``.
``nesterov`` (the same, with the gradient at the look-ahead point)
    ``v_{t+1} = beta v_t - eta grad L(theta_t + beta v_t)``,  ``theta_{t+1} = theta_t + v_{t+1}``.
``adam`` (Cohen et al. 2022, Section 2: Adam as preconditioned EMA momentum)
    ``m_{t+1} = beta1 m_t + (1 - beta1) g_t``,  ``nu_{t+1} = beta2 nu_t + (1 - beta2) g_t^2``,
    ``P_t = (1 - beta1^k) [diag(sqrt(nu_{t+1} / (1 - beta2^k))) + eps I]``,
    ``theta_{t+1} = theta_t - eta P_t^{-1} m_{t+1}``,
    which is Kingma & Ba's ``theta - eta m_hat / (sqrt(nu_hat) + eps)`` with both bias
    corrections (``bias_correction=False`` drops both factors ``1 - beta^k``).
``rmsprop``
    ``adam`` with ``beta1 = 0`` (Cohen et al. 2022 treat RMSProp so):
    ``theta_{t+1} = theta_t - eta g_t / (sqrt(nu_{t+1} / (1 - beta2^k)) + eps)``.

The edge of each (the stability threshold of the update linearised at a minimum of a
quadratic, the preconditioner frozen) and the sharpness that equilibrates at it:

=============  =========================================  ====================================
optimizer      edge                                       relevant sharpness
=============  =========================================  ====================================
gd             ``2 / eta``                                ``sharpness`` (Lambda)
momentum       ``(2 + 2 beta) / eta``                     ``sharpness``
nesterov       ``(2 + 2 beta) / ((1 + 2 beta) eta)``      ``sharpness``
rmsprop        ``2 / eta``                                ``preconditioned_sharpness``
adam           ``(2 + 2 beta1) / ((1 - beta1) eta)``      ``preconditioned_sharpness``
any, b < n     the optimizer's edge (``2/eta`` for SGD)   ``batch_sharpness``
=============  =========================================  ====================================

* ``sharpness`` is eosdyn's ``Lambda = lambda_max(M)`` of the Gram matrix (the top eigenvalue of
  the Gauss-Newton part of the loss Hessian; ``hessian=True`` adds the full Hessian's).
* ``preconditioned_sharpness = lambda_max(P_t^{-1} H_t)`` with ``P_t`` the preconditioner of
  the step from ``theta_t`` (above) and ``H_t`` the full loss Hessian ``grad^2 L(theta_t)``, as
  in Cohen et al. 2022, where the frozen-preconditioner linearisation
  ``theta' = theta - eta P^{-1} m'`` is stable iff ``lambda_max(P^{-1} H) < edge``
  (:mod:`eosdyn.optim.precond`).
* ``batch_sharpness = E_B [ g_B^T H_B g_B / ||g_B||^2 ]`` (Andreyev & Beneventano 2024): the
  expected curvature of the mini-batch loss ``L_B`` along its own gradient ``g_B``, ``H_B`` the
  Hessian of ``L_B``, ``B`` a uniformly random ``b``-subset (:mod:`eosdyn.optim.batches`).

With a momentum optimizer and ``b < n`` the edge is the momentum edge (Andreyev 2026, "Momentum
Further Constrains Sharpness at the Edge of Stochastic Stability", finds small batches settling
lower, near ``2 (1 - beta) / eta``; compare freely).
"""

from __future__ import annotations

OPTIMIZERS = ("gd", "momentum", "nesterov", "rmsprop", "adam")
#: optimizers with a velocity (heavy ball and Nesterov)
MOMENTUM = ("momentum", "nesterov")
#: optimizers with a coordinate-wise preconditioner (not rotation invariant: no reduced map)
ADAPTIVE = ("rmsprop", "adam")
#: defaults of the optimizer constants, filled in when the optimizer uses them
DEFAULTS = {"momentum": 0.9, "beta1": 0.9, "beta2": 0.999, "adam_eps": 1e-8}
#: which constants each optimizer uses
USES = {"gd": (), "momentum": ("momentum",), "nesterov": ("momentum",), "rmsprop": ("beta2", "adam_eps"),
        "adam": ("beta1", "beta2", "adam_eps")}


def edge(optimizer: str, eta: float, momentum: float | None = None, beta1: float | None = None) -> float:
    """The edge of stability of ``optimizer`` at step size ``eta`` (module docstring's table).

    Derivation (one eigen-direction of curvature ``c`` of a quadratic, ``x`` its coordinate):
    GD ``x' = (1 - eta c) x`` is stable iff ``eta c < 2``. Heavy ball
    ``x_{t+1} = (1 + beta - eta c) x_t - beta x_{t-1}`` has characteristic polynomial
    ``mu^2 - (1 + beta - eta c) mu + beta``; for ``0 <= beta < 1`` its roots leave the unit
    disk through ``mu = -1``, at ``eta c = 2 + 2 beta``. Nesterov
    ``x_{t+1} = (1 + beta)(1 - eta c) x_t - beta (1 - eta c) x_{t-1}`` reaches ``mu = -1`` at
    ``1 + (1 + 2 beta)(1 - eta c) = 0``, i.e. ``eta c = (2 + 2 beta) / (1 + 2 beta)``. EMA
    momentum with a frozen preconditioner is heavy ball with step ``eta (1 - beta1)`` on
    ``P^{-1} H``, hence ``(2 + 2 beta1) / ((1 - beta1) eta)`` (38/eta at beta1 = 0.9), and
    ``2 / eta`` for RMSProp.
    """
    if optimizer in ("gd", "rmsprop"):
        return 2.0 / eta
    if optimizer == "momentum":
        return (2.0 + 2.0 * momentum) / eta
    if optimizer == "nesterov":
        return (2.0 + 2.0 * momentum) / ((1.0 + 2.0 * momentum) * eta)
    if optimizer == "adam":
        return (2.0 + 2.0 * beta1) / ((1.0 - beta1) * eta)
    raise ValueError(f"unknown optimizer {optimizer!r}")


def run_edge(p) -> float:
    """The edge of the run with parameters ``p`` (:class:`~eosdyn.model.params.Params`)."""
    return edge(p.optimizer, p.eta, p.momentum, p.beta1)


def relevant_sharpness(p) -> str:
    """The variable that equilibrates at the edge: ``sharpness``, ``batch_sharpness`` or
    ``preconditioned_sharpness``."""
    if p.optimizer in ADAPTIVE:
        return "preconditioned_sharpness"
    if is_minibatch(p):
        return "batch_sharpness"
    return "sharpness"


def is_minibatch(p) -> bool:
    """Whether the run samples mini-batches (``batch_size`` given; ``batch_size = n`` is full-batch
    GD through the mini-batch code path: the same gradient, summed in the permutation's order)."""
    return p.batch_size is not None


def is_plain_gd(p) -> bool:
    """Full-batch GD: the runs every engine and analysis of eosdyn supports."""
    return p.optimizer == "gd" and p.batch_size is None
