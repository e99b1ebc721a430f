#!/usr/bin/env python
"""Startup: ``import eosdyn``, a warm ``eosdyn simulate`` and a cold one (nothing compiled yet).

    python benchmarks/bench_startup.py              # ~1-2 minutes on a 2-core machine
    python benchmarks/bench_startup.py --repeats 5

Every row is a fresh process, timed from outside (wall clock, best of ``--repeats``):

* ``import eosdyn`` -- the package alone (names load on first use);
* ``eosdyn simulate`` warm -- the default run (m = 4096, eta = 0.01, 100,000 steps) with the
  compiled kernels in numba's cache, as every run after the first;
* ``eosdyn simulate`` cold -- the same with an empty cache (``NUMBA_CACHE_DIR`` pointed at a
  fresh temporary folder): what the very first run after installing costs.

The simulate rows also give, from ``--json``, the time numba spent compiling or loading its
cached kernels and the rest of the run. Baselines measured in the same run: the bare
interpreter (``python -c pass``) and the libraries a run cannot do without
(``import numpy, numba, xarray`` and one xarray Dataset, which imports dask), so ``x floor`` is
how far each row is above what any numba + xarray program pays. Targets (issue 9): import <= 0.5 s,
warm <= 1.5 s, cold <= 10 s. The machine is shared: the load average is printed with the table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

EOSDYN = [sys.executable, "-c", "from eosdyn.cli import main; main()"]
TARGETS = {"import eosdyn": 0.5, "eosdyn simulate (warm)": 1.5, "eosdyn simulate (cold)": 10.0}


def timed(cmd, env=None) -> tuple[float, str]:
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=1200)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd}: {proc.stderr[-500:]}")
    return wall, proc.stdout


def best(cmd, repeats, env_factory=None):
    runs = [timed(cmd, env_factory() if env_factory else None) for _ in range(repeats)]
    return min(runs, key=lambda r: r[0])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--cold-repeats", type=int, default=2)
    args = ap.parse_args()
    r = args.repeats
    load0 = os.getloadavg()[0]
    base, _ = best([sys.executable, "-c", "pass"], r)
    floor, _ = best([sys.executable, "-c", "import numpy, numba, xarray; xarray.Dataset({'a': ('x', numpy.ones(3))})"],
                    r)
    imp, _ = best([sys.executable, "-c", "import eosdyn"], r)
    simulate = [*EOSDYN, "simulate", "--quiet", "--json"]
    timed(simulate)  # make sure the cache is warm
    warm, out_warm = best(simulate, r)
    tmp = tempfile.mkdtemp(prefix="eosdyn-cold-")
    counter = iter(range(1000))
    cold, out_cold = best(simulate, args.cold_repeats,
                          lambda: {"NUMBA_CACHE_DIR": os.path.join(tmp, f"cache{next(counter)}")})
    w, c = json.loads(out_warm), json.loads(out_cold)
    load1 = os.getloadavg()[0]
    print(f"\nstartup, best of {r} fresh processes (cold: {args.cold_repeats}); load average {load0:.1f} -> "
          f"{load1:.1f} on {os.cpu_count()} cores")
    print(f"{'what':26s} {'wall s':>7s} {'target':>7s} {'x floor':>8s} {'compile s':>10s} {'run s':>6s}")
    print(f"{'python -c pass':26s} {base:7.2f}")
    print(f"{'numpy+numba+xarray (floor)':26s} {floor:7.2f}")
    rows = [("import eosdyn", imp, None), ("eosdyn simulate (warm)", warm, w), ("eosdyn simulate (cold)", cold, c)]
    for name, t, info in rows:
        extra = f" {info['compile_time']:10.2f} {info['run_time']:6.2f}" if info else ""
        print(f"{name:26s} {t:7.2f} {TARGETS[name]:7.1f} {t / floor:8.2f}{extra}")
    print("compile s: numba compiling or loading cached kernels; run s: the rest of simulate(); "
          "wall includes the interpreter and imports")


if __name__ == "__main__":
    main()
