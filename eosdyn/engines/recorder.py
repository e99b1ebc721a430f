"""Measure something extra at every recorded step of a run, without touching the kernels.

:class:`RowRecorder` wraps an engine and drives it with ``advance(t, t_rec)`` so that the
engine's state sits exactly at each recorded step ``t_rec``; there it calls ``measure(engine)``
and stores the result against the row the kernel is about to write. The run itself is
bit-identical to an unwrapped one (the kernels are called on the same steps in the same order;
only the chunk boundaries move, and the kernels' results do not depend on them).
"""

from __future__ import annotations

import numpy as np

from ..model.init import Statistics


def current_statistics(engine) -> Statistics:
    """The m-independent state ``(a, u, G)`` the engine sits on, without disturbing it."""
    return engine.current()


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
        # transparent for everything else (capabilities, A, W, current, ...), so that
        # recorders can be stacked
        if name == "engine":
            raise AttributeError(name)
        return getattr(self.engine, name)

    def advance(self, t0: int, t1: int) -> None:
        p, prog = self.pb.params, self.pb.progress
        every, t = p.stride, t0
        while t < t1 and not prog.done:
            nxt = min(-(-t // every) * every, p.steps)
            if nxt >= t1:
                self.engine.advance(t, t1)
                break
            self.engine.advance(t, nxt)
            if prog.done:
                break
            self._fill(prog.rows)
            self.engine.advance(nxt, nxt + 1)
            t = nxt + 1
        if prog.done and prog.rows > 0 and not self.filled[prog.rows - 1]:
            self._fill(prog.rows - 1)

    def _fill(self, row: int) -> None:
        self.values[row] = self.measure(self.engine)
        self.filled[row] = True

    def final(self):
        return self.engine.final()

    def finish(self, ds):
        inner = getattr(self.engine, "finish", None)
        return ds if inner is None else inner(ds)
