"""The paper's assumptions and results as executable checks on one trajectory.

:func:`run_checks` takes a run (an :class:`xarray.Dataset` from :func:`eosdyn.simulate` or a
saved file) and returns one :class:`Row` per statement of Li, Wang & Li (2022): whether it holds
on this trajectory, the measured figure, and the steps where it fails. Every check is a pure
function of the run (its recorded diagnostics) and of per-step series that a saved run does not
keep (``v_1(t)`` for ``eps_2``, ``R'(t)``, consecutive steps of a strided run), which are
recomputed by replaying the run from its initial statistics (:mod:`eosdyn.analysis.replay`; the runs are
deterministic). Each row says which it used (``source``: ``run`` or ``replay``).

Conventions (the paper's, Sections 3-4): ``Lambda = lambda_max(M)``, ``D = F - Y``,
``v_1`` the top eigenvector of ``M``, ``R = (I - v_1 v_1^T) D``, forward differences
``Delta x(t) = x(t+1) - x(t)``; ``||Y||^2 = ||z||^2 + ||Y_perp||^2``. Exact statements are
checked with a rounding allowance of a few ulps of the quantities compared; statements with
unspecified constants are checked against the documented, adjustable thresholds of
:class:`CheckOptions`, or, where the paper asserts that a constant exists (Theorem 2's ``rho``),
with the smallest constant for which the statement holds on the run. Every row carries the
paper's wording and eosdyn's operational reading of it (:data:`WORDING`).
"""

from __future__ import annotations

import warnings

import numpy as np
import xarray as xr

from ...model.params import FLOW_ENGINES
from .core import CheckOptions, Context, Report, Row, _fmt, _replay_fidelity, context, gd_flow_distance
from .statements import CHECKS, GD_STEP
from .wording import WORDING, attach

__all__ = ["CHECKS", "GD_STEP", "WORDING", "CheckOptions", "Context", "Report", "Row", "context",
           "gd_flow_distance", "run_checks"]


def run_checks(ds: xr.Dataset, options: CheckOptions | None = None, progress=None) -> Report:
    """Check every statement of :data:`CHECKS` on the run ``ds``; see the module docstring."""
    opts = options or CheckOptions()
    from ...nets.check import is_network_run

    if is_network_run(ds):  # no two-layer replay: checked on its own series (eosdyn.nets.check)
        from ...nets.check import run_checks as run_network_checks

        return run_network_checks(ds, opts)
    from ...optim import check as optim_check  # other optimizers: their edge, the paper's rows n/a

    if optim_check.applies(ds):
        return optim_check.report(ds, opts, CHECKS)
    c = context(ds, opts, progress=progress)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)   # all-NaN slices of diverged runs
        rows = [check(c) for check in CHECKS]
    if ds.attrs["engine"] in FLOW_ENGINES:
        rows = [Row(r.key, r.statement, None, "n/a: a statement about GD steps; the run is a flow",
                    source=r.source) if r.key in GD_STEP else r for r in rows]
    attach(rows, opts)
    a = ds.attrs
    T = int(c.P["step"][-1])
    fid = _replay_fidelity(c)
    notes = [f"per-step series replayed from the initial statistics over steps 0..{T}"
             + (f" (of {int(c.steps[-1])}; max_replay)" if T < int(c.steps[-1]) else "")
             + f"; replayed Λ vs the run's: max relative difference {_fmt(fid, 2)}"]
    if a["engine"] == "full":
        notes.append("engine full: the replay uses the exact reduced map (equal to parameter-space "
                     "GD up to rounding, which chaotic EoS dynamics can amplify)")
    if not fid <= 1e-6:
        notes.append(f"the replay departs from the file (Λ by up to {_fmt(100 * fid, 2)}%: rounding "
                     "amplified by chaotic dynamics, or a run from another eosdyn version); rows "
                     "from 'replay' describe the replayed trajectory")
    if a["engine"] in FLOW_ENGINES:
        notes.append(f"the run is a flow ({a['engine']}) sampled at t·η: statements about single GD "
                     "steps (" + ", ".join(GD_STEP) + ") do not apply")
    if int(a.get("record_every", 1)) > 1:
        notes.append(f"recorded every {a['record_every']} steps: rows from 'run' use the recorded "
                     "steps (phases and anomalies are exact there)")
    run = {"engine": a["engine"], "m": a["m"], "eta": a["eta"], "n": a["n"], "rank": c.r,
           "steps": int(c.steps[-1]), "status": a["status"], "replayed_steps": T + 1,
           "replay_fidelity": fid}
    return Report(rows, run, notes, opts)
