"""Baselines a researcher would otherwise write, used as timing references and as
independent numerical references for eosdyn.

Model (float64): f(x) = A^T W x / sqrt(m), A in R^m, W in R^{m x d}; X in R^{d x n},
Y in R^n; F = X^T W^T A / sqrt(m); D = F - Y; L = ||D||^2 / n.

Every function takes numpy arrays, never modifies its inputs, and returns a dict of what it
computed. Per-step diagnostics are evaluated at the iterate *before* the update, so entry ``t``
of a diagnostic array belongs to theta_t (t = 0 .. steps-1); the final state is returned too.

* :func:`numpy_reduced_loop` -- the exact m-independent reduced map, as an allocating numpy loop.
* :func:`numpy_full_loop`    -- parameter-space GD in numpy; sharpness from the explicit n x n
  NTK/Gram matrix M via ``np.linalg.eigvalsh``.
* :func:`torch_autograd_loop` -- PyTorch (CPU, float64) autograd training loop; sharpness as in
  Cohen et al. (2021): top Hessian eigenvalue from Hessian-vector products (double backward)
  through ``scipy.sparse.linalg.eigsh``. torch is imported lazily.
* :func:`torch_eigenthings_loop` -- PyTorch GD with the top Hessian eigenvalue every step from the
  ``hessian-eigenthings`` package's Lanczos (the ``bench`` extra: torch, hessian-eigenthings).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "reduced_state_from_params",
    "numpy_reduced_loop",
    "numpy_full_loop",
    "torch_autograd_loop",
    "gram_matrix",
    "torch_eigenthings_loop",
]


def reduced_state_from_params(A, W, X, Y, tol=None):
    """Exact reduced state of (A, W, X, Y).

    Thin SVD X = U S V^T (rank r), z = V^T Y, a = ||A||^2, u = U^T W^T A / sqrt(m),
    G = U^T W^T W U / m, y_perp_sq = ||Y||^2 - ||z||^2.

    Returns a dict with keys a, u, G, s, z, n, m, y_perp_sq, U, V.
    """
    A = np.asarray(A, dtype=np.float64)
    W = np.asarray(W, dtype=np.float64)
    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    m = A.shape[0]
    n = X.shape[1]
    U, s, Vt = np.linalg.svd(X, full_matrices=False)
    if tol is None:
        tol = s.max(initial=0.0) * max(X.shape) * np.finfo(np.float64).eps
    r = int(np.sum(s > tol))
    U, s, V = U[:, :r], s[:r], Vt[:r].T
    z = V.T @ Y
    WU = W @ U
    return {
        "a": float(A @ A),
        "u": U.T @ (W.T @ A) / np.sqrt(m),
        "G": WU.T @ WU / m,
        "s": s,
        "z": z,
        "n": n,
        "m": m,
        "y_perp_sq": float(max(Y @ Y - z @ z, 0.0)),
        "U": U,
        "V": V,
    }


def numpy_reduced_loop(a, u, G, s, z, n, m, eta, steps, diagnostics: bool = True, *,
                       y_perp_sq: float = 0.0):
    """Plain numpy loop of the exact reduced map (allocating numpy ops in a Python loop).

    With delta = S u - z, g = S delta, FD = (S u).delta:
      a' = a - (4 eta/n) u.g + (4 eta^2/n^2) g^T G g
      u' = u - (2 eta/n) G g - (2 eta a/(n m)) g + (4 eta^2/(n^2 m)) FD g
      G' = G - (2 eta/(n m)) (u g^T + g u^T) + (4 eta^2 a/(n^2 m^2)) g g^T

    diagnostics=True records, per step (at the pre-update iterate), the loss
    (||delta||^2 + y_perp_sq)/n and the top two eigenvalues of the restricted NTK
    (2/n) S ((a/m) I + G) S via ``np.linalg.eigvalsh``.

    Returns {"a", "u", "G"} (final state) plus, with diagnostics, {"loss", "sharpness",
    "lambda2"} (arrays of length ``steps``; lambda2 is NaN when r < 2).
    """
    a = float(a)
    u = np.array(u, dtype=np.float64)
    G = np.array(G, dtype=np.float64)
    s = np.asarray(s, dtype=np.float64)
    z = np.asarray(z, dtype=np.float64)
    r = s.shape[0]
    eta = float(eta)
    c1 = 2.0 * eta / n
    c2 = 2.0 * eta / (n * m)
    c3 = 4.0 * eta**2 / (n**2 * m)
    c4 = 4.0 * eta**2 / n**2
    c5 = 4.0 * eta**2 / (n**2 * m**2)
    eye = np.eye(r)
    S = np.diag(s)
    out = {}
    if diagnostics:
        loss = np.empty(steps)
        sharp = np.empty(steps)
        lam2 = np.full(steps, np.nan)
    for t in range(steps):
        Su = s * u
        delta = Su - z
        g = s * delta
        if diagnostics:
            loss[t] = (delta @ delta + y_perp_sq) / n
            ev = np.linalg.eigvalsh((2.0 / n) * (S @ ((a / m) * eye + G) @ S))
            sharp[t] = ev[-1]
            if r >= 2:
                lam2[t] = ev[-2]
        FD = Su @ delta
        Gg = G @ g
        ug = u @ g
        a_new = a - 2.0 * c1 * ug + c4 * (g @ Gg)
        u_new = u - c1 * Gg - c2 * a * g + c3 * FD * g
        G = G - c2 * (np.outer(u, g) + np.outer(g, u)) + c5 * a * np.outer(g, g)
        a, u = a_new, u_new
    out["a"], out["u"], out["G"] = a, u, G
    if diagnostics:
        out["loss"], out["sharpness"], out["lambda2"] = loss, sharp, lam2
    return out


def gram_matrix(A, W, X, XtX=None):
    """The n x n NTK/Gram matrix M = (2/(m n)) (||A||^2 X^T X + X^T W^T W X)."""
    m = A.shape[0]
    n = X.shape[1]
    if XtX is None:
        XtX = X.T @ X
    WtW = W.T @ W  # d x d; cheaper than (W X)^T (W X) when d < n
    return (2.0 / (m * n)) * ((A @ A) * XtX + X.T @ WtW @ X)


def numpy_full_loop(A, W, X, Y, eta, steps, sharpness: bool = False):
    """Plain numpy parameter-space GD.

    Per step: F = X^T (W^T A)/sqrt(m), D = F - Y, XD = X D,
    A <- A - eta (2/(n sqrt m)) W XD,  W <- W - eta (2/(n sqrt m)) A XD^T.

    Records the loss each step (free: D is needed for the gradient); with sharpness=True also
    lambda_max(M) from the explicit n x n Gram matrix (:func:`gram_matrix`) via eigvalsh.

    Returns {"A", "W"} (final) and {"loss"} (+ {"sharpness"}), arrays of length ``steps``.
    """
    A = np.array(A, dtype=np.float64)
    W = np.array(W, dtype=np.float64)
    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    m = A.shape[0]
    n = X.shape[1]
    sq = np.sqrt(m)
    c = 2.0 * float(eta) / (n * sq)
    loss = np.empty(steps)
    if sharpness:
        sharp = np.empty(steps)
        XtX = X.T @ X
    for t in range(steps):
        D = X.T @ (W.T @ A) / sq - Y
        loss[t] = D @ D / n
        if sharpness:
            sharp[t] = np.linalg.eigvalsh(gram_matrix(A, W, X, XtX))[-1]
        XD = X @ D
        A_new = A - c * (W @ XD)
        W = W - c * np.outer(A, XD)
        A = A_new
    out = {"A": A, "W": W, "loss": loss}
    if sharpness:
        out["sharpness"] = sharp
    return out


def torch_autograd_loop(A, W, X, Y, eta, steps, sharpness: bool = False, sharpness_every=1,
                        num_threads: int = 1, forward: str = "network", eigsh_tol: float = 0.0):
    """PyTorch (CPU, float64) autograd training loop, as an edge-of-stability paper writes it.

    forward="network": hidden = W X (m x n), F = A^T hidden / sqrt(m) (the nn.Module way);
    forward="contracted": F = X^T (W^T A) / sqrt(m) (cheaper association, same function).
    Each step: loss.backward(); under no_grad p -= eta * p.grad; zero the grads.

    With sharpness=True, every ``sharpness_every`` steps (at the pre-update iterate) the top
    eigenvalue of the Hessian of the loss w.r.t. (A, W) is computed as in Cohen et al. (2021):
    Hessian-vector products (autograd.grad with create_graph=True, then a second autograd.grad),
    recomputing the loss per product, wrapped in a scipy LinearOperator and
    ``scipy.sparse.linalg.eigsh(k=1, which='LA')``. Note the loss Hessian is the Gauss-Newton
    part (whose top eigenvalue is lambda_max(M)) plus a residual term, so it equals
    lambda_max(M) only up to O(loss).

    torch.set_num_threads(num_threads) is applied for the call and restored afterwards.

    Returns {"A", "W"} (final, numpy), {"loss"} (length ``steps``) and, with sharpness,
    {"sharpness"} (length ``steps``, NaN at steps where it was not computed).
    """
    import torch
    from scipy.sparse.linalg import LinearOperator, eigsh

    if forward not in ("network", "contracted"):
        raise ValueError(f"forward must be 'network' or 'contracted', got {forward!r}")
    prev_threads = torch.get_num_threads()
    torch.set_num_threads(num_threads)
    try:
        dt = torch.float64
        At = torch.tensor(np.asarray(A, dtype=np.float64), dtype=dt).requires_grad_(True)
        Wt = torch.tensor(np.asarray(W, dtype=np.float64), dtype=dt).requires_grad_(True)
        Xt = torch.tensor(np.asarray(X, dtype=np.float64), dtype=dt)
        Yt = torch.tensor(np.asarray(Y, dtype=np.float64), dtype=dt)
        params = [At, Wt]
        m = At.shape[0]
        inv_sq = 1.0 / float(np.sqrt(m))
        p_dim = sum(p.numel() for p in params)

        def loss_fn():
            if forward == "network":
                F = (At @ (Wt @ Xt)) * inv_sq
            else:
                F = (Xt.T @ (Wt.T @ At)) * inv_sq
            return ((F - Yt) ** 2).mean()

        def hvp(vec):
            v = torch.as_tensor(np.asarray(vec, dtype=np.float64).ravel(), dtype=dt)
            loss = loss_fn()
            grads = torch.autograd.grad(loss, params, create_graph=True)
            flat = torch.cat([g.reshape(-1) for g in grads])
            dot = (flat * v).sum()
            hv = torch.autograd.grad(dot, params, retain_graph=True)
            return torch.cat([h.reshape(-1) for h in hv]).detach().numpy()

        op = LinearOperator((p_dim, p_dim), matvec=hvp, dtype=np.float64)

        eta = float(eta)
        losses = np.empty(steps)
        sharp = np.full(steps, np.nan) if sharpness else None
        for t in range(steps):
            if sharpness and t % sharpness_every == 0:
                evals = eigsh(op, k=1, which="LA", tol=eigsh_tol, return_eigenvectors=False)
                sharp[t] = evals[0]
            loss = loss_fn()
            loss.backward()
            losses[t] = loss.item()
            with torch.no_grad():
                for p in params:
                    p -= eta * p.grad
                    p.grad = None
        out = {"A": At.detach().numpy().copy(), "W": Wt.detach().numpy().copy(), "loss": losses}
        if sharpness:
            out["sharpness"] = sharp
        return out
    finally:
        torch.set_num_threads(prev_threads)


def torch_eigenthings_loop(A, W, X, Y, eta, steps, max_iter: int = 30, tol: float = 1e-8,
                           num_threads: int = 1):
    """PyTorch (CPU, float64) GD with the top Hessian eigenvalue every step from the
    ``hessian-eigenthings`` package (``HessianOperator``: exact double-backward Hessian-vector
    products; ``lanczos(k=1, which='LA')`` with ``max_iter`` Lanczos steps, full
    reorthogonalisation), as an edge-of-stability study would write it.

    The network is an ``nn.Module`` with parameters ``A`` (m,) and ``W`` (m, d),
    ``F = X^T W^T A / sqrt(m)``, loss ``||F - Y||^2 / n``. Returns ``{"A", "W", "loss",
    "sharpness"}`` (per step, at the pre-update iterate).
    """
    import torch
    from hessian_eigenthings import HessianOperator, lanczos
    from torch import nn

    prev_threads = torch.get_num_threads()
    torch.set_num_threads(num_threads)
    try:
        dt = torch.float64
        m = A.shape[0]
        inv_sq = 1.0 / float(np.sqrt(m))

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.A = nn.Parameter(torch.tensor(np.asarray(A, np.float64), dtype=dt))
                self.W = nn.Parameter(torch.tensor(np.asarray(W, np.float64), dtype=dt))

            def forward(self, x):
                return (x.T @ (self.W.T @ self.A)) * inv_sq

        net = Net()
        batch = (torch.tensor(np.asarray(X, np.float64), dtype=dt),
                 torch.tensor(np.asarray(Y, np.float64), dtype=dt))

        def loss_fn(model, b):
            return ((model(b[0]) - b[1]) ** 2).mean()

        op = HessianOperator(net, [batch], loss_fn)
        losses, sharp = np.empty(steps), np.empty(steps)
        for t in range(steps):
            res = lanczos(op, k=1, which="LA", max_iter=max_iter, tol=tol, seed=0)
            sharp[t] = float(res.eigenvalues[0])
            loss = loss_fn(net, batch)
            net.zero_grad()
            loss.backward()
            losses[t] = loss.item()
            with torch.no_grad():
                for p in net.parameters():
                    p -= eta * p.grad
        return {"A": net.A.detach().numpy().copy(), "W": net.W.detach().numpy().copy(),
                "loss": losses, "sharpness": sharp}
    finally:
        torch.set_num_threads(prev_threads)
