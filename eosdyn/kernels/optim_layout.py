"""Named slots of the optimizer kernels' bundles (:mod:`.momentum_numba`, :mod:`.full_optim_numba`).

Besides the shared record (:mod:`.layout`), each recorded row ``k`` gets ``extra[k, X_*]``:

* ``X_BATCH_SHARP``: the batch sharpness (Monte Carlo over uniform batches, :mod:`.sgd_numba`);
* ``X_STEP_CURV``: the curvature of the batch actually used at that step along its gradient;
* ``X_VEL2``: the squared norm of the velocity ``||v||^2`` (momentum and Nesterov).

Scalars travel in two arrays: ``hyp`` (float64, ``H_*``) and ``ihyp`` (int64, ``I_*``).
"""

X_BATCH_SHARP = 0
X_STEP_CURV = 1
X_VEL2 = 2
NX = 3

# hyp: float parameters
H_ETA = 0        # step size
H_BETA = 1       # momentum beta (heavy ball / Nesterov), or beta1 (Adam)
H_GAMMA = 2      # look-ahead coefficient of the gradient point: beta (Nesterov), 0 otherwise
H_N = 3          # samples n
H_M = 4          # width m
H_LOSS_TOL = 5
H_MAX_LOSS = 6
H_YPERP2 = 7     # ||Y_perp||^2
H_BETA2 = 8      # Adam / RMSProp second-moment decay
H_EPS = 9        # Adam / RMSProp epsilon
NHYP = 10

# ihyp: integer parameters
I_STEPS = 0      # last step
I_EVERY = 1      # recording stride
I_BATCH = 2      # batch size b (0: full batch, no sampling)
I_SEED = 3       # batch_seed
I_SAMPLES = 4    # batches averaged per recorded batch sharpness
I_KIND = 5       # optimizer kind (K_*), full engine only
I_BIAS = 6       # 1: Adam / RMSProp bias correction
I_REFRESH = 7    # full engine: recompute h = W^T A and ||A||^2 from (A, W) every this many steps
NIHYP = 8

# optimizer kinds of the full engine
K_GD = 0
K_MOMENTUM = 1
K_NESTEROV = 2
K_RMSPROP = 3
K_ADAM = 4
KINDS = {"gd": K_GD, "momentum": K_MOMENTUM, "nesterov": K_NESTEROV, "rmsprop": K_RMSPROP, "adam": K_ADAM}
