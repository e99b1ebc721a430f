"""eosdyn: exact, fast gradient-descent dynamics at the edge of stability.

The public API::

    import eosdyn
    ds = eosdyn.simulate(m=4096, eta=0.01)            # an xarray.Dataset (schema: eosdyn.io.schema)
    print(eosdyn.summarize(ds))                        # what `eosdyn simulate` prints
    eosdyn.save(ds, "run.nc"); ds = eosdyn.open_run("run.nc")   # overwrite=True to replace
    eosdyn.plot_output("any-eosdyn-file.nc", "fig.png")  # runs, scans, orbit diagrams, compare
    report = eosdyn.check(ds)                          # the paper's statements on this run
    cmp = eosdyn.compare(eta=0.01)                     # GD against its gradient flow
    sc = eosdyn.scan(["eta=0.002:0.2:16:log"], "s.zarr")
    orbit = eosdyn.bifurcation(values=[0.01, 0.02])
    eosdyn.plot_run(ds, "fig.png", kind="timeseries")

The package is laid out by role: ``model`` (parameters, data, initial states, scenarios),
``engines`` (how a run advances), ``kernels`` (numba), ``analysis`` (check, compare, scan,
bifurcation, Lyapunov, Hessian), ``plot``, ``io`` (schema, files) and ``cli``. Names below are
loaded on first use, so ``import eosdyn`` stays fast.
"""

from importlib import import_module

from ._version import __version__

#: public name -> (module, attribute)
_API = {
    "simulate": ("eosdyn.api", "simulate"),
    "summarize": ("eosdyn.analysis.summary", "summarize"),
    "check": ("eosdyn.analysis.check", "run_checks"),
    "run_checks": ("eosdyn.analysis.check", "run_checks"),
    "CheckOptions": ("eosdyn.analysis.check", "CheckOptions"),
    "compare": ("eosdyn.analysis.compare", "compare"),
    "scan": ("eosdyn.analysis.scan", "scan"),
    "open_scan": ("eosdyn.analysis.scan", "open_scan"),
    "bifurcation": ("eosdyn.analysis.bifurcation", "bifurcation"),
    "plot_run": ("eosdyn.plot", "plot_run"),
    "plot_timeseries": ("eosdyn.plot", "plot_timeseries"),
    "plot_indicator": ("eosdyn.plot", "plot_indicator"),
    "plot_spectrum": ("eosdyn.plot", "plot_spectrum"),
    "plot_decomposition": ("eosdyn.plot", "plot_decomposition"),
    "plot_portrait": ("eosdyn.plot", "plot_portrait"),
    "plot_compare": ("eosdyn.plot", "plot_compare"),
    "plot_bifurcation": ("eosdyn.plot", "plot_bifurcation"),
    "plot_heatmap": ("eosdyn.plot", "plot_heatmap"),
    "open_run": ("eosdyn.io.files", "open_run"),
    "open_output": ("eosdyn.io.files", "open_output"),
    "plot_output": ("eosdyn.plot", "plot_output"),
    "save": ("eosdyn.io.files", "save"),
    "VARIABLES": ("eosdyn.io.schema", "VARIABLES"),
    "validate": ("eosdyn.io.schema", "validate"),
    "load_scenario": ("eosdyn.model.scenario", "load_scenario"),
    "Params": ("eosdyn.model.params", "Params"),
    "SpectralData": ("eosdyn.model.data", "SpectralData"),
    "from_arrays": ("eosdyn.model.data", "from_arrays"),
    "synthetic": ("eosdyn.model.data", "synthetic"),
    "load_data": ("eosdyn.model.data", "load"),
    "METHODS": ("eosdyn.engines", "METHODS"),
    "EosdynError": ("eosdyn.errors", "EosdynError"),
    "ParameterError": ("eosdyn.errors", "ParameterError"),
    "DataError": ("eosdyn.errors", "DataError"),
}

__all__ = ["__version__", *sorted(_API)]


def __getattr__(name: str):
    try:
        module, attr = _API[name]
    except KeyError:
        raise AttributeError(f"module 'eosdyn' has no attribute {name!r}") from None
    value = getattr(import_module(module), attr)
    globals()[name] = value
    return value


def __dir__():
    return __all__
