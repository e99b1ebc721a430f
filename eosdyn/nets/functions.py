r"""Pure, jit-compiled functions of a :class:`~eosdyn.nets.models.Model` (call inside ``x64``).

Notation: ``x`` the inputs (n, ...) as the model takes them, ``Y`` (n,) the labels,
``F = f(x)`` (n,), ``D = F - Y``, ``L = ||D||^2 / n``, ``J = dF/dtheta`` (n x p) and the Gram
(NTK) matrix of the paper

    M = (2/n) J J^T = M_A + M_W,   M_A = (2/n) J_A J_A^T = (2/n) c_out^2 H H^T,
    M_W = (2/n) J_W J_W^T

(``H`` the features (n, m), ``J_A``/``J_W`` the output-layer / extractor columns of ``J``).

*Structured Gram of dense models.* A dense layer ``z_l = c_l h_{l-1} W_l^T`` has
``df_i/dW_l = c_l delta_{l,i} h_{l-1,i}^T`` with ``delta_{l,i} = df_i/dz_{l,i}``, so

    M_W = (2/n) sum_l c_l^2 (Delta_l Delta_l^T) o (H_{l-1} H_{l-1}^T)     (o: entrywise)

with ``H_0 H_0^T = X^T X`` fixed. All ``Delta_l`` come from ONE backward pass of ``sum_i f(x_i)``
with respect to pre-activation taps (``f(x_i)`` depends on sample i only). Cost
``O(n m d + L n^2 m)`` per state, no Jacobian: :func:`make` ``gram``.

*Per-sample gradients* (small models of any kind): ``J`` row by row, ``vmap`` of ``grad f(x_i)``.

*Matrix-free products* (any model): ``M v = (2/n) J (J^T v)`` by one VJP and one JVP;
``M_W v`` the same with the output-layer part of ``J^T v`` zeroed; Hessian-vector products
``grad^2 L u`` by forward-over-reverse differentiation (Pearlmutter), flat vectors of length p.
"""

from __future__ import annotations

from types import SimpleNamespace


def make(model):
    """The jit-compiled functions of ``model`` (a namespace); every array is an argument."""
    import jax
    import jax.numpy as jnp
    from jax.flatten_util import ravel_pytree

    def outputs(params, x):
        return model.apply(params, x)

    def loss(params, x, Y):
        D = outputs(params, x) - Y
        return D @ D / Y.shape[0]

    def gram(params, x, XtX):
        """``(F, M_A, M_W, M)`` of a dense model by the structured formula (module doc)."""
        n = x.shape[0]
        taps = [jnp.zeros((n, layer.shape[0]), x.dtype) for layer in model.layers]

        def fwd(taps):
            h, hs = model.features(params, x, taps)
            return model.c_out * (h @ params["A"]), (h, hs)

        F, vjp, (h, hs) = jax.vjp(fwd, taps, has_aux=True)
        deltas = vjp(jnp.ones_like(F))[0]
        MA = (2.0 / n) * model.c_out**2 * (h @ h.T)
        MW = jnp.zeros((n, n), x.dtype)
        for i, dl in enumerate(deltas):
            G = XtX if i == 0 else hs[i] @ hs[i].T
            MW = MW + (2.0 / n) * model.mult(i) ** 2 * (dl @ dl.T) * G
        return F, MA, MW, MA + MW

    def ntk_mv(params, x, v, w_only):
        """``M v`` (or ``M_W v`` when ``w_only``) for a vector ``v`` (n,)."""
        n = x.shape[0]
        F, vjp = jax.vjp(lambda p: outputs(p, x), params)
        u = vjp(v)[0]
        u = dict(u, A=u["A"] * (1.0 - w_only))
        return (2.0 / n) * jax.jvp(lambda p: outputs(p, x), (params,), (u,))[1]

    def jac_gram(params, x, XtX):
        """``(F, M_A, M_W, M)`` from per-sample gradients (the dense n x p Jacobian; small models)."""
        n = x.shape[0]
        F = outputs(params, x)
        J = jax.vmap(jax.grad(lambda p, xi: model.apply(p, xi[None])[0]), in_axes=(None, 0))(params, x)
        blocks = {k: v.reshape(n, -1) for k, v in J.items()}
        MA = (2.0 / n) * blocks["A"] @ blocks["A"].T
        MW = sum((2.0 / n) * b @ b.T for k, b in blocks.items() if k != "A")
        return F, MA, MW, MA + MW

    def features(params, x):
        return model.features(params, x)[0]

    def hvp(params, x, Y, v):
        """``grad^2 L v`` for a flat vector ``v`` (p,)."""
        flat, unravel = ravel_pytree(params)
        g = jax.grad(loss)
        out = jax.jvp(lambda p: g(p, x, Y), (params,), (unravel(v),))[1]
        return ravel_pytree(out)[0]

    return SimpleNamespace(
        outputs=jax.jit(outputs), loss=jax.jit(loss), value_and_grad=jax.jit(jax.value_and_grad(loss)),
        gram=jax.jit(gram), ntk_mv=jax.jit(ntk_mv), jac_gram=jax.jit(jac_gram), features=jax.jit(features),
        hvp=jax.jit(hvp),
        raw=SimpleNamespace(outputs=outputs, loss=loss),
    )


def ravel(params):
    """Flat float64 vector of a parameter dict (the order of ``jax.flatten_util``) and its inverse."""
    from jax.flatten_util import ravel_pytree

    return ravel_pytree(params)
