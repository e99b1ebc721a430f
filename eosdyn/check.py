"""The paper's assumptions and results as executable checks on one trajectory.

:func:`run_checks` takes a run (an :class:`xarray.Dataset` from :func:`eosdyn.simulate` or a
saved file) and returns one :class:`Row` per statement of Li, Wang & Li (2022): whether it holds
on this trajectory, the measured figure, and the steps where it fails. Every check is a pure
function of the run (its recorded diagnostics) and of per-step series that a saved run does not
keep (``v_1(t)`` for ``eps_2``, ``R'(t)``, consecutive steps of a strided run), which are
recomputed by replaying the run from its initial statistics (:mod:`eosdyn.replay`; the runs are
deterministic). Each row says which it used (``source``: ``run`` or ``replay``).

Conventions (the paper's, Sections 3-4): ``Lambda = lambda_max(M)``, ``D = F - Y``,
``v_1`` the top eigenvector of ``M``, ``R = (I - v_1 v_1^T) D``, forward differences
``Delta x(t) = x(t+1) - x(t)``; ``||Y||^2 = ||z||^2 + ||Y_perp||^2``. Exact statements are
checked with a rounding allowance of a few ulps of the quantities compared; statements with
unspecified constants are checked against the documented, adjustable thresholds of
:class:`CheckOptions`.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, field

import numpy as np
import xarray as xr

from . import replay
from .errors import EosdynError

EPS = np.finfo(float).eps


@dataclass(frozen=True)
class CheckOptions:
    """Thresholds for statements with unspecified constants, and how much to replay.

    Attributes
    ----------
    eps2_max : float
        Assumption 3.5(iii) holds if ``eps_2(t) = 1 - |<v_1(t), v_1(t+1)>| <= eps2_max``.
    rho : float
        Theorem 2's margin: excursions above ``(2/eta)(1 + rho)``.
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
    rho: float = 0.0
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
                raise EosdynError(f"--{key.replace('_', '-')} must be a finite number > 0, got {v!r}")
        if not (np.isfinite(self.rho) and self.rho >= 0):
            raise EosdynError(f"--rho must be a finite number >= 0, got {self.rho!r}")
        if int(self.max_replay) < 1:
            raise EosdynError(f"--max-replay must be an integer >= 1, got {self.max_replay!r}")


@dataclass
class Row:
    """One statement's verdict on a trajectory.

    ``holds`` is ``True``/``False``, or ``None`` when the statement does not apply (its premise
    never occurs on this run, or the data it needs are missing).
    """

    key: str
    statement: str
    holds: bool | None
    measured: str
    failing: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    source: str = "run"
    values: dict = field(default_factory=dict)

    @property
    def verdict(self) -> str:
        return {True: "holds", False: "fails", None: "n/a"}[self.holds]

    def to_dict(self, show: int | None = None) -> dict:
        steps = self.failing if show is None else self.failing[:show]
        return {
            "key": self.key, "statement": self.statement, "holds": self.holds,
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
    P: dict            # replayed per-step series (see eosdyn.replay.per_step)
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


def assumption_3_1(c: Context) -> Row:
    """sign(Delta Lambda) = sign(Delta ||A||) at every step (the paper's Figure 2)."""
    valid = c.saved("phase") > 0
    anomaly = c.saved("anomaly") & valid
    k, nv = int(anomaly.sum()), int(valid.sum())
    return Row(
        "assumption_3_1", "Assumption 3.1: sign(ΔΛ) = sign(Δ‖A‖) at every step",
        k == 0 if nv else None,
        f"agree on {_pct(nv - k, nv)} of {nv} steps; {k} anomalies",
        c.steps[anomaly], "run", {"agree_fraction": (nv - k) / nv if nv else np.nan, "anomalies": k},
    )


def assumption_3_3(c: Context) -> Row:
    """D(t) follows the gradient flow while Lambda < 2/eta (up to the first crossing)."""
    stmt = "Assumption 3.3: GD follows the gradient flow while Λ < 2/η"
    if c.ds.attrs["engine"] == "flow":
        return Row("assumption_3_3", stmt, None, "n/a: the run is the flow itself", source="run")
    if not c.opts.flow:
        return Row("assumption_3_3", stmt, None, "not computed (--no-flow)", source="replay")
    lam = c.P["sharpness"]
    above = np.flatnonzero(c.eta * lam > 2.0)
    if above.size and above[0] == 0:
        return Row("assumption_3_3", stmt, None, "n/a: Λ > 2/η from the start", source="replay")
    t_end = int(above[0]) if above.size else int(c.P["step"][-1])
    rel = gd_flow_distance(c.ds, t_end)
    bad = np.flatnonzero(~(rel <= c.opts.flow_tol))
    worst = int(np.nanargmax(rel)) if rel.size > 1 else 0
    upto = f"steps 0..{t_end}" + (" (first crossing)" if above.size else " (no crossing)")
    return Row(
        "assumption_3_3", stmt, bad.size == 0,
        f"max ‖D_GD − D_flow‖/‖D_flow‖ = {_fmt(rel[worst])} (step {worst}) over {upto}; "
        f"at {'the crossing' if above.size else 'the end'} {_fmt(rel[-1])}",
        bad, "replay", {"max_rel_distance": rel[worst], "at_step": worst, "until_step": t_end,
                        "rel_distance_at_end": rel[-1], "tol": c.opts.flow_tol},
    )


def assumption_3_5_iii(c: Context) -> Row:
    """eps_2(t) = 1 - <v_1(t), v_1(t+1)> is small; its maximum per phase."""
    eps2 = c.P["eps2"]
    t = c.pairs()
    phase = _phase_per_step(c)
    per = {}
    for ph, name in ((1, "I"), (2, "II"), (3, "III"), (4, "IV")):
        sel = phase[t] == ph
        if sel.any():
            per[name] = float(np.nanmax(eps2[t][sel]))
    bad = t[~(eps2[t] <= c.opts.eps2_max)]
    mx = float(np.nanmax(eps2[t])) if t.size else np.nan
    text = "max ε₂ by phase: " + ", ".join(f"{k} {_fmt(v, 3)}" for k, v in per.items())
    return Row(
        "assumption_3_5_iii", f"Assumption 3.5(iii): ε₂ = 1 − ⟨v₁(t), v₁(t+1)⟩ ≤ {c.opts.eps2_max:g}",
        bad.size == 0 if t.size else None, text, bad, "replay",
        {"max_eps2": mx, **{f"max_eps2_phase_{k}": v for k, v in per.items()}},
    )


def assumption_3_7(c: Context) -> Row:
    """All eigenvalues of M but the largest are below 1/eta."""
    lam2 = c.saved("lambda2")
    ok = np.isfinite(lam2)
    bad = ok & ~(lam2 < 1.0 / c.eta)
    nv = int(ok.sum())
    return Row(
        "assumption_3_7", "Assumption 3.7: λ₂(M) < 1/η at every step", not bad.any() if nv else None,
        f"holds on {_pct(nv - bad.sum(), nv)} of {nv} steps; max η·λ₂ = {_fmt(c.eta * np.nanmax(lam2))}",
        c.steps[bad], "run",
        {"max_eta_lambda2": c.eta * float(np.nanmax(lam2)), "fraction": (nv - bad.sum()) / max(nv, 1)},
    )


def assumption_4_1(c: Context) -> Row:
    """chi = max lambda_i / lambda_{i+1}; lambda_1 >= 2 lambda_2."""
    lam = c.saved("data_s") ** 2
    if lam.size < 2:
        return Row("assumption_4_1", "Assumption 4.1: λ_i ≤ χ λ_{i+1}, λ₁ ≥ 2 λ₂ (data)", None,
                   "n/a: rank 1 data", source="run", values={"chi": np.nan})
    chi = float(np.max(lam[:-1] / lam[1:]))
    ratio = float(lam[0] / lam[1])
    return Row(
        "assumption_4_1", "Assumption 4.1: λ_i ≤ χ λ_{i+1}, λ₁ ≥ 2 λ₂ (data)", ratio >= 2.0,
        f"χ = {_fmt(chi)}, λ₁/λ₂ = {_fmt(ratio)}, λ₁/n = {_fmt(lam[0] / c.n)}",
        source="run", values={"chi": chi, "lambda1_over_lambda2": ratio, "lambda1_over_n": lam[0] / c.n},
    )


def assumption_4_2(c: Context) -> Row:
    """kappa = min_i |z_i| / sqrt(n) is Omega(1/r) (read: >= 1/r)."""
    z = c.saved("data_z")
    kappa = float(np.min(np.abs(z)) / np.sqrt(c.n))
    return Row(
        "assumption_4_2", "Assumption 4.2: κ = min|z_i|/√n ≥ 1/r (labels in every direction)",
        kappa * c.r >= 1.0, f"κ = {_fmt(kappa)}, κ·r = {_fmt(kappa * c.r)} (r = {c.r})",
        source="run", values={"kappa": kappa, "kappa_r": kappa * c.r},
    )


def lemma_3_2(c: Context) -> Row:
    """In phase II, |D^T v_1| grows by at least (1 + tau)(1 - eps_2 - 1/c) per step."""
    t = c.pairs()
    dv = np.abs(c.P["Dv1"])
    D = np.sqrt(c.P["D2"])
    eps2 = c.P["eps2"][t]
    with np.errstate(divide="ignore", invalid="ignore"):
        growth = dv[t + 1] / dv[t]
        tau = c.eta * c.P["sharpness"][t] - 2.0
        cc = dv[t] / (eps2 * D[t])
        pred = (1.0 + tau) * (1.0 - eps2 - 1.0 / cc)
    phase2 = _phase_per_step(c)[t] == 2
    premise = phase2 & (cc > 1) & (pred > 1)
    bad = premise & ~(growth >= pred * (1 - 4 * EPS))
    k, npre = int(bad.sum()), int(premise.sum())
    stmt = "Lemma 3.2: in phase II, |Dᵀv₁| grows by ≥ (1+τ)(1−ε₂−1/c) per step"
    if npre == 0:
        return Row("lemma_3_2", stmt, None, f"n/a: premise never met ({int(phase2.sum())} phase-II steps)",
                   source="replay")
    ratio = growth[premise] / pred[premise]
    return Row(
        "lemma_3_2", stmt, k == 0,
        f"held on {_pct(npre - k, npre)} of {npre} premise steps; median factor "
        f"{_fmt(np.median(growth[premise]))} vs predicted {_fmt(np.median(pred[premise]))}; "
        f"worst ratio {_fmt(np.min(ratio), 3)}",
        t[bad], "replay",
        {"premise_steps": npre, "violations": k, "median_growth": np.median(growth[premise]),
         "median_predicted": np.median(pred[premise]), "min_ratio": np.min(ratio)},
    )


def proposition_3_1(c: Context) -> Row:
    """||D|| > ||Y|| implies D^T F > 0 (exact: D^T F >= ||D|| (||D|| - ||Y||))."""
    D2 = c.saved("loss") * c.n
    dtf = c.saved("DtF")
    premise = (D2 > c.Y2) & np.isfinite(dtf)
    bad = premise & ~(dtf > -_floor(np.sqrt(D2), np.sqrt(c.Y2)) * (np.sqrt(D2) + np.sqrt(c.Y2)))
    npre = int(premise.sum())
    return Row(
        "proposition_3_1", "Proposition 3.1: ‖D‖ > ‖Y‖ ⇒ DᵀF > 0", not bad.any() if npre else None,
        f"{npre} steps with ‖D‖ > ‖Y‖; DᵀF ≤ 0 at {int(bad.sum())}" if npre else
        "n/a: ‖D‖ ≤ ‖Y‖ at every step", c.steps[bad], "run",
        {"premise_steps": npre, "violations": int(bad.sum())},
    )


def proposition_3_2(c: Context) -> Row:
    """Under Assumption 3.2, ||D|| > ||Y|| implies Delta ||A||^2 < -(4 eta/n)(||D|| - ||Y||)^2."""
    t = c.pairs()
    D = np.sqrt(c.P["D2"][t])
    a = c.P["a_norm2"]
    da = a[t + 1] - a[t]
    Y = np.sqrt(c.Y2)
    bound = -(4 * c.eta / c.n) * (D - Y) ** 2
    tol = 8 * EPS * (np.abs(a[t]) + np.abs(a[t + 1])) + (8 * c.eta / c.n) * _floor(D, Y) * (D + Y)
    premise = (D ** 2 > c.Y2) & np.isfinite(da) & np.isfinite(bound)
    bad = premise & ~(da < bound + tol)
    k, npre = int(bad.sum()), int(premise.sum())
    exact = c.ds.attrs["engine"] == "first-order"
    stmt = "Proposition 3.2: ‖D‖ > ‖Y‖ ⇒ Δ‖A‖² < −(4η/n)(‖D‖−‖Y‖)²" + (
        "" if exact else " (exact for first-order GD)")
    if npre == 0:
        return Row("proposition_3_2", stmt, None, "n/a: ‖D‖ ≤ ‖Y‖ at every step", source="replay")
    return Row(
        "proposition_3_2", stmt, k == 0,
        f"held on {_pct(npre - k, npre)} of {npre} premise steps", t[bad], "replay",
        {"premise_steps": npre, "violations": k},
    )


def lemma_3_3(c: Context) -> Row:
    """Lambda < 2/eta implies ||D(t+1)||^2 <= (1 - eta alpha)^2 ||D(t)||^2,
    alpha = min(2/eta - Lambda, lambda_min(M)) (lambda_min(M) = 0 when n > r)."""
    t = c.pairs()
    lam = c.P["sharpness"][t]
    lam_min = c.P["lambda_min"][t] if c.n <= c.r else np.zeros(t.size)
    alpha = np.minimum(2.0 / c.eta - lam, lam_min)
    D = np.sqrt(c.P["D2"])
    Y = np.sqrt(c.Y2)
    premise = (lam < 2.0 / c.eta) & np.isfinite(D[t + 1])
    slack = _floor(D[t], Y) + _floor(D[t + 1], Y)
    bad = premise & ~(D[t + 1] <= (1 - c.eta * alpha) * D[t] + slack)
    k, npre = int(bad.sum()), int(premise.sum())
    stmt = "Lemma 3.3: Λ < 2/η ⇒ ‖D(t+1)‖ ≤ (1−ηα)‖D(t)‖ (descent)"
    if npre == 0:
        return Row("lemma_3_3", stmt, None, "n/a: Λ ≥ 2/η at every step", source="replay")
    return Row(
        "lemma_3_3", stmt, k == 0,
        f"held on {_pct(npre - k, npre)} of {npre} steps with Λ < 2/η", t[bad], "replay",
        {"premise_steps": npre, "violations": k},
    )


def lemma_3_5(c: Context) -> Row:
    """R(t) stays close to R'(t), R'(t+1) = (I - eta M (I - v_1 v_1^T)) R'(t), R'(0) = R(0)."""
    diff = c.P["R_diff"]
    R = np.sqrt(c.P["R_norm2"])
    ok = np.isfinite(diff) & np.isfinite(R)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = diff / R
    bad = ok & ~(rel <= c.opts.r_tol)
    mx = int(np.nanargmax(diff)) if ok.any() else 0
    # the constants the bounds leave open, as implied by this run
    BD = float(np.nanmax(np.sqrt(c.P["D2"])))
    BL = float(np.nanmax(c.eta * c.P["sharpness"]))
    e2 = float(np.nanmax(c.P["eps2"]))
    lr = float(np.nanmin(c.P["lambda_min"]))
    d = c.ds.attrs.get("d", c.r)
    # lambda_r: the smallest eigenvalue of M on span(V), where R - R' lives; B_Lambda = max eta Lambda
    bound_35 = bound_t23 = np.inf
    if lr > 0:
        bound_t23 = np.sqrt(c.n ** 3 * d) / (lr / c.eta * np.sqrt(c.m))
    if lr > 0 and BL > 1 and e2 > 0:
        bound_35 = BD * (BL - 1) * np.sqrt(e2) / (c.eta * lr)
        implied = f"implied c_r = {_fmt(diff[mx] / bound_35, 3)}"
    else:
        implied = (f"Lemma 3.5's bound needs λ_r > 0, B_Λ > 1, ε₂ > 0 (λ_r = {_fmt(lr, 3)}, "
                   f"B_Λ = {_fmt(BL, 3)}, ε₂ = {_fmt(e2, 3)})")
    return Row(
        "lemma_3_5", f"Lemma 3.5 / Thm 2(3): ‖R − R′‖ ≤ {c.opts.r_tol:g}·‖R‖ (R = (I−v₁v₁ᵀ)D)",
        not bad.any() if ok.any() else None,
        f"max ‖R−R′‖ = {_fmt(diff[mx])} (step {mx}, ‖R‖ = {_fmt(R[mx])}); "
        f"max ‖R−R′‖/‖R‖ = {_fmt(np.nanmax(rel))}; {implied}",
        c.P["step"][bad], "replay",
        {"max_R_diff": diff[mx], "at_step": mx, "max_rel": np.nanmax(rel),
         "implied_c_r": diff[mx] / bound_35 if np.isfinite(bound_35) else np.nan,
         "lemma_3_5_bound_over_c_r": bound_35,
         "implied_theorem_2_3_constant": diff[mx] / bound_t23 if np.isfinite(bound_t23) else np.nan},
    )


def section_3_4(c: Context) -> Row:
    """||R||^2/n decreases steadily while the loss oscillates (upward variation, normalised)."""
    R2 = c.P["R_norm2"] / c.n
    loss = c.P["loss"]
    uR, uL = _up_variation(R2), _up_variation(loss)
    ups = np.flatnonzero(np.diff(R2) > 1e-3 * R2[:-1])
    loss_ups = int(np.sum(np.diff(loss) > 1e-3 * loss[:-1]))
    holds = bool(uR <= uL and R2[-1] < R2[0]) if np.isfinite(uR + uL) else None
    return Row(
        "section_3_4", "Section 3.4: ‖R‖²/n decreases steadily while the loss oscillates "
        "(upward variation ÷ range: ‖R‖²/n below the loss's)",
        holds,
        f"upward variation ‖R‖²/n {_fmt(uR, 3)} vs loss {_fmt(uL, 3)}; rises > 0.1%: ‖R‖²/n at "
        f"{ups.size} steps, loss at {loss_ups}; ‖R‖²/n {_fmt(R2[0], 3)} → {_fmt(R2[-1], 3)}",
        ups if holds is False else ups[:0], "replay",
        {"up_variation_R2": uR, "up_variation_loss": uL, "R2_start": R2[0], "R2_end": R2[-1],
         "R2_rises": ups.size, "loss_rises": loss_ups},
    )


def theorem_1(c: Context) -> Row:
    """Delta Lambda(t) > 0 for t = 1..t0-1, t0 the first step with lambda_max(M*) > 1/eta or
    ||D||^2 <= eps_D ||Y||^2."""
    ms = c.saved("sharpness_Mstar")
    D2 = c.saved("loss") * c.n
    stop = (c.eta * ms > 1.0) | (D2 <= c.opts.eps_D * c.Y2)
    idx = np.flatnonzero(stop)
    t0 = int(c.steps[idx[0]]) if idx.size else None
    upto = c.steps < (t0 if t0 is not None else np.inf)
    phase = c.saved("phase")
    sel = upto & (c.steps >= 1) & (phase > 0)
    bad = sel & ~np.isin(phase, (1, 2))
    why = ("η·λ_max(M*) > 1" if c.eta * ms[idx[0]] > 1 else "‖D‖² small") if idx.size else ""
    return Row(
        "theorem_1", "Theorem 1: Λ rises at every step t = 1..t₀−1 (progressive sharpening)",
        not bad.any() if sel.any() else None,
        (f"t₀ = {t0} ({why}); Λ did not rise at {int(bad.sum())} of {int(sel.sum())} steps"
         if t0 is not None else f"t₀ not reached; Λ did not rise at {int(bad.sum())} of {int(sel.sum())} steps"),
        c.steps[bad], "run", {"t0": t0 if t0 is not None else -1, "violations": int(bad.sum())},
    )


def theorem_2_1(c: Context) -> Row:
    """After exceeding (2/eta)(1 + rho), Lambda comes back below."""
    thr = 2.0 / c.eta * (1 + c.opts.rho)
    above = c.saved("sharpness") > thr
    runs = _runs(above)
    status = c.ds.attrs["status"]
    closed = [(a, b) for a, b in runs if b < above.size]
    open_ = [(a, b) for a, b in runs if b >= above.size]
    failed = [a for a, _ in open_] if status == "diverged" else []
    longest = max((int(c.steps[min(b, above.size - 1)] - c.steps[a]) for a, b in runs), default=0)
    stmt = f"Theorem 2(1): after Λ > (2/η)(1+ρ), ρ = {c.opts.rho:g}, Λ comes back below"
    if not runs:
        return Row("theorem_2_1", stmt, None, "n/a: Λ never exceeded the threshold", source="run",
                   values={"excursions": 0})
    note = f"; {len(open_)} still open when the run ended ({status})" if open_ else ""
    return Row(
        "theorem_2_1", stmt, not failed,
        f"{len(runs)} excursions, {len(closed)} came back (longest {longest} steps){note}; "
        f"max ηΛ = {_fmt(c.eta * np.nanmax(c.saved('sharpness')))}",
        c.steps[np.array(failed, dtype=np.int64)], "run",
        {"excursions": len(runs), "returned": len(closed), "longest": longest},
    )


def theorem_2_2(c: Context) -> Row:
    """If Lambda(t), Lambda(t+1) > (2/eta)(1 + rho): |D(t+1)^T v_1| > (1 + c_7) |D(t)^T v_1|."""
    t = c.pairs()
    thr = 2.0 / c.eta * (1 + c.opts.rho)
    lam = c.P["sharpness"]
    both = (lam[t] > thr) & (lam[t + 1] > thr)
    dv = np.abs(c.P["Dv1"])
    with np.errstate(divide="ignore", invalid="ignore"):
        g = dv[t + 1] / dv[t]
    bad = both & ~(g > 1)
    nb = int(both.sum())
    stmt = "Theorem 2(2): Λ(t), Λ(t+1) > (2/η)(1+ρ) ⇒ |Dᵀv₁| grows by a factor 1 + c₇ > 1"
    if nb == 0:
        return Row("theorem_2_2", stmt, None, "n/a: no two consecutive steps above the threshold",
                   source="replay")
    return Row(
        "theorem_2_2", stmt, not bad.any(),
        f"grew on {_pct(nb - bad.sum(), nb)} of {nb} step pairs; median factor "
        f"{_fmt(np.median(g[both]))}, min {_fmt(np.min(g[both]), 3)}",
        t[bad], "replay", {"pairs": nb, "violations": int(bad.sum()), "min_factor": np.min(g[both]),
                           "median_factor": np.median(g[both])},
    )


def appendix_f(c: Context) -> Row:
    """lambda_max of the loss Hessian against the NTK sharpness Lambda."""
    if "sharpness_hessian" in c.ds.variables:
        h, lam, steps, src = c.saved("sharpness_hessian"), c.saved("sharpness"), c.steps, "run"
    else:
        h, lam, steps, src = c.P["sharpness_hessian"], c.P["sharpness"], c.P["step"], "replay"
    ok = np.isfinite(h) & np.isfinite(lam) & (lam > 0)
    rel = np.full(h.shape, np.nan)
    rel[ok] = h[ok] / lam[ok] - 1.0
    bad = ok & ~(np.abs(rel) <= c.opts.hessian_rtol)
    if not ok.any():
        return Row("appendix_f", "Appendix F: λ_max(∇²L) ≈ Λ", None, "n/a: no finite values", source=src)
    i = int(np.nanargmax(np.abs(rel)))
    cross = np.flatnonzero(c.eta * lam > 2.0)
    eos = ok & (steps >= steps[cross[0]]) if cross.size else np.zeros_like(ok)
    eos_txt = (f"; from the first 2/η crossing on max {_fmt(100 * np.nanmax(np.abs(rel[eos])), 3)}%"
               if eos.any() else "")
    return Row(
        "appendix_f", f"Appendix F: |λ_max(∇²L)/Λ − 1| ≤ {c.opts.hessian_rtol:g} (Hessian vs NTK)",
        not bad.any(),
        f"max {_fmt(100 * rel[i], 3)}% (step {int(steps[i])}); median {_fmt(100 * np.nanmedian(rel), 3)}%"
        f"{eos_txt}; λ_H > Λ on {_pct(int(np.sum(rel[ok] > 0)), int(ok.sum()))} of steps",
        steps[bad], src,
        {"max_rel": rel[i], "at_step": int(steps[i]), "median_rel": np.nanmedian(rel),
         "max_rel_eos": np.nanmax(np.abs(rel[eos])) if eos.any() else np.nan,
         "max_eta_hessian": c.eta * np.nanmax(h)},
    )


#: statements about one GD step (or the GD recursion R'); n/a on a gradient-flow run
GD_STEP = ("lemma_3_2", "proposition_3_2", "lemma_3_3", "lemma_3_5", "theorem_2_2")

CHECKS = (assumption_3_1, assumption_3_3, assumption_3_5_iii, assumption_3_7, assumption_4_1,
          assumption_4_2, lemma_3_2, proposition_3_1, proposition_3_2, lemma_3_3, lemma_3_5,
          section_3_4, theorem_1, theorem_2_1, theorem_2_2, appendix_f)


# --------------------------------------------------------------------------------------------


def run_checks(ds: xr.Dataset, options: CheckOptions | None = None, progress=None) -> Report:
    """Check every statement of :data:`CHECKS` on the run ``ds``; see the module docstring."""
    opts = options or CheckOptions()
    from .nets.check import is_network_run

    if is_network_run(ds):  # no two-layer replay: checked on its own series (eosdyn.nets.check)
        from .nets.check import run_checks as run_network_checks

        return run_network_checks(ds, opts)
    c = context(ds, opts, progress=progress)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)   # all-NaN slices of diverged runs
        rows = [check(c) for check in CHECKS]
    if ds.attrs["engine"] == "flow":
        rows = [Row(r.key, r.statement, None, "n/a: a statement about GD steps; the run is the flow",
                    source=r.source) if r.key in GD_STEP else r for r in rows]
    a = ds.attrs
    T = int(c.P["step"][-1])
    fid = _replay_fidelity(c)
    notes = [f"per-step series replayed from the initial statistics over steps 0..{T}"
             + (f" (of {int(c.steps[-1])}; --max-replay)" if T < int(c.steps[-1]) else "")
             + f"; replayed Λ vs the run's: max relative difference {_fmt(fid, 2)}"]
    if a["engine"] == "full":
        notes.append("engine full: the replay uses the exact reduced map (equal to parameter-space "
                     "GD up to rounding, which chaotic EoS dynamics can amplify)")
    if not fid <= 1e-6:
        notes.append(f"the replay departs from the file (Λ by up to {_fmt(100 * fid, 2)}%: rounding "
                     "amplified by chaotic dynamics, or a run from another eosdyn version); rows "
                     "from 'replay' describe the replayed trajectory")
    if a["engine"] == "flow":
        notes.append("the run is the gradient flow sampled at t·η: statements about single GD "
                     "steps (" + ", ".join(GD_STEP) + ") do not apply")
    if int(a.get("record_every", 1)) > 1:
        notes.append(f"recorded every {a['record_every']} steps: rows from 'run' use the recorded "
                     "steps (phases and anomalies are exact there)")
    run = {"engine": a["engine"], "m": a["m"], "eta": a["eta"], "n": a["n"], "rank": c.r,
           "steps": int(c.steps[-1]), "status": a["status"], "replayed_steps": T + 1,
           "replay_fidelity": fid}
    return Report(rows, run, notes, opts)


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
