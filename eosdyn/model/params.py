"""The parameters of a run: ONE table, from which everything else is derived.

Every field of :class:`Params` is declared with :func:`param` -- its default, one line of help,
its bounds or choices and the scenario table it belongs to -- and that declaration is the only
place a parameter is described:

* :class:`Params` validates every field against it (a one-line
  :class:`~eosdyn.errors.ParameterError` that names the parameter and its allowed range);
* the commands generate their options from it (:mod:`eosdyn.cli._options`): ``--lambda-max``
  with its type, help and ``[default: 1e+06]``;
* scenario files accept its names, in the tables of :data:`TABLES`;
* the keyword arguments of :func:`eosdyn.simulate` are its names;
* the docstring of :class:`Params` lists it.

Adding a parameter
------------------
Add one line to :class:`Params`, e.g.::

    batch_seed: int = param(0, "Seed of the batch sequence.", lo=0, table="optimizer")

and nothing else: ``eosdyn simulate --batch-seed 3``, ``eosdyn.simulate(batch_seed=3)``,
``batch_seed = 3`` in an ``[optimizer]`` table of a scenario and ``--set batch_seed=3`` in scans
all work and are validated. A constraint between parameters goes in :meth:`Params._relations`;
a command that should not offer the option excludes it by name (:mod:`eosdyn.cli._options`).
A new engine is one entry of :data:`ENGINES` (name and one line of help) plus its class in
:data:`eosdyn.engines.METHODS`.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import os
from dataclasses import dataclass, field

from ..errors import ParameterError
from .datasets import NORMALIZE, check_options

#: engine name -> one line of help (the ``--engine`` choices, in this order)
ENGINES = {
    "reduced": "exact GD on m-independent statistics, O(r^2)/step (default, fastest)",
    "first-order": "the paper's Assumption 3.2 map (eta^2 terms dropped)",
    "full": "exact GD on the parameters A, W, O(m d)/step",
    "flow": "the gradient flow (scipy.integrate), sampled at flow time t*eta for step t",
    "central-flow": "Cohen et al.'s central flow: GD's time average at the edge (scipy.integrate)",
    "stable-flow": "Damian et al.'s self-stabilization: the flow constrained to S <= 2/eta",
    "network": "any model (deep linear, MLP, CNN, ResNet-18) in JAX (the nets extra: pip install eosdyn[nets])",
}
#: engines integrated by ``scipy.integrate`` (``method``, ``rtol``, ``atol`` apply)
FLOW_ENGINES = ("flow", "central-flow", "stable-flow")
#: ``scipy.integrate`` solvers the ``flow`` engine can use
FLOW_METHODS = ("RK45", "DOP853", "Radau", "LSODA")
INIT_SAMPLERS = {
    "auto": "materialise A, W when m*d <= 5e7, else sample the Wishart law",
    "parameters": "materialise A, W (identical to engine full for the same seed)",
    "wishart": "sample the exact law of the statistics in O(r^2), any m",
}
#: below this many entries of W, ``init_sampler="auto"`` materialises (A, W) so that every
#: engine starts from the same draw; above it, the reduced engines sample Wishart statistics.
AUTO_MATERIALISE_LIMIT = 50_000_000
#: scenario tables of parameters (a parameter's ``table`` is where it is documented; any of
#: these tables accepts any parameter)
TABLES = ("run", "data", "init", "flow", "optimizer")


@dataclass(frozen=True)
class Parameter:
    """One row of the parameter table (see the module docstring)."""

    name: str
    default: object
    help: str
    kind: str  # int, float, bool, choice, str, path, floats, ints
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False
    choices: tuple = ()
    choice_help: tuple = ()
    optional: bool = False
    table: str = "run"
    cli: bool = True
    default_text: str | None = None
    size: int | None = None
    metavar: str | None = None

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def range_text(self) -> str:
        """The allowed values in words, e.g. ``a finite number > 0 and <= 1``."""
        if self.kind == "choice":
            return f"one of {', '.join(self.choices)}"
        if self.kind == "bool":
            return "true or false"
        what = {"int": "an integer", "float": "a finite number", "floats": "a non-empty list of finite numbers",
                "ints": f"a list of {self.size or ''} integers".replace("  ", " ")}.get(self.kind, "a string")
        parts = []
        if self.lo is not None:
            parts.append(f"{'>' if self.lo_open else '>='} {self.lo:g}")
        if self.hi is not None:
            parts.append(f"{'<' if self.hi_open else '<='} {self.hi:g}")
        if parts and self.kind in ("floats", "ints"):
            what += ", all"
        return " ".join([what, " and ".join(parts)]).strip()

    def error(self, value) -> ParameterError:
        return ParameterError(self.name, f"must be {self.range_text()}, got {value!r}")

    def validate(self, value):
        """``value`` checked against this row and converted to its type; ParameterError if not."""
        if value is None and (self.optional or self.default is None):
            return None
        check = getattr(self, f"_{self.kind}")
        return check(value)

    # --- one checker per kind ----------------------------------------------------------

    def _number(self, v, integer: bool):
        if isinstance(v, bool) or type(v).__name__ == "bool_" or not isinstance(v, numbers.Real):
            raise self.error(v)
        try:
            x = int(v) if isinstance(v, numbers.Integral) else float(v)
            if integer and isinstance(x, float):
                if not x.is_integer():
                    raise self.error(v)
                x = int(x)
            if not integer:
                x = float(x)
        except (OverflowError, ValueError):  # inf or nan to int, a huge int to float
            raise self.error(v) from None
        if not integer and not math.isfinite(x):
            raise self.error(v)
        if integer and abs(x) >= 2**63:  # the kernels' int64
            raise ParameterError(self.name, f"must be {self.range_text()} (below 2^63), got {v!r}")
        if self.lo is not None and (x <= self.lo if self.lo_open else x < self.lo):
            raise self.error(v)
        if self.hi is not None and (x >= self.hi if self.hi_open else x > self.hi):
            raise self.error(v)
        return x

    def _int(self, v):
        return self._number(v, True)

    def _float(self, v):
        return self._number(v, False)

    def _bool(self, v):
        if isinstance(v, bool) or (type(v).__name__ == "bool_"):
            return bool(v)
        if isinstance(v, int) and v in (0, 1):
            return bool(v)
        raise self.error(v)

    def _choice(self, v):
        if not isinstance(v, str) or v not in self.choices:
            raise ParameterError(self.name, f"must be one of {', '.join(self.choices)}; got {v!r}")
        return v

    def _str(self, v):
        if not isinstance(v, str):
            raise ParameterError(self.name, f"must be a string, got {v!r}")
        return v

    def _path(self, v):
        if not isinstance(v, str | os.PathLike):
            raise ParameterError(self.name, f"must be a path or name, got {v!r}")
        return os.fspath(v)

    def _sequence(self, v, integer: bool):
        if isinstance(v, str | bytes) or not hasattr(v, "__iter__"):
            raise self.error(v)
        try:
            values = tuple(self._number(x, integer) for x in v)
        except ParameterError:
            raise self.error(v) from None
        if not values or (self.size is not None and len(values) != self.size):
            raise self.error(v)
        return values

    def _floats(self, v):
        return self._sequence(v, False)

    def _ints(self, v):
        return self._sequence(v, True)


def param(default, help: str, *, kind: str | None = None, compare: bool = True, **spec):
    """A field of :class:`Params` declared as one row of the parameter table.

    ``kind`` is inferred from ``default`` (int, float, bool; ``choice`` when ``choices`` are
    given) unless given; ``choices`` may be a dict ``name -> help``. Other keywords are the
    :class:`Parameter` attributes (``lo``, ``hi``, ``lo_open``, ``hi_open``, ``optional``,
    ``table``, ``cli``, ``default_text``, ``size``).
    """
    choices = spec.pop("choices", ())
    if isinstance(choices, dict):
        spec["choice_help"] = tuple(choices.values())
        choices = tuple(choices)
    if kind is None:
        kind = "choice" if choices else {bool: "bool", int: "int", float: "float", str: "str"}[type(default)]
    row = Parameter("", default, help, kind, choices=tuple(choices), **spec)
    return field(default=default, compare=compare, metadata={"parameter": row})


@dataclass(frozen=True)
class Params:
    """Everything that defines a run (defaults: the paper-like EoS scenario at m = 4096).

    The attributes are listed below, generated from the table (see :mod:`eosdyn.model.params`).
    """

    m: int = param(4096, "Width of the hidden layer.", lo=1)
    eta: float = param(0.01, "Learning rate eta.", lo=0.0, lo_open=True)
    steps: int = param(100_000, "Number of GD steps.", lo=1)
    engine: str = param("reduced", "How the run advances.", choices=ENGINES)
    model: str = param("linear2", "Network: linear2 (the paper's two-layer linear network, every engine), or with "
                       "engine network deep-linear:L, mlp:ACT:L (ACT: tanh, relu, gelu, softplus, elu, linear), "
                       "cnn[:ACT[:L]], resnet18 (eosdyn.nets.models).", kind="str", metavar="SPEC")
    parameterization: str = param("ntk", "ntk: 1/sqrt(fan-in) multipliers after the first layer (f = A^T W x/sqrt(m) "
                                  "for linear2); standard: none, init std scaled instead (engine network).",
                                  choices=("ntk", "standard"))
    method: str = param("Radau", "Flow engine: scipy.integrate solver; the implicit Radau/LSODA get the exact "
                        "Jacobian and suit stiff data (spread spectrum of X^T X).", choices=FLOW_METHODS,
                        table="flow")
    # scipy would silently raise an rtol below 100 eps
    rtol: float = param(1e-10, "Flow engine: relative tolerance.", lo=2.3e-14, hi=1.0, table="flow")
    atol: float = param(1e-12, "Flow engine: absolute tolerance.", lo=0.0, table="flow")
    hessian: bool = param(False, "Also record sharpness_hessian = lambda_max of the loss Hessian (exact) "
                          "at every recorded step.")
    seed: int = param(0, "Seed of the initialisation and of the synthetic data.", lo=0, table="init")
    n: int = param(100, "Synthetic data: number of samples.", lo=1, table="data")
    rank: int = param(5, "Synthetic data: rank r of X^T X.", lo=1, table="data")
    lambda_max: float = param(1e6, "Synthetic data: largest eigenvalue of X^T X.", lo=0.0, lo_open=True,
                              table="data")
    lambda_min: float = param(10.0, "Synthetic data: smallest nonzero eigenvalue of X^T X (eigenvalues "
                              "geometric in between).", lo=0.0, lo_open=True, table="data")
    eigenvalues: tuple | None = param(None, "Synthetic data: explicit eigenvalues of X^T X, comma-separated "
                                      "(override the rank and the geometric spectrum).", kind="floats", lo=0.0,
                                      lo_open=True, optional=True, table="data", default_text="geometric",
                                      metavar="L1,L2,...")
    z: tuple | None = param(None, "Synthetic data: explicit label projections z_i = Y^T v_i.", kind="floats",
                            optional=True, table="data", cli=False)
    label_fraction: float = param(1.0, "Synthetic data: ||z||^2/n, the part of the labels in the data's span.",
                                  lo=0.0, hi=1.0, table="data")
    d: int | None = param(None, "Synthetic data: ambient dimension d >= rank.", kind="int", lo=1, optional=True,
                          table="data", default_text="rank")
    init_scale: float = param(0.01, "Std of the Gaussian init of A and W.", lo=0.0, table="init")
    sigma_a: float | None = param(None, "Std of A's init (overrides the init scale).", kind="float", lo=0.0,
                                  optional=True, table="init", default_text="init scale")
    sigma_w: float | None = param(None, "Std of W's init (overrides the init scale).", kind="float", lo=0.0,
                                  optional=True, table="init", default_text="init scale")
    init_sampler: str = param("auto", "How the reduced engines draw their initial statistics.",
                              choices=INIT_SAMPLERS, table="init")
    data: str | None = param(None, ".npz with X (d, n) and Y (n,), .csv (one sample per row, label last), or a "
                             "real dataset: digits, cifar10:PATH, mnist:PATH (nothing is downloaded).",
                             kind="path", optional=True, table="data", default_text="synthetic")
    classes: tuple = param((0, 1), "Real data: the class pair C0,C1 (labelled -1, +1).", kind="ints", lo=0, hi=9,
                           size=2, table="data", metavar="C0,C1")
    subset: int | None = param(None, "Real data: keep this many samples, half per class, drawn with the data seed.",
                               kind="int", lo=2, optional=True, table="data", default_text="all")
    center: bool = param(True, "Real data: subtract the mean sample.", table="data")
    normalize: str = param("none", "Real data: none (pixels in [0,1]), unit (||x_i|| = 1), global "
                           "(tr X^T X = n), feature (unit RMS per feature).", choices=NORMALIZE, table="data")
    data_seed: int = param(0, "Real data: seed of the subset.", lo=0, table="data")
    init: str | None = param(None, ".npz with initial A (m,) and W (m, d); m is then A's length.", kind="path",
                             optional=True, table="init", default_text="Gaussian draw")
    save_init: str | None = param(None, "Write the initial weights the run used to this .npz (A, W1 .. WK; "
                                  "refused if it exists).", kind="path", optional=True, table="init",
                                  default_text="not written")
    record_every: int | None = param(None, "Record every k-th step.", kind="int", lo=1, optional=True,
                                     default_text="1 up to 2e5 steps, else steps/1e5")
    loss_tol: float = param(1e-14, "Stop as converged when the reducible loss L - ||Y_perp||^2/n is below this.",
                            lo=0.0)
    max_loss: float = param(1e100, "Stop as diverged when the loss or ||A||^2 exceeds this or is not finite.",
                            lo=0.0, lo_open=True)
    optimizer: str = param("gd", "The update rule (eosdyn.optim): gd; momentum (heavy ball) or nesterov, edge "
                           "(2+2b)/eta and (2+2b)/((1+2b)eta) (engines reduced, full); rmsprop, adam (engine full), "
                           "edges 2/eta and (2+2b1)/((1-b1)eta) on lambda_max(P^-1 H).",
                           choices=("gd", "momentum", "nesterov", "rmsprop", "adam"), table="optimizer")
    momentum: float | None = param(None, "momentum/nesterov: beta.", kind="float", lo=0.0, hi=1.0, hi_open=True,
                                   optional=True, table="optimizer", default_text="0.9 (momentum, nesterov)")
    beta1: float | None = param(None, "adam: first-moment decay.", kind="float", lo=0.0, hi=1.0, hi_open=True,
                                optional=True, table="optimizer", default_text="0.9 (adam)")
    beta2: float | None = param(None, "adam, rmsprop: second-moment decay.", kind="float", lo=0.0, hi=1.0,
                                hi_open=True, optional=True, table="optimizer", default_text="0.999 (adam, rmsprop)")
    adam_eps: float | None = param(None, "adam, rmsprop: epsilon of the preconditioner.", kind="float", lo=0.0,
                                   lo_open=True, optional=True, table="optimizer",
                                   default_text="1e-8 (adam, rmsprop)")
    bias_correction: bool = param(True, "adam, rmsprop: Kingma & Ba's bias corrections.", table="optimizer")
    batch_size: int | None = param(None, "Mini-batch SGD with b samples per step, 1 <= b <= n (each epoch a fresh "
                                   "random permutation; n mod b samples left out per epoch).", kind="int", lo=1,
                                   optional=True, table="optimizer", default_text="full batch")
    batch_seed: int = param(0, "Seed of the batch sequence.", lo=0, table="optimizer")
    batch_sharpness_samples: int = param(32, "Batches averaged per recorded batch_sharpness.", lo=1,
                                         table="optimizer")
    name: str = param("custom", "A label for the run (a scenario's file name).", table="", cli=False,
                      compare=False)

    def __post_init__(self):
        for row in PARAMETERS.values():
            object.__setattr__(self, row.name, row.validate(getattr(self, row.name)))
        self._relations()

    def _relations(self) -> None:
        """Constraints between parameters."""
        r = len(self.eigenvalues) if self.eigenvalues is not None else self.rank
        if self.eigenvalues is None and self.data is None:
            if self.rank > self.n:
                raise ParameterError("rank", f"must be <= n = {self.n}, got {self.rank}")
            if self.lambda_min > self.lambda_max:
                raise ParameterError("lambda_min", f"must be <= lambda_max = {self.lambda_max}, got {self.lambda_min}")
        if self.eigenvalues is not None and len(self.eigenvalues) > self.n:
            raise ParameterError("eigenvalues", f"must have at most n = {self.n} entries")
        if self.d is not None and self.data is None and self.d < r:
            raise ParameterError("d", f"must be >= the rank {r}, got {self.d}")
        opts = check_options(self.classes, self.subset, self.center, self.normalize, self.data_seed)
        for key, value in opts.items():
            object.__setattr__(self, key, value)
        if self.engine == "full" and self.init_sampler == "wishart":
            raise ParameterError("init_sampler", "must be 'auto' or 'parameters' for engine full")
        from ..nets.spec import check as check_model  # which models and parameterizations each engine runs

        object.__setattr__(self, "model", check_model(self.model, self.engine, self.parameterization, self.m))
        from ..optim import params as optim_params  # defaults and which engines run each optimizer

        optim_params.check(self)

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


#: the parameter table: name -> :class:`Parameter`, in declaration order
PARAMETERS: dict[str, Parameter] = {
    f.name: dataclasses.replace(f.metadata["parameter"], name=f.name) for f in dataclasses.fields(Params)
}
FIELDS = {f.name: f for f in dataclasses.fields(Params)}


def default_text(row: Parameter) -> str:
    """How the default of ``row`` reads in help texts (``1e+06``, ``0,1``, ``rank``)."""
    if row.default_text is not None:
        return row.default_text
    v = row.default
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, tuple):
        return ",".join(str(x) for x in v)
    return str(v)


def _docstring() -> str:
    lines = [Params.__doc__.rstrip(), "", "    Attributes", "    ----------"]
    for row in PARAMETERS.values():
        lines.append(f"    {row.name} : {row.kind}")
        text = row.help
        if row.choice_help:
            text += " " + "; ".join(f"``{c}``: {h}" for c, h in zip(row.choices, row.choice_help, strict=True)) + "."
        lines.append(f"        {text} Allowed: {row.range_text()}. Default: {default_text(row)}.")
    return "\n".join(lines) + "\n"


Params.__doc__ = _docstring()


def make_params(**kwargs) -> Params:
    """Build :class:`Params` from keyword arguments; unknown names are a one-line error."""
    unknown = sorted(set(kwargs) - set(FIELDS))
    if unknown:
        raise ParameterError(unknown[0], f"is not a parameter; known: {', '.join(FIELDS)}")
    return Params(**kwargs)
