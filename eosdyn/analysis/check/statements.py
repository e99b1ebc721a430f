"""One function per statement of the paper: ``check(context) -> Row``."""

from __future__ import annotations

import numpy as np

from ...model.params import FLOW_ENGINES
from .core import (
    EPS,
    Context,
    Row,
    _floor,
    _fmt,
    _pct,
    _phase_per_step,
    _runs,
    _up_variation,
    gd_flow_distance,
)


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
    if c.ds.attrs["engine"] in FLOW_ENGINES:
        return Row("assumption_3_3", stmt, None, "n/a: the run is a flow itself", source="run")
    if not c.opts.flow:
        return Row("assumption_3_3", stmt, None, "not computed (flow=False)", source="replay")
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


def _lemma_3_2_stretch(eps2, dv, D, tau):
    """Lemma 3.2 on one phase-II stretch (arrays over its step pairs ``t, t+1``).

    ``eps2`` is the stretch's constant (Assumption 3.5(iii) holds on the stretch with it); ``t0``
    the first step where Assumption 3.6 holds, ``c(t0) = |D^T v_1| / (eps2 ||D||) > 1``; from
    there, steps with ``tau > 1/(1 - eps2 - 1/c) - 1`` must grow by ``(1 + tau)(1 - eps2 - 1/c)``.
    Returns ``(t0 index or -1, c, mask of checked steps, predicted factors)``.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        cs = dv / (eps2 * D)                      # inf where eps2 = 0: no rotation at all
    ok = np.flatnonzero(cs > 1.0)
    if ok.size == 0:
        return -1, np.nan, np.zeros(dv.size, bool), np.full(dv.size, np.nan)
    i0 = int(ok[0])
    cc = float(cs[i0])
    k = 1.0 - eps2 - 1.0 / cc
    tau_min = 1.0 / k - 1.0 if k > 0 else np.inf
    checked = (np.arange(dv.size) >= i0) & (tau > tau_min)
    return i0, cc, checked, (1.0 + tau) * k


def lemma_3_2(c: Context) -> Row:
    """In phase II, |D^T v_1| grows by at least (1 + tau)(1 - eps_2 - 1/c) per step, with the
    constants eps_2 and c of the phase: read per phase-II stretch (robust to rounding)."""
    t = c.pairs()
    dv = np.abs(c.P["Dv1"])
    D = np.sqrt(c.P["D2"])
    with np.errstate(divide="ignore", invalid="ignore"):
        growth = dv[t + 1] / dv[t]
    tau = c.eta * c.P["sharpness"][t] - 2.0
    phase2 = _phase_per_step(c)[t] == 2
    stretches = _runs(phase2)
    checked = np.zeros(t.size, bool)
    pred = np.full(t.size, np.nan)
    met, eps_s, c_s = 0, [], []
    for a, b in stretches:
        e2 = c.P["eps2"][t[a:b]]
        eps2 = max(float(np.nanmax(e2)), 0.0) if np.isfinite(e2).any() else np.nan
        i0, cc, chk, pr = _lemma_3_2_stretch(eps2, dv[t[a:b]], D[t[a:b]], tau[a:b])
        if i0 >= 0:
            met += 1
            eps_s.append(eps2)
            c_s.append(cc)
            checked[a:b] = chk
            pred[a:b] = pr
    bad = checked & ~(growth >= pred * (1 - 4 * EPS))
    k, npre = int(bad.sum()), int(checked.sum())
    stmt = "Lemma 3.2: in phase II, |Dᵀv₁| grows by ≥ (1+τ)(1−ε₂−1/c) per step"
    if npre == 0:
        why = ("no phase-II step" if not stretches else
               f"premise never met ({len(stretches)} phase-II stretches, Assumption 3.6 at the start "
               f"of {met}, {int(phase2.sum())} steps)")
        return Row("lemma_3_2", stmt, None, f"n/a: {why}", source="replay",
                   values={"stretches": len(stretches), "stretches_premise": met, "premise_steps": 0})
    ratio = growth[checked] / pred[checked]
    return Row(
        "lemma_3_2", stmt, k == 0,
        f"held on {_pct(npre - k, npre)} of {npre} steps in {met} of {len(stretches)} phase-II "
        f"stretches (per stretch: median ε₂ {_fmt(np.median(eps_s), 3)}, median c {_fmt(np.median(c_s), 3)}); "
        f"median factor {_fmt(np.median(growth[checked]))} vs predicted {_fmt(np.median(pred[checked]))}; "
        f"worst ratio {_fmt(np.min(ratio), 3)}",
        t[bad], "replay",
        {"stretches": len(stretches), "stretches_premise": met, "premise_steps": npre, "violations": k,
         "median_growth": np.median(growth[checked]), "median_predicted": np.median(pred[checked]),
         "min_ratio": np.min(ratio), "median_stretch_eps2": np.median(eps_s),
         "median_stretch_c": np.median(c_s)},
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


def _theorem_2_pairs(c: Context):
    """Replayed step pairs: the margin ``min(eta Lambda(t), eta Lambda(t+1)) / 2 - 1`` above which
    a pair is inside Theorem 2's premise for ``rho``, and the growth ``|D^T v_1|(t+1) / |D^T v_1|(t)``."""
    t = c.pairs()
    lam = c.eta * c.P["sharpness"]
    margin = np.minimum(lam[t], lam[t + 1]) / 2.0 - 1.0
    dv = np.abs(c.P["Dv1"])
    with np.errstate(divide="ignore", invalid="ignore"):
        g = dv[t + 1] / dv[t]
    ok = np.isfinite(margin) & ~np.isnan(g)
    return t[ok], margin[ok], g[ok]


def smallest_rho(margin: np.ndarray, growth: np.ndarray) -> float:
    """The smallest ``rho >= 0`` such that every pair with ``margin > rho`` has ``growth > 1``:
    the largest margin of a pair that does not grow (0 if every pair above 2/eta grows)."""
    bad = (margin > 0) & ~(growth > 1)
    return float(np.max(margin[bad])) if bad.any() else 0.0


def theorem_2_rho(c: Context) -> float:
    """Theorem 2's ``rho``: ``--rho`` if given, else the smallest for which 2(2) holds."""
    if c.opts.rho is not None:
        return float(c.opts.rho)
    _, margin, g = _theorem_2_pairs(c)
    return smallest_rho(margin, g)


def _rho_text(c: Context, rho: float) -> str:
    return f"ρ = {rho:.4g}" + ("" if c.opts.rho is not None else " (Theorem 2(2)'s smallest)")


def theorem_2_1(c: Context) -> Row:
    """After exceeding (2/eta)(1 + rho), Lambda comes back below."""
    rho = theorem_2_rho(c)
    thr = 2.0 / c.eta * (1 + rho)
    above = c.saved("sharpness") > thr
    runs = _runs(above)
    status = c.ds.attrs["status"]
    closed = [(a, b) for a, b in runs if b < above.size]
    open_ = [(a, b) for a, b in runs if b >= above.size]
    failed = [a for a, _ in open_] if status == "diverged" else []
    longest = max((int(c.steps[min(b, above.size - 1)] - c.steps[a]) for a, b in runs), default=0)
    stmt = "Theorem 2(1): after Λ > (2/η)(1+ρ), Λ comes back below"
    if not runs:
        return Row("theorem_2_1", stmt, None, f"n/a: Λ never exceeded the threshold ({_rho_text(c, rho)})",
                   source="run", values={"excursions": 0, "rho": rho})
    note = f"; {len(open_)} still open when the run ended ({status})" if open_ else ""
    return Row(
        "theorem_2_1", stmt, not failed,
        f"{_rho_text(c, rho)}: {len(runs)} excursions, {len(closed)} came back (longest {longest} steps)"
        f"{note}; max ηΛ = {_fmt(c.eta * np.nanmax(c.saved('sharpness')))}",
        c.steps[np.array(failed, dtype=np.int64)], "run",
        {"excursions": len(runs), "returned": len(closed), "longest": longest, "rho": rho},
    )


def theorem_2_2(c: Context) -> Row:
    """Some rho = O(1) exists such that Lambda(t), Lambda(t+1) > (2/eta)(1 + rho) implies
    |D(t+1)^T v_1| > (1 + c_7) |D(t)^T v_1|: the smallest such rho on this run (or --rho)."""
    t, margin, g = _theorem_2_pairs(c)
    stmt = "Theorem 2(2): Λ(t), Λ(t+1) > (2/η)(1+ρ) ⇒ |Dᵀv₁| grows by a factor 1 + c₇ > 1"
    rho_min = smallest_rho(margin, g)
    rho = theorem_2_rho(c)
    above0 = margin > 0
    both = margin > rho
    nb, n0 = int(both.sum()), int(above0.sum())
    bad = both & ~(g > 1)
    bad0 = int((above0 & ~(g > 1)).sum())
    values = {"rho": rho, "rho_min": rho_min, "pairs": nb, "pairs_above_2_over_eta": n0,
              "violations": int(bad.sum()), "violations_at_rho_0": bad0}
    if n0 == 0:
        return Row("theorem_2_2", stmt, None, "n/a: no two consecutive steps above 2/η",
                   source="replay", values=values)
    at0 = f"at ρ = 0 it fails on {bad0} of {n0} pairs" if bad0 else f"it holds at ρ = 0 on all {n0} pairs"
    if nb == 0:
        return Row("theorem_2_2", stmt, None,
                   f"n/a: no pair above (2/η)(1+ρ), {_rho_text(c, rho)}; the smallest ρ for which it "
                   f"holds is {rho_min:.4g} (max ηΛ/2 − 1 = {np.max(margin):.4g}); {at0}",
                   source="replay", values=values)
    values.update(c7=float(np.min(g[both]) - 1.0), min_factor=np.min(g[both]), median_factor=np.median(g[both]))
    return Row(
        "theorem_2_2", stmt, not bad.any(),
        f"{_rho_text(c, rho)}: grew on {_pct(nb - bad.sum(), nb)} of {nb} pairs above (2/η)(1+ρ), "
        f"c₇ = {_fmt(np.min(g[both]) - 1.0, 3)} (median factor {_fmt(np.median(g[both]))}); "
        f"smallest ρ for which it holds {rho_min:.4g}; {at0}",
        t[bad], "replay", values,
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
