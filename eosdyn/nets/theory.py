r"""Closed forms for networks, used to test the network engine.

Minimal sharpness of a deep linear network on one sample
---------------------------------------------------------
Model (``deep-linear:L``, multipliers ``c_1 .. c_L``, ``c_out`` of the parameterization)::

    f(x) = c_out A^T (c_L W_L) ... (c_1 W_1) x,     one sample (x, y), n = 1,
    L(theta) = (f(x) - y)^2.

*Claim.* Over all global minima (``f(x) = y``), the sharpness -- ``Lambda = lambda_max(M)`` and
equally ``lambda_max(grad^2 L)`` -- is at least

    Lambda_min = 2 K (C^2 y^(2L) ||x||^2)^(1/K),     K = L + 1,   C = c_out c_L ... c_1,

with equality at the balanced rank-one minima. Under ntk (``c_1 = 1``, ``c_l = c_out = 1/sqrt(m)``)
``C^2 = m^-L``; for ``L = 0`` (a linear model ``a x``) this is ``2 ||x||^2`` and for the scalar
two-layer chain ``f = a w x`` it is ``4 |x y|``.

*Derivation.* (1) At a global minimum ``D = 0``, so ``grad^2 L = 2 grad f grad f^T`` and
``M = 2 ||grad f||^2`` (a 1 x 1 matrix): both sharpnesses equal ``2 ||grad f||^2``.
(2) Write ``a_1 = x``, ``a_{l+1} = c_l W_l a_l`` (the forward signals) and
``b_l = grad_{a_{l+1}} f`` (so ``f = b_l^T a_{l+1}`` for every l, and ``b_L = c_out A``). Then
``df/dW_l = c_l b_l a_l^T`` has Frobenius norm ``c_l ||b_l|| ||a_l||`` and ``df/dA = c_out a_{L+1}``.
(3) Cauchy-Schwarz on ``|y| = |b_l^T a_{l+1}| <= ||b_l|| ||a_{l+1}||`` gives, with the gains
``g_l = ||a_{l+1}|| / ||a_l||`` (``||a_{L+1}|| = ||x|| g_1 ... g_L``),

    ||grad f||^2 >= sum_{l=1..L} c_l^2 y^2 / g_l^2  +  c_out^2 ||x||^2 g_1^2 ... g_L^2.

(4) These K = L + 1 positive terms have the product ``C^2 y^(2L) ||x||^2`` whatever the gains,
so by the AM-GM inequality their sum is at least ``K (C^2 y^(2L) ||x||^2)^(1/K)``.
(5) Equality: all Cauchy-Schwarz steps are tight (every ``a_l`` and ``b_l`` parallel: rank-one
weights ``W_l = w_l u_{l+1} u_l^T`` along unit vectors ``u_1 = x/||x||, u_2, ..`` and
``A = alpha u_{L+1}``) and all K terms are equal (balanced). Such a minimum exists for every
``y``: choose the gains so the terms are equal and fix ``alpha`` by ``f = y``
(:func:`balanced_minimum`). So the bound is the minimum. For ``y != 0`` the set of minima is
unbounded but the sharpness on it is bounded below by this value: GD with ``eta > 2 / Lambda_min``
has no linearly stable minimum to converge to.
"""

from __future__ import annotations

import math

import numpy as np


def deep_linear_min_sharpness(L: int, x, y: float, mults) -> float:
    """``Lambda_min = 2 K (C^2 y^(2L) ||x||^2)^(1/K)`` for multipliers ``mults = (c_1, .., c_L, c_out)``."""
    K = L + 1
    C2 = float(np.prod(np.square(mults)))
    x = np.asarray(x, dtype=float)
    return 2.0 * K * (C2 * abs(y) ** (2 * L) * float(x @ x)) ** (1.0 / K)


def balanced_minimum(L: int, m: int, x, y: float, mults, rng=None) -> dict:
    """A global minimum attaining :func:`deep_linear_min_sharpness`: rank-one weights along random
    unit vectors, with all K terms of step (3) equal (see the module docstring).

    The terms are ``c_l^2 y^2 / g_l^2`` and ``c_out^2 ||x||^2 prod g^2``; all equal to
    ``T = (C^2 y^(2L) ||x||^2)^(1/K)`` when ``g_l = c_l |y| / sqrt(T)``; the layer scales follow
    from ``a_{l+1} = c_l w_l ||a_l|| u_{l+1}``, i.e. ``w_l = g_l / c_l``, and ``alpha`` from
    ``f = y``.
    """
    rng = np.random.default_rng(0) if rng is None else rng
    x = np.asarray(x, dtype=float)
    d = x.size
    c, c_out = mults[:L], mults[L]
    K = L + 1
    T = (float(np.prod(np.square(mults))) * abs(y) ** (2 * L) * float(x @ x)) ** (1.0 / K)
    us = [x / math.sqrt(float(x @ x))] + [_unit(rng.standard_normal(m)) for _ in range(L)]
    weights = {}
    norm_a = math.sqrt(float(x @ x))
    for lv in range(1, L + 1):
        g = c[lv - 1] * abs(y) / math.sqrt(T)
        weights[f"W{lv}"] = (g / c[lv - 1]) * np.outer(us[lv], us[lv - 1])
        norm_a *= g
    a_top = norm_a * us[L]                 # a_{L+1}
    alpha = y / (c_out * float(us[L] @ a_top))
    weights["A"] = alpha * us[L]
    assert weights["W1"].shape == (m, d)
    return weights


def _unit(v):
    return v / np.linalg.norm(v)


def mults_of(model) -> tuple:
    """``(c_1, .., c_L, c_out)`` of a dense :class:`~eosdyn.nets.models.Model`."""
    return tuple(model.mult(i) for i in range(len(model.layers))) + (model.c_out,)
