"""The optimizer options of ``eosdyn simulate`` (and of every command that copies its run options)."""

from __future__ import annotations

import click


def optim_options(f):
    """``--optimizer``, ``--momentum``, ``--beta1``, ``--beta2``, ``--adam-eps``, ``--bias-correction``,
    ``--batch-size``, ``--batch-seed``, ``--batch-sharpness-samples`` (rules: :mod:`eosdyn.optim`)."""
    options = [
        click.option("--optimizer", type=click.Choice(["gd", "momentum", "nesterov", "rmsprop", "adam"]),
                     help="gd; momentum (heavy ball) or nesterov, edge (2+2β)/η and (2+2β)/((1+2β)η) "
                     "(engines reduced, full); rmsprop, adam (engine full), edge 2/η and "
                     "(2+2β1)/((1-β1)η) on λmax(P⁻¹H). [default: gd]"),
        click.option("--momentum", type=float, help="momentum/nesterov: β in [0, 1). [default: 0.9]"),
        click.option("--beta1", type=float, help="adam: first-moment decay in [0, 1). [default: 0.9]"),
        click.option("--beta2", type=float, help="adam, rmsprop: second-moment decay in [0, 1). [default: 0.999]"),
        click.option("--adam-eps", type=float, help="adam, rmsprop: ε > 0 of the preconditioner. [default: 1e-8]"),
        click.option("--bias-correction/--no-bias-correction", default=None,
                     help="adam, rmsprop: Kingma & Ba's bias corrections. [default: on]"),
        click.option("--batch-size", type=int,
                     help="Mini-batch SGD with b samples per step, 1 <= b <= n (each epoch a fresh random "
                     "permutation; n mod b samples left out per epoch). [default: full batch]"),
        click.option("--batch-seed", type=int, help="Seed of the batch sequence. [default: 0]"),
        click.option("--batch-sharpness-samples", type=int,
                     help="Batches averaged per recorded batch_sharpness. [default: 32]"),
    ]
    for option in reversed(options):
        f = option(f)
    return f
