"""The one declared schema of eosdyn's output: every variable with dims, units and meaning.

Notation: ``M = (2/(m n)) (||A||^2 X^T X + X^T W^T W X)`` is the Gram (NTK) matrix,
``Lambda = lambda_max(M)`` the sharpness, ``D = F - Y`` the residual; differences are
forward, ``Delta x(t) = x(t+1) - x(t)``. The status is written as a name (attr ``status``) and
as a code with its CF flag table (``status_code``, ``status_flag_values``,
``status_flag_meanings``; :mod:`eosdyn.status`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
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
        "after a divergence). Lambda > 2/eta is decided by an inertia test.",
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
        "hessian=True (eosdyn.analysis.hessian).",
    ),
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
                      "above eosdyn.engines.base.TRACK_MAX_RANK).",
    "first_cross_step": "First step with Lambda > 2/eta (inertia test); -1: never.",
    "n_eos_excursions": "Runs of >= 2 consecutive steps above 2/eta (the sawtooth EoS cycles).",
    "n_period2_flips": "Single steps above 2/eta between steps below (period-2 flips around 2/eta).",
    "n_anomalies": "Steps with sign(Delta Lambda) != sign(Delta ||A||^2) (see 'anomaly').",
    "phase_steps": "Steps per phase code 0-5 (see 'phase'), over the whole run.",
    "max_eta_sharpness": "Largest eta * Lambda over every step.",
    "loss_min": "Smallest loss over every step.",
    "loss_max": "Largest loss over every step.",
    "steps_processed": "Steps classified (0 .. the last step processed).",
}

#: attributes every run carries (besides the parameters themselves)
REQUIRED_ATTRS = (
    "n", "m", "eta", "y_perp2", "seed", "engine", "status", "status_code", "status_flag_values",
    "status_flag_meanings", "status_step", "status_message", "eosdyn_version", "parameters",
    "record_every", "wall_time", *SUMMARY_ATTRS,
)


def annotate(ds: xr.Dataset) -> xr.Dataset:
    """Attach ``units`` and ``long_name`` from the schema to every declared variable."""
    for name, spec in {**VARIABLES, **OPTIONAL_VARIABLES, **COORDS}.items():
        if name in ds.variables:
            ds[name].attrs.update(units=spec.units, long_name=spec.doc)
    return ds


def validate(ds: xr.Dataset) -> None:
    """Raise ``ValueError`` if ``ds`` does not follow the schema (names, dims, dtypes, attrs)."""
    for name, spec in VARIABLES.items():
        if name not in ds.variables:
            raise ValueError(f"variable {name!r} missing")
        if ds[name].dims != spec.dims:
            raise ValueError(f"variable {name!r} has dims {ds[name].dims}, expected {spec.dims}")
        if ds[name].dtype != np.dtype(spec.dtype):
            raise ValueError(f"variable {name!r} has dtype {ds[name].dtype}, expected {spec.dtype}")
    for name, spec in OPTIONAL_VARIABLES.items():
        if name in ds.variables and (ds[name].dims, ds[name].dtype) != (spec.dims, np.dtype(spec.dtype)):
            raise ValueError(f"variable {name!r} must have dims {spec.dims} and dtype {spec.dtype}")
    missing = [a for a in REQUIRED_ATTRS if a not in ds.attrs]
    if missing:
        raise ValueError(f"attrs missing: {missing}")
