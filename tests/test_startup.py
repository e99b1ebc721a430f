"""Startup: `import eosdyn` and the CLI load the heavy modules only where they are used."""

import json
import subprocess
import sys

HEAVY = ("matplotlib", "dask", "distributed", "zarr", "sklearn", "scipy.integrate", "scipy.sparse",
         "scipy.optimize", "xarray", "numba", "pandas", "h5py", "rich")


def loaded_after(code: str) -> set:
    probe = code + (f"\nimport sys, json\nprint(json.dumps(sorted(m for m in {list(HEAVY)!r} "
                    "if m in sys.modules)))")
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return set(json.loads(proc.stdout.strip().splitlines()[-1]))


def test_import_eosdyn_loads_nothing_heavy():
    assert loaded_after("import eosdyn; eosdyn.__version__") == set()


def test_cli_help_loads_nothing_heavy():
    code = "from eosdyn.cli import main\ntry:\n    main(['simulate', '--help'])\nexcept SystemExit:\n    pass"
    assert loaded_after(code) == set()


def test_simulate_loads_no_plotting_scan_or_ml_stack():
    code = ("from eosdyn.cli import main\ntry:\n    main(['simulate', '--steps', '10', '--quiet'])\n"
            "except SystemExit:\n    pass")
    loaded = loaded_after(code)
    assert {"numba", "xarray"} <= loaded  # what a run needs (xarray imports dask, dask scipy.sparse)
    assert not loaded & {"matplotlib", "zarr", "sklearn", "scipy.integrate", "scipy.optimize", "distributed", "h5py"}


def test_a_run_loads_xarray_only_to_build_its_result():
    """The engines, the kernels and ``eosdyn.api`` import without xarray (0.5 s, and 0.6 s more
    for the dask it probes): the command line imports both in a thread while the kernels run."""
    assert not loaded_after("import eosdyn.api, eosdyn.engines, eosdyn.analysis.summary, eosdyn.io.schema") & {
        "xarray", "pandas", "dask"}


def test_prefetch_imports_the_result_modules_in_a_thread():
    code = ("import threading\nfrom eosdyn.cli._output import prefetch, RESULT_IMPORTS\n"
            "t = prefetch()\nassert isinstance(t, threading.Thread) and t.daemon\nt.join(120)\n"
            "assert set(RESULT_IMPORTS) >= {'xarray', 'dask.array'}\n"
            "prefetch(('no_such_module_eosdyn',)).join(10)  # skipped, not raised")
    assert {"xarray", "dask", "pandas"} <= loaded_after(code)
