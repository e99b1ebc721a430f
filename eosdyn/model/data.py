"""Datasets in the spectral coordinates the paper states its assumptions in.

A dataset is reduced once, by the thin SVD ``X = U S V^T`` (rank r), to what the dynamics
depend on: the singular values ``s`` (``s_i^2`` are the nonzero eigenvalues of ``X^T X``), the
label projections ``z = V^T Y`` and ``||Y_perp||^2 = ||Y - V z||^2``. ``U`` and ``V`` are kept
for engines and diagnostics that work in parameter space.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError, ParameterError


@dataclass(frozen=True, eq=False)
class SpectralData:
    """Data ``X`` (d x n), labels ``Y`` (n,) and their spectral reduction.

    Attributes
    ----------
    X, Y : ndarray
        The data matrix (one column per sample) and labels.
    U, s, V : ndarray
        Thin SVD of ``X`` restricted to its numerical rank r, ``s`` descending.
    z : ndarray
        ``V^T Y`` (the paper's ``z_i``).
    y_perp2 : float
        ``||Y_perp||^2``, the part of the labels no network output can reach.
    source : str
        Where the data came from (``"synthetic"`` or a file name).

    Synthetic data draw their embedding ``U`` (and so ``X = U S V^T``) on first use, from the
    state the generator had when the data were made (the same bits as drawing them at once):
    at rank 1000 the QR and the product cost ~0.15 s that the reduced engines never need.
    """

    _X: np.ndarray | None
    Y: np.ndarray
    _U: np.ndarray | None
    s: np.ndarray
    V: np.ndarray
    z: np.ndarray
    y_perp2: float
    source: str
    #: ``(d, generator state)`` to draw ``U`` from when ``_U`` is None
    embedding: tuple | None = None

    @property
    def U(self) -> np.ndarray:
        """The left singular vectors (d x r)."""
        if self._U is None:
            d, state = self.embedding
            rng = np.random.Generator(np.random.PCG64())
            rng.bit_generator.state = state
            object.__setattr__(self, "_U", np.linalg.qr(rng.standard_normal((d, self.rank)))[0])
        return self._U

    @property
    def X(self) -> np.ndarray:
        """The data matrix (d x n)."""
        if self._X is None:
            object.__setattr__(self, "_X", (self.U * self.s) @ self.V.T)
        return self._X

    @property
    def n(self) -> int:
        return self.Y.shape[0]

    @property
    def d(self) -> int:
        return self.embedding[0] if self._X is None else self._X.shape[0]

    @property
    def rank(self) -> int:
        return self.s.size

    @property
    def eigenvalues(self) -> np.ndarray:
        """Nonzero eigenvalues of ``X^T X``, descending."""
        return self.s**2


def from_arrays(X, Y, source: str = "arrays") -> SpectralData:
    """Validate ``X`` (d, n) and ``Y`` (n,) and reduce them by the thin SVD."""
    X = _finite_array(X, "X", ndim=2)
    Y = _finite_array(Y, "Y", ndim=1)
    if X.shape[1] != Y.shape[0]:
        raise DataError(
            f"X has {X.shape[1]} samples (columns) but Y has {Y.shape[0]} labels; "
            "X must have shape (d, n) and Y shape (n,)"
        )
    U, s, Vt = np.linalg.svd(X, full_matrices=False)
    tol = max(X.shape) * np.finfo(float).eps * (s[0] if s.size else 0.0)
    r = int(np.sum(s > tol))
    if r == 0:
        raise DataError("X has rank 0 (all samples are zero); eosdyn needs rank >= 1")
    U, s, V = U[:, :r], s[:r], Vt[:r].T
    z = V.T @ Y
    y_perp2 = float(np.sum((Y - V @ z) ** 2))
    return SpectralData(X, Y, U, s, V, z, y_perp2, source)


def synthetic(
    n: int = 100,
    rank: int = 5,
    lambda_max: float = 1e6,
    lambda_min: float = 10.0,
    eigenvalues=None,
    z=None,
    label_fraction: float = 1.0,
    d: int | None = None,
    seed: int = 0,
) -> SpectralData:
    """Data given by its spectrum, as in the paper's Assumptions 4.1-4.2.

    The eigenvalues of ``X^T X`` are ``eigenvalues`` if given, else geometric from
    ``lambda_max`` down to ``lambda_min`` (``rank`` of them). The labels ``Y`` are random
    signs (so ``||Y||^2 = n``) and ``z = V^T Y`` is ``z`` if given, else spread evenly:
    ``z_i = sqrt(label_fraction * n / r)`` (Assumption 4.2 with ``kappa = sqrt(label_fraction/r)``).
    ``X = U S V^T`` with ``U`` a seeded random orthonormal ``d x r`` embedding (``d = r`` by
    default) and ``V`` built so that ``V^T Y = z`` exactly.
    """
    if eigenvalues is None:
        lam = np.geomspace(lambda_max, lambda_min, rank) if rank > 1 else np.array([lambda_max])
    else:
        lam = np.sort(np.asarray(eigenvalues, dtype=float))[::-1]
    r = lam.size
    d = r if d is None else d
    ynorm = np.sqrt(n)
    zz = (
        np.full(r, np.sqrt(label_fraction * n / r))
        if z is None
        else np.asarray(z, dtype=float).copy()
    )
    if zz.size != r:
        raise ParameterError("z", f"must have one entry per eigenvalue ({r}), got {zz.size}")
    if np.sum(zz**2) > n * (1 + 1e-12):
        raise ParameterError("z", f"must satisfy ||z||^2 <= n = {n}, got {np.sum(zz**2):.6g}")
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0xDA7A]))
    Y = rng.choice([-1.0, 1.0], size=n)
    if r == n:  # V is square: the labels lie in its span, so ||z|| must be ||Y||
        if abs(np.sum(zz**2) - n) > 1e-9 * n:
            raise ParameterError("label_fraction", f"must be 1 when rank = n = {n} (Y spans no complement)")
        V = _reflector(zz / np.linalg.norm(zz), Y / ynorm)
        return SpectralData(None, Y, None, np.sqrt(lam), V, zz, 0.0, "synthetic", (d, rng.bit_generator.state))
    # Orthonormal Q = [Y/||Y||, q_1..q_r] (n x (r+1)), then V = Q R with R^T R = I, R[0] = z/||Y||.
    Q, _ = np.linalg.qr(np.column_stack([Y / ynorm, rng.standard_normal((n, r))]))
    Q[:, 0] *= np.sign(Q[:, 0] @ Y)
    alpha = zz / ynorm
    a2 = float(alpha @ alpha)
    B = np.eye(r)
    if a2 > 0:
        B -= (1.0 - np.sqrt(max(0.0, 1.0 - a2))) * np.outer(alpha, alpha) / a2
    V = Q @ np.vstack([alpha, B])
    return SpectralData(None, Y, None, np.sqrt(lam), V, zz, float(max(0.0, n - a2 * n)), "synthetic",
                        (d, rng.bit_generator.state))


def load(path, **options) -> SpectralData:
    """Load data from ``.npz`` (arrays ``X`` (d, n) and ``Y`` (n,)) or ``.csv``.

    A ``.csv`` file holds one sample per row, features first and the label last. A dataset
    name (``digits``, ``cifar10:PATH``, ``mnist:PATH``) loads real data through
    :mod:`eosdyn.model.datasets` with its preprocessing ``options`` (classes, subset, ...).
    """
    from . import datasets

    if datasets.is_named(path):
        return from_arrays(*datasets.load(path, **options))
    p = Path(path)
    if not p.exists():
        raise DataError(datasets.not_found(str(path)))
    try:
        if p.suffix == ".npz":
            with np.load(p, allow_pickle=False) as f:
                missing = {"X", "Y"} - set(f.files)
                if missing:
                    raise DataError(
                        f"data file {p.name!r} lacks array(s) {sorted(missing)}; "
                        "it must hold X (d, n) and Y (n,)"
                    )
                X, Y = f["X"], f["Y"]
        elif p.suffix == ".csv":
            rows = np.loadtxt(p, delimiter=",", ndmin=2)
            if rows.shape[1] < 2:
                raise DataError(f"data file {p.name!r} needs >= 2 columns (features..., label)")
            X, Y = rows[:, :-1].T, rows[:, -1]
        else:
            raise DataError(f"data file {p.name!r}: unknown format (use .npz or .csv)")
    except DataError:
        raise
    except Exception as exc:  # unreadable file: one line, no traceback
        raise DataError(f"cannot read data file {p.name!r}: {exc}") from None
    return from_arrays(X, Y, source=p.name)


def _reflector(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The orthogonal, symmetric Householder matrix H with H a = b (unit vectors a, b)."""
    w = a - b
    nw = np.linalg.norm(w)
    if nw < 1e-15:
        return np.eye(a.size)
    w /= nw
    return np.eye(a.size) - 2.0 * np.outer(w, w)


def _finite_array(x, name: str, ndim: int) -> np.ndarray:
    try:
        a = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise DataError(f"{name} must be a numeric array") from None
    if a.ndim != ndim:
        raise DataError(f"{name} must be {ndim}-dimensional, got shape {a.shape}")
    if a.size == 0:
        raise DataError(f"{name} is empty")
    if not np.all(np.isfinite(a)):
        raise DataError(f"{name} has non-finite values (nan or inf)")
    return np.ascontiguousarray(a)
