"""Each optimizer at its own edge on the default data, and the exactness of the reduced maps.

    python benchmarks/optim_edges.py            # the README's table (a few minutes on 2 cores)
    python benchmarks/optim_edges.py --quick    # shorter runs

Part 1 prints, per optimizer, the edge, the sharpness compared with it, the first step above it and
the late-time mean of (relevant sharpness) / edge over the second half of the run
(:func:`eosdyn.analysis.summary.late_edge_ratio`). Part 2 runs the exact reduced heavy-ball,
Nesterov and mini-batch maps (engine ``reduced``, O(r^2) per step) and the parameter-space engine
(``full``, O(m d) per step) from the same A, W (m = 4096) and batch sequence, and prints the largest
relative differences of the sharpness and of ``||A||^2`` and the largest loss difference (relative
to the initial loss) up to the first step with the sharpness above the edge (before the dynamics
become chaotic), the first step where the sharpnesses differ by more than 1e-10, and the same over
the whole run.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import eosdyn
from eosdyn.analysis.summary import summarize

RUNS = [
    ("GD", dict(eta=0.02)),
    ("momentum β=0.9", dict(optimizer="momentum", momentum=0.9, eta=0.038)),
    ("Nesterov β=0.9", dict(optimizer="nesterov", momentum=0.9, eta=0.0136)),
    ("RMSProp", dict(engine="full", optimizer="rmsprop", eta=1e-4, record_every=20)),
    ("Adam β1=0.9", dict(engine="full", optimizer="adam", eta=1e-4, record_every=20)),
    ("SGD b=50", dict(batch_size=50, eta=0.01)),
    ("SGD b=10", dict(batch_size=10, eta=0.01)),
    ("SGD b=10 + momentum 0.9", dict(batch_size=10, optimizer="momentum", momentum=0.9, eta=0.019)),
]
EXACT = [
    ("momentum β=0.9", dict(optimizer="momentum", momentum=0.9, eta=0.038)),
    ("Nesterov β=0.9", dict(optimizer="nesterov", momentum=0.9, eta=0.0136)),
    ("SGD b=10", dict(batch_size=10, eta=0.01)),
    ("SGD b=10 + momentum 0.9", dict(batch_size=10, optimizer="momentum", momentum=0.9, eta=0.019)),
]


def edges(steps: int) -> None:
    print("| optimizer | η | edge | sharpness compared | first step above | late mean sharpness/edge | "
          "wall (s) |\n|---|---|---|---|---|---|---|")
    for name, kw in RUNS:
        kw = dict(kw)
        n = kw.pop("steps", steps * (2 if "batch_size" in kw else 1))
        ds = eosdyn.simulate(steps=n, **kw)
        s = summarize(ds)
        first = "never" if s["first_cross_step"] is None else s["first_cross_step"]
        print(f"| {name} | {kw['eta']:g} | {s['edge']:.4g} | {s['edge_sharpness']} | {first} | "
              f"{s['late_edge_ratio']:.4f} | {s['wall_time']:.1f} |", flush=True)


def exactness(steps: int) -> None:
    print("\n| map | steps | first Λ above edge | max rel. diff. Λ / ‖A‖² / loss (÷L(0)) up to it | "
          "first step with rel. diff. Λ > 1e-10 | whole run | reduced (s) | full (s) |\n"
          "|---|---|---|---|---|---|---|---|")
    for name, kw in EXACT:
        a = eosdyn.simulate(steps=steps, engine="reduced", init_sampler="parameters", **kw)
        t0 = time.perf_counter()
        b = eosdyn.simulate(steps=steps, engine="full", **kw)
        wall_full = time.perf_counter() - t0
        k = min(a.sizes["step"], b.sizes["step"])
        cross = np.flatnonzero(b["sharpness"].values[:k] > b.attrs["edge"])
        c = int(cross[0]) if cross.size else k - 1
        r = {v: np.abs(a[v].values[:k] - b[v].values[:k]) / np.abs(b[v].values[:k]) for v in ("sharpness", "a_norm2")}
        r["loss"] = np.abs(a["loss"].values[:k] - b["loss"].values[:k]) / b["loss"].values[0]
        bad = np.flatnonzero(r["sharpness"] > 1e-10)

        print(f"| {name} | {k - 1} | {c if cross.size else 'never'} | {_upto(r, c)} | "
              f"{int(bad[0]) if bad.size else 'none'} | {_upto(r, k - 1)} | {a.attrs['wall_time']:.2f} | "
              f"{wall_full:.1f} |", flush=True)


def _upto(r: dict, j: int) -> str:
    return " / ".join(f"{np.nanmax(r[v][:j + 1]):.1e}" for v in ("sharpness", "a_norm2", "loss"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="10,000-step runs instead of 40,000")
    ap.add_argument("--part", choices=("all", "edges", "exact"), default="all")
    args = ap.parse_args()
    steps = 10_000 if args.quick else 40_000
    print(f"default data (n=100, rank 5, eigenvalues of X^T X from 1e6 to 10), m=4096, init scale 0.01; "
          f"{steps} steps (SGD: {2 * steps}); late = second half of the run\n")
    if args.part in ("all", "edges"):
        edges(steps)
    if args.part in ("all", "exact"):
        exactness(steps)


if __name__ == "__main__":
    main()
