#!/usr/bin/env python
"""The network engine against the loop a researcher writes today (ratios measured in one run).

    python benchmarks/bench_network.py            # mlp:tanh:2, m = 512, n = 1000, d = 3072
    python benchmarks/bench_network.py --small    # m = 128, n = 300, d = 768 (a few minutes)

Workload: ``mlp:tanh:2`` (ntk: ``f = A^T tanh(W2 tanh(W1 x) / sqrt(m)) / sqrt(m)``) on
CIFAR-shaped synthetic data (Gaussian x with ``||x||^2 ~ 1``, labels +-1), full-batch GD on
``L = ||f - Y||^2 / n``, float64 everywhere, same initial weights for every row.

Rows (ms per GD step, after warm-up; compile time reported separately):

* ``torch GD``: PyTorch autograd, ``loss.backward()`` and an in-place update per step.
* ``torch GD + eigsh(HVP)``: the same plus, every step, the top-2 Hessian eigenvalues by
  ``scipy.sparse.linalg.eigsh(k=2, which="LA", tol=0)`` on Hessian-vector products (double
  backward), as in Cohen et al.'s code -- what tracking the sharpness costs today.
* ``eosdyn, no eigenvalues``: the network engine stepping between two recorded steps.
* ``eosdyn, Lambda every step``: every diagnostic of the record row at every step (``Lambda``,
  ``lambda_2``, ``lambda_max(M_A)``, ``lambda_max(M_W)``, ``D^T v_1``, ...: structured Gram + certified
  Lanczos), the paper's sharpness.
* ``eosdyn, --hessian every step``: the same plus ``lambda_max`` of the loss Hessian (the quantity
  the torch row computes) by certified Lanczos on JAX Hessian-vector products.
* ``eosdyn, record every k``: the cost of recording every k-th step.

Accuracy: at step 0 (same weights) the torch eigsh value and eosdyn's Hessian sharpness are
compared (relative difference printed), and eosdyn's largest certified residual bound is shown.

All libraries use ``--threads`` threads (default: all cores); timings on a shared machine vary with
its load, which is printed; the ratios are measured in the same run.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def make_problem(m, n, d, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((d, n)) / np.sqrt(d)
    Y = np.sign(rng.standard_normal(n))
    weights = {"A": rng.standard_normal(m), "W1": rng.standard_normal((m, d)), "W2": rng.standard_normal((m, m))}
    return X, Y, weights


# --- the torch loop ------------------------------------------------------------------------------


class TorchLoop:
    """mlp:tanh:2 (ntk) in PyTorch float64: GD by autograd, Hessian eigenvalues by eigsh on HVPs."""

    def __init__(self, X, Y, weights, eta, threads):
        import torch

        torch.set_num_threads(threads)
        self.torch = torch
        dt = torch.float64
        self.X = torch.tensor(X.T, dtype=dt)
        self.Y = torch.tensor(Y, dtype=dt)
        self.params = [torch.tensor(weights[k], dtype=dt).requires_grad_(True) for k in ("A", "W1", "W2")]
        self.m = weights["A"].size
        self.eta = eta
        self.products = 0

    def loss(self):
        A, W1, W2 = self.params
        s = 1.0 / np.sqrt(self.m)
        h = self.torch.tanh(self.X @ W1.T)
        h = self.torch.tanh(s * (h @ W2.T))
        F = s * (h @ A)
        return ((F - self.Y) ** 2).mean()

    def step(self):
        loss = self.loss()
        loss.backward()
        with self.torch.no_grad():
            for p in self.params:
                p -= self.eta * p.grad
                p.grad = None
        return float(loss)

    def hessian_top(self, k=2):
        from scipy.sparse.linalg import LinearOperator, eigsh

        torch = self.torch
        N = sum(p.numel() for p in self.params)

        def hvp(vec):
            self.products += 1
            v = torch.as_tensor(np.asarray(vec, dtype=np.float64).ravel())
            grads = torch.autograd.grad(self.loss(), self.params, create_graph=True)
            flat = torch.cat([g.reshape(-1) for g in grads])
            hv = torch.autograd.grad((flat * v).sum(), self.params)
            return torch.cat([h.reshape(-1) for h in hv]).detach().numpy()

        op = LinearOperator((N, N), matvec=hvp, dtype=np.float64)
        return np.sort(eigsh(op, k=k, which="LA", tol=0, return_eigenvectors=False))[::-1]


# --- eosdyn --------------------------------------------------------------------------------------


def eosdyn_engine(X, Y, weights, eta, steps, every, hessian):
    import eosdyn
    from eosdyn.engines import METHODS

    Ws = [weights["W1"], weights["W2"]]
    params = eosdyn.model.params.make_params(engine="network", model="mlp:tanh:2", m=weights["A"].size, eta=eta,
                                       steps=steps, record_every=every, hessian=hessian, loss_tol=0.0)
    pb = eosdyn.api.build_problem(params, X=X, Y=Y, A=weights["A"], W=Ws)
    return pb, METHODS["network"](pb)


def time_eosdyn(X, Y, weights, eta, steps, every, hessian=False, warm=2):
    """(ms per step over ``steps`` steps after ``warm`` warm-up steps, compile+warm-up s, engine)."""
    pb, eng = eosdyn_engine(X, Y, weights, eta, steps + warm + 1, every, hessian)
    t0 = time.perf_counter()
    eng.advance(0, warm)
    t1 = time.perf_counter()
    eng.advance(warm, warm + steps)
    t2 = time.perf_counter()
    return (t2 - t1) / steps * 1e3, t1 - t0, eng


def fmt(x, nd=3):
    return f"{x:.{nd}g}"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--small", action="store_true", help="m = 128, n = 300, d = 768")
    ap.add_argument("--steps", type=int, default=None, help="eosdyn steps timed per row")
    ap.add_argument("--torch-steps", type=int, default=None, help="torch + eigsh steps timed")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    args = ap.parse_args(argv)
    m, n, d = (128, 300, 768) if args.small else (512, 1000, 3072)
    steps = args.steps or (20 if args.small else 5)
    tsteps = args.torch_steps or (3 if args.small else 2)
    X, Y, weights = make_problem(m, n, d)
    eta = 0.05
    print(f"bench_network: mlp:tanh:2, m={m}, n={n}, d={d} ({m * d + m * m + m:,} parameters), float64, "
          f"{args.threads} threads, {platform.processor() or platform.machine()}, load average "
          f"{' '.join(f'{v:.1f}' for v in os.getloadavg())}")

    tl = TorchLoop(X, Y, weights, eta, args.threads)
    t0 = time.perf_counter()
    h0_torch = tl.hessian_top()
    t_eig0 = time.perf_counter() - t0
    products0 = tl.products
    tl = TorchLoop(X, Y, weights, eta, args.threads)
    tl.step()
    t0 = time.perf_counter()
    for _ in range(steps):
        tl.step()
    torch_gd = (time.perf_counter() - t0) / steps * 1e3
    tl = TorchLoop(X, Y, weights, eta, args.threads)
    t0 = time.perf_counter()
    for _ in range(tsteps):
        tl.hessian_top()
        tl.step()
    torch_eig = (time.perf_counter() - t0) / tsteps * 1e3
    hvps = tl.products / tsteps

    rows = []
    ms, comp, _ = time_eosdyn(X, Y, weights, eta, steps * 10, every=10**9)
    rows.append(("eosdyn, no eigenvalues", ms, comp))
    ms_l, comp, eng = time_eosdyn(X, Y, weights, eta, steps, every=1)
    rows.append(("eosdyn, Lambda every step", ms_l, comp))
    cert = eng.diag.max_rel_residual
    for k in (10, 100):
        ms_k, comp, _ = time_eosdyn(X, Y, weights, eta, max(steps * k // 2, 2 * k), every=k)
        rows.append((f"eosdyn, record every {k}", ms_k, comp))
    ms_h, comp, engh = time_eosdyn(X, Y, weights, eta, max(2, steps // 2), every=1, hessian=True)
    rows.append(("eosdyn, --hessian every step", ms_h, comp))
    pb, eng0 = eosdyn_engine(X, Y, weights, eta, 3, 1, True)
    eng0.advance(0, 1)
    h0_eos = eng0.hess[0]
    lam0 = pb.rec[0, 1]

    print(f"\n{'row':34s} {'ms/step':>10s} {'x torch+eigsh':>14s} {'x torch GD':>11s} {'compile s':>10s}")
    print(f"{'torch GD':34s} {fmt(torch_gd):>10s} {fmt(torch_eig / torch_gd):>14s} {'1':>11s} {'-':>10s}")
    print(f"{'torch GD + eigsh(HVP), k=2':34s} {fmt(torch_eig):>10s} {'1':>14s} "
          f"{fmt(torch_gd / torch_eig):>11s} {'-':>10s}")
    for name, ms, comp in rows:
        print(f"{name:34s} {fmt(ms):>10s} {fmt(torch_eig / ms):>14s} {fmt(torch_gd / ms):>11s} {fmt(comp, 2):>10s}")
    print(f"\ntorch eigsh: {hvps:.0f} Hessian-vector products per step ({products0} at step 0, {t_eig0:.1f} s)")
    print(f"accuracy at step 0: lambda_max(Hessian) torch eigsh {h0_torch[0]:.12g}, eosdyn {h0_eos:.12g} "
          f"(rel. diff {abs(h0_eos / h0_torch[0] - 1):.1e}); eosdyn Lambda = lambda_max(M) {lam0:.12g}")
    print(f"eosdyn eigenvalues certified: largest residual bound {cert:.1e} x lambda_max (Lambda rows), "
          f"{engh.diag.max_rel_residual:.1e} (--hessian rows)")
    print(f"speed-up for per-step exact sharpness: Lambda {torch_eig / ms_l:.1f}x, Hessian {torch_eig / ms_h:.1f}x "
          f"the torch + eigsh loop")


if __name__ == "__main__":
    main()
