"""The network engine's :class:`~eosdyn.engines.base.Problem`: data, model, initial weights."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..engines.base import Problem
from ..errors import DataError
from ..model import init as init_mod
from . import inputs
from .spec import parse


@dataclass(eq=False)
class NetProblem(Problem):
    """A :class:`Problem` plus the model, its inputs ``x`` (n, ...) and initial weights."""

    model: object = None
    x: np.ndarray = None
    weights: dict = None


def build(params, data, A=None, W=None, m_given: bool | None = None) -> NetProblem:
    """The network problem of ``params`` on ``data``.

    Initial weights, in order of precedence: ``A``/``W`` given to :func:`eosdyn.simulate`
    (``W`` a matrix for one hidden layer, or a list ``[W1, .., WK]``), the ``init`` file, or a
    Gaussian draw (:func:`eosdyn.nets.models.init_params`, seeded by ``seed``). The width ``m``
    is taken from the given weights (an explicit ``m`` that differs is a parameter error,
    :func:`eosdyn.api.resolve_width`). ``save_init`` writes the weights used.
    """
    from ..api import resolve_width
    from .engine import NetworkEngine
    from .models import build as build_model
    from .models import init_params

    spec = parse(params.model)
    x, shape = inputs.network_inputs(spec, data.X, params.data, params.model)
    given = None
    if A is not None:
        Ws = list(W) if isinstance(W, list | tuple) else [W]
        given, source = {"A": A, **{f"W{i + 1}": w for i, w in enumerate(Ws)}}, "the given A, W"
    elif params.init is not None:
        given, source = inputs.load_weights(params.init), f"init file {params.init!r}"
    if given is not None:
        m = inputs.width_of(given)
        if m is None:
            raise DataError(f"{source}: A must be a vector (m,)")
        params = resolve_width(params, m, source, m_given)
    model = build_model(spec, shape, params.m, params.parameterization)
    if given is None:
        weights = init_params(model, params.sa, params.sw, init_mod.init_rng(params.seed))
    else:
        weights = inputs.check_weights(given, model, source)
    if params.save_init is not None:
        inputs.save_weights(params.save_init, weights)
    stats = statistics(spec, params, data, weights)
    track = NetworkEngine.per_step_tracking(params)   # False: Lambda at the recorded steps only
    pb = NetProblem.create(params, data, stats, track=track)
    pb.model, pb.x, pb.weights = model, x, weights
    return pb


def statistics(spec, params, data, weights) -> init_mod.Statistics:
    """The two-layer reduced state ``(a, u, G)`` for ``linear2`` under ntk (exact); for every
    other model or parameterization ``a = ||A||^2`` and ``u``, ``G`` are NaN (they describe the
    two-layer model only)."""
    A = weights["A"]
    if spec.kind == "linear2" and params.parameterization == "ntk":
        return init_mod.statistics_from_parameters(A, weights["W1"], data.U)
    r = data.rank
    return init_mod.Statistics(float(A @ A), np.full(r, np.nan), np.full((r, r), np.nan))
