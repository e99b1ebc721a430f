"""Numbers that summarise a run: computed by the kernels over every step, read back by name.

The recording loop's edge tracker (:mod:`eosdyn.kernels.edge_numba`) classifies every step,
recorded or not; :func:`summary_attrs` turns its counters into run attrs and
:func:`row_variables` its per-row windows into variables, so that :func:`summarize` reads
numbers that do not depend on how the run was recorded. When per-step tracking is off (ranks
above :data:`eosdyn.engines.base.TRACK_MAX_RANK`) the same names are computed from the
recorded rows and the attr ``summaries_over`` says ``"recorded steps"``.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ..kernels import layout as L

#: names of the phase codes (index = code), as in :data:`eosdyn.io.schema.VARIABLES` ``phase``
PHASE_LABELS = ("unknown", "I", "II", "III", "IV", "stationary")


# --------------------------------------------------------------------------- from the kernels


def row_phases(lam: np.ndarray, lam_next: np.ndarray, a: np.ndarray, a_next: np.ndarray, eta: float):
    """Phase codes and anomaly flags of steps from ``Lambda``, ``||A||^2`` at ``t`` and ``t + 1``
    (the tracker's rule, for rows of an untracked run)."""
    sigma = 2.0 / eta
    dlam = lam_next - lam
    rising = dlam > 0
    with np.errstate(invalid="ignore"):
        above = lam > sigma
        phase = np.where(above, np.where(rising, L.PH_II, L.PH_III), np.where(rising, L.PH_I, L.PH_IV))
        stationary = np.abs(dlam) <= L.STATIONARY_RTOL * sigma
    phase = np.where(stationary, L.PH_STATIONARY, phase).astype(np.int8)
    phase[~np.isfinite(dlam)] = L.PH_UNKNOWN
    da = a_next - a
    anomaly = (np.sign(dlam) != np.sign(da)) & np.isfinite(dlam) & np.isfinite(da) & ~stationary
    return phase, anomaly


def row_variables(pb) -> dict:
    """Per-row classification of a finished :class:`~eosdyn.engines.base.Problem`: ``phase``,
    ``anomaly`` of the row's own step; ``window_steps``, ``window_phase_fraction`` (rows x
    phase codes), ``window_flips``, ``window_anomalies`` of the steps since the previous row."""
    nrow = pb.progress.rows
    rec, steps = pb.rec[:nrow], pb.rec_step[:nrow]
    window = np.diff(steps, prepend=-1).astype(np.int64)
    if pb.track:
        counts = rec[:, L.W_PHASE:L.W_PHASE + L.NPHASE]
        wsteps = rec[:, L.W_STEPS]
        return {
            "phase": rec[:, L.PHASE].astype(np.int8),
            "anomaly": rec[:, L.ANOMALY] == 1.0,
            "window_steps": wsteps.astype(np.int64),
            "window_phase_fraction": counts / np.maximum(wsteps, 1)[:, None],
            "window_flips": rec[:, L.W_FLIPS].astype(np.int64),
            "window_anomalies": rec[:, L.W_ANOMALIES].astype(np.int64),
        }
    phase, anomaly = row_phases(rec[:, L.SHARP], rec[:, L.SHARP_NEXT], rec[:, L.A_NORM2],
                                rec[:, L.A_NEXT], pb.params.eta)
    return {
        "phase": phase,
        "anomaly": anomaly,
        "window_steps": window,
        "window_phase_fraction": np.full((nrow, L.NPHASE), np.nan),
        "window_flips": np.full(nrow, -1, dtype=np.int64),
        "window_anomalies": np.full(nrow, -1, dtype=np.int64),
    }


def summary_attrs(pb) -> dict:
    """The run's summaries as netCDF-safe attrs (see :data:`eosdyn.io.schema.SUMMARY_ATTRS`)."""
    if not pb.track:
        return _summary_of_rows(pb)
    tf, ti = pb.track_f, pb.track_i
    return {
        "summaries_over": "every step",
        "first_cross_step": int(ti[L.TI_FIRST]),
        "n_eos_excursions": int(ti[L.TI_EXCURSIONS]),
        "n_period2_flips": int(ti[L.TI_FLIPS]),
        "n_anomalies": int(ti[L.TI_ANOMALIES]),
        "phase_steps": ti[L.TI_PHASE:L.TI_PHASE + L.NPHASE].astype(np.int64).copy(),
        "max_eta_sharpness": float(tf[L.TF_MAX_ES]),
        "loss_min": float(tf[L.TF_LOSS_MIN]),
        "loss_max": float(tf[L.TF_LOSS_MAX]),
        "steps_processed": int(ti[L.TI_STEPS]),
    }


def _summary_of_rows(pb) -> dict:
    nrow = pb.progress.rows
    rec = pb.rec[:nrow]
    eta = pb.params.eta
    above = rec[:, L.SHARP] > 2.0 / eta
    starts, lengths = runs(above)
    first = pb.rec_step[starts[0]] if starts.size else -1
    phase, anomaly = row_phases(rec[:, L.SHARP], rec[:, L.SHARP_NEXT], rec[:, L.A_NORM2],
                                rec[:, L.A_NEXT], eta)
    es = eta * rec[:, L.SHARP]
    finite = np.isfinite(es)
    return {
        "summaries_over": "recorded steps",
        "first_cross_step": int(first),
        "n_eos_excursions": int(np.sum(lengths >= 2)),
        "n_period2_flips": int(np.sum(lengths == 1)),
        "n_anomalies": int(anomaly.sum()),
        "phase_steps": np.bincount(phase, minlength=L.NPHASE).astype(np.int64),
        "max_eta_sharpness": float(es[finite].max()) if finite.any() else float("nan"),
        "loss_min": float(np.nanmin(rec[:, L.LOSS_MIN])) if nrow else float("nan"),
        "loss_max": float(np.nanmax(rec[:, L.LOSS_MAX])) if nrow else float("nan"),
        "steps_processed": int(pb.rec_step[nrow - 1] + 1) if nrow else 0,
    }


def runs(flags: np.ndarray):
    """Start indices and lengths of the maximal runs of True in ``flags``."""
    f = np.concatenate([[False], np.asarray(flags, dtype=bool), [False]])
    edges = np.flatnonzero(np.diff(f.astype(np.int8)))
    return edges[0::2], edges[1::2] - edges[0::2]


# --------------------------------------------------------------------------- from a dataset


def eos_crossings(ds: xr.Dataset) -> np.ndarray:
    """Recorded steps where the sharpness goes from <= 2/eta to > 2/eta (rows only)."""
    above = ds["eta_sharpness"].values > 2.0
    idx = np.flatnonzero(above[1:] & ~above[:-1]) + 1
    if above.size and above[0]:
        idx = np.concatenate([[0], idx])
    return ds["step"].values[idx]


def excursion_starts(ds: xr.Dataset) -> np.ndarray:
    """Recorded steps where a run of >= 2 consecutive recorded rows above 2/eta begins (at
    stride 1: the EoS excursions; period-2 flips are left out)."""
    starts, lengths = runs(ds["eta_sharpness"].values > 2.0)
    return ds["step"].values[starts[lengths >= 2]]


def summarize(ds: xr.Dataset) -> dict:
    """The run's summary, as ``eosdyn simulate`` prints it.

    Counts, the first crossing, ``max_eta_sharpness`` and the loss range are read from the
    attrs the kernels wrote (over every step, whatever the stride; ``summaries_over`` says so):

    ``first_cross_step``: first step with ``Lambda > 2/eta`` (None: never);
    ``n_eos_excursions``: runs of >= 2 consecutive steps above 2/eta (the sawtooth cycles);
    ``n_period2_flips``: single steps above 2/eta between steps below (period-2 flips);
    ``anomalies``: steps with ``sign(Delta Lambda) != sign(Delta ||A||^2)`` (not stationary);
    ``phases``: the paper's phases (1-4 = I-IV) that occurred; ``phase_steps``: steps per phase
    label, ``stationary`` included.
    """
    a = {**ds.attrs} if "phase_steps" in ds.attrs else {**ds.attrs, **_attrs_of_rows(ds)}
    es = ds["eta_sharpness"].values
    loss = ds["loss"].values
    phase_steps = np.asarray(a["phase_steps"]).astype(int)
    first = int(a["first_cross_step"])
    return {
        "engine": a["engine"],
        "m": int(a["m"]),
        "eta": float(a["eta"]),
        "steps": int(ds["step"].values[-1]) if ds["step"].size else 0,
        "initial_eta_sharpness": float(es[0]),
        "max_eta_sharpness": float(a["max_eta_sharpness"]),
        "first_cross_step": first if first >= 0 else None,
        "n_eos_excursions": int(a["n_eos_excursions"]),
        "n_period2_flips": int(a["n_period2_flips"]),
        "phases": [k for k in (1, 2, 3, 4) if phase_steps[k] > 0],
        "phase_steps": {PHASE_LABELS[k]: int(phase_steps[k]) for k in range(len(PHASE_LABELS))},
        "anomalies": int(a["n_anomalies"]),
        "initial_loss": float(loss[0]),
        "final_loss": float(loss[-1]),
        "min_loss": float(a["loss_min"]),
        "max_loss": float(a["loss_max"]),
        "summaries_over": str(a["summaries_over"]),
        "status": a["status"],
        "status_step": int(a["status_step"]),
        "message": a.get("status_message", ""),
        "wall_time": float(a["wall_time"]),
    }


def _attrs_of_rows(ds: xr.Dataset) -> dict:
    """Summary attrs from the recorded rows, for run files written before eosdyn kept them."""
    above = ds["eta_sharpness"].values > 2.0
    starts, lengths = runs(above)
    phase = np.clip(ds["phase"].values.astype(int), 0, L.NPHASE - 1)
    es = ds["eta_sharpness"].values
    finite = np.isfinite(es)
    return {
        "summaries_over": "recorded steps",
        "first_cross_step": int(ds["step"].values[starts[0]]) if starts.size else -1,
        "n_eos_excursions": int(np.sum(lengths >= 2)),
        "n_period2_flips": int(np.sum(lengths == 1)),
        "n_anomalies": int(ds["anomaly"].values.sum()),
        "phase_steps": np.bincount(phase, minlength=L.NPHASE),
        "max_eta_sharpness": float(es[finite].max()) if finite.any() else float("nan"),
        "loss_min": float(np.nanmin(ds["loss_window_min"].values)),
        "loss_max": float(np.nanmax(ds["loss_window_max"].values)),
    }
