"""Kept for branches that still import it: the numpy twins live in ``tests/twins.py``."""

from twins import diagnostics, gd_params, matrices, reduced_map  # noqa: F401
