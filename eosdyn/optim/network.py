r"""Notes for the ``network`` engine (JAX, issue "Beyond two layers"): how to add the optimizers.

Nothing here runs; it records what the JAX engine needs to match the numba engines exactly, so that
``engine = "network"`` with ``model = "linear2"`` reproduces ``engine = "full"`` for every optimizer.

1. **Update rules** are those of :mod:`eosdyn.optim` (numpy twins: ``tests/optim_reference.py``,
   ``train``). As optax-style pure pairs ``init(params) -> opt``,
   ``update(grads, opt, params, hyper) -> (updates, opt)`` (``hyper`` traced, so ``vmap`` over
   ``eta``/``momentum`` works):

   * ``momentum``: ``opt = v`` (zeros); ``v' = beta v - eta g``; ``updates = v'``.
   * ``nesterov``: the same, but ``g`` must be the gradient at ``params + beta v``. The stepping loop
     evaluates ``value_and_grad`` at ``params``; give :class:`Optimizer` a third function
     ``point(params, opt, hyper) -> params + gamma v`` (identity for the others) and take the
     gradient there. (Storing the look-ahead point as the parameters instead, as PyTorch does, would
     report loss and sharpness at ``theta + beta v``, not at ``theta`` as the numba engines do.)
   * ``adam`` / ``rmsprop``: ``opt = (m, nu, k)``; ``m' = beta1 m + (1 - beta1) g``,
     ``nu' = beta2 nu + (1 - beta2) g^2``, ``k' = k + 1``,
     ``updates = -eta (m' / (1 - beta1^k')) / (sqrt(nu' / (1 - beta2^k')) + eps)`` (``beta1 = 0`` for
     rmsprop; ``bias_correction=False`` drops both factors).

2. **Mini-batches**: use the same batch sequence, ``eosdyn.kernels.sgd_numba.batch_start`` /
   ``epoch_permutation`` (a counter-based stream of ``(batch_seed, epoch)``, callable from Python on
   the host); pass each chunk's index array ``(steps, b)`` into the compiled loop and slice ``x, Y``
   there. The loss is ``||D_B||^2 / b``; the recorded loss and sharpness stay full-batch.

3. **Edges and outputs**: write the attrs ``edge`` (:func:`eosdyn.optim.run_edge`) and
   ``edge_sharpness`` (:func:`eosdyn.optim.relevant_sharpness`) and the variable ``edge_ratio``;
   :func:`eosdyn.optim.outputs.finish_run` does it from the engine's recorded series.

4. **Batch sharpness** ``E_B[g_B^T H_B g_B / ||g_B||^2]``: for each sampled batch (stream tag 2,
   ``sgd_numba.random_subset(batch_seed, t, k, b, work)``), ``g_B = grad L_B`` and
   ``g_B^T H_B g_B = d/ds g_B . grad L_B(theta + s g_B)`` by one ``jax.jvp`` of ``grad L_B``.

5. **Preconditioned sharpness** ``lambda_max(P^{-1} H)``: ``P`` from ``nu'`` of the recorded step
   (it includes ``g_t^2``) and the bias corrections, as in :func:`eosdyn.optim.precond.inverse_sqrt_preconditioner`;
   beyond two layers there is no secular-equation shortcut: run the engine's certified Lanczos on
   ``x -> P^{-1/2} H (P^{-1/2} x)`` with Hessian-vector products (``jax.jvp`` of ``jax.grad``).
"""
