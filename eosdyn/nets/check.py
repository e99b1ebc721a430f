r"""``eosdyn check`` on a network run (engine ``network``, any model but the two-layer one).

The two-layer checks (:mod:`eosdyn.analysis.check`) replay a run from its m-independent statistics; a
general network has none, so here every statement is tested on the run's own recorded series.
What can be tested on a general network ``f = c_out A^T h(W, x)`` (the paper's Section 3):

* from the recorded steps: Assumption 3.1 (``sign(Delta Lambda) = sign(Delta ||A||^2)`` at every
  step), **Section 3.2 / Figure 3(a)** (they move in the same direction *most of the time*: the
  fraction of steps), **Figure 3(a) / Appendix D** (``lambda_max(M_A) / Lambda``, "negligible"),
  Assumption 3.7 (``lambda_2 < 1/eta``), Proposition 3.1 (pure algebra: any model), the data's
  Assumptions 4.1-4.2, Theorem 2(1) (proved for two layers; tested as an observation) and
  Appendix F (when the run recorded ``sharpness_hessian``);
* from consecutive steps, when the run was recorded at every step: Proposition 3.2, Lemma 3.3,
  Section 3.4 (``||R||^2/n`` steadier than the loss) and Theorem 2(2) (``|D^T v_1|`` grows while
  ``Lambda > 2/eta``).

Not testable here, each row says why: Assumption 3.3 (needs the network's gradient flow, which
eosdyn does not integrate), Assumption 3.5(iii) and Lemma 3.2 (need ``<v_1(t), v_1(t+1)>``,
not recorded), Lemma 3.5 (needs the recursion ``R'(t)`` through every ``M(t)``), Theorem 1
(a theorem on the two-layer model's ``M*``, which a general network does not have).
"""

from __future__ import annotations

import warnings

import numpy as np
import xarray as xr

from ..analysis import check as C
from ..analysis.check import core as CC
from ..analysis.check import statements as CS
from ..errors import EosdynError

#: Figure 3(a): lambda_max(M_A) / Lambda counted as negligible below this
MA_NEGLIGIBLE = 0.1

NOT_TESTABLE = {
    "assumption_3_3": ("Assumption 3.3: GD follows the gradient flow while Λ < 2/η",
                       "n/a: needs the network's gradient flow (eosdyn integrates the two-layer flow only)"),
    "assumption_3_5_iii": ("Assumption 3.5(iii): ε₂ = 1 − ⟨v₁(t), v₁(t+1)⟩ small",
                           "n/a: needs ⟨v₁(t), v₁(t+1)⟩, which the network engine does not record"),
    "lemma_3_2": ("Lemma 3.2: in phase II, |Dᵀv₁| grows by ≥ (1+τ)(1−ε₂−1/c) per step",
                  "n/a: needs ε₂ = 1 − ⟨v₁(t), v₁(t+1)⟩, not recorded"),
    "lemma_3_5": ("Lemma 3.5 / Thm 2(3): ‖R − R′‖ small (R = (I−v₁v₁ᵀ)D)",
                  "n/a: needs the recursion R′(t+1) = (I − ηM(t)(I − v₁v₁ᵀ))R′(t) through every M(t)"),
    "theorem_1": ("Theorem 1: Λ rises at every step t = 1..t₀−1 (progressive sharpening)",
                  "n/a: a theorem on the two-layer model (t₀ is defined by its M*, which this network lacks)"),
}
#: statements on consecutive steps: from the run's own series when recorded at every step
PER_STEP = (CS.proposition_3_2, CS.lemma_3_3, CS.section_3_4, CS.theorem_2_2)
FROM_RUN = (CS.assumption_3_1, CS.assumption_3_7, CS.assumption_4_1, CS.assumption_4_2, CS.proposition_3_1,
            CS.theorem_2_1)
TWO_LAYER_THEOREMS = ("theorem_2_1", "theorem_2_2")


def is_network_run(ds: xr.Dataset) -> bool:
    """A run that the two-layer replay cannot reproduce (any model but linear2 under ntk)."""
    a = ds.attrs
    return a.get("engine") == "network" and (a.get("model", "linear2"), a.get("parameterization", "ntk")) != (
        "linear2", "ntk")


def section_3_2(c: C.Context) -> C.Row:
    """||A||^2 and Lambda move in the same direction most of the time (> 50% of the steps)."""
    valid = c.saved("phase") > 0
    k, nv = int((c.saved("anomaly") & valid).sum()), int(valid.sum())
    frac = (nv - k) / nv if nv else np.nan
    return C.Row(
        "section_3_2", "Section 3.2 / Fig. 3(a): ‖A‖² and Λ move in the same direction most of the time",
        bool(frac > 0.5) if nv else None, f"same direction on {CC._pct(nv - k, nv)} of {nv} recorded steps",
        source="run", values={"same_direction_fraction": frac, "steps": nv},
    )


def figure_3a(c: C.Context) -> C.Row:
    """lambda_max(M_A) is negligible next to Lambda (Figure 3(a), Appendix D)."""
    ma, lam = c.saved("sharpness_MA"), c.saved("sharpness")
    ok = np.isfinite(ma) & np.isfinite(lam) & (lam > 0)
    stmt = f"Fig. 3(a) / App. D: λmax(M_A)/Λ negligible (median ≤ {MA_NEGLIGIBLE:g})"
    if not ok.any():
        return C.Row("figure_3a", stmt, None, "n/a: no finite values", source="run")
    ratio = ma[ok] / lam[ok]
    med, mx = float(np.median(ratio)), float(np.max(ratio))
    bad = c.steps[ok][ratio > MA_NEGLIGIBLE]
    return C.Row(
        "figure_3a", stmt, med <= MA_NEGLIGIBLE,
        f"λmax(M_A)/Λ: median {CC._fmt(med, 3)}, max {CC._fmt(mx, 3)}, final {CC._fmt(ratio[-1], 3)}; "
        f"≤ {MA_NEGLIGIBLE:g} on {CC._pct(int((ratio <= MA_NEGLIGIBLE).sum()), ratio.size)} of steps",
        bad, "run", {"median_ratio": med, "max_ratio": mx, "final_ratio": float(ratio[-1])},
    )


def _series(ds: xr.Dataset) -> dict:
    """The per-step series the consecutive-step statements read (the run's own, recorded at every step)."""
    n = float(ds.attrs["n"])
    loss = ds["loss"].values
    return {"step": ds["step"].values, "loss": loss, "D2": loss * n, "sharpness": ds["sharpness"].values,
            "a_norm2": ds["a_norm2"].values, "Dv1": ds["Dv1"].values, "R_norm2": ds["R_norm2"].values,
            "lambda_min": np.zeros(loss.size)}


def run_checks(ds: xr.Dataset, options: C.CheckOptions | None = None) -> C.Report:
    """The statements of the module docstring on a network run, as :func:`eosdyn.analysis.check.run_checks`."""
    opts = options or C.CheckOptions()
    if ds.sizes.get("step", 0) < 2:
        raise EosdynError("the run has fewer than 2 recorded steps: nothing to check")
    a = ds.attrs
    steps = ds["step"].values
    every = bool(steps.size == steps[-1] - steps[0] + 1 and steps[0] == 0)
    Y2 = float(np.sum(ds["data_z"].values ** 2) + a["y_perp2"])
    c = C.Context(ds, _series(ds) if every else None, opts, float(a["eta"]), float(a["n"]), float(a["m"]), Y2,
                  int(ds.sizes["mode"]), steps)
    rows = []
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for fn in FROM_RUN:
            rows.append(fn(c))
        rows += [section_3_2(c), figure_3a(c)]
        for fn in PER_STEP:
            key = fn.__name__
            rows.append(fn(c) if every else C.Row(key, key.replace("_", " "), None,
                                                  "n/a: needs every step (record_every = 1)", source="run"))
        if "sharpness_hessian" in ds.variables:
            rows.append(CS.appendix_f(c))
        else:
            rows.append(C.Row("appendix_f", "Appendix F: λ_max(∇²L) ≈ Λ", None,
                              "n/a: run without hessian=True (--hessian)", source="run"))
    for key, (stmt, why) in NOT_TESTABLE.items():
        rows.append(C.Row(key, stmt, None, why, source="run"))
    for r in rows:
        r.source = "run"
        if r.key in TWO_LAYER_THEOREMS:
            r.statement += " (proved for two layers; observed here)"
    order = [f.__name__ for f in C.CHECKS]
    rows.sort(key=lambda r: order.index(r.key) if r.key in order else order.index("assumption_3_1") + 0.5)
    model = a.get("model", "?")
    notes = [f"network run ({model}, {a.get('parameterization', 'ntk')} parameterization): the statements are "
             "tested on the run's recorded series (no replay); see eosdyn.nets.check for what cannot be tested"]
    if not every:
        notes.append(f"recorded every {a.get('record_every')} steps: statements on consecutive steps are n/a")
    run = {"engine": f"network {model}", "m": a["m"], "eta": a["eta"], "n": a["n"], "rank": c.r,
           "steps": int(steps[-1]), "status": a["status"], "replayed_steps": 0, "replay_fidelity": float("nan")}
    return C.Report(rows, run, notes, opts)
