r"""The networks of the ``network`` engine, with their exact forward formulas.

Every model is the paper's Section 3 form ``f(x) = c_out A^T h(W, x)``: a feature extractor
``h`` with weights ``W1 .. WK`` and a linear output layer ``A``. No biases, no normalisation
layers (batch norm would couple the samples' outputs). ``phi`` is the activation.

Parameterizations (``c_l`` multiplies layer l's weights; ``sigma_w``, ``sigma_a`` are the init
scales, ``init_scale`` by default):

* ``ntk`` (default): the first weight layer acts on the input as it is (``c_1 = 1``, the paper's
  ``W x``); every later layer, and the output layer, is divided by the square root of its fan-in
  (``c_l = 1/sqrt(fan_in_l)``, ``c_out = 1/sqrt(m)``); all entries are drawn ``N(0, sigma^2)``.
* ``standard``: no multipliers (``c_l = c_out = 1``); entries are drawn with the ntk scale folded
  in, ``N(0, (sigma c_l^ntk)^2)``, so that the network at initialisation has the same law as under
  ``ntk`` (GD then moves the layers at different relative speeds).

Models (``n`` samples; dense models take ``x`` in R^d, image models ``x`` in R^{H x W x C}):

``linear2``: ``f(x) = A^T W1 x / sqrt(m)`` -- the paper's two-layer linear network (``W1`` is
    today's ``W``, shape (m, d)).

``deep-linear:L`` = ``mlp:linear:L``. ``mlp:ACT:L``::

    h_0 = x,  h_1 = phi(W1 h_0),  h_l = phi(W_l h_{l-1} / sqrt(m))  (l = 2..L),
    f(x) = A^T h_L / sqrt(m),       W1: (m, d),  W_l: (m, m),  A: (m,)

``cnn:ACT:L`` (default ``cnn`` = ``cnn:relu:2``): ``L`` convolutions, each 3x3 with stride 2 and
    zero padding 1 on every side (output size ``ceil(H/2) x ceil(W/2)``), ``m`` channels::

        h_0 = x,  h_1 = phi(conv(h_0, W1)),  h_l = phi(conv(h_{l-1}, W_l) / sqrt(9 m)),
        f(x) = A^T mean_{pixels p} h_L[p] / sqrt(m),   W1: (m, C, 3, 3),  W_l: (m, m, 3, 3)

    with ``conv(h, K)[p, o] = sum_{dy, dx, i} K[o, i, dy, dx] h[2p + (dy, dx) - 1, i]`` (the
    cross-correlation of PyTorch's ``Conv2d`` and ``jax.lax.conv``).

``resnet18``: the CIFAR variant of He et al. (2016) without batch norm or biases. Stage widths
    ``w = (m/8, m/4, m/2, m)`` (``m = 512`` is the usual ResNet-18), ``conv_s^k(h, K)`` a k x k
    convolution with stride s and zero padding ``(k-1)/2``, every conv but the stem divided by
    ``sqrt(k^2 c_in)`` under ntk, ``phi = relu``::

        h = relu(conv_1^3(x, W1))                                  (stem: C -> m/8)
        for each stage j = 1..4 (stride s_j = 1, 2, 2, 2) and each of its two blocks b:
            s = s_j for the first block of the stage, else 1
            o = relu(conv_s^3(h, K_b1));  o = conv_1^3(o, K_b2)
            h = relu(o + (h if the shape is kept else conv_s^1(h, K_b3)))
        f(x) = A^T mean_p h[p] / sqrt(m)

    Kernels are numbered ``W1 .. W20`` in this order: stem; then per block ``K_b1, K_b2`` and
    ``K_b3`` where present (the first blocks of stages 2, 3, 4).

Weights are stored as ``W1 .. WK`` (dense: (fan-out, fan-in); conv: (c_out, c_in, k, k)) and
``A`` (m,): the format of ``--init``/``--save-init`` files.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .spec import ModelSpec


@dataclass(frozen=True)
class Layer:
    """One weight layer: name, shape, fan-in, ntk multiplier and (conv) stride."""

    name: str
    shape: tuple
    fan_in: int
    ntk_mult: float
    stride: int = 1


@dataclass(frozen=True)
class Model:
    """A network: its layers, multipliers and forward functions (pure; params is a dict)."""

    spec: ModelSpec
    parameterization: str
    m: int
    input_shape: tuple            # (d,) for dense models, (H, W, C) for image models
    layers: tuple                 # hidden weight layers, in forward order
    blocks: tuple = field(default=())   # resnet: (i1, i2, i3 or -1, stride) per block

    @property
    def names(self) -> tuple:
        return tuple(layer.name for layer in self.layers) + ("A",)

    @property
    def c_out(self) -> float:
        return 1.0 / math.sqrt(self.m) if self.parameterization == "ntk" else 1.0

    def mult(self, i: int) -> float:
        """Multiplier ``c_l`` of hidden layer ``i`` (0-based)."""
        return self.layers[i].ntk_mult if self.parameterization == "ntk" else 1.0

    def init_std(self, i: int, sigma: float) -> float:
        """Init std of hidden layer ``i`` for scale ``sigma``."""
        return sigma if self.parameterization == "ntk" else sigma * self.layers[i].ntk_mult

    def a_std(self, sigma: float) -> float:
        return sigma if self.parameterization == "ntk" else sigma / math.sqrt(self.m)

    def n_params(self) -> int:
        return int(sum(np.prod(layer.shape) for layer in self.layers) + self.m)

    # --- forward ---------------------------------------------------------------------------

    def features(self, params, x, taps=None):
        """``(h(x), hs)``: the features (n, m) before the output layer, and for dense models the
        inputs ``h_0 .. h_{L-1}`` of every hidden layer (for the structured Gram). ``taps[l]``
        (optional) is added to layer l's pre-activation (its gradient is ``delta_l``)."""
        if self.spec.dense:
            return _dense_features(self, params, x, taps)
        if self.spec.kind == "cnn":
            return _cnn_features(self, params, x), None
        return _resnet_features(self, params, x), None

    def apply(self, params, x):
        """``f(x)`` for a batch ``x`` (n, ...) -> (n,)."""
        h, _ = self.features(params, x)
        return self.c_out * (h @ params["A"])


def activation(name: str):
    """The activation function ``phi`` (gelu: the exact erf form)."""
    import jax

    return {
        "tanh": jax.numpy.tanh,
        "relu": jax.nn.relu,
        "gelu": lambda z: jax.nn.gelu(z, approximate=False),
        "softplus": jax.nn.softplus,
        "elu": jax.nn.elu,
        "linear": lambda z: z,
    }[name]


def _dense_features(model: Model, params, x, taps):
    phi = activation(model.spec.act)
    h, hs = x, []
    for i, layer in enumerate(model.layers):
        hs.append(h)
        z = model.mult(i) * (h @ params[layer.name].T)
        if taps is not None:
            z = z + taps[i]
        h = phi(z)
    return h, hs


def conv(h, K, stride: int):
    """``k x k`` convolution (cross-correlation) of NHWC ``h`` with OIHW ``K``, zero padding
    ``(k-1)/2`` on every side."""
    import jax

    k = K.shape[-1]
    p = (k - 1) // 2
    return jax.lax.conv_general_dilated(
        h, K, (stride, stride), ((p, p), (p, p)), dimension_numbers=("NHWC", "OIHW", "NHWC"),
        precision=jax.lax.Precision.HIGHEST)


def _cnn_features(model: Model, params, x):
    phi = activation(model.spec.act)
    h = x
    for i, layer in enumerate(model.layers):
        h = phi(model.mult(i) * conv(h, params[layer.name], layer.stride))
    return h.mean(axis=(1, 2))


def _resnet_features(model: Model, params, x):
    import jax

    relu = jax.nn.relu
    L = model.layers

    def c(h, i):
        return model.mult(i) * conv(h, params[L[i].name], L[i].stride)

    h = relu(c(x, 0))
    for i1, i2, i3, _ in model.blocks:
        o = c(relu(c(h, i1)), i2)
        h = relu(o + (h if i3 < 0 else c(h, i3)))
    return h.mean(axis=(1, 2))


# --- construction ------------------------------------------------------------------------------


def build(spec: ModelSpec, input_shape: tuple, m: int, parameterization: str = "ntk") -> Model:
    """The :class:`Model` of ``spec`` for inputs of ``input_shape`` and width ``m``."""
    if spec.dense:
        d = int(np.prod(input_shape))
        layers = [Layer("W1", (m, d), d, 1.0)]
        for lv in range(2, spec.depth + 1):
            layers.append(Layer(f"W{lv}", (m, m), m, 1.0 / math.sqrt(m)))
        return Model(spec, parameterization, m, (d,), tuple(layers))
    C = input_shape[-1]
    if spec.kind == "cnn":
        layers = [Layer("W1", (m, C, 3, 3), 9 * C, 1.0, 2)]
        for lv in range(2, spec.depth + 1):
            layers.append(Layer(f"W{lv}", (m, m, 3, 3), 9 * m, 1.0 / math.sqrt(9 * m), 2))
        return Model(spec, parameterization, m, tuple(input_shape), tuple(layers))
    return _build_resnet(spec, tuple(input_shape), m, parameterization)


def _build_resnet(spec, input_shape, m, parameterization) -> Model:
    widths = (m // 8, m // 4, m // 2, m)
    C = input_shape[-1]
    layers = [Layer("W1", (widths[0], C, 3, 3), 9 * C, 1.0, 1)]
    blocks = []
    cin = widths[0]

    def add(cout, cin_, k, stride):
        fan = k * k * cin_
        layers.append(Layer(f"W{len(layers) + 1}", (cout, cin_, k, k), fan, 1.0 / math.sqrt(fan), stride))
        return len(layers) - 1

    for j, (w, s_stage) in enumerate(zip(widths, (1, 2, 2, 2), strict=True)):
        for b in range(2):
            s = s_stage if b == 0 else 1
            i1 = add(w, cin, 3, s)
            i2 = add(w, w, 3, 1)
            i3 = add(w, cin, 1, s) if (s != 1 or cin != w) else -1
            blocks.append((i1, i2, i3, s))
            cin = w
        del j
    return Model(spec, parameterization, m, input_shape, tuple(layers), tuple(blocks))


def init_params(model: Model, sigma_a: float, sigma_w: float, rng: np.random.Generator) -> dict:
    """Gaussian initial weights (numpy float64): ``A`` first, then ``W1 .. WK`` in order, from
    ``rng`` (for ``linear2`` under ntk exactly :func:`eosdyn.model.init.gaussian_parameters`)."""
    out = {"A": model.a_std(sigma_a) * rng.standard_normal(model.m)}
    for i, layer in enumerate(model.layers):
        out[layer.name] = model.init_std(i, sigma_w) * rng.standard_normal(layer.shape)
    return out
