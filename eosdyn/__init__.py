"""eosdyn: exact, fast gradient-descent dynamics at the edge of stability.

The public API::

    import eosdyn
    ds = eosdyn.simulate(m=4096, eta=0.01)          # xarray.Dataset, schema in eosdyn.schema
    eosdyn.summarize(ds)                             # the numbers `eosdyn simulate` prints
    eosdyn.save(ds, "run.nc"); eosdyn.open_run("run.nc")
"""

from ._version import __version__
from .api import simulate
from .check import CheckOptions, run_checks
from .compare import compare
from .data import Dataset, from_arrays, synthetic
from .data import load as load_data
from .engines import METHODS
from .errors import DataError, EosdynError, ParameterError
from .io import open_run, save
from .params import Params
from .scenario import load_scenario
from .schema import VARIABLES, validate
from .summary import summarize

__all__ = [
    "METHODS", "VARIABLES", "DataError", "Dataset", "EosdynError", "ParameterError", "Params",
    "__version__", "from_arrays", "load_data", "load_scenario", "open_run", "save", "simulate",
    "summarize", "synthetic", "validate",
    "CheckOptions", "compare", "run_checks",
]
