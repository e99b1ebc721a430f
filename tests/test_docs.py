"""The documentation's generated parts cover the code, and the site's structure is consistent.

The site itself is built (``mkdocs build --strict``) by ``.ci/run``; these tests are the quick
part: what ``docs/_hooks/gen_pages.py`` generates at build time (the variable tables, the gallery,
the API page, the engine and statement tables, the subpackage pages) must name every schema
variable, scenario, public name, engine, checked statement and public module, each found here
independently of the generator; and every page is in the navigation.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "docs" / "_hooks"))

import gen_pages  # noqa: E402
import griffe_rst  # noqa: E402


def test_schema_tables_name_every_variable():
    schema = importlib.import_module("eosdyn.io.schema")
    expected = set(schema.VARIABLES) | set(schema.OPTIONAL_VARIABLES) | set(schema.COORDS)
    for value in vars(schema).values():  # any later table of Var (per output kind) too
        if isinstance(value, dict) and value and all(isinstance(v, schema.Var) for v in value.values()):
            expected |= set(value)
    text, names = gen_pages.schema_tables()
    assert expected <= set(names)
    for name in expected:
        assert f"<code>{name}</code>" in text, name
        assert schema_doc_cell(schema, name) in text, name


def schema_doc_cell(schema, name):
    tables = [v for v in vars(schema).values() if isinstance(v, dict) and isinstance(v.get(name), schema.Var)]
    doc = tables[0][name].doc
    return doc.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def test_gallery_shows_every_scenario_with_its_figure_and_command():
    stems = sorted(p.stem for p in (ROOT / "scenarios").glob("*.toml"))
    assert stems, "no scenarios"
    text, covered, missing = gen_pages.gallery()
    assert sorted(covered) == stems
    assert missing == [], f"figures missing for {missing}: run eosdyn figures --only NAME"
    for stem in stems:
        assert f"](figures/{stem}.png)" in text
        assert f"eosdyn figures --only {stem}\n" in text
        caption = tomllib.loads((ROOT / "scenarios" / f"{stem}.toml").read_text()).get("figure", {}).get("caption")
        if caption:
            assert caption in text


def test_gallery_command_names_the_figure_file_eosdyn_figures_writes(tmp_path):
    """`eosdyn figures --only NAME` writes figures/NAME.png: the file the gallery shows."""
    from eosdyn.plot import gallery

    (tmp_path / "scen").mkdir()
    (tmp_path / "out").mkdir()
    (tmp_path / "scen" / "tiny.toml").write_text('[run]\nsteps = 20\nm = 16\n[data]\nn = 6\nrank = 2\n')
    written = gallery.build(tmp_path / "scen", tmp_path / "out", only=["tiny"], echo=lambda s: None)
    assert written == [tmp_path / "out" / "tiny.png"] and written[0].is_file()


def test_api_page_documents_every_public_name():
    import eosdyn

    text, names = gen_pages.api_reference()
    assert set(names) == set(eosdyn._API)
    for name, (module, attr) in eosdyn._API.items():
        assert f"eosdyn.{name}" in text, name
        assert getattr(eosdyn, name) is getattr(importlib.import_module(module), attr)
    directives = re.findall(r"^::: (\S+)$", text, flags=re.M)
    assert len(directives) == len(set(directives)), "a public object is documented twice"
    assert len(directives) == len({id(getattr(eosdyn, n)) for n in eosdyn._API})


def test_parameter_table_names_every_parameter():
    import dataclasses

    from eosdyn.model.params import Params

    text, names = gen_pages.parameter_table()
    assert names == [f.name for f in dataclasses.fields(Params)]
    assert "<code>--init-scale</code>" in text and "<code>--eta</code>" in text


def test_scan_table_names_every_scan_variable():
    from eosdyn.analysis.scan import store

    text, names = gen_pages.scan_tables()
    assert set(store.SUMMARY_DOCS) | set(store.TRAJ_DOCS) == set(names)
    assert all(f"<code>{n}</code>" in text for n in names)


def test_engine_and_statement_tables_cover_the_code():
    from eosdyn.analysis.check import CHECKS
    from eosdyn.engines import METHODS

    text, names = gen_pages.engine_table()
    assert names == list(METHODS)
    assert all(f"<code>{n}</code>" in text for n in METHODS)
    text, names = gen_pages.check_table()
    assert names == [f.__name__ for f in CHECKS]


def test_package_pages_render_every_public_module():
    import eosdyn

    pages = gen_pages.package_pages()
    text = "\n".join(md for _, md in pages.values())
    rendered = set(re.findall(r"^::: (\S+)$", text, flags=re.M))
    for sub in gen_pages.PACKAGES:
        pkg = importlib.import_module(f"eosdyn.{sub}")
        modules = {f"eosdyn.{sub}"} | {
            m.name for m in pkgutil.walk_packages(pkg.__path__, f"eosdyn.{sub}.", onerror=lambda _: None)
            if not any(part.startswith("_") for part in m.name.split("."))}
        assert modules <= rendered, modules - rendered
    assert {f"eosdyn.{m}" for m in gen_pages.CORE_MODULES} <= rendered
    assert not any(p.startswith("eosdyn.cli") for p in rendered)
    assert eosdyn  # the package is importable as documented


def _nav_pages(nav):
    for item in nav:
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            for value in item.values():
                yield from ([value] if isinstance(value, str) else _nav_pages(value))


def test_every_page_is_in_the_navigation_and_every_marker_is_known():
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    nav = set(_nav_pages(config["nav"]))
    docs = ROOT / "docs"
    pages = {str(p.relative_to(docs)) for p in docs.rglob("*.md") if "_hooks" not in p.parts}
    assert pages == nav
    known = {"schema", "parameters", "scan-variables", "engines", "checks", "api", "gallery"}
    for page in pages:
        for marker in re.findall(r"<!--\s*eosdyn:([a-z-]+)\s*-->", (docs / page).read_text()):
            assert marker in known, (page, marker)
    # each generated table has its page
    used = "".join((docs / p).read_text() for p in pages)
    assert all(f"<!-- eosdyn:{m} -->" in used for m in known)


def test_how_to_pages_of_features_not_yet_merged_say_so():
    """Stubs are marked as such, and only while their feature is missing: once the engine or option
    exists, this fails until its page is written (the warning removed)."""
    import dataclasses

    from eosdyn.engines import METHODS
    from eosdyn.model.params import Params

    fields = {f.name for f in dataclasses.fields(Params)}
    docs = ROOT / "docs" / "how-to"
    for page, present in (("networks.md", "network" in METHODS), ("central-flow.md", "central-flow" in METHODS),
                          ("optimizers.md", "optimizer" in fields)):
        text = (docs / page).read_text()
        assert ("Not in this version yet" in text) != present, page


@pytest.fixture(scope="module")
def griffe_loader():
    import griffe

    loader = griffe.GriffeLoader(search_paths=[str(ROOT)])
    pkg = loader.load("eosdyn")
    loader.resolve_aliases(implicit=False)
    return pkg, loader


@pytest.mark.parametrize("text, expected", [
    ("Use :func:`eosdyn.simulate` here.", "Use [`eosdyn.simulate`][eosdyn.api.simulate] here."),
    ("See :class:`~eosdyn.model.params.Params`.", "See [`Params`][eosdyn.model.params.Params]."),
    ("A :func:`_private_helper` or :class:`numpy.ndarray`.", "A `_private_helper` or `numpy.ndarray`."),
    ("the velocity is::\n\n    da/dt = 0\n", "the velocity is:\n\n    da/dt = 0\n"),
])
def test_sphinx_roles_and_literal_markers_become_markdown(text, expected, griffe_loader):
    pkg, loader = griffe_loader
    ext = griffe_rst.SphinxToMarkdown()
    assert ext.convert(text, pkg["api"], loader) == expected


def test_untyped_parameter_groups_are_split():
    doc = "Run.\n\nParameters\n----------\na, b\n    Both.\nc : int\n    C.\n\nReturns\n-------\nx, y\n    Kept."
    out = griffe_rst.split_untyped_groups(doc)
    assert "a\n    Both.\nb\n    Both.\nc : int" in out
    assert out.endswith("x, y\n    Kept.")
