#!/usr/bin/env python
"""Scan throughput: cells x steps per second of ``eosdyn scan`` on each backend, against running
the same cells one by one through ``eosdyn.simulate`` (+ ``eosdyn.summarize``) in a loop.

    python benchmarks/bench_scan.py            # 32 cells x 1e5 steps, ~2 minutes on 2 cores
    python benchmarks/bench_scan.py --quick    # 16 cells x 2e4 steps
    python benchmarks/bench_scan.py --bifurcation   # also the issue's 512-value orbit diagram

Workload: the default scenario (m = 4096, n = 100, rank 5) over a geometric grid of learning
rates ``eta`` in [0.002, 0.15] (progressive sharpening, EoS, period-2 orbits and a few
divergences: uneven work per cell), the scan's default records (loss and eta*Lambda every
``steps/1000`` steps, summaries, zarr store written to a temporary folder). Numba compilation
is excluded (everything is warmed up first); each row is the best of ``--repeats`` runs. Rows:

* ``simulate loop``: ``eosdyn.summarize(eosdyn.simulate(p))`` for each cell (the baseline);
* ``scan serial``: one process, one core;
* ``scan threads`` / ``processes`` / ``prange``: all cores (``--workers``, default all): blocks
  over threads (the kernels release the GIL), blocks over processes (pool start-up included),
  cells of each block over numba's ``prange`` threads;
* ``scan dask``: a 2-worker ``LocalCluster`` (1 thread each, processes) already started; its
  start-up time is printed separately.

Every backend's dataset is checked to be identical to the serial one before timings are shown.
The machine is shared: timings taken while other jobs run are noisy (load average printed).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import xarray as xr


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--cells", type=int)
    ap.add_argument("--steps", type=int)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--workers", type=int)
    ap.add_argument("--bifurcation", action="store_true",
                    help="also time `eosdyn bifurcation --range 0.002:0.2:512:log` (1e5 steps/value)")
    args = ap.parse_args()
    import eosdyn
    from eosdyn.analysis import scan as S
    from eosdyn.model.params import make_params

    cells = args.cells or (16 if args.quick else 32)
    steps = args.steps or (20_000 if args.quick else 100_000)
    workers = args.workers or S.default_workers()
    base = make_params(steps=steps)
    spec = S.make_spec(base, [f"eta=0.002:0.15:{cells}:log"], block_cells=max(1, cells // 8))
    work = cells * steps
    tmp = Path(tempfile.mkdtemp(prefix="bench_scan."))
    try:
        S.run_scan(S.make_spec(make_params(steps=200), ["eta=0.01,0.02"]), tmp / "warm.zarr", backend="serial")
        S.compute_block(spec, 0, True)
        rows, ref = [], None

        def timed(name, fn):
            best = np.inf
            for r in range(args.repeats):
                t0 = time.perf_counter()
                fn(r)
                best = min(best, time.perf_counter() - t0)
            rows.append((name, best))
            return best

        def loop(_):
            for i in range(cells):
                eosdyn.summarize(eosdyn.simulate(spec.cell_params((i,))))

        timed("simulate loop (1 core)", loop)
        for backend in ("serial", "threads", "processes", "prange"):
            nw = 1 if backend == "serial" else workers

            def run(r, backend=backend, nw=nw):
                S.run_scan(spec, tmp / f"{backend}{r}.zarr", backend=backend, workers=nw)

            timed(f"scan {backend} ({nw} core{'s' if nw > 1 else ''})", run)
            ds = S.open_scan(tmp / f"{backend}0.zarr").load()
            if ref is None:
                ref = ds
            xr.testing.assert_identical(ds, ref)
        from distributed import Client, LocalCluster

        t0 = time.perf_counter()
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cl:
            with Client(cl) as client:
                client.run(lambda: __import__("eosdyn.analysis.scan"))
                startup = time.perf_counter() - t0

                def dask(r):
                    S.run_scan(spec, tmp / f"dask{r}.zarr", scheduler=cl.scheduler_address)

                timed("scan dask LocalCluster (2 workers)", dask)
        xr.testing.assert_identical(S.open_scan(tmp / "dask0.zarr").load(), ref)
        report(rows, work, cells, steps, workers, startup)
        if args.bifurcation:
            bifurcation_timing(workers)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def report(rows, work, cells, steps, workers, startup):
    base = rows[0][1]
    print(f"\nscan throughput: {cells} cells x {steps:,} steps, default scenario, eta in [0.002, 0.15] "
          f"(log); {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"workers={workers}, 1-min load average at the end: {os.getloadavg()[0]:.2f}")
    print(f"{'row':38s} {'time [s]':>9s} {'cells*steps/s':>14s} {'x simulate loop':>16s}")
    for name, t in rows:
        print(f"{name:38s} {t:9.2f} {work / t:14.3e} {base / t:16.2f}")
    print(f"(LocalCluster start-up, not included above: {startup:.1f} s; all datasets identical)")


def bifurcation_timing(workers):
    from eosdyn.analysis.bifurcation import bifurcation

    for backend, nw in (("serial", 1), ("auto", workers)):
        t0 = time.perf_counter()
        ds = bifurcation(None, "eta", "0.002:0.2:512:log", backend=backend, workers=nw)
        dt = time.perf_counter() - t0
        print(f"bifurcation 512 values x 1e5 steps, backend {backend} ({nw} workers): {dt:.1f} s "
              f"({512 * 1e5 / dt:.3e} steps/s incl. tangent map), "
              f"{int((ds['status'] == 2).sum())} diverged")


if __name__ == "__main__":
    main()
