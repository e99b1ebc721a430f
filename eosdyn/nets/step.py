r"""Pure ``init``/``step`` of full-batch training, with an optimizer state threaded through.

A training state is a :class:`NetState` pytree ``(params, opt)``: the weights (a dict
``W1 .. WK, A``) and the optimizer's state. An :class:`Optimizer` is a pair of pure functions
(the optax convention)::

    opt = optimizer.init(params)
    updates, opt = optimizer.update(grads, opt, params, hyper)     # hyper: {"eta": ..., ...}
    params = params + updates

Only plain gradient descent is defined here (``opt = ()``)::

    theta(t+1) = theta(t) - eta grad L(theta(t)),    L = ||f(X) - Y||^2 / n;

other optimizers (momentum, Adam, ...) plug in as further :class:`Optimizer` entries of
:data:`OPTIMIZERS` without touching the loop. Hyper-parameters are traced arguments, so
``jax.vmap`` can batch runs over them (:mod:`eosdyn.nets.scan`).

:func:`make_runner` compiles the stepping loop between recorded steps: a ``lax.while_loop`` that
at each step ``t`` evaluates ``L`` and its gradient once, folds ``L`` into the loss window,
classifies the step exactly as the numba kernels do (:mod:`eosdyn.kernels.record_numba`:
diverged if ``L >= max_loss``, ``||A||^2`` not finite or ``>= max_loss``; converged if
``L - L* <= loss_tol``; ``max_steps`` at ``t = steps``), and stops at a stop code or a step to be
recorded, returning both the state at ``t`` and the state after one more step.
"""

from __future__ import annotations

from typing import Any, NamedTuple


class NetState(NamedTuple):
    """The training state: weights and optimizer state (a pytree)."""

    params: dict
    opt: Any


class Optimizer(NamedTuple):
    """``init(params) -> opt``; ``update(grads, opt, params, hyper) -> (updates, opt)``."""

    name: str
    init: Any
    update: Any


def _gd_update(grads, opt, params, hyper):
    import jax

    eta = hyper["eta"]
    return jax.tree_util.tree_map(lambda g: -eta * g, grads), opt


GD = Optimizer("gd", lambda params: (), _gd_update)
#: optimizers by name (the ``network`` engine uses ``gd``)
OPTIMIZERS = {"gd": GD}


def init(params: dict, optimizer: Optimizer = GD) -> NetState:
    """The initial :class:`NetState` of ``params`` (arrays) for ``optimizer``."""
    return NetState(params, optimizer.init(params))


def make_step(fns, optimizer: Optimizer = GD):
    """``step(state, hyper, x, Y) -> (state', loss)``: one update from ``state`` (jit-compiled)."""
    import jax

    def step(state, hyper, x, Y):
        loss, grads = jax.value_and_grad(fns.raw.loss)(state.params, x, Y)
        return _apply(optimizer, state, grads, hyper), loss

    return jax.jit(step)


def _apply(optimizer, state, grads, hyper):
    import jax

    updates, opt = optimizer.update(grads, state.opt, state.params, hyper)
    params = jax.tree_util.tree_map(lambda p, u: p + u, state.params, updates)
    return NetState(params, opt)


def classify(loss, a, t, steps, lstar, loss_tol, max_loss):
    """The stop code at step ``t`` (-1: go on), as :func:`eosdyn.kernels.record_numba.classify`."""
    import jax.numpy as jnp

    diverged = ~((loss < max_loss) & jnp.isfinite(a) & (jnp.abs(a) < max_loss))
    return jnp.where(diverged, 2, jnp.where(loss - lstar <= loss_tol, 1, jnp.where(t == steps, 0, -1)))


def make_runner(fns, optimizer: Optimizer = GD):
    """``run(state, t, t_stop, every, steps, wmin, wmax, hyper, lstar, loss_tol, max_loss, x, Y)``
    -> ``(state_t, state_t1, t, code, stop, wmin, wmax)`` (jit-compiled).

    Steps from ``t`` until a stop code, a recorded step (``t % every == 0``) or ``t_stop``;
    ``stop`` says whether it ended at such a step ``t`` (then ``state_t1`` is the state after
    step ``t``, computed with the same gradient).
    """
    import jax
    import jax.numpy as jnp

    def run(state, t, t_stop, every, steps, wmin, wmax, hyper, lstar, loss_tol, max_loss, x, Y):
        def body(c):
            st, _, t, wmin, wmax, _, _ = c
            loss, grads = jax.value_and_grad(fns.raw.loss)(st.params, x, Y)
            a = jnp.sum(st.params["A"] ** 2)
            wmin, wmax = jnp.minimum(wmin, loss), jnp.maximum(wmax, loss)
            code = classify(loss, a, t, steps, lstar, loss_tol, max_loss)
            stop = (code >= 0) | (t % every == 0)
            new = _apply(optimizer, st, grads, hyper)
            keep = jax.tree_util.tree_map(lambda o, nw: jnp.where(stop, o, nw), st, new)
            return keep, new, jnp.where(stop, t, t + 1), wmin, wmax, code, stop

        def cond(c):
            return (c[2] < t_stop) & ~c[6]

        c0 = (state, state, t, wmin, wmax, jnp.asarray(-1), jnp.asarray(False))
        st, nxt, t, wmin, wmax, code, stop = jax.lax.while_loop(cond, body, c0)
        return st, nxt, t, code, stop, wmin, wmax

    return jax.jit(run)
