"""For every checked statement: the paper's wording, and eosdyn's operational reading of it.

The paper (Li, Wang & Li, NeurIPS 2022, Sections 3-4 and Appendix F) states its assumptions
and results with unspecified constants ("a small constant eps_2", "some rho = O(1)", "c_r > 0")
and for exact real arithmetic. A check on a float64 trajectory has to fix a reading: which
steps, which constants, which rounding allowance. Each entry is ``key -> (paper, reading)``;
``reading`` is a format string filled with the :class:`~eosdyn.analysis.check.CheckOptions`
fields and the row's ``values`` (e.g. the ``rho`` actually used).
"""

from __future__ import annotations

WORDING = {
    "assumption_3_1": (
        "Along the gradient descent training trajectory, for all time t, the norm ‖A(t)‖ of the output "
        "layer and the sharpness Λ(t) moves in the same directions, i.e., sign(Λ(t+1) − Λ(t)) = "
        "sign(‖A(t+1)‖ − ‖A(t)‖).",
        "At every recorded step that has a successor: sign(ΔΛ) = sign(Δ‖A‖²) (the run's `anomaly` flag "
        "marks the steps where they differ); holds if there is none.",
    ),
    "assumption_3_3": (
        "When Λ(t) < 2/η, D(t) follows the gradient flow trajectory: dD(t)/dt = −M(t)D(t).",
        "The gradient flow integrated from the run's initial state (time in units of η): "
        "‖D_GD(t) − D_flow(t)‖ ≤ {flow_tol:g}·‖D_flow(t)‖ at every step up to the first crossing of 2/η.",
    ),
    "assumption_3_5_iii": (
        "(principal direction moves slowly) at all time t, there is a small constant ε₂ ≥ 0 such that "
        "⟨v₁(t), v₁(t+1)⟩ ≥ 1 − ε₂.",
        "ε₂(t) = 1 − |⟨v₁(t), v₁(t+1)⟩| (v₁ up to sign) ≤ {eps2_max:g} at every replayed step pair; its "
        "maximum per phase is reported.",
    ),
    "assumption_3_7": (
        "All M(t)'s eigenvalues except Λ(t) = λ_max(M(t)) are smaller than 1/η for all t.",
        "λ₂(M) < 1/η at every recorded step.",
    ),
    "assumption_4_1": (
        "There exists some constant χ > 1, s.t. for all i ∈ [r−1], λ_i(XᵀX) ≤ χ λ_{i+1}(XᵀX). Moreover, "
        "λ₁(XᵀX) ≥ 2λ₂(XᵀX).",
        "χ = max_i λ_i/λ_{{i+1}} of the data is reported (a finite χ always exists); holds if λ₁ ≥ 2λ₂.",
    ),
    "assumption_4_2": (
        "There exists κ = Ω(r⁻¹) such that min_{i∈[r]} {z_i/√n} ≥ κ.",
        "κ = min_i |z_i|/√n (z_i = Yᵀv_i, v_i up to sign); Ω(1/r) read as κ ≥ 1/r.",
    ),
    "lemma_3_2": (
        "Suppose Assumption 3.5(iii) and 3.6 hold during this phase (with constants ε₂ > 0 and c > 1). "
        "If Λ(t) = (2+τ)/η and τ > 1/(1−ε₂−1/c) − 1, then D(t)ᵀv₁(t) increases geometrically with factor "
        "(1+τ)(1−ε₂−1/c) > 1 for t ≥ t₀ in this phase. [Assumption 3.6: D(t)ᵀv₁(t) ≥ cε₂‖D(t)‖ for some "
        "c > 1 for some t = t₀ at the beginning of this phase.]",
        "Per phase-II stretch (consecutive replayed steps with Λ > 2/η and Λ rising): ε₂ = the largest "
        "1 − |⟨v₁(t), v₁(t+1)⟩| on the stretch (≥ 0: the phase's constant, so rounding-level values of "
        "single steps do not decide the premise); t₀ = its first step with c = |Dᵀv₁|/(ε₂‖D‖) > 1; at "
        "every t ≥ t₀ of the stretch with τ = ηΛ(t) − 2 > 1/(1−ε₂−1/c) − 1: |D(t+1)ᵀv₁(t+1)| ≥ "
        "(1+τ)(1−ε₂−1/c)·|D(t)ᵀv₁(t)|, up to 4 ulps.",
    ),
    "proposition_3_1": (
        "If ‖D(t)‖ > ‖Y‖, then D(t)ᵀF(t) > 0.",
        "At every recorded step with ‖D‖ > ‖Y‖: DᵀF > 0, up to a few ulps of ‖D‖(‖D‖ + ‖Y‖).",
    ),
    "proposition_3_2": (
        "Under Assumption 3.2, if ‖D(t)‖ > ‖Y‖, then ‖A(t+1)‖² − ‖A(t)‖² < −(4η/n)(‖D(t)‖ − ‖Y‖)².",
        "At every replayed step with ‖D‖ > ‖Y‖: Δ‖A‖² < −(4η/n)(‖D‖ − ‖Y‖)², up to rounding. Assumption "
        "3.2 is the first-order map (engine first-order); exact GD adds η² terms and may fail it.",
    ),
    "lemma_3_3": (
        "If Λ(t) < 2/η, then for any vector u ∈ ℝⁿ, ‖uᵀ(I − ηM(t))‖ ≤ (1 − ηα)‖u‖, where α = "
        "min{2/η − Λ(t), λ_min(M(t))}. In particular, replacing u with D(t), we can see ‖D(t+1)‖ ≤ "
        "(1 − ηα)²‖D(t)‖.",
        "At every replayed step with Λ < 2/η: ‖D(t+1)‖ ≤ (1 − ηα)‖D(t)‖ with α = min(2/η − Λ, λ_min(M)) "
        "(λ_min = 0 when n > rank), up to rounding; D(t+1) is the run's next residual (exact GD moves D by "
        "M*, not M).",
    ),
    "lemma_3_5": (
        "Define an auxiliary sequence R′(t) by R′(0) = R(0), and R′(t+1) = (I − ηM(t)(I − v₁(t)v₁(t)ᵀ))R′(t). "
        "If Assumption 3.4, Assumption 3.5(iii), Assumption 3.7 hold, and λ_min(M(t)) > λ_r > 0, then there "
        "exists a constant c_r > 0 such that ‖R(t) − R′(t)‖ ≤ c_r B_D(B_Λ − 1)√ε₂/(ηλ_r). [Theorem 2(3): "
        "‖R(t) − R′(t)‖ = O(√(n³d)/(λ_r√m)).]",
        "R′ replayed with the run's M(t) and v₁(t); ‖R(t) − R′(t)‖ ≤ {r_tol:g}·‖R(t)‖ at every replayed "
        "step (the paper leaves c_r open: the c_r and Theorem 2(3) constant this run implies are reported).",
    ),
    "section_3_4": (
        "Even though the total loss L(t) = ‖D(t)‖²/n oscillates considerably, ‖R(t)‖²/n decreases more "
        "steadily.",
        "Upward variation ÷ range of ‖R‖²/n over the replayed steps ≤ that of the loss, and ‖R‖²/n ends "
        "below its start.",
    ),
    "theorem_1": (
        "Λ(t+1) − Λ(t) > 0 for t = 1, 2, …, t₀ − 1 where t₀ is the time when ‖D(t)‖² ≤ O(ε²) or "
        "λ_max(M*(t)) > 1/η for the first time.",
        "t₀ = the first recorded step with η·λ_max(M*) > 1 or ‖D‖² ≤ {eps_D:g}·‖Y‖²; Λ rises at every "
        "recorded step 1 … t₀ − 1.",
    ),
    "theorem_2_1": (
        "There exists ρ = O(1) which depends on c₃ such that if Λ(t₀) > (2/η)(1+ρ) for some t₀, there must "
        "exist some t₁ > t₀ such that Λ(t₁) < (2/η)(1+ρ).",
        "With ρ = {rho:.4g} (Theorem 2(2)'s smallest ρ unless --rho is given): every excursion of the "
        "recorded Λ above (2/η)(1+ρ) comes back below; one still open at the end fails only if the run "
        "diverged.",
    ),
    "theorem_2_2": (
        "[There exists ρ = O(1) such that] if Λ(t), Λ(t+1) > (2/η)(1+ρ), then there is a constant c₇ > 0 "
        "(depending on c₃) such that |D(t+1)ᵀv₁| > |D(t)ᵀv₁|(1+c₇).",
        "ρ = the smallest ρ ≥ 0 such that |Dᵀv₁| grows (factor > 1) on every replayed step pair with "
        "Λ(t), Λ(t+1) > (2/η)(1+ρ) (or --rho); holds if some pair lies above that threshold, with c₇ = the "
        "smallest factor there − 1. Used: ρ = {rho:.4g}.",
    ),
    "appendix_f": (
        "The largest eigenvalue of Hessian is almost the same as the largest eigenvalue of NTK. We use the "
        "latter as the definition of the sharpness in this paper. (Section 2, details in Appendix F.)",
        "|λ_max(∇²L)/Λ − 1| ≤ {hessian_rtol:g} at every step (exact Hessian of the two-layer loss).",
    ),
}


def attach(rows, options) -> None:
    """Fill ``row.paper`` and ``row.reading`` of every row from :data:`WORDING`."""
    from dataclasses import asdict

    base = asdict(options)
    for row in rows:
        paper, reading = WORDING[row.key]
        fields = {**base, **{k: v for k, v in row.values.items() if v is not None}}
        if fields.get("rho") is None:
            fields["rho"] = float("nan")
        row.paper = paper
        row.reading = reading.format(**fields)
