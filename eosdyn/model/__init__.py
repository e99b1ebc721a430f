"""What defines a run: parameters, data in spectral coordinates, real datasets, initial states, scenarios."""
