import os

import numpy as np
import pytest

# One BLAS thread (unless OPENBLAS_NUM_THREADS is set): on a small shared machine OpenBLAS's
# worker threads spin for cores that other processes hold; a 300 x 300 eigvalsh then takes
# ~0.2 s instead of ~5 ms and test_network_spectra's Lanczos cases 1.8 s instead of 0.02 s.
# Results differ from a multi-threaded BLAS by rounding at most, inside every tolerance here.
# numpy is already loaded when pytest imports this file, hence threadpoolctl for this process;
# the variable makes the subprocesses (CLI, server, workers) start the same way.
if "OPENBLAS_NUM_THREADS" not in os.environ:
    from threadpoolctl import threadpool_limits

    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    threadpool_limits(limits=1, user_api="blas")


def generic_problem(seed):
    """A small generic problem (n > d, full rank d; labels partly outside the row space of X)
    drawn with ``seed``: ``X, Y, A, W, m`` and ``lam``, the sharpness of its initial state."""
    rng = np.random.default_rng(seed)
    d, n, m = 4, 12, 30
    X = rng.standard_normal((d, n))
    Y = np.sign(rng.standard_normal(n))
    A = rng.standard_normal(m)
    W = rng.standard_normal((m, d))
    M = 2.0 / (m * n) * ((A @ A) * X.T @ X + X.T @ W.T @ W @ X)
    return dict(X=X, Y=Y, A=A, W=W, lam=float(np.linalg.eigvalsh(M)[-1]), m=m)


@pytest.fixture
def small_problem():
    """:func:`generic_problem` (seed 7) with a stable learning rate ``eta = 0.5 / lam``."""
    p = generic_problem(7)
    lam = p.pop("lam")
    return dict(p, eta=float(0.5 / lam))


@pytest.fixture(scope="session")
def default_events():
    """The default scenario's first 2/eta crossing and Theorem 1's t0, from the numpy twin of the
    map (tests/twins.py) started at the scenario's initial state: the expected values of every
    test that checks them (never copied from eosdyn's output)."""
    from twins import first_events

    from eosdyn.api import build_problem
    from eosdyn.model.params import make_params

    p = make_params()
    pb = build_problem(p.replace(steps=1))
    d, st = pb.data, pb.init
    y2 = float(d.z @ d.z + d.y_perp2)
    return first_events(float(st.a), tuple(st.u), tuple(map(tuple, st.G)), tuple(d.s), tuple(d.z), y2,
                        float(d.n), float(p.m), float(p.eta), 40_000)
