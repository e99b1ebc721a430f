"""Kept for branches that still import it: the numpy twins live in ``tests/twins.py``."""

from twins import (  # noqa: F401
    batch_hessian,
    batch_indices,
    epoch_permutation,
    fisher_yates_tail,
    gradient,
    mix,
    sample_subset,
    stream_key,
    train,
)
