"""Layout of the arrays the recording loop (:mod:`.record_numba`) shares with Python.

Plain integer constants, so numba folds them; the Python side reads the arrays through the
named views of :mod:`eosdyn.engines.base` (``Progress``) and :func:`eosdyn.api.to_dataset`.

``rec[row, col]`` (float64), one row per recorded step ``t``:

* ``0..NDIAG-1``: the diagnostics of the state at ``t``;
* ``SHARP_NEXT``, ``A_NEXT``: ``Lambda`` and ``||A||^2`` at ``t + 1`` (NaN after a divergence);
* ``LOSS_MIN``, ``LOSS_MAX``: loss extremes over the row's *window*, the steps since the
  previous recorded row (this one included);
* ``PHASE``, ``ANOMALY``: the per-step classification (:mod:`.edge_numba`) of step ``t``;
* ``W_STEPS``, ``W_PHASE + k`` (k = 0..NPHASE-1), ``W_FLIPS``, ``W_ANOMALIES``: how many steps
  of the window there were, how many had phase code ``k``, how many period-2 flips and
  anomalies the window held. Windows partition the processed steps, so these sum to the
  run's totals whatever the stride.
"""

from ..status import Status

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
PHASE = 14
ANOMALY = 15
W_STEPS = 16
W_PHASE = 17
NPHASE = 6          # phase codes 0 (unknown), 1-4 (I-IV), 5 (stationary)
W_FLIPS = W_PHASE + NPHASE
W_ANOMALIES = W_FLIPS + 1
NCOL = W_ANOMALIES + 1

# phase codes (the paper's Section 3.1, plus two of eosdyn's)
PH_UNKNOWN = 0      # Lambda(t) or Lambda(t+1) not known (no step t+1 after a divergence)
PH_I = 1            # below 2/eta, rising
PH_II = 2           # above 2/eta, rising
PH_III = 3          # above 2/eta, falling
PH_IV = 4           # below 2/eta, falling
PH_STATIONARY = 5   # |Lambda(t+1) - Lambda(t)| <= STATIONARY_RTOL * 2/eta
#: relative tolerance of "stationary", in units of the edge 2/eta: at that rate the sharpness
#: needs more than 1e9 steps to move by 2/eta; rounding of Lambda is ~1e-15 of it
STATIONARY_RTOL = 1e-9

# status codes written by kernels (the enumeration is eosdyn.status.Status)
NOT_RUN = int(Status.NOT_RUN)
MAX_STEPS = int(Status.MAX_STEPS)
CONVERGED = int(Status.CONVERGED)
DIVERGED = int(Status.DIVERGED)

# progress[] (int64): where a run stands; named view eosdyn.engines.base.Progress
P_CODE = 0          # status code, NOT_RUN while running
P_STEP = 1          # step at which it stopped (-1 while running)
P_ROWS = 2          # rows written
P_NEXT = 3          # next step to process
NPROGRESS = 4

# carry[] (float64): loop state kept between chunked calls
C_HAVE = 0          # 1.0 when carry[C_DIAG:] holds the diagnostics of the current state
C_WMIN = 1
C_WMAX = 2
C_DIAG = 3
NCARRY = C_DIAG + NDIAG

# track_f[] (float64) and track_i[] (int64): the per-step edge tracker (edge_numba)
TF_LAM = 0          # Lambda of the last entered step
TF_A = 1            # ||A||^2 of the last entered step
TF_NEXT_LAM = 2     # cached Lambda, ||A||^2 of the step after it (computed by a lookahead)
TF_NEXT_A = 3
TF_MAX_ES = 4       # max eta * Lambda over the steps entered (NaN: none finite)
TF_LOSS_MIN = 5     # loss extremes over every step processed
TF_LOSS_MAX = 6
TF_LATE_SUM = 7     # sum of Lambda over the late window's finite steps (edge_numba.late_start on)
NTF = 8
TI_PENDING = 0      # 1 when the last entered step awaits its phase (needs the next Lambda)
TI_ABOVE = 1        # Lambda > 2/eta at the last entered step
TI_FINITE = 2       # the last entered state was finite
TI_HAVE_NEXT = 3    # 1 when TF_NEXT_* / TI_NEXT_* hold the next step's values
TI_NEXT_ABOVE = 4
TI_NEXT_FINITE = 5
TI_RUN = 6          # edge_numba.edge_run's counts, in this order:
TI_FIRST = 7        #   the run of steps above 2/eta ending at the last entered step; the first
TI_EXCURSIONS = 8   #   step above 2/eta (-1: none); runs of >= 2 steps above 2/eta; single steps
TI_FLIPS = 9        #   above 2/eta between steps below (period-2 flips)
TI_ANOMALIES = 10
TI_STEPS = 11       # steps processed
TI_PHASE = 12       # TI_PHASE + k: steps with phase code k (NPHASE entries)
TI_WIN = TI_PHASE + NPHASE  # window counters: steps, phases (NPHASE), flips, anomalies
NWIN = NPHASE + 3
TI_LATE = TI_WIN + NWIN  # finite steps summed in TF_LATE_SUM
NTI = TI_LATE + 1
