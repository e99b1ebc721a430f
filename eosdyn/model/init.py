"""Initial states: Gaussian parameters, their sufficient statistics, and exact Wishart sampling.

The reduced engines need only ``a = ||A||^2``, ``u = U^T W^T A / sqrt(m)`` and
``G = U^T W^T W U / m``. With ``A ~ N(0, sa^2 I_m)`` and ``W ~ N(0, sw^2)`` entrywise,
``Z = [A, W U]`` has independent N(0, diag(sa^2, sw^2, ..)) rows, so ``Z^T Z`` is
``Wishart_{r+1}(m, diag(sa^2, sw^2, ..))`` and can be sampled exactly in ``O(r^2)`` by the
Bartlett decomposition, whatever m is.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError


@dataclass(frozen=True, eq=False)
class Statistics:
    """The m-independent state ``(a, u, G)`` in the data's spectral coordinates."""

    a: float
    u: np.ndarray
    G: np.ndarray


def init_rng(seed: int) -> np.random.Generator:
    """The generator every initial state is drawn from (independent of the data's)."""
    return np.random.default_rng(np.random.SeedSequence([seed, 0x1417]))


def gaussian_parameters(m: int, d: int, sigma_a: float, sigma_w: float, seed: int):
    """``A ~ N(0, sigma_a^2 I_m)``, ``W ~ N(0, sigma_w^2)`` entrywise, shape (m, d)."""
    rng = init_rng(seed)
    A = sigma_a * rng.standard_normal(m)
    W = sigma_w * rng.standard_normal((m, d))
    return A, W


def statistics_from_parameters(A: np.ndarray, W: np.ndarray, U: np.ndarray) -> Statistics:
    """``a = ||A||^2``, ``u = U^T W^T A / sqrt(m)``, ``G = (W U)^T (W U) / m``; one O(m d r) pass."""
    m = A.shape[0]
    WU = W @ U
    return Statistics(float(A @ A), WU.T @ A / np.sqrt(m), WU.T @ WU / m)


def bartlett_wishart(m: int, scales: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One draw of ``Wishart_p(m, diag(scales^2))`` by the Bartlett decomposition.

    ``C`` is lower triangular with ``C_ii = sqrt(chi^2_{m-i})`` and ``C_ij ~ N(0, 1)`` (i > j);
    then ``L C C^T L^T`` with ``L = diag(scales)`` is the draw. Needs ``m >= p``.
    """
    p = scales.size
    C = np.zeros((p, p))
    for i in range(p):
        C[i, i] = np.sqrt(rng.chisquare(m - i))
        C[i, :i] = rng.standard_normal(i)
    LC = scales[:, None] * C
    return LC @ LC.T


def sample_statistics(m: int, r: int, sigma_a: float, sigma_w: float, seed: int) -> Statistics:
    """Exact-in-distribution ``(a, u, G)`` for Gaussian parameters of width m, in O(r^2).

    Falls back to materialising ``[A, W U]`` (m x (r+1)) when ``m < r + 1``, where the
    Wishart matrix is singular and the Bartlett form does not apply.
    """
    rng = init_rng(seed)
    scales = np.array([sigma_a] + [sigma_w] * r, dtype=float)
    if m < r + 1:
        Z = rng.standard_normal((m, r + 1)) * scales
        S = Z.T @ Z
    else:
        S = bartlett_wishart(m, scales, rng)
    return Statistics(float(S[0, 0]), S[1:, 0] / np.sqrt(m), S[1:, 1:] / m)


def load_parameters(path, d: int | None = None):
    """Read ``A`` (m,) and ``W`` (m, d) (or ``W1``, as ``save_init`` writes) from an ``.npz`` file;
    check shapes and finiteness."""
    p = Path(path)
    if not p.exists():
        raise DataError(f"init file {str(p)!r} does not exist")
    if p.suffix != ".npz":
        raise DataError(f"init file {p.name!r}: must be .npz with arrays A (m,) and W (m, d)")
    try:
        with np.load(p, allow_pickle=False) as f:
            wkey = "W" if "W" in f.files or "W1" not in f.files else "W1"
            missing = {"A", wkey} - set(f.files)
            if missing:
                raise DataError(f"init file {p.name!r} lacks array(s) {sorted(missing)}")
            A, W = np.asarray(f["A"], float), np.asarray(f[wkey], float)
    except DataError:
        raise
    except Exception as exc:
        raise DataError(f"cannot read init file {p.name!r}: {exc}") from None
    check_parameters(A, W, d)
    return np.ascontiguousarray(A), np.ascontiguousarray(W)


def save_parameters(path, A, W) -> None:
    """Write the initial ``A`` (m,), ``W`` (m, d) as ``.npz`` with arrays ``A`` and ``W1`` (the
    network engine's format; :func:`load_parameters` reads it back), never over an existing file."""
    from ..errors import ParameterError
    from ..io.files import save_weights

    if A is None:
        raise ParameterError("save_init", "needs materialised parameters A, W (init_sampler = parameters; "
                             "the wishart sampler draws statistics only)")
    save_weights(path, {"A": np.asarray(A, float), "W1": np.asarray(W, float)})


def check_parameters(A: np.ndarray, W: np.ndarray, d: int | None) -> None:
    """Raise a one-line :class:`DataError` unless ``A`` (m,) and ``W`` (m, d) fit the data."""
    if A.ndim != 1 or A.size == 0:
        raise DataError(f"A must be a non-empty vector (m,), got shape {A.shape}")
    if W.ndim != 2 or W.shape[0] != A.shape[0]:
        raise DataError(f"W must have shape (m, d) = ({A.shape[0]}, d), got {W.shape}")
    if d is not None and W.shape[1] != d:
        raise DataError(f"W has {W.shape[1]} columns but the data have dimension d = {d}")
    if not (np.all(np.isfinite(A)) and np.all(np.isfinite(W))):
        raise DataError("A and W must be finite (no nan or inf)")
