"""Real datasets behind ``--data NAME``: two classes of an image set as ``(X (d, n), Y (n,))``.

Names (``eosdyn.model.data.load`` dispatches here when ``--data`` is one of them):

* ``digits``: scikit-learn's bundled 8x8 handwritten digits (d = 64, 1797 samples, no download);
* ``cifar10:PATH``: CIFAR-10 in the standard python-pickle format, ``PATH`` the archive
  ``cifar-10-python.tar.gz``, the extracted folder ``cifar-10-batches-py`` or its parent
  (d = 3072, the 50,000 training images);
* ``mnist:PATH``: MNIST in the standard idx format, ``PATH`` a folder holding
  ``train-images-idx3-ubyte`` and ``train-labels-idx1-ubyte`` (each optionally ``.gz``) or the
  images file itself (d = 784, the 60,000 training images).

Nothing is downloaded: the CIFAR-10 and MNIST files must be given. Preprocessing, in order:

1. keep the two classes ``classes = (c0, c1)``, labelled ``Y = -1`` for ``c0`` and ``+1`` for ``c1``;
2. if ``subset`` is given, draw ``ceil(subset/2)`` samples of ``c0`` and ``floor(subset/2)`` of
   ``c1`` without replacement (seeded by ``data_seed``) and shuffle them; otherwise keep all, in
   file order;
3. scale pixel intensities to ``[0, 1]`` (``/255``, or ``/16`` for ``digits``);
4. if ``center``, subtract the mean sample, ``x_i <- x_i - (1/n) sum_j x_j`` (the paper's
   "samples' mean subtracted");
5. ``normalize``: ``none``; ``unit`` (every sample ``||x_i|| = 1``); ``global`` (one factor such
   that ``tr(X^T X) = sum_i ||x_i||^2 = n``, relative norms kept); ``feature`` (every feature
   scaled to unit root-mean-square over the samples; constant features stay 0).
"""

from __future__ import annotations

import gzip
import io
import math
import pickle
import tarfile
from pathlib import Path

import numpy as np

from ..errors import DataError, ParameterError

NAMES = ("digits", "cifar10", "mnist")
NORMALIZE = ("none", "unit", "global", "feature")
#: the Params fields that configure a real dataset, with their defaults
OPTIONS = {"classes": (0, 1), "subset": None, "center": True, "normalize": "none", "data_seed": 0}


def parse(spec) -> tuple[str, str | None] | None:
    """``"digits"`` -> ``("digits", None)``, ``"cifar10:/p"`` -> ``("cifar10", "/p")``; else ``None``."""
    if not isinstance(spec, str):
        return None
    name, sep, path = spec.partition(":")
    if name not in NAMES or (name == "digits") == bool(sep):
        return None
    return name, path if sep else None


#: how each dataset is named on the command line and in scenario files
USAGE = {"digits": "digits", "cifar10": "cifar10:PATH", "mnist": "mnist:PATH"}


def not_found(spec: str) -> str:
    """The message for a ``data`` value that is neither an existing file nor a dataset name."""
    known = ", ".join(USAGE.values())
    name, sep, _ = spec.partition(":")
    if name in NAMES:
        how = "takes no path" if name == "digits" else "needs the path of its files"
        return f"data {spec!r}: dataset {name} {how}: give it as {USAGE[name]} (datasets: {known})"
    if Path(spec).suffix.lower() in (".npz", ".csv"):
        return f"data file {spec!r} does not exist"
    return f"data {spec!r} is neither a data file (.npz, .csv) nor a dataset; datasets: {known}"


def is_named(spec) -> bool:
    """Whether ``spec`` names a real dataset (rather than a data file)."""
    return parse(spec) is not None


def resolve(spec: str, base: Path) -> str:
    """``spec`` with a relative ``PATH`` made relative to ``base`` (for scenario files)."""
    name, path = parse(spec)
    if path is None or Path(path).expanduser().is_absolute():
        return spec
    return f"{name}:{base / path}"


def options_from(params) -> dict:
    """The preprocessing options of a :class:`~eosdyn.model.params.Params`."""
    return {key: getattr(params, key) for key in OPTIONS}


def check_options(classes, subset, center, normalize, data_seed) -> dict:
    """Validate the preprocessing options; one-line :class:`ParameterError` naming the option."""
    try:
        pair = tuple(int(c) for c in classes)
        ok = len(pair) == 2 and pair[0] != pair[1] and all(
            float(c) == int(c) and 0 <= int(c) <= 9 for c in classes
        )
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ParameterError("classes", f"must be two different class labels in 0..9, got {classes!r}")
    if subset is not None and (isinstance(subset, bool) or not _is_int(subset) or subset < 2):
        raise ParameterError("subset", f"must be an integer >= 2 (samples kept), got {subset!r}")
    if not isinstance(center, bool | np.bool_):
        raise ParameterError("center", f"must be true or false, got {center!r}")
    if normalize not in NORMALIZE:
        raise ParameterError("normalize", f"must be one of {', '.join(NORMALIZE)}; got {normalize!r}")
    if isinstance(data_seed, bool) or not _is_int(data_seed) or data_seed < 0:
        raise ParameterError("data_seed", f"must be an integer >= 0, got {data_seed!r}")
    return {"classes": pair, "subset": None if subset is None else int(subset), "center": bool(center),
            "normalize": normalize, "data_seed": int(data_seed)}


def _is_int(v) -> bool:
    return isinstance(v, int | float | np.integer) and math.isfinite(v) and v == int(v)


def load(spec: str, **options) -> tuple[np.ndarray, np.ndarray, str]:
    """Load the real dataset ``spec`` and preprocess it.

    Returns
    -------
    X : ndarray (d, n)
        One column per sample, float64.
    Y : ndarray (n,)
        ``-1`` for ``classes[0]``, ``+1`` for ``classes[1]``.
    source : str
        A one-line description (name, classes, n) for provenance.
    """
    parsed = parse(spec)
    if parsed is None:
        raise DataError(not_found(str(spec)))
    name, path = parsed
    opts = check_options(**{**OPTIONS, **options})
    images, labels, scale = RAW[name](path)
    X, Y = preprocess(images, labels, scale=scale, **opts)
    c0, c1 = opts["classes"]
    return X, Y, f"{name} classes {c0} (-1) vs {c1} (+1), n={Y.size}"


def preprocess(images, labels, classes=(0, 1), subset=None, center=True, normalize="none",
               data_seed=0, scale=255.0) -> tuple[np.ndarray, np.ndarray]:
    """Steps 1-5 of the module docstring on ``images`` (N, d) (integers) and ``labels`` (N,)."""
    labels = np.asarray(labels).astype(np.int64).ravel()
    c0, c1 = classes
    idx = [np.flatnonzero(labels == c) for c in (c0, c1)]
    for c, ix in zip((c0, c1), idx, strict=True):
        if ix.size == 0:
            raise DataError(f"class {c} has no samples in this dataset")
    if subset is not None:
        rng = np.random.default_rng(np.random.SeedSequence([data_seed, 0x5EB5E7]))
        want = (subset - subset // 2, subset // 2)
        for c, ix, k in zip((c0, c1), idx, want, strict=True):
            if ix.size < k:
                raise ParameterError("subset", f"asks for {k} samples of class {c}, which has {ix.size}")
        keep = np.concatenate([rng.choice(ix, size=k, replace=False) for ix, k in zip(idx, want, strict=True)])
        keep = keep[rng.permutation(keep.size)]
    else:
        keep = np.sort(np.concatenate(idx))
    X = np.asarray(images[keep], dtype=np.float64).reshape(keep.size, -1) / scale
    Y = np.where(labels[keep] == c1, 1.0, -1.0)
    if center:
        X -= X.mean(axis=0)
    X = _normalize(X, normalize)
    return np.ascontiguousarray(X.T), Y


def _normalize(X: np.ndarray, how: str) -> np.ndarray:
    if how == "unit":
        norms = np.linalg.norm(X, axis=1, keepdims=True)
        return X / np.where(norms > 0, norms, 1.0)
    if how == "global":
        total = float(np.sum(X * X))
        return X * math.sqrt(X.shape[0] / total) if total > 0 else X
    if how == "feature":
        rms = np.sqrt(np.mean(X * X, axis=0))
        return X / np.where(rms > 0, rms, 1.0)
    return X


# --- raw loaders: (images (N, ...) integers, labels (N,), intensity scale) -------------------


def raw_digits(path=None):
    """scikit-learn's bundled 8x8 digits: intensities 0..16."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:  # pragma: no cover - sklearn is an install requirement
        raise DataError("the digits dataset needs scikit-learn (pip install scikit-learn)") from None
    bunch = load_digits()
    return bunch.images.reshape(len(bunch.target), -1), bunch.target, 16.0


CIFAR_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))


def raw_cifar10(path):
    """The CIFAR-10 training batches from the archive, the extracted folder or its parent."""
    p = _existing(path, "cifar10", "cifar-10-python.tar.gz or the folder cifar-10-batches-py")
    if p.is_file():
        batches = _cifar_from_tar(p)
    else:
        folder = p / "cifar-10-batches-py" if (p / "cifar-10-batches-py").is_dir() else p
        missing = [b for b in CIFAR_TRAIN if not (folder / b).is_file()]
        if missing:
            raise DataError(f"cifar10: {str(folder)!r} lacks {', '.join(missing)} "
                            "(expected the extracted cifar-10-batches-py folder)")
        batches = [_unpickle((folder / b).read_bytes(), b) for b in CIFAR_TRAIN]
    images = np.concatenate([b[0] for b in batches])
    labels = np.concatenate([b[1] for b in batches])
    return images, labels, 255.0


def _cifar_from_tar(p: Path):
    try:
        with tarfile.open(p, "r:*") as tar:
            members = {Path(m.name).name: m for m in tar.getmembers() if m.isfile()}
            missing = [b for b in CIFAR_TRAIN if b not in members]
            if missing:
                raise DataError(f"cifar10: archive {p.name!r} lacks {', '.join(missing)}")
            return [_unpickle(tar.extractfile(members[b]).read(), b) for b in CIFAR_TRAIN]
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise DataError(f"cifar10: cannot read archive {p.name!r}: {exc}") from None


class _SafeUnpickler(pickle.Unpickler):
    """Unpickles only what a CIFAR-10 batch holds: dicts, lists, bytes and numpy arrays
    (``_codecs.encode`` is how Python 3 pickles bytes at protocol 2)."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
    }

    def find_class(self, module, name):
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def _unpickle(raw: bytes, name: str):
    try:
        batch = _SafeUnpickler(io.BytesIO(raw), encoding="bytes").load()
        data = np.asarray(batch[b"data"], dtype=np.uint8)
        labels = np.asarray(batch[b"labels"], dtype=np.int64)
    except Exception as exc:
        raise DataError(f"cifar10: {name} is not a CIFAR-10 python batch ({exc})") from None
    if data.ndim != 2 or data.shape[0] != labels.size:
        raise DataError(f"cifar10: {name} has data of shape {data.shape} for {labels.size} labels")
    return data, labels


MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte")


def raw_mnist(path):
    """The MNIST training set from its two idx files (optionally gzipped)."""
    p = _existing(path, "mnist", "a folder with train-images-idx3-ubyte and train-labels-idx1-ubyte")
    if p.is_dir():
        images_file, labels_file = (_find_idx(p, stem) for stem in MNIST_FILES)
    else:
        images_file = p
        labels_file = p.with_name(p.name.replace("images-idx3", "labels-idx1").replace("images.idx3", "labels.idx1"))
        if labels_file == p or not labels_file.is_file():
            raise DataError(f"mnist: no labels file beside {p.name!r} (expected {labels_file.name!r})")
    images, labels = read_idx(images_file), read_idx(labels_file)
    if images.ndim < 2 or labels.ndim != 1 or images.shape[0] != labels.size:
        raise DataError(f"mnist: {images_file.name!r} holds {images.shape} for {labels.shape} labels")
    return images.reshape(labels.size, -1), labels, 255.0


def _find_idx(folder: Path, stem: str) -> Path:
    for name in (stem, stem + ".gz", stem.replace("-idx", ".idx"), stem.replace("-idx", ".idx") + ".gz"):
        if (folder / name).is_file():
            return folder / name
    raise DataError(f"mnist: {str(folder)!r} has no {stem} (or {stem}.gz)")


IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: Path) -> np.ndarray:
    """Read an idx file (magic ``0 0 type ndim``, big-endian int32 sizes, then the data)."""
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as exc:
        raise DataError(f"mnist: cannot read {path.name!r}: {exc}") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_TYPES:
        raise DataError(f"mnist: {path.name!r} is not an idx file (bad magic number)")
    ndim = raw[3]
    shape = tuple(int(v) for v in np.frombuffer(raw, ">i4", count=ndim, offset=4))
    dtype = np.dtype(IDX_TYPES[raw[2]])
    size = int(np.prod(shape)) if shape else 0
    offset = 4 + 4 * ndim
    if len(raw) != offset + size * dtype.itemsize:
        raise DataError(f"mnist: {path.name!r} is truncated or too long for shape {shape}")
    return np.frombuffer(raw, dtype, count=size, offset=offset).reshape(shape)


def _existing(path, name: str, what: str) -> Path:
    if not path:
        raise DataError(f"{name}: give the data as {name}:PATH ({what}); nothing is downloaded")
    p = Path(path).expanduser()
    if not p.exists():
        raise DataError(f"{name}: {str(p)!r} does not exist; eosdyn downloads nothing, "
                        f"give {name}:PATH with {what}")
    return p


RAW = {"digits": raw_digits, "cifar10": raw_cifar10, "mnist": raw_mnist}


# --- how far a dataset is from the paper's Assumptions 4.1-4.2 ----------------------------


def describe(data, top: int = 10) -> dict:
    """Spectral facts of a :class:`~eosdyn.model.data.SpectralData` that the paper's theory assumes.

    With ``lambda_1 >= ... >= lambda_r > 0`` the nonzero eigenvalues of ``X^T X`` and
    ``z = V^T Y``:

    * ``chi = max_i lambda_i / lambda_{i+1}`` (Assumption 4.1: bounded by a constant),
    * ``lambda_1 / lambda_2`` (Assumption 4.1: ``>= 2``),
    * ``kappa = min_i |z_i| / sqrt(n)`` (Assumption 4.2: ``kappa = Omega(1/r)``; ``r kappa``
      is printed to compare with 1),
    * ``||Y_perp||^2 = ||Y||^2 - ||z||^2``, the part of the labels outside the row space of X
      (``||Y_perp||^2 / n`` is the smallest reachable loss).
    """
    lam = np.asarray(data.eigenvalues, dtype=float)
    r = lam.size
    kappa = float(np.min(np.abs(data.z)) / math.sqrt(data.n))
    return {
        "source": data.source,
        "n": int(data.n),
        "d": int(data.d),
        "rank": int(r),
        "top_eigenvalues": [float(v) for v in lam[:top]],
        "lambda_min_nonzero": float(lam[-1]),
        "chi": float(np.max(lam[:-1] / lam[1:])) if r > 1 else float("nan"),
        "lambda1_over_lambda2": float(lam[0] / lam[1]) if r > 1 else float("inf"),
        "kappa": kappa,
        "r_kappa": float(r * kappa),
        "y_perp2": float(data.y_perp2),
        "y_perp2_over_n": float(data.y_perp2 / data.n),
    }
