"""Cost of exact summaries: the per-step edge tracker against the same run without it.

The tracker (eosdyn.kernels.edge_numba) classifies every step -- an inertia test and a warm
certified top eigenvalue per step -- so that the summaries do not depend on the recording
stride. Both variants run here, in the same process, on the default scenario (r = 5); CPU time
(``time.process_time``), best of ``--repeat``, so that load from other processes counts less.

    python benchmarks/bench_summaries.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import time

from eosdyn.api import build_problem, run_problem
from eosdyn.engines.base import Problem
from eosdyn.model.params import make_params


def cpu_time(params, track: bool, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        pb0 = build_problem(params)
        pb = Problem.create(pb0.params, pb0.data, pb0.init, pb0.A, pb0.W, track=track)
        c = time.process_time()
        run_problem(pb)
        best = min(best, time.process_time() - c)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    cases = [
        ("default run, 1e5 steps, every step recorded", make_params()),
        ("1e6 steps, default stride (10)", make_params(steps=1_000_000)),
        ("1e6 steps, stride 1000 (bare stepping)", make_params(steps=1_000_000, record_every=1000)),
    ]
    cpu_time(make_params(steps=2000), True, 1)  # compile / load the cache
    cpu_time(make_params(steps=2000), False, 1)
    print(f"{'case':48s} {'untracked':>10s} {'tracked':>10s} {'ratio':>6s} {'us/step':>8s}")
    for label, p in cases:
        off = cpu_time(p, False, args.repeat)
        on = cpu_time(p, True, args.repeat)
        extra = (on - off) / (p.steps + 1) * 1e6
        print(f"{label:48s} {off:9.3f}s {on:9.3f}s {on / off:6.2f} {extra:8.2f}")


if __name__ == "__main__":
    main()
