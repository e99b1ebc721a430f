"""Plain-numpy twins of the network engine's models, written from the formulas in
``eosdyn.nets.models``'s docstring (not from its code), and dense spectral references."""

import math

import numpy as np

ACT = {
    "tanh": np.tanh,
    "relu": lambda z: np.maximum(z, 0.0),
    "gelu": lambda z: 0.5 * z * (1.0 + np.vectorize(math.erf)(z / math.sqrt(2.0))),
    "softplus": lambda z: np.logaddexp(0.0, z),
    "elu": lambda z: np.where(z > 0, z, np.expm1(np.minimum(z, 0.0))),
    "linear": lambda z: z,
}


def mlp(weights, X, act, ntk=True):
    """f(x) for x the columns of X (d, n): h_1 = phi(W1 x), h_l = phi(W_l h / sqrt(m)), A^T h / sqrt(m)."""
    L = sum(1 for k in weights if k.startswith("W"))
    m = weights["A"].size
    c = 1.0 / math.sqrt(m) if ntk else 1.0
    h = ACT[act](weights["W1"] @ X)
    for lv in range(2, L + 1):
        h = ACT[act](c * (weights[f"W{lv}"] @ h))
    return c * (weights["A"] @ h)


def conv(h, K, stride):
    """NHWC h, OIHW K, zero padding (k-1)/2: out[b,y,x,o] = sum K[o,i,dy,dx] hp[b, s y+dy, s x+dx, i]."""
    O, C, k, _ = K.shape
    p = (k - 1) // 2
    n, H, W, _ = h.shape
    hp = np.zeros((n, H + 2 * p, W + 2 * p, C))
    hp[:, p:p + H, p:p + W] = h
    Ho, Wo = (H + 2 * p - k) // stride + 1, (W + 2 * p - k) // stride + 1
    out = np.zeros((n, Ho, Wo, O))
    for y in range(Ho):
        for x in range(Wo):
            patch = hp[:, stride * y:stride * y + k, stride * x:stride * x + k, :]   # (n, k, k, C)
            out[:, y, x, :] = np.einsum("nabi,oiab->no", patch, K)
    return out


def cnn(weights, x, act):
    """cnn:ACT:L under ntk: 3x3 stride-2 convs, the first unscaled, later / sqrt(9 m); mean pool."""
    L = sum(1 for k in weights if k.startswith("W"))
    m = weights["A"].size
    h = ACT[act](conv(x, weights["W1"], 2))
    for lv in range(2, L + 1):
        h = ACT[act](conv(h, weights[f"W{lv}"], 2) / math.sqrt(9 * m))
    return weights["A"] @ h.mean(axis=(1, 2)).T / math.sqrt(m)


def resnet18(weights, x):
    """The docstring's ResNet-18 (ntk): stem, 4 stages x 2 basic blocks, mean pool, A / sqrt(m)."""
    relu = ACT["relu"]
    m = weights["A"].size
    widths = (m // 8, m // 4, m // 2, m)
    k = iter(range(1, 100))

    def c(h, K, s, scaled=True):
        fan = K.shape[1] * K.shape[2] * K.shape[3]
        return conv(h, K, s) / (math.sqrt(fan) if scaled else 1.0)

    h = relu(c(x, weights[f"W{next(k)}"], 1, scaled=False))
    cin = widths[0]
    for w, s_stage in zip(widths, (1, 2, 2, 2), strict=True):
        for b in range(2):
            s = s_stage if b == 0 else 1
            K1, K2 = weights[f"W{next(k)}"], weights[f"W{next(k)}"]
            o = c(relu(c(h, K1, s)), K2, 1)
            short = h if (s == 1 and cin == w) else c(h, weights[f"W{next(k)}"], s)
            h = relu(o + short)
            cin = w
    return weights["A"] @ h.mean(axis=(1, 2)).T / math.sqrt(m)


def lambda_min_deep_linear_one_sample(L, m, x, y):
    """Minimal sharpness over the global minima of deep-linear:L (ntk) on one sample (x, y):
    2 K (m^-L y^(2L) ||x||^2)^(1/K), K = L + 1 (see test_network_engine)."""
    K = L + 1
    return 2.0 * K * (m ** (-L) * abs(y) ** (2 * L) * float(x @ x)) ** (1.0 / K)
