r"""Mini-batches: the batch sequence, the batch gradient and the batch sharpness, in the reduced state.

**Batch sequence** (shared by every engine, so that ``reduced`` and ``full`` see the same
batches). With ``nb = n // b`` batches per epoch, step ``t`` is batch ``k = t mod nb`` of epoch
``e = t // nb``: samples ``perm_e[k b : (k + 1) b]``, where ``perm_e`` is a uniformly random
permutation of ``0..n-1`` (Fisher-Yates) drawn from a counter-based splitmix64 stream keyed by
``(batch_seed, e)``. So sampling is without replacement within an epoch; when ``b`` does not
divide ``n`` the last ``n mod b`` samples of each permutation are not used in that epoch (a
different, random set each epoch). The stream depends only on ``(batch_seed, e)``: any chunking of
a run, any engine and a resumed run see the same batches.

**Batch gradient in the reduced state.** With ``X = U S V^T`` the residual is
``D = F - Y = V delta - Y_perp`` exactly (``F = X^T W^T A / sqrt(m)`` lies in span(V); ``delta =
S u - z``; ``Y_perp = Y - V z`` never changes). The batch loss ``L_B = ||D_B||^2 / b`` has
gradient ``(c_B W U g_B, c_B A g_B^T U^T)``, ``c_B = 2 / (b sqrt(m))``, with

    g_B = S V_B^T D_B,      D_B = V_B delta - (Y_perp)_B,

``V_B`` the rows ``B`` of ``V`` (b x r): ``O(b r)`` per step. The full-batch gradient is the case
``B = all`` (``V^T V = I``, ``V^T Y_perp = 0``, so ``g = S delta``). Hence an SGD step is the GD
map of :mod:`eosdyn.kernels.reduced_numba` with ``n -> b`` and ``g -> g_B``; see
:mod:`eosdyn.kernels.momentum_numba` for the map with a velocity.

**Batch sharpness** (Andreyev & Beneventano 2024): ``E_B [ g_B^T H_B g_B / ||g_B||^2 ]`` over
uniformly random ``b``-subsets ``B``, ``H_B`` the Hessian of ``L_B``, ``g_B`` its gradient. Since
``F`` is bilinear, ``H_B = (2/b) J_B^T J_B + (2/b) sum_{j in B} D_j grad^2 F_j``, and along
``(alpha, Omega) = grad L_B`` (with ``x_j = U S vb_j``, ``vb_j`` row ``j`` of ``V``):

    J_j (alpha, Omega) = c_B sqrt(m) h . vb_j,          h = S (G + (a/m) I) g_B,
    sum_j D_j grad^2 F_j [(alpha, Omega)]^2 = (2/sqrt(m)) alpha^T Omega X_B D_B
                                            = 2 c_B^2 (u . g_B) ||g_B||^2,
    ||grad L_B||^2 = c_B^2 (m g_B^T G g_B + a ||g_B||^2),

so the directional curvature of one batch is, exactly and in ``O(b r + r^2)``,

    kappa_B = [ (2 m / b) ||V_B h||^2 + (4 / b) (u . g_B) ||g_B||^2 ] / [ m g_B^T G g_B + a ||g_B||^2 ].

``batch_sharpness`` averages ``kappa_B`` over ``batch_sharpness_samples`` independent uniform
``b``-subsets drawn from the stream keyed by ``(batch_seed, t)`` (tag 2, independent of the
training batches), the Monte Carlo estimator of Andreyev & Beneventano's code (they stop at a
relative standard error of 0.5%; the count is fixed here so runs are deterministic).
"""


import numpy as np

from ._numba import jit

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_TWO53 = 1.0 / 9007199254740992.0
#: stream tags: training batches (per epoch) and batch-sharpness samples (per step)
TAG_EPOCH = 1
TAG_SAMPLE = 2


@jit
def mix(x):
    """splitmix64's output function (a bijection of uint64)."""
    x = (x ^ (x >> _S30)) * _M1
    x = (x ^ (x >> _S27)) * _M2
    return x ^ (x >> _S31)


@jit
def stream_key(seed, tag, i, j):
    """The start of the stream keyed by ``(seed, tag, i, j)`` (non-negative integers)."""
    x = mix(np.uint64(seed) + _GOLDEN)
    x = mix(x ^ (np.uint64(tag) * _GOLDEN))
    x = mix(x + np.uint64(i) * _M1)
    return mix(x + np.uint64(j) * _M2)


@jit
def next_uniform(state):
    """``(state', u)``: the next splitmix64 output as a double ``u`` in [0, 1) (53 bits)."""
    state = state + _GOLDEN
    return state, float(mix(state) >> _S11) * _TWO53


@jit
def shuffle_prefix(state, perm, count):
    """Fisher-Yates from the back: ``perm[n-count:]`` becomes a uniform random ordered draw
    without replacement from ``perm`` (the whole array is permuted when ``count = n - 1``)."""
    n = perm.shape[0]
    i = n - 1
    while i >= n - count and i >= 1:
        state, u = next_uniform(state)
        j = int(u * (i + 1))
        if j > i:
            j = i
        tmp = perm[i]
        perm[i] = perm[j]
        perm[j] = tmp
        i -= 1
    return state


@jit
def epoch_permutation(seed, epoch, perm):
    """Fill ``perm`` (n,) with the batch permutation of ``epoch``."""
    n = perm.shape[0]
    for i in range(n):
        perm[i] = i
    shuffle_prefix(stream_key(seed, TAG_EPOCH, epoch, 0), perm, n - 1)


@jit
def batch_start(t, seed, b, perm, epoch):
    """Make ``perm`` the permutation of step ``t``'s epoch (cached: ``epoch[0]``, -1 = none);
    return the offset of step ``t``'s batch, ``perm[start:start + b]``."""
    nb = perm.shape[0] // b
    e = t // nb
    if epoch[0] != e:
        epoch_permutation(seed, e, perm)
        epoch[0] = e
    return (t - e * nb) * b


@jit
def random_subset(seed, t, k, b, work):
    """A uniform random ``b``-subset of ``0..n-1`` (sample ``k`` of step ``t``): ``work[n-b:]``."""
    n = work.shape[0]
    for i in range(n):
        work[i] = i
    shuffle_prefix(stream_key(seed, TAG_SAMPLE, t, k), work, b)
    return n - b


@jit
def residual_delta(u, s, z, delta):
    """Fill ``delta = S u - z``."""
    for i in range(s.shape[0]):
        delta[i] = s[i] * u[i] - z[i]


@jit
def batch_gradient(delta, s, V, yperp, idx, start, b, g):
    """Fill ``g = S V_B^T D_B`` with ``D_B = V_B delta - (Y_perp)_B``, ``B = idx[start:start+b]``."""
    r = s.shape[0]
    for i in range(r):
        g[i] = 0.0
    for q in range(start, start + b):
        j = idx[q]
        vj = V[j]
        dj = -yperp[j]
        for i in range(r):
            dj += vj[i] * delta[i]
        for i in range(r):
            g[i] += vj[i] * dj
    for i in range(r):
        g[i] *= s[i]


@jit
def directional_curvature(a, u, G, s, V, yperp, m, delta, idx, start, b, g, h):
    """``kappa_B = g_B^T H_B g_B / ||g_B||^2`` of the batch ``idx[start:start+b]`` (module
    docstring); NaN when the batch gradient vanishes. ``delta = S u - z`` must be current."""
    r = s.shape[0]
    batch_gradient(delta, s, V, yperp, idx, start, b, g)
    g2 = 0.0
    ug = 0.0
    gGg = 0.0
    am = a / m
    for i in range(r):
        acc = 0.0
        for j in range(r):
            acc += G[i, j] * g[j]
        gGg += g[i] * acc
        g2 += g[i] * g[i]
        ug += u[i] * g[i]
        h[i] = s[i] * (acc + am * g[i])
    den = m * gGg + a * g2
    if not (den > 0.0):
        return np.nan
    jj = 0.0
    for q in range(start, start + b):
        vj = V[idx[q]]
        acc = 0.0
        for i in range(r):
            acc += vj[i] * h[i]
        jj += acc * acc
    return ((2.0 * m / b) * jj + (4.0 / b) * ug * g2) / den


@jit
def batch_sharpness(a, u, G, s, z, V, yperp, m, seed, t, samples, b, work, delta, g, h):
    """Monte Carlo batch sharpness at step ``t``: the mean of ``kappa_B`` over ``samples``
    uniform random ``b``-subsets (batches with a vanishing gradient are skipped; NaN if all)."""
    residual_delta(u, s, z, delta)
    total = 0.0
    count = 0
    for k in range(samples):
        start = random_subset(seed, t, k, b, work)
        kap = directional_curvature(a, u, G, s, V, yperp, m, delta, work, start, b, g, h)
        if kap == kap:
            total += kap
            count += 1
    return total / count if count > 0 else np.nan
