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
interpreter (``python -c pass``) and the floor of any numba + xarray program: one xarray
Dataset (xarray imports pandas and dask) and one call of a cached numba function (numba then
loads its typing and lowering registries), so ``x floor`` is how far each row is above it.
Targets (issue 9): import <= 0.5 s, warm <= 1.5 s, cold <= 10 s. The machine is shared: the
load average is printed with the table, and CPU seconds (user + system) beside the wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

EOSDYN = [sys.executable, "-c", "from eosdyn.cli import main; main()"]
TARGETS = {"import eosdyn": 0.5, "eosdyn simulate (warm)": 1.5, "eosdyn simulate (cold)": 10.0}


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def timed(cmd, env=None) -> tuple[float, float, str]:
    """Wall and CPU seconds (user + system) of one fresh process, and its output."""
    c, t = _cpu(), time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=1200)
    wall, cpu = time.perf_counter() - t, _cpu() - c
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd}: {proc.stderr[-500:]}")
    return wall, cpu, proc.stdout


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
    base = best([sys.executable, "-c", "pass"], r)
    floor_dir = tempfile.mkdtemp(prefix="eosdyn-floor-")
    with open(os.path.join(floor_dir, "floor_kernel.py"), "w") as f:
        f.write("import numba\n\n@numba.njit(cache=True)\ndef one(x):\n    return x + 1.0\n")
    floor_cmd = [sys.executable, "-c", "import numpy, xarray; xarray.Dataset({'a': ('x', numpy.ones(3))}); "
                 "from floor_kernel import one; one(1.0)"]
    timed(floor_cmd, {"PYTHONPATH": floor_dir})  # compile and cache it
    floor = best(floor_cmd, r, lambda: {"PYTHONPATH": floor_dir})
    imp = best([sys.executable, "-c", "import eosdyn"], r)
    simulate = [*EOSDYN, "simulate", "--quiet", "--json"]
    timed(simulate)  # make sure the cache is warm
    warm = best(simulate, r)
    tmp = tempfile.mkdtemp(prefix="eosdyn-cold-")
    counter = iter(range(1000))
    cold = best(simulate, args.cold_repeats, lambda: {"NUMBA_CACHE_DIR": os.path.join(tmp, f"cache{next(counter)}")})
    load1 = os.getloadavg()[0]
    print(f"\nstartup, best of {r} fresh processes (cold: {args.cold_repeats}); load average {load0:.1f} -> "
          f"{load1:.1f} on {os.cpu_count()} cores")
    print(f"{'what':26s} {'wall s':>7s} {'cpu s':>6s} {'target':>7s} {'x floor':>8s} {'compile s':>10s} {'run s':>6s}")
    print(f"{'python -c pass':26s} {base[0]:7.2f} {base[1]:6.2f}")
    print(f"{'floor (numba+xarray)':26s} {floor[0]:7.2f} {floor[1]:6.2f}")
    rows = [("import eosdyn", imp, False), ("eosdyn simulate (warm)", warm, True),
            ("eosdyn simulate (cold)", cold, True)]
    for name, (t, cpu, out), is_run in rows:
        extra = ""
        if is_run:
            info = json.loads(out)
            extra = f" {info['compile_time']:10.2f} {info['run_time']:6.2f}"
        print(f"{name:26s} {t:7.2f} {cpu:6.2f} {TARGETS[name]:7.1f} {t / floor[0]:8.2f}{extra}")
    print("x floor: wall / the floor's wall; compile s: numba compiling or loading cached kernels; run s: the rest "
          "of simulate(); wall and cpu include the interpreter and imports")


if __name__ == "__main__":
    main()
