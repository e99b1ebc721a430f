"""Slow, obviously-correct numpy twins of the optimizer kernels (nothing here imports eosdyn).

* :func:`epoch_permutation`, :func:`batch_indices`: the documented batch sequence (splitmix64
  counter stream keyed by ``(batch_seed, epoch)``, Fisher-Yates), in plain Python integers;
* :func:`train`: every optimizer of :mod:`eosdyn.optim` on the parameters, written from the update
  rules in the module docstring;
* :func:`batch_hessian`: the dense Hessian of a mini-batch loss, from the model's formulas.
"""

from __future__ import annotations

import numpy as np

MASK = (1 << 64) - 1
GOLDEN, M1, M2 = 0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB


def mix(x: int) -> int:
    x = ((x ^ (x >> 30)) * M1) & MASK
    x = ((x ^ (x >> 27)) * M2) & MASK
    return x ^ (x >> 31)


def stream_key(seed: int, tag: int, i: int, j: int) -> int:
    x = mix((seed + GOLDEN) & MASK)
    x = mix(x ^ ((tag * GOLDEN) & MASK))
    x = mix((x + i * M1) & MASK)
    return mix((x + j * M2) & MASK)


def fisher_yates_tail(state: int, perm: list, count: int) -> list:
    n = len(perm)
    for i in range(n - 1, max(n - count, 1) - 1, -1):
        state = (state + GOLDEN) & MASK
        u = (mix(state) >> 11) * 2.0**-53
        j = min(int(u * (i + 1)), i)
        perm[i], perm[j] = perm[j], perm[i]
    return perm


def epoch_permutation(seed: int, epoch: int, n: int) -> list:
    return fisher_yates_tail(stream_key(seed, 1, epoch, 0), list(range(n)), n - 1)


def batch_indices(t: int, seed: int, n: int, b: int) -> np.ndarray:
    nb = n // b
    e, k = divmod(t, nb)
    return np.array(epoch_permutation(seed, e, n)[k * b:(k + 1) * b])


def sample_subset(seed: int, t: int, k: int, n: int, b: int) -> np.ndarray:
    return np.array(fisher_yates_tail(stream_key(seed, 2, t, k), list(range(n)), b)[n - b:])


def gradient(A, W, X, Y, idx):
    """Gradient of ``L_B = ||D_B||^2 / |B|`` at ``(A, W)``."""
    m = A.size
    XB = X[:, idx]
    D = XB.T @ W.T @ A / np.sqrt(m) - Y[idx]
    p = XB @ D
    c = 2.0 / (len(idx) * np.sqrt(m))
    return c * W @ p, c * np.outer(A, p)


def train(A, W, X, Y, eta, steps, optimizer="gd", momentum=0.9, beta1=0.9, beta2=0.999, adam_eps=1e-8,
          bias_correction=True, batch_size=None, batch_seed=0):
    """Parameters ``(A, W)`` at steps ``0..steps`` of ``optimizer`` (eosdyn.optim's update rules)."""
    n = X.shape[1]
    A, W = A.copy(), W.copy()
    vA, vW = np.zeros_like(A), np.zeros_like(W)        # velocity or first moment
    sA, sW = np.zeros_like(A), np.zeros_like(W)        # second moment
    out = [(A.copy(), W.copy())]
    for t in range(steps):
        idx = np.arange(n) if batch_size is None else batch_indices(t, batch_seed, n, batch_size)
        if optimizer in ("momentum", "nesterov"):
            gamma = momentum if optimizer == "nesterov" else 0.0
            gA, gW = gradient(A + gamma * vA, W + gamma * vW, X, Y, idx)
            vA, vW = momentum * vA - eta * gA, momentum * vW - eta * gW
            A, W = A + vA, W + vW
        elif optimizer in ("adam", "rmsprop"):
            b1 = beta1 if optimizer == "adam" else 0.0
            gA, gW = gradient(A, W, X, Y, idx)
            vA, vW = b1 * vA + (1 - b1) * gA, b1 * vW + (1 - b1) * gW
            sA, sW = beta2 * sA + (1 - beta2) * gA**2, beta2 * sW + (1 - beta2) * gW**2
            k = t + 1
            c1 = 1 - b1**k if bias_correction else 1.0
            c2 = 1 - beta2**k if bias_correction else 1.0
            A = A - eta * (vA / c1) / (np.sqrt(sA / c2) + adam_eps)
            W = W - eta * (vW / c1) / (np.sqrt(sW / c2) + adam_eps)
        else:
            gA, gW = gradient(A, W, X, Y, idx)
            A, W = A - eta * gA, W - eta * gW
        out.append((A.copy(), W.copy()))
    return out


def batch_hessian(A, W, X, Y, idx):
    """Dense Hessian of ``L_B`` over ``theta = [A, W.ravel()]``, from
    ``H = (2/b) (J^T J + sum_j D_j grad^2 F_j)`` with ``F_j = A^T W x_j / sqrt(m)``."""
    m, d = W.shape
    b = len(idx)
    XB = X[:, idx]
    D = XB.T @ W.T @ A / np.sqrt(m) - Y[idx]
    N = m * (d + 1)
    H = np.zeros((N, N))
    for j in range(b):
        x = XB[:, j]
        Jj = np.concatenate([W @ x, np.outer(A, x).ravel()]) / np.sqrt(m)
        H += np.outer(Jj, Jj)
        Fjj = np.zeros((N, N))   # d^2 F_j / dA_i dW_ik = x_k / sqrt(m)
        for i in range(m):
            Fjj[i, m + i * d:m + (i + 1) * d] = x / np.sqrt(m)
        H += D[j] * (Fjj + Fjj.T)
    return 2.0 / b * H
