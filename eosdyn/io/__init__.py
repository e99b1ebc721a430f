"""Reading and writing: the declared output schema and atomic netCDF/zarr files."""
