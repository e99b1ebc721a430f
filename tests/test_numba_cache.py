"""eosdyn's numba options stay eosdyn's: its own cache (stamped by all kernel sources, working on a
read-only install), IEEE division, and numba's process-wide settings untouched."""

import importlib
import os
import subprocess
import sys
import textwrap

import numba
import numpy as np

from eosdyn.kernels import _numba


def run_python(code, env=None, cwd=None):
    full = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    full.update(env or {})
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          env=full, cwd=cwd, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_division_follows_ieee_not_python():
    f = _numba.jit(lambda x, y: x / y, cache=False)
    assert f(1.0, 0.0) == np.inf and f(-1.0, 0.0) == -np.inf and np.isnan(f(0.0, 0.0))


def test_every_kernel_has_eosdyn_options_and_cache():
    import pkgutil

    import eosdyn.kernels

    checked = 0
    for info in pkgutil.iter_modules(eosdyn.kernels.__path__):
        module = importlib.import_module(f"eosdyn.kernels.{info.name}")
        for obj in vars(module).values():
            if isinstance(obj, numba.core.registry.CPUDispatcher) and obj.__module__ == module.__name__:
                assert obj.targetoptions["error_model"] == "numpy", obj
                assert obj.targetoptions.get("fastmath", False) is False, obj
                assert isinstance(obj._cache, _numba.KernelCache), obj
                checked += 1
    assert checked > 20


def test_process_wide_numba_settings_are_untouched(tmp_path):
    (tmp_path / "other_pkg.py").write_text(textwrap.dedent("""
        import numba

        @numba.njit(cache=True)
        def twice(x):
            return 2 * x
    """))
    out = run_python("""
        import numba
        before = (numba.config.CACHE_DIR, numba.config.FASTMATH if hasattr(numba.config, "FASTMATH") else None)
        import eosdyn, eosdyn.api
        from eosdyn.kernels import eigen_numba  # defines and compiles nothing yet
        import other_pkg
        print(before == (numba.config.CACHE_DIR, numba.config.FASTMATH if hasattr(numba.config, "FASTMATH") else None))
        print(other_pkg.twice(3), other_pkg.twice._cache._cache_path)
        print(type(other_pkg.twice._cache._impl.locator).__name__)
    """, env={"PYTHONPATH": str(tmp_path)}, cwd=tmp_path)
    same, result, locator = out.split("\n")[:3]
    assert same == "True"
    value, path = result.split(" ", 1)
    assert value == "6" and path == str(tmp_path / "__pycache__")  # numba's own place for other packages
    assert locator != "KernelCacheLocator"


def test_any_kernel_change_invalidates_the_whole_cache(tmp_path):
    src = os.path.dirname(_numba.__file__)
    copy = tmp_path / "kernels"
    copy.mkdir()
    for name in os.listdir(src):
        if name.endswith(".py"):
            (copy / name).write_bytes(open(os.path.join(src, name), "rb").read())
    before = _numba.kernel_digest((copy,))
    assert before == _numba.kernel_digest()  # the same sources, the same stamp
    (copy / "record_numba.py").write_text((copy / "record_numba.py").read_text() + "\n# a change\n")
    assert _numba.kernel_digest((copy,)) != before


def test_the_stamp_decides_reuse_across_processes(tmp_path):
    """A compiled kernel is reused by a new process only while the digest of all kernel sources
    is unchanged (a callee changing in another file makes its callers recompile)."""
    (tmp_path / "tiny_kernel.py").write_text(textwrap.dedent("""
        from eosdyn.kernels._numba import jit

        @jit
        def norm1(x):
            s = 0.0
            for v in x:
                s += abs(v)
            return s
    """))
    code = """
        import sys
        import numpy as np
        from eosdyn.kernels import _numba
        if sys.argv[1:] == ["changed"]:
            _numba.kernel_digest = lambda dirs=None: "something-else"
        from tiny_kernel import norm1
        assert norm1(np.array([1.0, -2.0])) == 3.0
        print(sum(norm1.stats.cache_hits.values()), sum(norm1.stats.cache_misses.values()), norm1._cache._cache_path)
    """
    env = {"NUMBA_CACHE_DIR": str(tmp_path / "cache"), "PYTHONPATH": str(tmp_path)}

    def go(*args):
        proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], capture_output=True,
                              text=True, env={**os.environ, **env}, timeout=600)
        assert proc.returncode == 0, proc.stderr
        hits, misses, path = proc.stdout.split()
        return int(hits), int(misses), path

    first = go()
    assert first[:2] == (0, 1) and first[2].startswith(str(tmp_path / "cache"))  # NUMBA_CACHE_DIR honoured
    assert go()[:2] == (1, 0)  # reused
    assert go("changed")[:2] == (0, 1)  # another stamp: recompiled
    assert go()[:2] == (0, 1)  # and back: the index holds one stamp at a time


def test_a_read_only_install_caches_elsewhere(tmp_path, monkeypatch):
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    monkeypatch.setattr(_numba, "cache_dirs", lambda: [blocked / "numba", tmp_path / "user"])

    def f(x):
        return x + 1

    locator = _numba.KernelCacheLocator.from_function(f, __file__)
    assert locator.get_cache_path() == str(tmp_path / "user")
    assert locator.get_source_stamp() == _numba.kernel_digest()
    monkeypatch.setattr(_numba, "cache_dirs", lambda: [blocked / "numba"])
    assert _numba.KernelCacheLocator.from_function(f, __file__) is None
