"""Network inputs from a :class:`~eosdyn.model.data.Dataset`, and initial weights (draw, load, save).

Inputs: dense models take every sample as the vector ``x_i`` (a column of ``X``); image models
(``cnn``, ``resnet18``) take it as an ``H x W x C`` image, which the named datasets define
(:data:`IMAGE_SHAPES`: the column layout their loaders write). Data given as arrays or files
are vectors, and an image model on them is a one-line error.

Weights files (``--init FILE``, ``--save-init FILE``): ``.npz`` with ``A`` (m,) and ``W1 .. WK``
(dense layers (fan-out, fan-in), conv kernels (c_out, c_in, k, k)); ``W`` is read as ``W1`` (the
two-layer engines' format).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import DataError, ParameterError
from ..model import datasets

#: name -> (layout of a column of X, image shape H x W x C)
IMAGE_SHAPES = {"digits": ("HWC", (8, 8, 1)), "mnist": ("HWC", (28, 28, 1)), "cifar10": ("CHW", (32, 32, 3))}


def image_shape(data_spec) -> tuple | None:
    """``(layout, (H, W, C))`` of a named image dataset, else None."""
    parsed = datasets.parse(data_spec) if data_spec is not None else None
    return IMAGE_SHAPES.get(parsed[0]) if parsed else None


def network_inputs(spec, X: np.ndarray, data_spec, model_name: str):
    """``(x, input_shape)``: the inputs as the model takes them (n, ...) and their shape."""
    d, n = X.shape
    if not spec.image:
        return np.ascontiguousarray(X.T), (d,)
    info = image_shape(data_spec)
    if info is None:
        raise ParameterError("model", f"{model_name!r} needs image data (data = digits, cifar10:PATH or "
                             f"mnist:PATH); these data are {d}-dimensional vectors")
    layout, (H, W, C) = info
    if H * W * C != d:
        raise DataError(f"{data_spec}: samples have {d} entries, expected {H}x{W}x{C} images")
    if layout == "CHW":
        x = X.T.reshape(n, C, H, W).transpose(0, 2, 3, 1)
    else:
        x = X.T.reshape(n, H, W, C)
    return np.ascontiguousarray(x), (H, W, C)


def check_weights(weights: dict, model, source: str) -> dict:
    """Weights as float64 arrays of the model's shapes; one-line :class:`DataError` otherwise."""
    want = {layer.name: tuple(layer.shape) for layer in model.layers}
    want["A"] = (model.m,)
    missing = [k for k in want if k not in weights]
    if missing:
        raise DataError(f"{source} lacks {', '.join(missing)} for model {model.spec} "
                        f"(expected {', '.join(f'{k} {v}' for k, v in want.items())})")
    out = {}
    for key, shape in want.items():
        a = np.asarray(weights[key], dtype=float)
        if a.shape != shape:
            raise DataError(f"{source}: {key} has shape {a.shape}, model {model.spec} with m = {model.m} "
                            f"needs {shape}")
        if not np.all(np.isfinite(a)):
            raise DataError(f"{source}: {key} has non-finite values")
        out[key] = np.ascontiguousarray(a)
    return out


def load_weights(path) -> dict:
    """The arrays of an ``.npz`` weights file (``W`` renamed ``W1``)."""
    p = Path(path)
    if not p.exists():
        raise DataError(f"init file {str(p)!r} does not exist")
    if p.suffix != ".npz":
        raise DataError(f"init file {p.name!r}: must be .npz with arrays A and W1 .. WK")
    try:
        with np.load(p, allow_pickle=False) as f:
            out = {k: f[k] for k in f.files}
    except Exception as exc:
        raise DataError(f"cannot read init file {p.name!r}: {exc}") from None
    if "W1" not in out and "W" in out:
        out["W1"] = out.pop("W")
    return out


def width_of(weights: dict) -> int | None:
    """The width m of a weights dict (its ``A``), if any."""
    A = weights.get("A")
    return int(np.asarray(A).shape[0]) if A is not None and np.ndim(A) == 1 else None


def save_weights(path, weights: dict) -> None:
    """Write ``weights`` (``A``, ``W1 .. WK``) as an ``.npz`` file (:func:`eosdyn.io.files.save_weights`:
    atomic, never over an existing file)."""
    from ..io.files import save_weights as write

    write(path, weights)
