"""numba kernels: arrays and scalars in, preallocated arrays out. No validation, no xarray."""
