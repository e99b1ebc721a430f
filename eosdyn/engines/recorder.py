"""Measure something extra at every recorded step of a run, without touching the kernels.

:class:`RowRecorder` wraps an engine and drives it with ``advance(t, t_rec)`` so that the
engine's state sits exactly at each recorded step ``t_rec``; there it calls ``measure(engine)``
and stores the result against the row the kernel is about to write. The run itself is
bit-identical to an unwrapped one (the kernels are called on the same steps in the same order;
only the chunk boundaries move, and the kernels' results do not depend on them).
"""

from __future__ import annotations

import numpy as np

from ..kernels import full_numba
from ..model.init import Statistics


def current_statistics(engine) -> Statistics:
    """The m-independent state ``(a, u, G)`` the engine sits on, without disturbing it."""
    if hasattr(engine, "current"):
        return engine.current()
    if getattr(engine, "needs_parameters", False):   # full: from the kernel's running h, Ghat
        r = engine.U.shape[1]
        u, G = np.zeros(r), np.zeros((r, r))
        full_numba.stats(engine.h, engine.Ghat, engine.U, engine.W.shape[0], u, G)
        return Statistics(float(engine.state[0]), u, G)
    return engine.final()


class RowRecorder:
    """Drive ``engine`` row by row; ``values[k]`` = ``measure(engine)`` at recorded row ``k``."""

    def __init__(self, engine, measure, width: int = 1):
        self.engine = engine
        self.pb = engine.pb
        self.measure = measure
        nrow = self.pb.rec.shape[0]
        self.values = np.full((nrow, width), np.nan)
        self.filled = np.zeros(nrow, dtype=bool)

    def __getattr__(self, name):
        # transparent for everything else (needs_parameters, A, W, current, ...), so that
        # recorders can be stacked
        if name == "engine":
            raise AttributeError(name)
        return getattr(self.engine, name)

    def advance(self, t0: int, t1: int) -> None:
        p, st = self.pb.params, self.pb.status
        every, t = p.stride, t0
        while t < t1 and st[0] < 0:
            nxt = min(-(-t // every) * every, p.steps)
            if nxt >= t1:
                self.engine.advance(t, t1)
                break
            self.engine.advance(t, nxt)
            if st[0] >= 0:
                break
            self._fill(int(st[2]))
            self.engine.advance(nxt, nxt + 1)
            t = nxt + 1
        if st[0] >= 0 and st[2] > 0 and not self.filled[st[2] - 1]:
            self._fill(int(st[2]) - 1)

    def _fill(self, row: int) -> None:
        self.values[row] = self.measure(self.engine)
        self.filled[row] = True

    def final(self):
        return self.engine.final()

    def finish(self, ds):
        inner = getattr(self.engine, "finish", None)
        return ds if inner is None else inner(ds)
