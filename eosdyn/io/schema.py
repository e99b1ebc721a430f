"""The declared schema of eosdyn's output: every variable with dims, units and meaning.

Every file eosdyn writes carries its kind in ``attrs["eosdyn_kind"]`` (:data:`SCHEMAS`):
``run`` (:data:`VARIABLES` over ``step``), ``compare`` (GD against the flow), ``bifurcation``
(orbit diagrams) and ``scan`` (per-cell summaries over the scanned parameters, declared with
the store in :mod:`eosdyn.analysis.scan.store`). :func:`validate` checks a dataset against the
schema of its kind; a variable that is not declared is an error.

Notation: ``M = (2/(m n)) (||A||^2 X^T X + X^T W^T W X)`` is the Gram (NTK) matrix,
``Lambda = lambda_max(M)`` the sharpness, ``D = F - Y`` the residual; differences are
forward, ``Delta x(t) = x(t+1) - x(t)``. The status is written as a name (attr ``status``) and
as a code with its CF flag table (``status_code``, ``status_flag_values``,
``status_flag_meanings``; :mod:`eosdyn.status`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # xarray loads on first use (it costs ~0.5 s; the CLI imports it while kernels run)
    import xarray as xr


@dataclass(frozen=True)
class Var:
    dims: tuple
    units: str
    doc: str
    dtype: str = "float64"


VARIABLES: dict[str, Var] = {
    "loss": Var(("step",), "1", "Training loss L = ||D||^2 / n."),
    "sharpness": Var(("step",), "1", "Sharpness Lambda = lambda_max(M) of the Gram matrix M."),
    "eta_sharpness": Var(("step",), "1", "eta * Lambda; 2 is the edge of stability."),
    "lambda2": Var(("step",), "1", "Second largest eigenvalue of M (Assumption 3.7)."),
    "sharpness_MA": Var(("step",), "1", "lambda_max(M_A), M_A = (2/(mn)) X^T W^T W X."),
    "sharpness_MW": Var(("step",), "1", "lambda_max(M_W), M_W = (2/(mn)) ||A||^2 X^T X."),
    "sharpness_Mstar": Var(
        ("step",), "1",
        "lambda_max(M*), M* = M - (4 eta/(n^2 m)) (D^T F) X^T X, so that D' = (I - eta M*) D.",
    ),
    "a_norm2": Var(("step",), "1", "Output-layer norm ||A||^2."),
    "DtF": Var(("step",), "1", "D^T F; ||A||^2 falls when it is positive (Prop. 3.1)."),
    "Dv1": Var(
        ("step",), "1",
        "D^T v_1, v_1 the top eigenvector of M, its sign kept continuous from step to step "
        "(initially v_1 . (top data direction) >= 0).",
    ),
    "R_norm2": Var(("step",), "1", "||R||^2 = ||(I - v_1 v_1^T) D||^2 (Section 3.4)."),
    "phase": Var(
        ("step",), "1",
        "Phase of step t (the paper's Section 3.1) from Lambda(t) and Delta Lambda(t) = "
        "Lambda(t+1) - Lambda(t): 1 = I (Lambda <= 2/eta, rising), 2 = II (Lambda > 2/eta, rising), "
        "3 = III (Lambda > 2/eta, falling), 4 = IV (Lambda <= 2/eta, falling); "
        "5 = stationary (|Delta Lambda| <= 1e-9 * 2/eta: at that rate Lambda needs more than 1e9 "
        "steps to move by 2/eta); 0 = unknown (Lambda(t) or Lambda(t+1) not finite, or no step t+1 "
        "after a divergence). Lambda > 2/eta is decided by an inertia test. For other optimizers "
        "2/eta reads the run's edge (attr 'edge') and Lambda its relevant sharpness (attr "
        "'edge_sharpness').",
        "int8",
    ),
    "anomaly": Var(
        ("step",), "1",
        "Step t has sign(Delta Lambda) != sign(Delta ||A||^2) (the paper's Figure 2, Assumption "
        "3.1); never at a stationary or unknown step.",
        "bool",
    ),
    "window_steps": Var(
        ("step",), "GD steps",
        "Steps in this row's window: the steps after the previous recorded step up to this one "
        "(windows partition the run).", "int64",
    ),
    "window_phase_fraction": Var(
        ("step", "phase_code"), "1",
        "Fraction of the window's steps in each phase code (0 unknown, 1-4 = I-IV, 5 stationary), "
        "every step classified as for 'phase' (so a period-2 orbit recorded at an even stride "
        "shows as half I, half III, not as III); NaN when per-step tracking was off.",
    ),
    "window_flips": Var(
        ("step",), "1",
        "Period-2 flips in the window: single steps above 2/eta between steps below; -1 when "
        "per-step tracking was off.", "int64",
    ),
    "window_anomalies": Var(
        ("step",), "1", "Anomaly steps in the window; -1 when per-step tracking was off.", "int64",
    ),
    "loss_window_min": Var(
        ("step",), "1", "Minimum loss over the steps since the previous recorded step."
    ),
    "loss_window_max": Var(
        ("step",), "1", "Maximum loss over the steps since the previous recorded step."
    ),
    "init_a": Var((), "1", "Initial ||A||^2."),
    "init_u": Var(("mode",), "1", "Initial u = U^T W^T A / sqrt(m) in the data's spectral basis."),
    "init_G": Var(("mode", "mode2"), "1", "Initial G = U^T W^T W U / m."),
    "final_a": Var((), "1", "||A||^2 at the last step processed."),
    "final_u": Var(("mode",), "1", "u at the last step processed."),
    "final_G": Var(("mode", "mode2"), "1", "G at the last step processed."),
    "data_s": Var(("mode",), "1", "Singular values s_i of X (s_i^2 = eigenvalues of X^T X)."),
    "data_z": Var(("mode",), "1", "Label projections z = V^T Y (the paper's z_i)."),
}

#: variables a run carries only when asked for (checked by :func:`validate` when present)
OPTIONAL_VARIABLES: dict[str, Var] = {
    "sharpness_hessian": Var(
        ("step",), "1",
        "lambda_max of the loss Hessian grad^2 L (Gauss-Newton part (2/n) J^T J, whose top "
        "eigenvalue is Lambda, plus the residual term (2/n) sum_j D_j grad^2 F_j); recorded with "
        "hessian=True (eosdyn.analysis.hessian) and by the central-flow and stable-flow engines.",
    ),
    # the central-flow and stable-flow engines (eosdyn.engines.central_flow, eosdyn.engines.stable_flow)
    "n_at_edge": Var(("step",), "1", "Number k of Hessian eigenvalues held at 2/eta by the flow.", "int8"),
    "central_sigma2": Var(
        ("step",), "1", "tr X: the central flow's predicted variance of GD's oscillation (Sigma = Q X Q^T)."
    ),
    "predicted_loss": Var(
        ("step",), "1",
        "The theory's prediction of GD's time-averaged loss (central flow: L + (1/2)<H, Sigma>; "
        "stable flow: L + S delta^2 / 2).",
    ),
    "predicted_a_norm2": Var(
        ("step",), "1",
        "The theory's prediction of GD's time-averaged ||A||^2 (||A||^2 + tr Sigma_AA, or with delta^2).",
    ),
    "predicted_delta2": Var(
        ("step",), "1", "Self-stabilization's delta^2 = 2 alpha / ||grad S_perp||^2 (Damian et al.).",
    ),
    "gradS_u_cos": Var(
        ("step",), "1", "|<grad S, u>| / ||grad S||, u the top Hessian eigenvector (delta^2 = sigma^2 / (1 - cos^2)).",
    ),
    # optimizers beyond plain GD (eosdyn.optim; attrs edge, edge_sharpness)
    "edge_ratio": Var(("step",), "1", "(relevant sharpness) / edge (attr edge_sharpness names it): above 1 "
                      "the run is beyond its optimizer's edge of stability (eosdyn.optim)."),
    "batch_sharpness": Var(("step",), "1", "E_B[g_B^T H_B g_B / ||g_B||^2] over uniform b-subsets B "
                           "(Andreyev & Beneventano 2024), Monte Carlo over batch_sharpness_samples batches."),
    "batch_sharpness_step": Var(("step",), "1", "g_B^T H_B g_B / ||g_B||^2 for the batch B used at this step."),
    "velocity_norm2": Var(("step",), "1", "Squared norm ||v||^2 of the momentum velocity of (A, W)."),
    "preconditioned_sharpness": Var(("step",), "1", "lambda_max(P^{-1} H): P the optimizer's preconditioner "
                                    "for the step from this state, H the loss Hessian (Cohen et al. 2022)."),
}

COORDS = {
    "step": Var(("step",), "GD steps", "GD step t of each recorded row.", "int64"),
    "mode": Var(("mode",), "1", "Index i of the spectral direction (v_i, s_i), descending s_i."),
    "phase_code": Var(("phase_code",), "1", "Phase code: 0 unknown, 1-4 = I-IV, 5 stationary.",
                      "int64"),
}

#: the run's summaries (attrs), computed by the kernels over every step whatever was recorded
#: (eosdyn.kernels.edge_numba); read back by eosdyn.summarize
SUMMARY_ATTRS = {
    "summaries_over": "'every step', or 'recorded steps' when per-step tracking was off (rank "
                      "above eosdyn.engines.base.TRACK_MAX_RANK, the network engine, optimizers "
                      "whose relevant sharpness is known at recorded steps only).",
    "first_cross_step": "First step above the run's edge (attr 'edge': Lambda > 2/eta for GD, by the "
                        "inertia test; the optimizer's relevant sharpness otherwise); -1: never.",
    "n_eos_excursions": "Runs of >= 2 consecutive steps above the edge (the sawtooth EoS cycles).",
    "n_period2_flips": "Single steps above the edge between steps below (period-2 flips around it).",
    "n_anomalies": "Steps with sign(Delta Lambda) != sign(Delta ||A||^2) (see 'anomaly').",
    "phase_steps": "Steps per phase code 0-5 (see 'phase'), over the whole run.",
    "max_eta_sharpness": "Largest eta * Lambda over every step.",
    "loss_min": "Smallest loss over every step.",
    "loss_max": "Largest loss over every step.",
    "steps_processed": "Steps classified (0 .. the last step processed).",
    "late_edge_ratio": "Mean of (relevant sharpness) / edge over the run's second half, steps ceil(T/2) .. T "
                       "(T its last step): every step when tracked and run to its planned steps, else the "
                       "recorded rows of that window.",
}

#: attributes every run carries (besides the parameters themselves)
REQUIRED_ATTRS = (
    "n", "m", "eta", "y_perp2", "seed", "engine", "status", "status_code", "status_flag_values",
    "status_flag_meanings", "status_step", "status_message", "eosdyn_version", "parameters",
    "record_every", "wall_time", "eosdyn_kind", *SUMMARY_ATTRS,
)


def annotate(ds: xr.Dataset, kind: str = "run") -> xr.Dataset:
    """Attach ``units`` and ``long_name`` from the schema to every declared variable and the
    kind to ``attrs["eosdyn_kind"]``."""
    for name, spec in {**VARIABLES, **OPTIONAL_VARIABLES, **COORDS}.items():
        if name in ds.variables:
            ds[name].attrs.update(units=spec.units, long_name=spec.doc)
    ds.attrs["eosdyn_kind"] = kind
    return ds


# ------------------------------------------------------------------ the other kinds
#: in ``dims``, ``*`` stands for the grid dimensions of a scan (``attrs["axes"]``) or the
#: parameter of a bifurcation diagram (``attrs["param"]``)
GRID = "*"

COMPARE_VARIABLES: dict[str, Var] = {
    "loss_gd": Var(("step",), "1", "GD's loss at step t."),
    "loss_flow": Var(("step",), "1", "The gradient flow's loss at flow time t eta."),
    "sharpness_gd": Var(("step",), "1", "GD's sharpness Lambda."),
    "sharpness_flow": Var(("step",), "1", "The flow's sharpness Lambda."),
    "distance": Var(("step",), "1", "||D_GD - D_flow|| (function space, exact)."),
    "rel_distance": Var(("step",), "1", "||D_GD - D_flow|| / ||D_flow||."),
}
COMPARE_ATTRS = (
    "eta", "m", "n", "tol", "gd_engine", "flow_method", "parting_step", "first_cross_gd", "first_cross_flow",
    "gd_status", "flow_status", "gd_parameters", "flow_parameters", "eosdyn_version", "eosdyn_kind",
)

#: ``compare --against central-flow|stable-flow`` (eosdyn.analysis.compare_edge): GD's moving
#: averages against a theory's predictions
EDGE_QUANTITIES = ("loss", "eta_sharpness", "a_norm2")
COMPARE_EDGE_VARIABLES: dict[str, Var] = {
    **{f"{q}_gd": Var(("step",), "1", f"GD's {q} at step t.") for q in EDGE_QUANTITIES},
    **{f"{q}_gd_avg": Var(("step",), "1", f"GD's {q}, centred moving average over attrs['window'] steps.")
       for q in EDGE_QUANTITIES},
    **{f"{q}_pred": Var(("step",), "1", f"The theory's prediction of GD's time-averaged {q}.")
       for q in EDGE_QUANTITIES},
    "loss_flow": Var(("step",), "1", "L(theta) along the flow (the prediction without its oscillation term)."),
    "central_sigma2": Var(("step",), "1", "tr X of the central flow along the flow."),
    "predicted_delta2": Var(("step",), "1", "Self-stabilization's delta^2 along the flow."),
    "n_at_edge": Var(("step",), "1", "Hessian eigenvalues held at 2/eta by the flow.", "int8"),
    "sharpness_hessian": Var(("step",), "1", "lambda_max of the loss Hessian along the flow."),
}
COMPARE_EDGE_ATTRS = (
    "eta", "m", "n", "against", "window", "gd_engine", "flow_method", "first_cross_gd", "eos_start", "eos_end",
    "gd_status", "flow_status", "gd_parameters", "flow_parameters", "eosdyn_version", "eosdyn_kind",
)

#: the observables whose orbits a bifurcation diagram keeps (eosdyn.kernels.batch_numba.OBSERVABLES)
ORBIT_OBSERVABLES = ("loss", "eta_sharpness", "a_norm2", "Dv1")
BIFURCATION_VARIABLES: dict[str, Var] = {
    **{f"orbit_{o}": Var((GRID, "k"), "1", f"The last keep values of {o}.") for o in ORBIT_OBSERVABLES},
    "orbit": Var((GRID, "k"), "1", "The last keep values of the chosen observable (attrs['observable'])."),
    "period": Var((GRID,), "1", "Period of the orbit (0 aperiodic, -1 diverged, -2 not settled).", "int64"),
    "lyapunov": Var((GRID,), "1 / step", "Maximal Lyapunov exponent of the outputs per step."),
    "status": Var((GRID,), "1", "Run status (CF flag_values / flag_meanings: max_steps, converged, diverged).",
                  "int8"),
    "status_step": Var((GRID,), "GD steps", "Step at which the run stopped.", "int64"),
    "first_cross_step": Var((GRID,), "GD steps", "First step above the edge (Lambda > 2/eta for GD; -1 never).",
                            "int64"),
    "n_eos_excursions": Var((GRID,), "1", "EoS excursions: runs of >= 2 consecutive steps above the edge.", "int64"),
    "n_period2_flips": Var((GRID,), "1", "Period-2 flips: single steps above the edge between steps below.",
                           "int64"),
    "initial_eta_sharpness": Var((GRID,), "1", "eta * Lambda at step 0."),
    "final_eta_sharpness": Var((GRID,), "1", "eta * Lambda at the last step."),
    "tangent_projections": Var((GRID,), "1", "Projections of the tangent off the neutral manifold.", "int64"),
}
BIFURCATION_ATTRS = (
    "param", "mode", "observable", "steps", "keep", "transient", "period_max", "period_tol", "renorm",
    "wall_time", "parameters", "eosdyn_version", "eosdyn_kind",
)
SCAN_ATTRS = ("engine", "steps", "axes", "phases", "record_every", "scan_spec", "parameters", "eosdyn_version",
              "eosdyn_kind")


@dataclass(frozen=True)
class Schema:
    """What a dataset of one kind holds: required and optional variables, required attrs."""

    kind: str
    variables: dict
    optional: dict
    attrs: tuple

    def grid(self, ds: xr.Dataset) -> tuple:
        if self.kind == "scan":
            axes = ds.attrs.get("axes", [])
            return (axes,) if isinstance(axes, str) else tuple(axes)
        if self.kind == "bifurcation":
            return (ds.attrs.get("param"),)
        return ()


def _scan_schema() -> Schema:
    from ..analysis.scan.store import SUMMARY_DOCS, TRAJ_DOCS

    def var(dtype, doc):
        return Var((GRID,), "1", doc, dtype)

    required = {k: var(dtype, doc) for k, (dtype, _, doc) in SUMMARY_DOCS.items() if k != "lyapunov"}
    optional = {k: var(dtype, doc) for k, (dtype, _, doc) in SUMMARY_DOCS.items() if k == "lyapunov"}
    optional.update({k: Var((GRID, "step"), "1", doc) for k, doc in TRAJ_DOCS.items()})
    return Schema("scan", required, optional, SCAN_ATTRS)


def schema(kind: str, against: str = "flow") -> Schema:
    """The :class:`Schema` of an output kind (``run``, ``scan``, ``bifurcation``, ``compare``);
    a comparison against ``central-flow``/``stable-flow`` (``attrs["against"]``) has its own variables."""
    if kind == "run":
        return Schema("run", VARIABLES, OPTIONAL_VARIABLES, REQUIRED_ATTRS)
    if kind == "compare" and against != "flow":
        return Schema("compare", COMPARE_EDGE_VARIABLES, {}, COMPARE_EDGE_ATTRS)
    if kind == "compare":
        return Schema("compare", COMPARE_VARIABLES, {}, COMPARE_ATTRS)
    if kind == "bifurcation":
        return Schema("bifurcation", BIFURCATION_VARIABLES, {}, BIFURCATION_ATTRS)
    if kind == "scan":
        return _scan_schema()
    raise ValueError(f"unknown eosdyn_kind {kind!r}; kinds: run, scan, bifurcation, compare")


SCHEMAS = ("run", "scan", "bifurcation", "compare")


def _check_var(ds, name, spec, grid):
    dims = tuple(d for g in spec.dims for d in (grid if g == GRID else (g,)))
    if ds[name].dims != dims:
        raise ValueError(f"variable {name!r} has dims {ds[name].dims}, expected {dims}")
    if ds[name].dtype != np.dtype(spec.dtype):
        raise ValueError(f"variable {name!r} has dtype {ds[name].dtype}, expected {spec.dtype}")


def validate(ds: xr.Dataset, kind: str | None = None, strict: bool = True) -> None:
    """Raise ``ValueError`` if ``ds`` does not follow the schema of its kind (``kind`` or
    ``attrs["eosdyn_kind"]``, default ``run``): names, dims, dtypes, attrs; with ``strict``,
    a data variable the schema does not declare is an error too."""
    s = schema(kind or ds.attrs.get("eosdyn_kind", "run"), ds.attrs.get("against", "flow"))
    grid = s.grid(ds)
    for name, spec in s.variables.items():
        if name not in ds.variables:
            raise ValueError(f"variable {name!r} missing")
        _check_var(ds, name, spec, grid)
    for name, spec in s.optional.items():
        if name in ds.variables:
            _check_var(ds, name, spec, grid)
    if strict:
        extra = sorted(set(ds.data_vars) - set(s.variables) - set(s.optional))
        if extra:
            raise ValueError(f"variables not declared in the {s.kind} schema: {extra}")
    missing = [a for a in s.attrs if a not in ds.attrs]
    if missing:
        raise ValueError(f"attrs missing: {missing}")
    if ds.attrs.get("eosdyn_kind", s.kind) != s.kind:
        raise ValueError(f"attrs['eosdyn_kind'] is {ds.attrs['eosdyn_kind']!r}, expected {s.kind!r}")
