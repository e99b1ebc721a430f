"""What every engine is built from: the :class:`Problem` (parameters, data, initial state, record arrays).

An engine is built from a :class:`Problem` and exposes ``advance(t0, t1)`` (run the kernel over
steps ``[t0, t1)``, recording into the problem's shared arrays) and ``final()`` (the reduced
statistics of the current state). :data:`eosdyn.engines.METHODS` maps ``engine`` names to them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..kernels import layout as L
from ..model.data import SpectralData
from ..model.init import Statistics
from ..model.params import Params


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
    status: np.ndarray
    carry: np.ndarray

    @classmethod
    def create(cls, params, data, init, A=None, W=None):
        every = params.stride
        rows = params.steps // every + 2
        carry = np.zeros(L.NCARRY)
        carry[L.C_WMIN], carry[L.C_WMAX] = np.inf, -np.inf
        return cls(
            params, data, init, A, W,
            rec=np.full((rows, L.NCOL), np.nan), rec_step=np.zeros(rows, dtype=np.int64),
            status=np.array([-1, -1, 0, 0], dtype=np.int64), carry=carry,
        )
