import numpy as np
import pytest


@pytest.fixture
def small_problem():
    """A small generic problem (n > d, full rank d) with a stable learning rate."""
    rng = np.random.default_rng(7)
    d, n, m = 4, 12, 30
    X = rng.standard_normal((d, n))
    Y = np.sign(rng.standard_normal(n))
    A = rng.standard_normal(m)
    W = rng.standard_normal((m, d))
    M = 2.0 / (m * n) * ((A @ A) * X.T @ X + X.T @ W.T @ W @ X)
    eta = 0.5 / np.linalg.eigvalsh(M)[-1]
    return dict(X=X, Y=Y, A=A, W=W, eta=float(eta), m=m)
