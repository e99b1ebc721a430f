#!/usr/bin/env python
"""The gradient-flow engine's solvers, and the cost of the optional diagnostics.

    python benchmarks/bench_flow.py            # ~1-2 minutes on a 2-core machine
    python benchmarks/bench_flow.py --quick    # 20,000 steps instead of 100,000

Table 1: the default scenario as a flow (``eosdyn simulate --engine flow``) with each
``scipy.integrate`` method at rtol 1e-10, atol 1e-12: solver steps, right-hand-side and Jacobian
evaluations, wall time (the whole ``simulate`` call, numba compilation excluded by a warm-up),
``x DOP853`` = DOP853's time / the row's (> 1: faster), and the first crossing of 2/eta and the
final loss relative to a DOP853 reference at rtol 1e-12 (accuracy).

Table 2: GD on the default scenario without and with ``--hessian`` (recording lambda_max of the
loss Hessian at every step), and ``eosdyn check`` of the run (replay, flow integration up to
the first crossing, all rows); ``x plain`` = the plain run's time / the row's.

Times on a shared machine are noisy: every row is the best of ``--repeats`` runs.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import eosdyn
from eosdyn.analysis.check import run_checks


def best(f, repeats):
    out, times = None, []
    for _ in range(repeats):
        t = time.perf_counter()
        out = f()
        times.append(time.perf_counter() - t)
    return out, min(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    steps = 20_000 if args.quick else 100_000
    eosdyn.simulate(engine="flow", steps=50)                      # warm-up (compilation)
    eosdyn.simulate(steps=50, hessian=True)
    ref = eosdyn.simulate(engine="flow", steps=steps, method="DOP853", rtol=1e-12, atol=1e-14)
    t_ref = ref.attrs["flow_cross_up"]
    rows, base = [], None
    for method in ("DOP853", "RK45", "Radau", "LSODA"):
        ds, t = best(lambda m=method: eosdyn.simulate(engine="flow", steps=steps, method=m),
                     args.repeats)
        base = t if method == "DOP853" else base
        up = ds.attrs["flow_cross_up"]
        dcross = abs(up[0] - t_ref[0]) if len(up) and len(t_ref) else float("nan")
        dloss = abs(ds.loss.values[-1] / ref.loss.values[-1] - 1)
        rows.append((method, ds.attrs["flow_nsteps"], ds.attrs["flow_nfev"], ds.attrs["flow_njev"],
                     t, base / t, dcross, dloss))
    print(f"\nflow engine, default scenario, {steps} steps (rtol 1e-10, atol 1e-12)")
    print(f"{'method':8s} {'steps':>7s} {'nfev':>8s} {'njev':>5s} {'time s':>8s} {'x DOP853':>9s} "
          f"{'|dt_cross|':>11s} {'rel dloss':>10s}")
    for r in rows:
        print(f"{r[0]:8s} {r[1]:7d} {r[2]:8d} {r[3]:5d} {r[4]:8.2f} {r[5]:9.2f} {r[6]:11.2e} {r[7]:10.2e}")

    plain, t_plain = best(lambda: eosdyn.simulate(steps=steps), args.repeats)
    _, t_hess = best(lambda: eosdyn.simulate(steps=steps, hessian=True), args.repeats)
    _, t_check = best(lambda: run_checks(plain), args.repeats)
    _, t_check_nf = best(lambda: run_checks(plain, eosdyn.CheckOptions(flow=False)), args.repeats)
    print(f"\nGD (reduced), default scenario, {steps} steps")
    print(f"{'what':34s} {'time s':>8s} {'x plain':>8s}")
    for name, t in (("simulate", t_plain), ("simulate --hessian", t_hess),
                    ("check (all rows)", t_check), ("check --no-flow", t_check_nf)):
        print(f"{name:34s} {t:8.2f} {t_plain / t:8.3f}")
    assert np.isfinite(t_plain)


if __name__ == "__main__":
    main()
