"""Numbers that summarise a run: computed by the kernels over every step, read back by name.

The recording loop's edge tracker (:mod:`eosdyn.kernels.edge_numba`) classifies every step,
recorded or not; :func:`summary_attrs` turns its counters into run attrs and
:func:`row_variables` its per-row windows into variables, so that :func:`summarize` reads
numbers that do not depend on how the run was recorded. When per-step tracking is off (ranks
above :data:`eosdyn.engines.base.TRACK_MAX_RANK`, engines that produce only their recorded
states, optimizers whose edge is on a sharpness known only at recorded rows) the same names are
computed from the recorded rows and the attr ``summaries_over`` says ``"recorded steps"``.

"Above" is always above the run's edge (attr ``edge``): ``2/eta`` on ``Lambda`` for GD, the
optimizer's edge on its relevant sharpness otherwise (:mod:`eosdyn.optim`; ``edge_ratio > 1``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..kernels import layout as L
from .summary_table import Summary, optional_summaries

if TYPE_CHECKING:  # xarray loads on first use (it costs ~0.5 s; the CLI imports it while kernels run)
    import xarray as xr

#: names of the phase codes (index = code), as in :data:`eosdyn.io.schema.VARIABLES` ``phase``
PHASE_LABELS = ("unknown", "I", "II", "III", "IV", "stationary")


# --------------------------------------------------------------------------- from the kernels


def row_phases(x: np.ndarray, x_next: np.ndarray, a: np.ndarray, a_next: np.ndarray, edge: float):
    """Phase codes and anomaly flags of steps from a sharpness ``x`` (``Lambda``, or the
    optimizer's relevant one) and ``||A||^2`` at ``t`` and ``t + 1``, against ``edge`` (the
    tracker's rule, for rows of an untracked run)."""
    dx = x_next - x
    rising = dx > 0
    with np.errstate(invalid="ignore"):
        above = x > edge
        phase = np.where(above, np.where(rising, L.PH_II, L.PH_III), np.where(rising, L.PH_I, L.PH_IV))
        stationary = np.abs(dx) <= L.STATIONARY_RTOL * edge
    phase = np.where(stationary, L.PH_STATIONARY, phase).astype(np.int8)
    phase[~(np.isfinite(dx) & np.isfinite(x))] = L.PH_UNKNOWN
    da = a_next - a
    anomaly = (np.sign(dx) != np.sign(da)) & np.isfinite(dx) & np.isfinite(da) & ~stationary
    return phase, anomaly


def untracked_rows(nrow: int) -> dict:
    """The per-row window variables of a run without per-step tracking (NaN / -1)."""
    return {
        "window_phase_fraction": np.full((nrow, L.NPHASE), np.nan),
        "window_flips": np.full(nrow, -1, dtype=np.int64),
        "window_anomalies": np.full(nrow, -1, dtype=np.int64),
    }


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
                                rec[:, L.A_NEXT], pb.edge)
    return {"phase": phase, "anomaly": anomaly, "window_steps": window, **untracked_rows(nrow)}


def summary_attrs(pb) -> dict:
    """The run's summaries as netCDF-safe attrs (see :data:`eosdyn.io.schema.SUMMARY_ATTRS`)."""
    if not pb.track:
        nrow = pb.progress.rows
        rec = pb.rec[:nrow]
        phase, anomaly = row_phases(rec[:, L.SHARP], rec[:, L.SHARP_NEXT], rec[:, L.A_NORM2],
                                    rec[:, L.A_NEXT], pb.edge)
        with np.errstate(invalid="ignore"):
            above = rec[:, L.SHARP] > pb.edge
        return summaries_of_rows(pb.rec_step[:nrow], above, phase, anomaly,
                                 pb.params.eta * rec[:, L.SHARP], rec[:, L.LOSS_MIN], rec[:, L.LOSS_MAX],
                                 ratio=rec[:, L.SHARP] / pb.edge)
    tf, ti = pb.track_f, pb.track_i
    nrow = pb.progress.rows
    if nrow and pb.rec_step[nrow - 1] == pb.params.steps:  # the tracker's window is the run's second half
        late = float(tf[L.TF_LATE_SUM] / ti[L.TI_LATE] / pb.edge) if ti[L.TI_LATE] else float("nan")
    else:  # stopped early: its second half is known only now, from the recorded rows
        late = late_mean(pb.rec_step[:nrow], pb.rec[:nrow, L.SHARP] / pb.edge)
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
        "late_edge_ratio": late,
    }


def summaries_of_rows(steps, above, phase, anomaly, eta_sharpness, loss_min, loss_max, ratio=None) -> dict:
    """The summary attrs from recorded rows only (``summaries_over = "recorded steps"``):
    ``above`` per row (the relevant sharpness above the run's edge); ``phase``, ``anomaly`` per
    row; the loss window extremes of the rows; ``ratio`` per row (relevant sharpness / edge) for
    ``late_edge_ratio`` (:func:`late_mean`)."""
    starts, lengths = runs(above)
    es = np.asarray(eta_sharpness)
    finite = np.isfinite(es)
    n = len(steps)
    return {
        "summaries_over": "recorded steps",
        "first_cross_step": int(steps[starts[0]]) if starts.size else -1,
        "n_eos_excursions": int(np.sum(lengths >= 2)),
        "n_period2_flips": int(np.sum(lengths == 1)),
        "n_anomalies": int(np.asarray(anomaly).sum()),
        "phase_steps": np.bincount(np.clip(np.asarray(phase, dtype=np.int64), 0, L.NPHASE - 1),
                                   minlength=L.NPHASE).astype(np.int64),
        "max_eta_sharpness": float(es[finite].max()) if finite.any() else float("nan"),
        "loss_min": float(np.nanmin(loss_min)) if n and np.isfinite(loss_min).any() else float("nan"),
        "loss_max": float(np.nanmax(loss_max)) if n and np.isfinite(loss_max).any() else float("nan"),
        "steps_processed": int(steps[-1] + 1) if n else 0,
        "late_edge_ratio": late_mean(steps, ratio) if ratio is not None else float("nan"),
    }


def late_mean(steps, ratio) -> float:
    """Mean of the finite ``ratio`` over the rows of the run's second half, steps ``ceil(T/2) .. T``
    with ``T`` the last row's step (NaN when none): the recorded-rows reading of the tracker's
    ``late_edge_ratio``."""
    steps, ratio = np.asarray(steps), np.asarray(ratio, dtype=float)
    if not steps.size:
        return float("nan")
    x = ratio[(steps >= (int(steps[-1]) + 1) // 2) & np.isfinite(ratio)]
    return float(np.mean(x)) if x.size else float("nan")


def runs(flags: np.ndarray):
    """Start indices and lengths of the maximal runs of True in ``flags``."""
    f = np.concatenate([[False], np.asarray(flags, dtype=bool), [False]])
    edges = np.flatnonzero(np.diff(f.astype(np.int8)))
    return edges[0::2], edges[1::2] - edges[0::2]


# --------------------------------------------------------------------------- from a dataset


def above_edge(ds: xr.Dataset) -> np.ndarray:
    """Per recorded row: the run is above its edge (``eta Lambda > 2`` for GD; the optimizer's
    relevant sharpness over its edge, ``edge_ratio > 1``, otherwise)."""
    if plain_gd(ds) or "edge_ratio" not in ds:
        return ds["eta_sharpness"].values > 2.0
    with np.errstate(invalid="ignore"):
        return ds["edge_ratio"].values > 1.0


def plain_gd(ds: xr.Dataset) -> bool:
    """Full-batch GD, whose edge is ``2/eta`` on ``Lambda``."""
    return ds.attrs.get("optimizer", "gd") == "gd" and ds.attrs.get("edge_sharpness", "sharpness") == "sharpness"


def eos_crossings(ds: xr.Dataset) -> np.ndarray:
    """Recorded steps where the run goes from at or below its edge to above it (rows only;
    ``Lambda`` against ``2/eta`` for GD, ``edge_ratio > 1`` for other optimizers)."""
    above = above_edge(ds)
    idx = np.flatnonzero(above[1:] & ~above[:-1]) + 1
    if above.size and above[0]:
        idx = np.concatenate([[0], idx])
    return ds["step"].values[idx]


def excursion_starts(ds: xr.Dataset) -> np.ndarray:
    """Recorded steps where a run of >= 2 consecutive recorded rows above the edge begins (at
    stride 1: the EoS excursions; period-2 flips are left out)."""
    starts, lengths = runs(above_edge(ds))
    return ds["step"].values[starts[lengths >= 2]]


def summarize(ds: xr.Dataset) -> Summary:
    """The run's summary, as ``eosdyn simulate`` prints it (:class:`Summary`: a JSON-serialisable
    dict whose ``str()`` is the table).

    Counts, the first crossing, ``max_eta_sharpness`` and the loss range are read from the
    attrs the kernels wrote (over every step, whatever the stride; ``summaries_over`` says so):

    ``first_cross_step``: first step above the run's edge (``Lambda > 2/eta`` for GD; None: never);
    ``n_eos_excursions``: runs of >= 2 consecutive steps above the edge (the sawtooth cycles);
    ``n_period2_flips``: single steps above the edge between steps below (period-2 flips);
    ``anomalies``: steps with ``sign(Delta Lambda) != sign(Delta ||A||^2)`` (not stationary);
    ``phases``: the paper's phases (1-4 = I-IV) that occurred; ``phase_steps``: steps per phase
    label, ``stationary`` included. Other optimizers add their edge (:func:`edge_summary`).
    """
    a = {**ds.attrs} if "phase_steps" in ds.attrs else {**ds.attrs, **_attrs_of_rows(ds)}
    es = ds["eta_sharpness"].values
    loss = ds["loss"].values
    phase_steps = np.asarray(a["phase_steps"]).astype(int)
    first = int(a["first_cross_step"])
    return Summary({
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
    } | edge_summary(ds) | optional_summaries(ds))


def _attrs_of_rows(ds: xr.Dataset) -> dict:
    """Summary attrs from the recorded rows, for run files written before eosdyn kept them."""
    return summaries_of_rows(ds["step"].values, above_edge(ds), ds["phase"].values, ds["anomaly"].values,
                             ds["eta_sharpness"].values, ds["loss_window_min"].values,
                             ds["loss_window_max"].values)


def late_edge_ratio(ds: xr.Dataset) -> float:
    """Late-time mean of (relevant sharpness) / edge over the run's second half, the steps
    ``ceil(T/2) .. T`` of a run that ended at step ``T``.

    Read from the attr the kernels wrote: over every step when the run was tracked step by step
    (``summaries_over = "every step"``) and reached its planned steps, so the same at any
    recording stride; over the recorded rows of that window otherwise (a run that stopped early,
    or an untracked one). Files written before eosdyn kept the attr get the rows' reading."""
    if "late_edge_ratio" in ds.attrs:
        return float(ds.attrs["late_edge_ratio"])
    if "edge_ratio" not in ds or not ds["step"].size:
        return float("nan")
    return late_mean(ds["step"].values, ds["edge_ratio"].values)


def edge_summary(ds: xr.Dataset) -> dict:
    """The optimizer, its edge, which sharpness is compared with it, and the late-time ratio."""
    a = ds.attrs
    return {"optimizer": a.get("optimizer", "gd"), "edge": float(a.get("edge", 2.0 / float(a["eta"]))),
            "edge_sharpness": a.get("edge_sharpness", "sharpness"), "late_edge_ratio": late_edge_ratio(ds)}
