"""Model specifications (``--model SPEC``), parsed without importing JAX.

Grammar (one-line :class:`~eosdyn.errors.ParameterError` on anything else)::

    linear2                  the paper's two-layer linear network (every engine)
    deep-linear:L            L >= 1 hidden linear layers of width m (= mlp:linear:L)
    mlp:ACT:L                L >= 1 hidden layers of width m, ACT in ACTIVATIONS
    cnn[:ACT[:L]]            L >= 1 conv layers (3x3, stride 2, padding 1), m channels, ACT (relu)
    resnet18                 ResNet-18, CIFAR variant, stage widths m/8, m/4, m/2, m

The exact forward formulas are in :mod:`eosdyn.nets.models`.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ParameterError

ACTIVATIONS = ("tanh", "relu", "gelu", "softplus", "elu", "linear")
KINDS = ("linear2", "deep-linear", "mlp", "cnn", "resnet18")
PARAMETERIZATIONS = ("ntk", "standard")
#: hidden layers allowed per spec (keeps a typo like mlp:tanh:200 from building a huge graph)
MAX_DEPTH = 64
FORMS = "linear2, deep-linear:L, mlp:ACT:L, cnn[:ACT[:L]], resnet18"


@dataclass(frozen=True)
class ModelSpec:
    """A parsed model: ``kind``, activation ``act`` and depth ``depth`` (hidden weight layers;
    for ``resnet18`` the 20 conv kernels)."""

    kind: str
    act: str = "linear"
    depth: int = 1

    @property
    def dense(self) -> bool:
        """Whether every weight layer is a dense matrix (the structured Gram applies)."""
        return self.kind in ("linear2", "deep-linear", "mlp")

    @property
    def image(self) -> bool:
        """Whether the model needs image-shaped input."""
        return self.kind in ("cnn", "resnet18")

    @property
    def linear(self) -> bool:
        """Whether ``f`` is linear in the input (the reachable labels are ``X``'s row space)."""
        return self.dense and self.act == "linear"

    @property
    def bilinear_two_layer(self) -> bool:
        """Whether the model is the paper's two-layer linear network ``A^T W x`` (times a constant)."""
        return self.dense and self.act == "linear" and self.depth == 1

    def __str__(self) -> str:
        if self.kind == "linear2":
            return "linear2"
        if self.kind == "deep-linear":
            return f"deep-linear:{self.depth}"
        if self.kind == "mlp":
            return f"mlp:{self.act}:{self.depth}"
        if self.kind == "cnn":
            return f"cnn:{self.act}:{self.depth}"
        return self.kind


def parse(spec) -> ModelSpec:
    """Parse a model spec string; raise a one-line :class:`ParameterError` naming ``model``."""
    if not isinstance(spec, str) or not spec:
        raise ParameterError("model", f"must be one of {FORMS}; got {spec!r}")
    parts = spec.strip().split(":")
    kind, rest = parts[0], parts[1:]
    if kind == "linear2" and not rest:
        return ModelSpec("linear2", "linear", 1)
    if kind == "resnet18" and not rest:
        return ModelSpec("resnet18", "relu", 20)
    if kind == "deep-linear" and len(rest) == 1:
        return ModelSpec("deep-linear", "linear", _depth(rest[0], spec))
    if kind == "mlp" and len(rest) == 2:
        return ModelSpec("mlp", _act(rest[0], spec), _depth(rest[1], spec))
    if kind == "cnn" and len(rest) <= 2:
        act = _act(rest[0], spec) if rest else "relu"
        depth = _depth(rest[1], spec) if len(rest) == 2 else 2
        return ModelSpec("cnn", act, depth)
    if kind in KINDS:
        raise ParameterError("model", f"{spec!r} is malformed; the forms are {FORMS}")
    raise ParameterError("model", f"must be one of {FORMS}; got {spec!r}")


def _depth(text: str, spec: str) -> int:
    try:
        L = int(text)
    except ValueError:
        L = 0
    if not 1 <= L <= MAX_DEPTH or str(L) != text.strip():
        raise ParameterError("model", f"{spec!r}: depth L must be an integer in 1..{MAX_DEPTH}, got {text!r}")
    return L


def _act(text: str, spec: str) -> str:
    if text not in ACTIVATIONS:
        raise ParameterError("model", f"{spec!r}: activation must be one of {', '.join(ACTIVATIONS)}; got {text!r}")
    return text


def check(model, engine: str, parameterization: str, m: int) -> str:
    """Validate ``model``/``parameterization`` against the engine and width; return the
    canonical spec string. Engines other than ``network`` run only ``linear2`` in the ``ntk``
    parameterization (the paper's ``f = A^T W x / sqrt(m)``)."""
    spec = parse(model)
    if parameterization not in PARAMETERIZATIONS:
        raise ParameterError("parameterization", f"must be one of {', '.join(PARAMETERIZATIONS)}; "
                             f"got {parameterization!r}")
    if engine != "network":
        if spec.kind != "linear2":
            raise ParameterError("model", f"{model!r} needs engine network (engine {engine} runs linear2 only)")
        if parameterization != "ntk":
            raise ParameterError("parameterization", f"must be ntk for engine {engine} "
                                 "(standard needs engine network)")
    if spec.kind == "resnet18" and m % 8:
        raise ParameterError("m", f"must be a multiple of 8 for resnet18 (stage widths m/8..m), got {m}")
    return str(spec)
