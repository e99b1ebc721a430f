"""The engine contract: what every engine is built from, what it must do, what it declares.

A run is a :class:`Problem` (parameters, data, initial state, and the arrays the kernels record
into) advanced by an :class:`Engine`. :data:`eosdyn.engines.METHODS` maps ``engine`` names to
engine classes; :func:`eosdyn.api.run_problem` drives any of them the same way::

    engine = METHODS[params.engine](problem)
    while not problem.progress.done:
        engine.advance(t, t_next)            # steps [t, t_next): record rows, detect the stop
        t = problem.progress.next_step
    ds = to_dataset(problem, engine.final(), wall)
    ds = engine.finish(ds)                   # engine-specific attrs / variables

**What an engine must do.**

* ``__init__(problem)``: build its state from ``problem.init`` (statistics ``(a, u, G)``) or,
  if it ``needs_parameters``, from ``problem.A``, ``problem.W``. No stepping here.
* ``advance(t0, t1)``: process steps ``t0 <= t < t1`` in order, through the ONE recording loop
  :func:`eosdyn.kernels.record_numba.run` (the state as a namedtuple *model* with five registered
  hooks: classify, diagnose, gram, step, copy). The loop writes rows into ``problem.rec`` (layout
  :mod:`eosdyn.kernels.layout`) at the recorded steps, runs the per-step edge tracker
  (:mod:`eosdyn.kernels.edge_numba`) over *every* step, and updates ``problem.progress``. It
  stops early at the step where the run stops (converged / diverged / ``steps``). Any chunking
  gives bit-identical results. An engine that is not a step-by-step numba map (e.g. the flow,
  or a JAX network) produces its states at integer steps and feeds them to the same loop as a
  model whose ``step`` moves to the next precomputed state (see :mod:`.flow`).
* ``current()``: the statistics ``(a, u, G)`` of the state the engine sits on
  (``progress.next_step``), without disturbing it; ``final()``: the same at the end.
* ``finish(ds)``: add engine-specific attrs/variables (default: none).

**What an engine declares** (class attributes, read instead of ``hasattr`` probes):

``name``
    The key in ``METHODS``.
``exact``
    The engine's trajectory is exact GD on the network (up to float64 rounding).
``truncation``
    ``None`` for exact GD; otherwise what was dropped or changed: ``"first-order"`` (the
    ``eta^2`` terms of the map, the paper's Assumption 3.2), ``"flow"`` (the continuous-time
    limit), or a new engine's own word.
``needs_parameters``
    Advances the parameters ``(A, W)`` themselves (memory ``O(m d)``), not ``(a, u, G)``.
``supports_hessian``
    ``hessian=True`` can record the loss Hessian's top eigenvalue for it.
``replayable``
    Its states can be regenerated bit for bit from the saved initial statistics by
    :mod:`eosdyn.analysis.replay` (the reduced GD maps).
``records_hessian``
    Records ``sharpness_hessian`` itself with ``hessian=True`` (no
    :class:`~eosdyn.analysis.hessian.HessianRecorder` around it).
``supports_lyapunov``, ``supports_scan``
    Its map has a tangent kernel / runs as cells of :mod:`eosdyn.analysis.scan` and
    bifurcation diagrams.
``tracks_every_step``
    It passes every step through the recording loop's per-step edge tracker, so its summaries
    cover every step (:meth:`Engine.per_step_tracking` refines this per parameter set, e.g. an
    optimizer whose edge is on a sharpness known only at recorded rows). Engines that produce
    only their recorded states (the JAX ``network`` engine) declare False.

Per-step tracking (phases, anomalies, excursions, flips and the run's summaries over every step)
costs one inertia test and one warm eigenvalue per step; it is on when the engine declares it
and the data's rank is at most :data:`TRACK_MAX_RANK` (else rows get phases from their own
``Lambda(t)``, ``Lambda(t+1)`` and the summaries cover the recorded steps only; the attr
``summaries_over`` says which). "Above" means above the run's edge: ``2/eta`` for GD, the
optimizer's edge otherwise (:func:`eosdyn.optim.run_edge`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..kernels import edge_numba
from ..kernels import layout as L
from ..kernels.record_numba import Control, Record
from ..model.data import SpectralData
from ..model.init import Statistics
from ..model.params import Params
from ..optim import run_edge
from ..status import Status

#: per-step tracking runs up to this rank (its cost grows as r^3 per step)
TRACK_MAX_RANK = 64


class Progress:
    """Where a run stands: a named view of the int64 array the kernels update in place
    (layout ``P_*`` of :mod:`eosdyn.kernels.layout`)."""

    def __init__(self):
        self.array = np.array([L.NOT_RUN, -1, 0, 0], dtype=np.int64)

    @property
    def status(self) -> Status:
        return Status(int(self.array[L.P_CODE]))

    @property
    def done(self) -> bool:
        """The run has stopped (``status`` is not ``NOT_RUN``)."""
        return int(self.array[L.P_CODE]) != L.NOT_RUN

    @property
    def stop_step(self) -> int:
        """The step at which the run stopped (-1 while running)."""
        return int(self.array[L.P_STEP])

    @property
    def rows(self) -> int:
        """Rows written so far."""
        return int(self.array[L.P_ROWS])

    @property
    def next_step(self) -> int:
        """The next step to process (after a stop: the stop step)."""
        return int(self.array[L.P_NEXT])

    def stop(self, status: Status, step: int) -> None:
        """Record a stop decided outside the kernels."""
        self.array[L.P_CODE], self.array[L.P_STEP], self.array[L.P_NEXT] = int(status), step, step

    def __repr__(self) -> str:
        return (f"Progress(status={self.status.label}, stop_step={self.stop_step}, rows={self.rows}, "
                f"next_step={self.next_step})")


@dataclass(eq=False)
class Problem:
    """What an engine needs: parameters, data, the initial state (statistics, and parameters
    A, W when they were materialised), and the arrays the kernels record into."""

    params: Params
    data: SpectralData
    init: Statistics
    A: np.ndarray | None
    W: np.ndarray | None
    rec: np.ndarray
    rec_step: np.ndarray
    progress: Progress
    carry: np.ndarray
    track_f: np.ndarray
    track_i: np.ndarray
    track: bool = True

    @classmethod
    def create(cls, params, data, init, A=None, W=None, track: bool | None = None):
        """Fresh record arrays for ``params`` (rows: every ``stride``-th step, ``steps`` and the
        stop); ``track`` defaults to ``rank <= TRACK_MAX_RANK``."""
        rows = params.steps // params.stride + 2
        carry = np.zeros(L.NCARRY)
        carry[L.C_WMIN], carry[L.C_WMAX] = np.inf, -np.inf
        tf, ti = edge_numba.track_arrays()
        track = data.rank <= TRACK_MAX_RANK if track is None else bool(track)
        return cls(
            params, data, init, A, W,
            rec=np.full((rows, L.NCOL), np.nan), rec_step=np.zeros(rows, dtype=np.int64),
            progress=Progress(), carry=carry, track_f=tf, track_i=ti, track=track,
        )

    @property
    def record(self) -> Record:
        """The output bundle of :func:`eosdyn.kernels.record_numba.run`."""
        return Record(self.rec, self.rec_step, self.carry, self.progress.array, self.track_f, self.track_i)

    def control(self, t0: int, t1: int) -> Control:
        """The control bundle of :func:`eosdyn.kernels.record_numba.run` for steps ``[t0, t1)``
        (``sigma``: the run's edge, ``2/eta`` for GD)."""
        p = self.params
        return Control(int(t0), int(t1), int(p.steps), int(p.stride), float(p.loss_tol),
                       float(p.max_loss), float(p.eta), float(self.edge), bool(self.track))

    @property
    def edge(self) -> float:
        """The run's edge of stability: ``2/eta`` for GD, the optimizer's otherwise."""
        return run_edge(self.params)


class Engine:
    """Base class of the engines (see the module docstring for the contract)."""

    name: ClassVar[str] = ""
    exact: ClassVar[bool] = False
    truncation: ClassVar[str | None] = None
    needs_parameters: ClassVar[bool] = False
    supports_hessian: ClassVar[bool] = False
    records_hessian: ClassVar[bool] = False
    replayable: ClassVar[bool] = False
    supports_lyapunov: ClassVar[bool] = False
    supports_scan: ClassVar[bool] = False
    tracks_every_step: ClassVar[bool] = True

    def __init__(self, pb: Problem):
        self.pb = pb

    def advance(self, t0: int, t1: int) -> None:
        raise NotImplementedError

    def current(self) -> Statistics:
        raise NotImplementedError

    def final(self) -> Statistics:
        return self.current()

    def finish(self, ds):
        return ds

    @classmethod
    def per_step_tracking(cls, params) -> bool:
        """Whether runs with ``params`` go through the per-step edge tracker (default:
        :attr:`tracks_every_step`)."""
        return cls.tracks_every_step

    @classmethod
    def capabilities(cls) -> dict:
        """The declared capabilities, by name."""
        keys = ("exact", "truncation", "needs_parameters", "supports_hessian", "records_hessian",
                "replayable", "supports_lyapunov", "supports_scan", "tracks_every_step")
        return {k: getattr(cls, k) for k in keys}
