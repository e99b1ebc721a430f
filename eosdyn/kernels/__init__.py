"""numba kernels: arrays and scalars in, preallocated arrays out; no validation, no xarray.

Options for every kernel are set in one place, :mod:`eosdyn.kernels._numba`.
"""
