"""The full parameter set of one run, as a frozen, validated dataclass.

The CLI options, the keyword arguments of :func:`eosdyn.simulate` and the keys of a
scenario file are the same names. Validation raises :class:`~eosdyn.errors.ParameterError`
with one line that names the parameter and its allowed range.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

from .datasets import OPTIONS as DATA_OPTIONS
from .datasets import check_options
from .errors import ParameterError
from .nets.spec import check as check_model

ENGINES = ("reduced", "first-order", "full", "flow", "network")
#: ``scipy.integrate`` solvers the ``flow`` engine can use
FLOW_METHODS = ("RK45", "DOP853", "Radau", "LSODA")
INIT_SAMPLERS = ("auto", "parameters", "wishart")
#: below this many entries of W, ``init_sampler="auto"`` materialises (A, W) so that every
#: engine starts from the same draw; above it, the reduced engines sample Wishart statistics.
AUTO_MATERIALISE_LIMIT = 50_000_000


@dataclass(frozen=True)
class Params:
    """Everything that defines a run (defaults: the paper-like EoS scenario at m = 4096).

    Attributes
    ----------
    m : int
        Width of the hidden layer, ``>= 1``.
    eta : float
        Learning rate, ``> 0``.
    steps : int
        Number of GD steps, ``>= 1``.
    engine : str
        One of ``reduced`` (exact, m-independent, default), ``first-order``, ``full``,
        ``flow`` (the gradient flow, integrated by ``scipy.integrate``; time in units of eta),
        ``network`` (JAX: any ``model``, :mod:`eosdyn.nets`).
    model : str
        ``linear2`` (the paper's two-layer linear network, every engine), or for engine
        ``network``: ``deep-linear:L``, ``mlp:ACT:L``, ``cnn[:ACT[:L]]``, ``resnet18``
        (:mod:`eosdyn.nets.models`).
    parameterization : str
        ``ntk`` (default; ``f = A^T W x / sqrt(m)`` for linear2) or ``standard`` (network only).
    save_init : str, optional
        Write the initial weights to this ``.npz`` (``A``, ``W1 .. WK``).
    method, rtol, atol : flow engine
        ``scipy.integrate`` solver (``Radau`` (default: the flow is stiff when X^T X's spectrum
        is spread, as in the default data), ``LSODA``, ``DOP853``, ``RK45``) and its relative /
        absolute tolerances (defaults 1e-10, 1e-12).
    hessian : bool
        Also record ``sharpness_hessian = lambda_max`` of the loss Hessian at every recorded step.
    seed : int
        Seed of the initialisation (and of the synthetic data's random embedding).
    n, rank, lambda_max, lambda_min : synthetic data
        n samples, X^T X of rank ``rank`` with eigenvalues geometric from ``lambda_max``
        down to ``lambda_min``.
    eigenvalues : tuple of float, optional
        Explicit eigenvalues of X^T X (override rank / lambda_max / lambda_min).
    z : tuple of float, optional
        Explicit label projections ``z_i = Y^T v_i``.
    label_fraction : float
        ``||z||^2 / n`` when ``z`` is not given (1: labels fully in the data's span).
    d : int, optional
        Ambient dimension of synthetic data (``>= rank``; default ``rank``).
    init_scale : float
        Standard deviation of the Gaussian initialisation of A and W.
    sigma_a, sigma_w : float, optional
        Separate standard deviations for A and W (default ``init_scale``).
    init_sampler : str
        ``auto``, ``parameters`` (materialise A, W) or ``wishart`` (exact O(r^2) statistics).
    data, init : str, optional
        ``.npz``/``.csv`` data file, or a real dataset ``digits``, ``cifar10:PATH``,
        ``mnist:PATH`` (see :mod:`eosdyn.datasets`); ``.npz`` file with A (m,) and W (m, d).
    classes, subset, center, normalize, data_seed : real-dataset preprocessing
        Class pair (labelled -1, +1), samples kept (balanced, drawn with ``data_seed``; all
        when None), subtract the mean sample, ``none``/``unit``/``global``/``feature`` scaling.
    record_every : int, optional
        Record every k-th step (default: 1 up to 200,000 steps, else steps / 100,000).
    loss_tol : float
        Stop as ``converged`` when the reducible loss ``(L - ||Y_perp||^2/n)`` is ``<= loss_tol``.
    max_loss : float
        Stop as ``diverged`` when the loss (or ||A||^2) exceeds this or is not finite.
    """

    m: int = 4096
    eta: float = 0.01
    steps: int = 100_000
    engine: str = "reduced"
    model: str = "linear2"
    parameterization: str = "ntk"
    method: str = "Radau"
    rtol: float = 1e-10
    atol: float = 1e-12
    hessian: bool = False
    seed: int = 0
    n: int = 100
    rank: int = 5
    lambda_max: float = 1e6
    lambda_min: float = 10.0
    eigenvalues: tuple | None = None
    z: tuple | None = None
    label_fraction: float = 1.0
    d: int | None = None
    init_scale: float = 0.01
    sigma_a: float | None = None
    sigma_w: float | None = None
    init_sampler: str = "auto"
    data: str | None = None
    init: str | None = None
    save_init: str | None = None
    record_every: int | None = None
    loss_tol: float = 1e-14
    max_loss: float = 1e100
    classes: tuple = (0, 1)
    subset: int | None = None
    center: bool = True
    normalize: str = "none"
    data_seed: int = 0
    name: str = field(default="custom", compare=False)

    def __post_init__(self):
        _int(self, "m", 1)
        _num(self, "eta", 0.0, strict=True)
        _int(self, "steps", 1)
        _choice(self, "engine", ENGINES)
        object.__setattr__(self, "model", check_model(self.model, self.engine, self.parameterization, self.m))
        _choice(self, "method", FLOW_METHODS)
        _num(self, "rtol", 2.3e-14, hi=1.0)  # scipy would silently raise it to 100 eps
        _num(self, "atol", 0.0)
        if not isinstance(self.hessian, bool | int) or self.hessian not in (0, 1):
            raise ParameterError("hessian", f"must be true or false, got {self.hessian!r}")
        object.__setattr__(self, "hessian", bool(self.hessian))
        _int(self, "seed", 0)
        _int(self, "n", 1)
        _int(self, "rank", 1)
        _num(self, "lambda_max", 0.0, strict=True)
        _num(self, "lambda_min", 0.0, strict=True)
        if self.eigenvalues is None and self.data is None:
            if self.rank > self.n:
                raise ParameterError("rank", f"must be <= n = {self.n}, got {self.rank}")
            if self.lambda_min > self.lambda_max:
                raise ParameterError(
                    "lambda_min", f"must be <= lambda_max = {self.lambda_max}, got {self.lambda_min}"
                )
        for key in ("eigenvalues", "z"):
            _vector(self, key, positive=key == "eigenvalues")
        if self.eigenvalues is not None and len(self.eigenvalues) > self.n:
            raise ParameterError("eigenvalues", f"must have at most n = {self.n} entries")
        _num(self, "label_fraction", 0.0, hi=1.0)
        if self.d is not None:
            _int(self, "d", 1)
            r = len(self.eigenvalues) if self.eigenvalues is not None else self.rank
            if self.data is None and self.d < r:
                raise ParameterError("d", f"must be >= the rank {r}, got {self.d}")
        _num(self, "init_scale", 0.0)
        for key in ("sigma_a", "sigma_w"):
            if getattr(self, key) is not None:
                _num(self, key, 0.0)
        _choice(self, "init_sampler", INIT_SAMPLERS)
        for key, value in check_options(**{k: getattr(self, k) for k in DATA_OPTIONS}).items():
            object.__setattr__(self, key, value)
        if self.record_every is not None:
            _int(self, "record_every", 1)
        _num(self, "loss_tol", 0.0)
        _num(self, "max_loss", 0.0, strict=True)
        if self.engine == "full" and self.init_sampler == "wishart":
            raise ParameterError("init_sampler", "must be 'auto' or 'parameters' for engine full")

    @property
    def sa(self) -> float:
        return self.init_scale if self.sigma_a is None else self.sigma_a

    @property
    def sw(self) -> float:
        return self.init_scale if self.sigma_w is None else self.sigma_w

    @property
    def stride(self) -> int:
        """The recording stride actually used."""
        if self.record_every is not None:
            return self.record_every
        return 1 if self.steps <= 200_000 else -(-self.steps // 100_000)

    def replace(self, **changes) -> Params:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


FIELDS = {f.name: f for f in dataclasses.fields(Params)}


def make_params(**kwargs) -> Params:
    """Build :class:`Params` from keyword arguments; unknown names are a one-line error."""
    unknown = sorted(set(kwargs) - set(FIELDS))
    if unknown:
        raise ParameterError(unknown[0], f"is not a parameter; known: {', '.join(FIELDS)}")
    for key in ("eigenvalues", "z"):
        if kwargs.get(key) is not None:
            try:
                kwargs[key] = tuple(float(v) for v in kwargs[key])
            except (TypeError, ValueError):
                raise ParameterError(key, "must be a list of numbers") from None
    for key in ("data", "init", "save_init"):
        if kwargs.get(key) is not None:
            kwargs[key] = str(kwargs[key])
    return Params(**kwargs)


def _int(p, key, lo):
    v = getattr(p, key)
    if isinstance(v, bool) or not isinstance(v, int | float) or v != v or v != int(v):
        raise ParameterError(key, f"must be an integer >= {lo}, got {v!r}")
    if v < lo:
        raise ParameterError(key, f"must be an integer >= {lo}, got {v!r}")
    object.__setattr__(p, key, int(v))


def _num(p, key, lo, strict=False, hi=None):
    v = getattr(p, key)
    rng = f"> {lo}" if strict else f">= {lo}"
    if hi is not None:
        rng += f" and <= {hi}"
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise ParameterError(key, f"must be a finite number {rng}, got {v!r}")
    if (v <= lo if strict else v < lo) or (hi is not None and v > hi):
        raise ParameterError(key, f"must be a finite number {rng}, got {v!r}")
    object.__setattr__(p, key, float(v))


def _choice(p, key, choices):
    v = getattr(p, key)
    if v not in choices:
        raise ParameterError(key, f"must be one of {', '.join(choices)}; got {v!r}")


def _vector(p, key, positive):
    v = getattr(p, key)
    if v is None:
        return
    if len(v) == 0 or not all(math.isfinite(x) for x in v):
        raise ParameterError(key, "must be a non-empty list of finite numbers")
    if positive and min(v) <= 0:
        raise ParameterError(key, "must all be > 0")
