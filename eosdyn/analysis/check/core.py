"""What every check uses: options, result rows and report, the replayed context, small helpers."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import xarray as xr

from ...errors import EosdynError, ParameterError
from .. import replay

EPS = np.finfo(float).eps


@dataclass(frozen=True)
class CheckOptions:
    """Thresholds for statements with unspecified constants, and how much to replay.

    Attributes
    ----------
    eps2_max : float
        Assumption 3.5(iii) holds if ``eps_2(t) = 1 - |<v_1(t), v_1(t+1)>| <= eps2_max``.
    rho : float, optional
        Theorem 2's margin: excursions above ``(2/eta)(1 + rho)``. The theorem asserts that some
        ``rho = O(1)`` exists; by default (None) eosdyn uses the smallest ``rho >= 0`` for which
        Theorem 2(2) holds on the run, and reports it.
    r_tol : float
        Lemma 3.5 / Theorem 2(3): ``R(t) ~ R'(t)`` if ``||R - R'|| <= r_tol ||R||`` at every step.
    hessian_rtol : float
        Appendix F: ``lambda_max(grad^2 L) ~ Lambda`` if ``|lambda_H / Lambda - 1| <= hessian_rtol``.
    flow_tol : float
        Assumption 3.3: GD follows the flow while ``Lambda < 2/eta`` if
        ``||D_GD - D_flow|| <= flow_tol ||D_flow||`` up to the first crossing of ``2/eta``.
    eps_D : float
        Theorem 1's ``||D||^2 <= O(eps^2)``, read as ``||D||^2 <= eps_D ||Y||^2``.
    max_replay : int
        Replay at most the first ``max_replay`` steps (per-step statements cover those).
    flow : bool
        Integrate the gradient flow for Assumption 3.3 (a few seconds on the default run).
    show : int
        Failing steps listed per row (all are counted).
    """

    eps2_max: float = 1e-2
    rho: float | None = None
    r_tol: float = 0.1
    hessian_rtol: float = 0.05
    flow_tol: float = 0.01
    eps_D: float = 1e-2
    max_replay: int = 200_000
    flow: bool = True
    show: int = 5

    def __post_init__(self):
        for key in ("eps2_max", "r_tol", "hessian_rtol", "flow_tol", "eps_D"):
            v = getattr(self, key)
            if not (isinstance(v, int | float) and np.isfinite(v) and v > 0):
                raise ParameterError(key, f"must be a finite number > 0, got {v!r}")
        if self.rho is not None and not (np.isfinite(self.rho) and self.rho >= 0):
            raise ParameterError("rho", f"must be a finite number >= 0, got {self.rho!r}")
        if int(self.max_replay) < 1:
            raise ParameterError("max_replay", f"must be an integer >= 1, got {self.max_replay!r}")


@dataclass
class Row:
    """One statement's verdict on a trajectory.

    ``holds`` is ``True``/``False``, or ``None`` when the statement does not apply (its premise
    never occurs on this run, or the data it needs are missing). ``paper`` is the paper's wording
    and ``reading`` eosdyn's operational reading of it (:mod:`.wording`).
    """

    key: str
    statement: str
    holds: bool | None
    measured: str
    failing: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    source: str = "run"
    values: dict = field(default_factory=dict)
    paper: str = ""
    reading: str = ""

    @property
    def verdict(self) -> str:
        return {True: "holds", False: "fails", None: "n/a"}[self.holds]

    def to_dict(self, show: int | None = None) -> dict:
        steps = self.failing if show is None else self.failing[:show]
        return {
            "key": self.key, "statement": self.statement, "paper": self.paper, "reading": self.reading,
            "holds": self.holds,
            "verdict": self.verdict, "measured": self.measured, "source": self.source,
            "n_failing": int(self.failing.size), "failing_steps": [int(s) for s in steps],
            "values": {k: _plain(v) for k, v in self.values.items()},
        }


@dataclass
class Report:
    """All rows, plus what the run was and how the per-step series were obtained."""

    rows: list
    run: dict
    notes: list
    options: CheckOptions

    def to_dict(self, show: int | None = 100) -> dict:
        return {"run": {k: _plain(v) for k, v in self.run.items()},
                "options": asdict(self.options),
                "rows": [r.to_dict(show) for r in self.rows], "notes": self.notes}

    def row(self, key: str) -> Row:
        return next(r for r in self.rows if r.key == key)


def _plain(v):
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not np.isfinite(v):
        return None
    if isinstance(v, np.ndarray):
        return [_plain(x) for x in v.tolist()]
    return v


def _fmt(x, digits=4) -> str:
    return "nan" if x is None or not np.isfinite(x) else f"{x:.{digits}g}"


def _pct(k, n) -> str:
    return "n/a" if n == 0 else f"{100.0 * k / n:.4g}%"


# --------------------------------------------------------------------------------------------
# context: the run's recorded series, the replayed per-step series, constants


@dataclass
class Context:
    ds: xr.Dataset
    P: dict            # replayed per-step series (see eosdyn.analysis.replay.per_step)
    opts: CheckOptions
    eta: float
    n: float
    m: float
    Y2: float          # ||Y||^2
    r: int
    steps: np.ndarray  # the run's recorded steps

    def saved(self, name):
        return self.ds[name].values

    def pairs(self):
        """Index ``t`` of the replayed steps that have a successor ``t + 1``."""
        return np.arange(self.P["step"].size - 1)


def context(ds: xr.Dataset, opts: CheckOptions, progress=None) -> Context:
    for name in ("init_a", "init_u", "init_G", "data_s", "data_z", "sharpness", "phase"):
        if name not in ds.variables:
            raise EosdynError(f"the run lacks variable {name!r}: not an eosdyn run file?")
    if ds.sizes.get("step", 0) < 2:
        raise EosdynError("the run has fewer than 2 recorded steps: nothing to check")
    hess_saved = "sharpness_hessian" in ds.variables
    P = replay.per_step(ds, t_end=int(opts.max_replay), hessian=not hess_saved, progress=progress)
    a = ds.attrs
    Y2 = float(np.sum(ds["data_z"].values ** 2) + a["y_perp2"])
    return Context(ds, P, opts, float(a["eta"]), float(a["n"]), float(a["m"]), Y2,
                   int(ds.sizes["mode"]), ds["step"].values)


# --------------------------------------------------------------------------------------------
# the statements, in the paper's order


def gd_flow_distance(ds: xr.Dataset, t_end: int, chunk: int = 4096) -> np.ndarray:
    """``||D_GD(t) - D_flow(t)|| / ||D_flow(t)||`` for ``t = 0..t_end``, the flow integrated from
    the run's initial state with the run's flow parameters (``method``, ``rtol``, ``atol``)."""
    info = replay.run_info(ds)
    flow_info = replay.run_info(ds)
    flow_info.engine = "flow"
    flow_info.params = flow_info.params.replace(engine="flow", steps=max(t_end, 1))
    gd, fl = replay.StateSource(info), replay.StateSource(flow_info)
    out = np.empty(t_end + 1)
    t = 0
    while t <= t_end:
        k = min(chunk, t_end + 1 - t)
        _, u_gd, _ = gd.next(k)
        _, u_fl, _ = fl.next(k)
        num = np.linalg.norm(info.s * (u_gd - u_fl), axis=1)
        den = np.sqrt(np.sum((info.s * u_fl - info.z) ** 2, axis=1) + info.y_perp2)
        out[t:t + k] = num / den
        t += k
    return out


def _floor(D, Y):
    """Rounding allowance (absolute, in units of ||D||) of ``||D||`` computed as
    ``||S u - z||``: a few ulps of ``||F|| + ||Y|| <= ||D|| + 2 ||Y||``."""
    return 8 * EPS * (D + 2 * Y)


def _replay_fidelity(c: Context) -> float:
    steps = c.steps[c.steps <= c.P["step"][-1]]
    a = c.ds["sharpness"].values[:steps.size]
    b = c.P["sharpness"][steps]
    ok = np.isfinite(a) & np.isfinite(b)
    return float(np.max(np.abs(a[ok] - b[ok]) / np.abs(a[ok]))) if ok.any() else float("nan")


def _phase_per_step(c: Context) -> np.ndarray:
    """Phases I-IV at every replayed step (0 at the last, whose successor is unknown)."""
    lam = c.P["sharpness"]
    d = np.append(np.diff(lam), np.nan)
    above = lam > 2.0 / c.eta
    ph = np.where(above, np.where(d > 0, 2, 3), np.where(d > 0, 1, 4)).astype(np.int8)
    ph[~np.isfinite(d)] = 0
    return ph


def _runs(mask: np.ndarray):
    """``(start, stop)`` index pairs of the runs of True in ``mask``."""
    m = np.concatenate([[False], mask, [False]]).astype(np.int8)
    d = np.diff(m)
    return list(zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1), strict=True))


def _up_variation(x: np.ndarray) -> float:
    x = x[np.isfinite(x)]
    if x.size < 2:
        return float("nan")
    span = float(np.max(x) - np.min(x))
    return float(np.sum(np.maximum(np.diff(x), 0.0)) / span) if span > 0 else 0.0
