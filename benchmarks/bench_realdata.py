"""Reduced engine at a CIFAR-sized rank: steps per second with and without diagnostics.

A CIFAR-10-sized subset (n = 1000 samples, d = 3072, two balanced classes, pixels in [0, 1],
mean sample subtracted) has rank r = 999. The reduced step costs O(r^2) (a matrix-vector
product and a rank-2 update of the r x r matrix G); the diagnostics of a recorded step (the
eigenvalues of M, M_A, M* restricted to span(V)) cost O(r^3) and are taken at each recorded
step and one step later. So ``record_every = k`` costs about ``step + 2 diag / k`` per step.

Usage::

    python benchmarks/bench_realdata.py                       # random "images" of CIFAR's shape
    python benchmarks/bench_realdata.py --data cifar10:PATH   # the real archive, if you have it

Prints one row per configuration with steps/s and the ratio against the plain-numpy reduced
loop (benchmarks/baselines.py) measured in the same run.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import eosdyn  # noqa: E402
from eosdyn.model import datasets  # noqa: E402
from eosdyn.model import data as data_mod  # noqa: E402

from baselines import numpy_reduced_loop  # noqa: E402


def cifar_shaped(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Random uint8 'images' (n, 3072) in two classes, preprocessed like the paper's subset."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
    labels = np.arange(n) % 2
    return datasets.preprocess(images, labels, classes=(0, 1), center=True)


def eosdyn_rate(X, Y, eta, steps, every):
    ds = eosdyn.simulate(X=X, Y=Y, m=4096, eta=eta, steps=steps, record_every=every,
                         init_sampler="wishart", loss_tol=0.0)
    assert ds.attrs["status"] == "max_steps", ds.attrs["status_message"]
    return steps / float(ds.attrs["wall_time"]), int(ds["step"].size)


def numpy_rate(d, init, eta, steps, diagnostics):
    a, u, G = float(init["init_a"]), init["init_u"].values, init["init_G"].values
    start = time.perf_counter()
    numpy_reduced_loop(a, u, G, d.s, d.z, d.n, 4096.0, eta, steps, diagnostics=diagnostics)
    return steps / (time.perf_counter() - start)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", help="a dataset name (e.g. cifar10:PATH); default: CIFAR-shaped random")
    ap.add_argument("--n", type=int, default=1000, help="samples (subset size)")
    ap.add_argument("--steps", type=int, default=2000, help="steps of the sparse-recording runs")
    args = ap.parse_args(argv)
    if args.data:
        X, Y, source = datasets.load(args.data, classes=(0, 1), subset=args.n)
    else:
        (X, Y), source = cifar_shaped(args.n), f"random CIFAR-shaped, n={args.n}"
    d = data_mod.from_arrays(X, Y)
    eosdyn.simulate(X=X[:, :20], Y=Y[:20], steps=5, init_sampler="wishart")  # compile
    eta = 10.0 * d.n / d.eigenvalues[0]  # halved until the timed dynamics stay bounded
    while True:
        init = eosdyn.simulate(X=X, Y=Y, m=4096, eta=eta, steps=args.steps, record_every=args.steps,
                               init_sampler="wishart", loss_tol=0.0)
        if init.attrs["status"] == "max_steps":
            break
        eta /= 2
    print(f"data: {source}; d={d.d}, n={d.n}, rank r={d.rank}; m=4096, eta={eta:.3g}")
    base = numpy_rate(d, init, eta, 200, diagnostics=False)
    base_diag = numpy_rate(d, init, eta, 20, diagnostics=True)
    rows = [("numpy reduced loop, no diagnostics", 200, base, base),
            ("numpy reduced loop, eigvalsh every step", 20, base_diag, base_diag)]
    configs = {(args.steps, args.steps), (min(1000, args.steps), args.steps), (100, args.steps),
               (10, max(200, args.steps // 10)), (1, 40)}
    for every, steps in sorted(configs, reverse=True):
        rate, nrec = eosdyn_rate(X, Y, eta, steps, every)
        ref = base if every >= 10 else base_diag
        rows.append((f"eosdyn reduced, record_every={every} ({nrec} rows)", steps, rate, ref))
    print(f"{'configuration':<48}{'steps':>7}{'steps/s':>12}{'vs numpy':>10}")
    for name, steps, rate, ref in rows:
        print(f"{name:<48}{steps:>7}{rate:>12.1f}{rate / ref:>9.1f}x")
    print("(vs numpy: against the numpy loop without diagnostics for record_every >= 10, "
          "with eigvalsh every step for record_every = 1)")


if __name__ == "__main__":
    main()
