"""Parameter scans: a cartesian grid of runs of the reduced engines, resumable, parallel, on Dask.

A scan is a :class:`ScanSpec`: a base :class:`~eosdyn.model.params.Params`, one :class:`Axis` per
scanned parameter (``eta``, ``m``, ``seed``, ``init_scale``, ``lambda_max``, ...) and
:class:`ScanOptions`. Its cells (one run each) are grouped into fixed rectangular *blocks* of
the grid (the zarr chunks); a block is the unit of work, computed by :func:`compute_block` as
one call of :func:`eosdyn.kernels.batch_numba.run_cells`. Blocks depend only on the spec, never
on the number of workers, so every backend (serial, threads, processes, Dask) and any resumed
scan produce bitwise the same dataset.

The output (:func:`scan` writes it to zarr, one chunk per block) has one dimension per axis
(plus ``step`` for the strided trajectories) and the per-cell summaries ``status``,
``status_step``, ``first_cross_step``, ``n_eos_excursions``, ``n_period2_flips``,
``initial_eta_sharpness``, ``final_eta_sharpness``, ``max_loss``, ``final_loss``, ``tail_min_eta_sharpness``,
``tail_max_eta_sharpness``, ``phase`` (and ``lyapunov`` on request).

Resuming: every block's variables are written chunk by chunk (each chunk file atomically, by
zarr's temporary file + rename: zarr 2, and zarr 3 from 3.1.3, the versions setup.cfg allows)
and its ``status`` chunk last, so a block whose ``status`` is set was written completely; a
rerun recomputes exactly the blocks that are not (a ``status`` chunk that cannot be decoded
counts as not written). Ctrl-C stops after the blocks already written
(:class:`~eosdyn.errors.Interrupted` says how many).
"""

from .backends import default_workers, iter_blocks, resolve_backend, run_scan, scan
from .cells import block_variables, cell_inputs, cell_state, classify, compute_block, run_batch, tangent_start
from .grid import (
    BACKENDS,
    INTEGER,
    NOT_RUN,
    PHASES,
    SCANNABLE,
    STATUS_NAMES,
    Axis,
    ScanOptions,
    ScanSpec,
    load_scan_scenario,
    make_spec,
    parse_axis,
    parse_values,
)
from .store import (
    SUMMARY_DOCS,
    TRAJ_DOCS,
    blocks_done,
    open_scan,
    open_store,
    same_scan,
    scan_attrs,
    scan_summary,
    template,
)

__all__ = [
    "BACKENDS", "INTEGER", "NOT_RUN", "PHASES", "SCANNABLE", "STATUS_NAMES", "SUMMARY_DOCS", "TRAJ_DOCS", "Axis",
    "ScanOptions", "ScanSpec", "block_variables", "blocks_done", "cell_inputs", "cell_state", "classify",
    "compute_block", "default_workers", "iter_blocks", "load_scan_scenario", "make_spec", "open_scan", "open_store",
    "parse_axis", "parse_values", "resolve_backend", "run_batch", "run_scan", "same_scan", "scan", "scan_attrs",
    "scan_summary",
    "tangent_start", "template",
]
