"""The generated parts of the documentation, made from the code at build time so they cannot drift.

Each function returns Markdown. :mod:`hooks` puts them into the site:

* :func:`schema_tables` -- every variable of ``eosdyn/io/schema.py`` (every module-level table of
  ``Var``), into ``concepts/schema.md`` at ``<!-- eosdyn:schema -->``;
* :func:`parameter_table` -- every field of ``Params`` with its CLI option (``<!-- eosdyn:parameters -->``);
* :func:`scan_tables` -- the variables of a scan store (``<!-- eosdyn:scan-variables -->``);
* :func:`engine_table` -- ``eosdyn.engines.METHODS`` (``<!-- eosdyn:engines -->``);
* :func:`check_table` -- ``eosdyn.analysis.check.CHECKS`` (``<!-- eosdyn:checks -->``);
* :func:`gallery` -- one section per ``scenarios/*.toml`` with its figure from ``figures/`` and the
  command that made it (``<!-- eosdyn:gallery -->``);
* :func:`api_reference` -- every public name of ``eosdyn/__init__.py``'s ``_API`` table
  (``<!-- eosdyn:api -->``);
* :func:`package_pages` -- one reference page per subpackage, every public module in it.

Pure functions of the repository (no simulation, nothing fetched); ``tests/test_docs.py`` checks
that they cover every variable, scenario and public name.
"""

from __future__ import annotations

import functools
import html
import importlib
import inspect
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from griffe_rst import public_api  # noqa: E402  (docs/_hooks is on sys.path: mkdocs hooks, tests)

#: subpackages with a reference page, in reading order, with their page title
PACKAGES = {
    "model": "eosdyn.model: parameters, data, initial states, scenarios",
    "engines": "eosdyn.engines: how a run advances",
    "kernels": "eosdyn.kernels: the numba kernels",
    "analysis": "eosdyn.analysis: checks, comparisons, scans, orbit diagrams",
    "plot": "eosdyn.plot: figures",
    "io": "eosdyn.io: schema and files",
    "optim": "eosdyn.optim: optimizers beyond GD and their edges",
    "nets": "eosdyn.nets: networks beyond two layers (JAX)",
    "explore": "eosdyn.explore: the interactive explorer",
}
#: top-level modules documented on the "core" page
CORE_MODULES = ("api", "errors", "progress", "status")
#: section titles of the API reference, by the subpackage (or module) a public name comes from
API_GROUPS = {
    "api": "Running GD", "engines": "Engines", "analysis": "Analysing runs", "plot": "Plotting",
    "io": "Files and the output schema", "model": "Parameters, scenarios and data",
    "errors": "Errors",
}
#: scenarios shown first in the gallery (the paper's figures in order); the others follow by name
GALLERY_FIRST = ("default", "fig2-indicator", "fig3a-spectrum", "fig3b-decomposition", "portrait")
#: titles of the schema's tables (other tables of Var get a title from their name)
SCHEMA_TITLES = {
    "VARIABLES": "Run variables (every run has them)",
    "OPTIONAL_VARIABLES": "Optional run variables (only when asked for)",
    "COORDS": "Coordinates",
}


# -- helpers ----------------------------------------------------------------------------------------
def _cell(text) -> str:
    """Text for an HTML table cell: escaped, with ``code`` / `code` spans as <code>."""
    out = html.escape(str(text), quote=False)
    return re.sub(r"``(.+?)``|`([^`]+)`", lambda m: f"<code>{m.group(1) or m.group(2)}</code>", out)


def _html_table(header, rows) -> str:
    head = "<thead><tr>" + "".join(f"<th>{h}</th>" for h in header) + "</tr></thead>"
    out = ['<div class="eosdyn-generated" markdown="0">', "<table>", head, "<tbody>"]
    out += ["<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows]
    out += ["</tbody>", "</table>", "</div>", ""]
    return "\n".join(out)


def _first_paragraph(doc: str | None) -> str:
    doc = inspect.cleandoc(doc or "")
    return " ".join(doc.split("\n\n")[0].split())


@functools.lru_cache(maxsize=1)
def _griffe_package():
    import griffe
    from griffe_rst import SphinxToMarkdown

    return griffe.load("eosdyn", search_paths=[str(ROOT)], resolve_aliases=False,
                       extensions=griffe.load_extensions(SphinxToMarkdown))


# -- the output schema ------------------------------------------------------------------------------
def schema_tables() -> tuple[str, list[str]]:
    """Markdown tables of every ``Var`` table in ``eosdyn.io.schema``; and the names covered."""
    schema = importlib.import_module("eosdyn.io.schema")
    tables = {name: value for name, value in vars(schema).items()
              if isinstance(value, dict) and value and all(isinstance(v, schema.Var) for v in value.values())}
    if not tables:
        raise RuntimeError("eosdyn.io.schema declares no table of Var")
    parts, names = [], []
    for tname, table in tables.items():
        title = SCHEMA_TITLES.get(tname, tname.replace("_", " ").capitalize())
        parts.append(f"### {title}\n\n<small>`eosdyn.io.schema.{tname}`</small>\n")
        rows = []
        for name, var in table.items():
            dims = "(" + ", ".join(var.dims) + ")" if var.dims else "scalar"
            units = "" if var.units == "1" else f" [{_cell(var.units)}]"
            rows.append((f"<code>{_cell(name)}</code>", f"{_cell(dims)}<br><small>{_cell(var.dtype)}</small>",
                         _cell(var.doc) + units))
            names.append(name)
        parts.append(_html_table(("variable", "dims, dtype", "meaning [units, if any]"), rows))
    attrs = getattr(schema, "REQUIRED_ATTRS", ())
    if attrs:
        parts.append("### Attributes every run carries\n\n<small>`eosdyn.io.schema.REQUIRED_ATTRS`</small>\n\n"
                     + ", ".join(f"`{a}`" for a in attrs) + "\n")
    return "\n".join(parts), names


def scan_tables() -> tuple[str, list[str]]:
    """The variables of a scan store: ``SUMMARY_DOCS`` and ``TRAJ_DOCS`` of the scan's store module."""
    store = importlib.import_module("eosdyn.analysis.scan.store")
    rows, names = [], []
    for name, (dtype, _fill, doc) in store.SUMMARY_DOCS.items():
        rows.append((f"<code>{_cell(name)}</code>", "grid<br><small>" + _cell(dtype) + "</small>",
                     _cell(doc)))
        names.append(name)
    for name, doc in getattr(store, "TRAJ_DOCS", {}).items():
        rows.append((f"<code>{_cell(name)}</code>", "grid, step<br><small>float64</small>",
                     _cell(doc) + " Kept with <code>--record</code>."))
        names.append(name)
    return _html_table(("variable", "dims, dtype", "meaning"), rows), names


# -- the run parameters ----------------------------------------------------------------------------
def _params_docs() -> dict[str, str]:
    """Descriptions of the Attributes section of ``Params``' docstring, by field name."""
    docs = {}
    for section in _griffe_package()["model.params.Params"].docstring.parse("numpy"):
        if section.kind.value == "attributes":
            for item in section.value:
                for name in item.name.split(","):
                    docs[name.strip()] = " ".join(item.description.split())
    return docs


def parameter_table() -> tuple[str, list[str]]:
    """Every field of ``eosdyn.model.params.Params``: its ``eosdyn simulate`` option, type, default, help."""
    import dataclasses

    params = importlib.import_module("eosdyn.model.params")
    main = importlib.import_module("eosdyn.cli").main
    cli = main.get_command(None, "simulate")
    options = {p.name: p for p in cli.params if p.opts and p.opts[0].startswith("--")}
    docs = _params_docs()
    rows, names = [], []
    for f in dataclasses.fields(params.Params):
        opt = options.get(f.name)
        flag = " / ".join(o for o in [*opt.opts, *opt.secondary_opts]) if opt else "—"
        help_ = re.sub(r"\s*\[default:[^\]]*\]\s*$", "", opt.help or "") if opt else ""
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        ftype = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
        rows.append((f"<code>{_cell(f.name)}</code>", f"<code>{_cell(flag)}</code>" if opt else flag,
                     f"{_cell(ftype)}<br><small>default <code>{_cell(repr(default))}</code></small>",
                     _cell(help_ or docs.get(f.name, "") or "—")))
        names.append(f.name)
    return _html_table(("parameter", "option", "type, default", "meaning"), rows), names


# -- engines and checks -----------------------------------------------------------------------------
def engine_table() -> tuple[str, list[str]]:
    """The engine table ``eosdyn.engines.METHODS``: name, class, first paragraph of its docstring."""
    methods = importlib.import_module("eosdyn.engines").METHODS
    rows = []
    for name, cls in methods.items():
        rows.append((f"<code>{_cell(name)}</code>",
                     f"<code>{_cell(cls.__qualname__)}</code><br><small>{_cell(cls.__module__)}</small>",
                     _cell(_first_paragraph(cls.__doc__))))
    return _html_table(("engine", "class", "what it integrates"), rows), list(methods)


def check_table() -> tuple[str, list[str]]:
    """Every statement checked by ``eosdyn check``, in its order, with the check's docstring."""
    checks = importlib.import_module("eosdyn.analysis.check").CHECKS
    rows = [(f"<code>{_cell(f.__name__)}</code>", _cell(_first_paragraph(f.__doc__))) for f in checks]
    return _html_table(("row key", "what is checked"), rows), [f.__name__ for f in checks]


# -- the gallery ------------------------------------------------------------------------------------
def scenario_entries(scenarios: Path = ROOT / "scenarios"):
    """(stem, name, description, [figure] table, text) of every scenario file, in gallery order."""
    out = []
    first = {stem: i for i, stem in enumerate(GALLERY_FIRST)}
    paths = sorted(Path(scenarios).glob("*.toml"), key=lambda p: (first.get(p.stem, len(first)), p.stem))
    for path in paths:
        text = path.read_text()
        table = tomllib.loads(text)
        out.append((path.stem, table.get("name", path.stem), table.get("description", ""),
                    table.get("figure", {}), text))
    return out


def gallery(scenarios: Path = ROOT / "scenarios", figures: Path = ROOT / "figures",
            prefix: str = "figures/") -> tuple[str, list[str], list[str]]:
    """One section per scenario: figure, caption, the command that made it, the scenario file.

    Returns the Markdown, the scenario stems covered and the stems whose figure is missing.
    """
    parts, stems, missing = [], [], []
    for stem, name, description, fig, text in scenario_entries(scenarios):
        kind = fig.get("kind", "timeseries")
        parts.append(f"## {stem} {{ #{stem} }}\n")
        if description:
            parts.append(f"**{_cell(description)}**\n")
        if (Path(figures) / f"{stem}.png").is_file():
            parts.append(f"[![{_cell(description or name)}]({prefix}{stem}.png)]({prefix}{stem}.png)\n")
        else:
            missing.append(stem)
        if fig.get("caption"):
            parts.append(f"*{fig['caption']}*\n")
        parts.append(f"Scenario `scenarios/{stem}.toml`, drawn as `{kind}`. The command that made it "
                     f"(from the repository root):\n\n```bash\neosdyn figures --only {stem}\n```\n")
        parts.append(f'??? note "scenarios/{stem}.toml"\n\n    ```toml\n'
                     + "\n".join(("    " + line).rstrip() for line in text.rstrip().splitlines())
                     + "\n    ```\n")
        stems.append(stem)
    return "\n".join(parts), stems, missing


# -- the API reference ------------------------------------------------------------------------------
def _group(module: str) -> str:
    parts = module.split(".")
    key = parts[1] if len(parts) > 1 else module
    return API_GROUPS.get(key, key.capitalize())


def api_reference() -> tuple[str, list[str]]:
    """One section per group of ``_API``; every public name documented once (aliases together)."""
    api = public_api()
    targets: dict[str, list[str]] = {}
    for name, path in api.items():
        targets.setdefault(path, []).append(name)
    pkg = _griffe_package()
    groups: dict[str, list[str]] = {}
    for path, names in targets.items():
        obj = pkg[path.split(".", 1)[1]]
        canonical = obj.final_target.path if obj.is_alias else obj.path
        title = " = ".join(f"eosdyn.{n}" for n in names)
        groups.setdefault(_group(path.rsplit(".", 1)[0]), []).append(
            f"::: {canonical}\n    options:\n      heading: \"{title}\"\n      toc_label: \"{title}\"\n"
            f"      show_root_full_path: false\n      heading_level: 3\n")
    parts = []
    for group in [*dict.fromkeys([g for g in API_GROUPS.values() if g in groups]), *groups]:
        if group in groups and f"## {group}\n" not in parts:
            parts.append(f"## {group}\n")
            parts.extend(groups[group])
    return "\n".join(parts), list(api)


def api_canonical_paths() -> set[str]:
    """Canonical paths of the public API (documented on the API page, left off the package pages)."""
    pkg = _griffe_package()
    out = set()
    for path in public_api().values():
        obj = pkg[path.split(".", 1)[1]]
        out.add(obj.final_target.path if obj.is_alias else obj.path)
    return out


# -- subpackage pages -------------------------------------------------------------------------------
def _modules(obj):
    """Public modules of a package, depth first, the package itself first."""
    yield obj
    for name, member in sorted(obj.members.items()):
        if member.is_alias or not member.is_module or name.startswith("_"):
            continue
        yield from _modules(member)


def _directive(module, skip: set[str], level: int = 2) -> str:
    members = [name for name, m in module.members.items()
               if not name.startswith("_") and not m.is_alias and not m.is_module and m.path not in skip]
    shown = [n for n in members if module.members[n].docstring is not None or module.members[n].is_class
             or module.members[n].is_function]
    opts = "members: false" if not shown else "members:\n" + "\n".join(f"        - {n}" for n in shown)
    return f"::: {module.path}\n    options:\n      heading_level: {level}\n      {opts}\n"


def package_pages() -> dict[str, tuple[str, str]]:
    """``{file name: (title, markdown)}`` of the subpackage reference pages."""
    pkg = _griffe_package()
    skip = api_canonical_paths()
    pages = {}
    core = [pkg[name] for name in CORE_MODULES if name in pkg.members]
    md = ["# eosdyn: the core modules\n",
          "The public names defined here are documented in the [Python API](../api.md).\n"]
    md += [_directive(m, skip) for m in core]
    pages["core.md"] = ("eosdyn core modules", "\n".join(md))
    for sub, title in PACKAGES.items():
        if sub not in pkg.members:
            continue
        md = [f"# {title}\n",
              "Public names that belong to the curated API are documented in the "
              "[Python API](../api.md) and left off this page.\n"]
        md += [_directive(m, skip) for m in _modules(pkg[sub])]
        pages[f"{sub}.md"] = (title.split(":")[0], "\n".join(md))
    return pages
