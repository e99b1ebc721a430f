r"""Per-step diagnostics of a network state: the record row of :mod:`eosdyn.kernels.layout`.

For a state ``theta`` (``F``, ``D = F - Y``; matrices of :mod:`eosdyn.nets.functions`):

* ``loss = ||D||^2/n``, ``a_norm2 = ||A||^2``, ``DtF = D^T F``;
* ``sharpness``, ``lambda2``: the two largest eigenvalues of ``M``, with ``v_1`` its top
  eigenvector, sign kept continuous (``v_1(t) . v_1(t-1) >= 0``, initially
  ``v_1 . v_data >= 0``, ``v_data`` the data's top right singular vector, as the two-layer
  engines); ``Dv1 = D^T v_1``, ``R_norm2 = ||D||^2 - (D^T v_1)^2``;
* ``sharpness_MA = lambda_max(M_A)``, ``sharpness_MW = lambda_max(M_W)``;
* ``sharpness_Mstar = lambda_max(M*)`` for the two-layer linear model only, where GD's residual
  map is exactly ``D' = (I - eta M*) D`` with ``M* = M - (4 eta c_out^2 / n^2) (D^T F) X^T X``
  (``c_out^2 = 1/m`` under ntk: the two-layer engines' ``M*``). For any other network the
  ``eta^2`` terms of ``D' - D`` involve higher derivatives of ``f`` and are not of the form
  ``M* D``: NaN (documented in the run's ``sharpness_Mstar_note`` attribute).
* ``sharpness_hessian`` (``hessian=True``): ``lambda_max(grad^2 L)`` by Lanczos on exact
  Hessian-vector products (the definition of Cohen et al.).

Methods (``method``):

* ``gram``: dense-layer models with ``n <= GRAM_MAX_N`` build ``M_A`` and ``M_W`` by the
  structured formula (no Jacobian, :func:`eosdyn.nets.functions.make`);
* ``jacobian``: other small models (``n <= GRAM_MAX_N``, ``n p <= JACOBIAN_MAX``) form them from
  per-sample gradients (the n x p Jacobian, one batched backward pass);
* ``operator``: anything larger runs certified Lanczos on matrix-free ``M v`` products (one VJP
  and one JVP each) -- no Jacobian, no n x n matrix beyond ``M_A``'s features.

Dense n x n matrices get their eigenvalues by LAPACK (``n <= DENSE_EIGH_N``) or certified Lanczos.
Every eigenvalue is warm-started from the previous state's eigenvectors and certified by its
residual to ``RTOL_RES`` of ``||M||`` (rigorous), its error estimated ~``RTOL``
(:mod:`eosdyn.nets.lanczos`). The run's attributes report the largest residual bound met
(``eigen_max_rel_residual``) and how many solves missed ``RTOL_RES`` (``eigen_uncertified``: their
values are kept, accurate to that residual).
"""

from __future__ import annotations

import numpy as np

from ..kernels import layout as L
from .lanczos import orient, top_eigs, top_eigs_dense

#: structured (dense n x n) Gram up to this many samples; matrix-free beyond
GRAM_MAX_N = 4096
#: per-sample gradients (a dense n x p Jacobian) for other models while n p is at most this
JACOBIAN_MAX = 20_000_000
#: LAPACK eigh for dense matrices up to this size; certified Lanczos beyond
DENSE_EIGH_N = 200
#: Lanczos tolerances relative to lambda_max: error estimate, rigorous residual bound
RTOL = 1e-13
RTOL_RES = 1e-9
MSTAR_NOTE = ("NaN: M* (D' = (I - eta M*) D exactly) exists for the two-layer linear model only; "
              "for this network GD's eta^2 terms involve higher derivatives of f")


class Diagnostics:
    """Warm-started diagnostics along one trajectory (see the module docstring).

    Parameters
    ----------
    model, fns : the model and its :func:`eosdyn.nets.functions.make` functions.
    x, Y : jax arrays, the inputs and labels.
    v_data : ndarray (n,)
        The data's top right singular vector (orientation of ``v_1`` at the first call).
    eta : float
    method : ``"auto"``, ``"gram"`` or ``"operator"``.
    seed : int
        Seeds the small random components of the Lanczos starts (deterministic runs).
    """

    def __init__(self, model, fns, x, Y, v_data, eta, method="auto", seed=0):
        import jax.numpy as jnp

        self.model, self.fns, self.x, self.Y = model, fns, x, Y
        self.Ynp = np.asarray(Y)
        self.n = int(Y.shape[0])
        self.eta = float(eta)
        if method == "auto":
            small = self.n <= GRAM_MAX_N
            method = ("gram" if model.spec.dense and small else
                      "jacobian" if small and self.n * model.n_params() <= JACOBIAN_MAX else "operator")
        if method == "gram" and not model.spec.dense:
            raise ValueError("the structured Gram needs a dense-layer model")
        self.method = method
        xf = x.reshape(self.n, -1)
        self.XtX = xf @ xf.T if method in ("gram", "jacobian") else None
        self.xf_np = np.asarray(xf)
        self.rng = np.random.default_rng(np.random.SeedSequence([seed, 0x5EC7]))
        self.v1 = np.asarray(v_data, dtype=float).copy()
        self.warm = {"M": None, "MA": None, "MW": None, "Ms": None, "H": None}
        self.uncertified = 0
        self.max_rel_residual = 0.0
        self._jnp = jnp

    # --- public ---------------------------------------------------------------------------

    def row(self, params, full: bool = True) -> np.ndarray:
        """The ``NDIAG`` diagnostics of ``params`` (``full=False``: only loss, Lambda, ||A||^2)."""
        out = np.full(L.NDIAG, np.nan)
        a = float(np.sum(np.asarray(params["A"]) ** 2))
        out[L.A_NORM2] = a
        mats = self._matrices(params)
        F = np.asarray(mats["F"])
        D = F - self.Ynp
        d2 = float(D @ D)
        out[L.LOSS] = d2 / self.n
        if not (np.isfinite(d2) and np.isfinite(a) and _finite(mats)):
            return out
        eig = self._top(mats, "M", k=2 if full else 1)
        out[L.SHARP] = eig.values[0]
        if not full:
            return out
        out[L.LAM2] = max(eig.values[1], 0.0) if eig.values.size > 1 else 0.0
        v1 = orient(eig.vectors[0], self.v1)
        self.v1 = v1
        dv1 = float(D @ v1)
        out[L.DTF] = float(D @ F)
        out[L.DV1] = dv1
        out[L.R_NORM2] = d2 - dv1 * dv1
        out[L.SHARP_MA] = self._top(mats, "MA", k=1).values[0]
        out[L.SHARP_MW] = self._top(mats, "MW", k=1).values[0]
        if self.model.spec.bilinear_two_layer:
            c = 4.0 * self.eta * self.model.c_out**2 * out[L.DTF] / self.n**2
            out[L.SHARP_MSTAR] = self._top(dict(mats, c=c), "Ms", k=1).values[0]
        return out

    def hessian(self, params) -> float:
        """``lambda_max(grad^2 L)`` by certified Lanczos on Hessian-vector products."""
        from .functions import ravel

        flat, _ = ravel(params)
        if not np.all(np.isfinite(np.asarray(flat))):
            return np.nan
        jnp = self._jnp

        def mv(v):
            return np.asarray(self.fns.hvp(params, self.x, self.Y, jnp.asarray(v)))

        v0 = self.warm["H"]
        if v0 is None:
            v0 = np.asarray(flat) + 1e-3 * self.rng.standard_normal(flat.size)
        eig = top_eigs(mv, v0, k=1, rtol=RTOL, rtol_res=RTOL_RES, maxdim=min(60, flat.size), rng=self.rng)
        self.warm["H"] = eig.vectors[0]
        self._account(eig)
        return float(eig.values[0])

    # --- internals ------------------------------------------------------------------------

    def _matrices(self, params) -> dict:
        """``F`` and what the eigen-solves need: dense matrices (gram) or the params (operator)."""
        if self.method in ("gram", "jacobian"):
            import jax

            fn = self.fns.gram if self.method == "gram" else self.fns.jac_gram
            F, MA, MW, M = jax.device_get(fn(params, self.x, self.XtX))
            return {"F": F, "MA": MA, "MW": MW, "M": M, "params": params}
        F = self.fns.outputs(params, self.x)
        H = np.asarray(self.fns.features(params, self.x)) * self.model.c_out
        return {"F": F, "H": H, "params": params}

    def _top(self, mats, key, k):
        op, dense = self._operator(mats, key)
        if dense is not None and dense.shape[0] <= DENSE_EIGH_N:
            eig = top_eigs_dense(dense, k)
        else:
            v0 = self._start(key, k)
            eig = top_eigs(op, v0, k=k, rtol=RTOL, rtol_res=RTOL_RES, rng=self.rng)
        self.warm[key] = eig.vectors
        self._account(eig)
        return eig

    def _account(self, eig):
        self.uncertified += int(not eig.certified)
        if np.isfinite(eig.rel_bound):
            self.max_rel_residual = max(self.max_rel_residual, eig.rel_bound)

    def _start(self, key, k):
        w = self.warm[key]
        v = self.v1.copy() if w is None else w[:k].sum(axis=0)
        return v + 1e-3 * np.linalg.norm(v) / np.sqrt(v.size) * self.rng.standard_normal(v.size)

    def _operator(self, mats, key):
        """``(matvec, dense matrix or None)`` of ``M``, ``M_A``, ``M_W`` or ``M*``."""
        n = self.n
        if key == "Ms":
            base = mats["M"] if "M" in mats else None
            if base is not None:
                B = base - mats["c"] * np.asarray(self.XtX)
                return (lambda v: B @ v), B
            mv_M, xf = self._operator(mats, "M")[0], self.xf_np
            return (lambda v: mv_M(v) - mats["c"] * (xf @ (xf.T @ v))), None
        if key in mats:  # gram method: dense n x n
            B = mats[key]
            return (lambda v: B @ v), B
        if key == "MA":
            H = mats["H"]
            if n <= DENSE_EIGH_N:
                B = (2.0 / n) * (H @ H.T)
                return (lambda v: B @ v), B
            return (lambda v: (2.0 / n) * (H @ (H.T @ v))), None
        params, jnp = mats["params"], self._jnp
        w_only = 1.0 if key == "MW" else 0.0
        return (lambda v: np.asarray(self.fns.ntk_mv(params, self.x, jnp.asarray(v), w_only))), None


def _finite(mats) -> bool:
    for key in ("F", "M", "H"):
        if key in mats and not np.all(np.isfinite(np.asarray(mats[key]))):
            return False
    return True
