"""The registry of numpy twins (tests/twins.py) covers every kernel, and its tests use the twins.

A new public function in ``eosdyn/kernels`` fails here until it has a line in tests/twins.py:
``twin("module.function", reference, "test_file.py::test_name")``.
"""

import ast
import importlib
import inspect
import pkgutil
from functools import cache
from pathlib import Path

import twins

import eosdyn.kernels

HERE = Path(__file__).resolve().parent


def public_kernels() -> set[str]:
    """``module.function`` for every public function defined in a public module of eosdyn.kernels
    (classes are not kernels: the namedtuple bundles the kernels take compute nothing)."""
    out = set()
    for info in pkgutil.iter_modules(eosdyn.kernels.__path__):
        if info.name.startswith("_"):
            continue
        mod = importlib.import_module(f"eosdyn.kernels.{info.name}")
        for name, obj in vars(mod).items():
            if (not name.startswith("_") and callable(obj) and not isinstance(obj, type)
                    and getattr(obj, "__module__", None) == mod.__name__):
                out.add(f"{info.name}.{name}")
    return out


def test_every_public_kernel_has_a_registered_twin():
    missing = sorted(public_kernels() - set(twins.TWINS))
    assert not missing, ("kernels without a numpy twin; add one line each to tests/twins.py, e.g. "
                         f"twin({missing[0]!r}, reference, 'test_file.py::test_name'): {missing}")


def test_no_registry_entry_names_a_kernel_that_does_not_exist():
    stale = sorted(set(twins.TWINS) - public_kernels())
    assert not stale, f"remove (or rename) these entries of tests/twins.py: {stale}"


@cache
def _functions(filename: str) -> dict:
    src = (HERE / filename).read_text()
    tree = ast.parse(src)
    return {node.name: (node, ast.get_source_segment(src, node)) for node in tree.body
            if isinstance(node, ast.FunctionDef)}


def _test_source(ref: str) -> str:
    """The test function's source plus that of the module-level helpers it calls."""
    filename, name = ref.split("::")
    funcs = _functions(filename)
    assert name in funcs, f"{ref}: no such test"
    node, text = funcs[name]
    called = {c.func.id for c in ast.walk(node) if isinstance(c, ast.Call) and isinstance(c.func, ast.Name)}
    return text + "".join(funcs[c][1] for c in called if c in funcs and c != name)


def test_every_entry_names_tests_that_exist_and_use_its_twin():
    bad = []
    for kernel, tw in twins.TWINS.items():
        assert tw.tests, f"{kernel}: no test named"
        if tw.reference is not None:
            assert inspect.getmodule(tw.reference) is twins, f"{kernel}: the reference must live in tests/twins.py"
        for ref in tw.tests:
            src = _test_source(ref)      # plumbing: the test must exist; twins: it must use the twin
            if tw.reference is not None and tw.needle not in src:
                bad.append(f"{kernel}: {ref} does not mention {tw.needle!r}")
    assert not bad, "\n".join(bad)


def test_twins_use_numpy_only():
    tree = ast.parse(Path(twins.__file__).read_text())
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert not {m for m in imported if m and m.split(".")[0] == "eosdyn"}, imported
