"""Column layout of the per-step record array shared by every engine's kernel.

A kernel writes one row per recorded step into ``rec[row, col]`` (float64). Columns
``0..NDIAG-1`` are the diagnostics of the state at that step; ``SHARP_NEXT`` and ``A_NEXT``
hold ``Lambda`` and ``||A||^2`` one step later (the forward differences that phases and
anomalies are defined by); ``LOSS_MIN``/``LOSS_MAX`` are the loss extremes over the steps
since the previous recorded row (inclusive of this one).
"""

LOSS = 0
SHARP = 1
LAM2 = 2
SHARP_MA = 3
SHARP_MW = 4
SHARP_MSTAR = 5
A_NORM2 = 6
DTF = 7
DV1 = 8
R_NORM2 = 9
NDIAG = 10
SHARP_NEXT = 10
A_NEXT = 11
LOSS_MIN = 12
LOSS_MAX = 13
NCOL = 14

# status codes written by kernels
MAX_STEPS = 0
CONVERGED = 1
DIVERGED = 2
STATUS_NAMES = {MAX_STEPS: "max_steps", CONVERGED: "converged", DIVERGED: "diverged"}

# carry[] slots (kernel loop state kept between chunked calls)
C_HAVE = 0  # 1.0 when carry[C_DIAG:] holds the diagnostics of the current state
C_WMIN = 1
C_WMAX = 2
C_DIAG = 3
NCARRY = C_DIAG + NDIAG
