"""A griffe extension: eosdyn's numpy-style docstrings, written with a few Sphinx habits, as Markdown.

eosdyn's docstrings use Sphinx roles (``:func:`name```, ``:class:`~eosdyn.x.Y```) and the
reStructuredText literal-block marker ``::``. mkdocstrings renders docstrings as Markdown, where
both would show up verbatim. Before the docstrings are parsed this extension rewrites

* a role whose target is an eosdyn object rendered on the site into a cross-reference
  ``[`name`][full.path]`` (relative names are resolved in the docstring's scope, public names of
  ``eosdyn/__init__.py``'s ``_API`` table to their definitions); any other target (a private
  helper, numpy, xarray) into plain code;
* a paragraph ending in ``::`` into one ending in ``:`` (the indented block after it is already a
  Markdown code block); a line holding only ``::`` is dropped;
* it splits a numpy ``Parameters`` entry naming several parameters without a type
  (``a, b, c`` then the description) into one entry per name, so that each shows its own type
  from the signature (griffe would give all of them the first one's);
* and it reads Sphinx's ``#:`` comments above a module- or class-level assignment as that
  attribute's docstring (as Sphinx autodoc does), so documented tables and constants appear.

Nothing else is touched, so the source stays the single, plain-text truth.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import griffe

ROLE = re.compile(r":(?:func|class|mod|data|meth|attr|obj|exc|const):`(~?)([^`]+)`")
ROOT = Path(__file__).resolve().parents[2]
#: modules whose members the site renders (see gen_pages.PACKAGES); references elsewhere are code
NOT_RENDERED = ("eosdyn.cli",)


def public_api() -> dict[str, str]:
    """``_API`` of ``eosdyn/__init__.py`` (read without importing): public name -> 'module.attr'."""
    tree = ast.parse((ROOT / "eosdyn" / "__init__.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.AnnAssign | ast.Assign):
            targets = [node.target] if isinstance(node, ast.AnnAssign) else node.targets
            if any(isinstance(t, ast.Name) and t.id == "_API" for t in targets):
                table = ast.literal_eval(node.value)
                return {name: f"{mod}.{attr}" for name, (mod, attr) in table.items()}
    raise RuntimeError("eosdyn/__init__.py has no _API table")


GROUP = re.compile(r"^(\*{0,2}\w+(?:, *\*{0,2}\w+)+)[ \t]*$")


def split_untyped_groups(text: str) -> str:
    """In a numpy ``Parameters`` section, ``a, b`` + description -> ``a`` + it, ``b`` + it."""
    lines, out, i, section = text.splitlines(), [], 0, ""
    while i < len(lines):
        line = lines[i]
        if i + 1 < len(lines) and re.fullmatch(r"-{3,}", lines[i + 1].strip()) and line.strip():
            section = line.strip()
        m = GROUP.match(line) if section in ("Parameters", "Other Parameters") else None
        if not m:
            out.append(line)
            i += 1
            continue
        body, j = [], i + 1
        while j < len(lines) and (lines[j].startswith((" ", "\t")) or not lines[j].strip()):
            if not lines[j].strip() and (j + 1 >= len(lines) or not lines[j + 1].startswith((" ", "\t"))):
                break
            body.append(lines[j])
            j += 1
        for name in (n.strip() for n in m.group(1).split(",")):
            out.append(name)
            out.extend(body)
        i = j
    return "\n".join(out) + ("\n" if text.endswith("\n") else "")


def _walk(obj):
    yield obj
    for member in list(obj.members.values()):
        if member.is_alias:
            continue
        yield from _walk(member)


class SphinxToMarkdown(griffe.Extension):
    """Rewrite Sphinx roles and ``::`` markers in every docstring of the package."""

    def __init__(self):
        super().__init__()
        self.api = public_api()

    def on_package(self, *, pkg, loader, **kwargs):
        if pkg.name != "eosdyn":
            return
        objects = list(_walk(pkg))
        for obj in objects:
            if obj.is_attribute and obj.docstring is None:
                comment = self._comment_doc(obj)
                if comment:
                    obj.docstring = griffe.Docstring(comment, lineno=obj.lineno, parent=obj)
        for obj in objects:
            if obj.docstring is not None:
                obj.docstring.value = self.convert(obj.docstring.value, obj, loader)

    @staticmethod
    def _comment_doc(obj) -> str:
        """The ``#:`` comment lines right above the attribute's assignment, joined."""
        try:
            lines = Path(obj.filepath).read_text().splitlines()
        except (OSError, TypeError):
            return ""
        i, doc = (obj.lineno or 1) - 2, []
        while i >= 0 and lines[i].strip().startswith("#:"):
            doc.insert(0, lines[i].strip()[2:].strip())
            i -= 1
        return "\n".join(doc)

    # -- conversion -----------------------------------------------------------------------------
    def convert(self, text: str, obj, loader) -> str:
        text = ROLE.sub(lambda m: self._role(m, obj, loader), text)
        text = split_untyped_groups(text)
        text = re.sub(r"(?m)^[ \t]*::[ \t]*\n", "", text)            # a line holding only '::'
        return re.sub(r"(?m)(\S)::[ \t]*$", r"\1:", text)            # 'is::' -> 'is:'

    def _role(self, m, obj, loader) -> str:
        short, target = m.group(1) == "~", m.group(2).strip()
        label = target.rsplit(".", 1)[-1] if short else target
        path = self._resolve(target, obj, loader)
        if path is None:
            return f"`{label}`"
        return f"[`{label}`][{path}]"

    def _resolve(self, target: str, obj, loader) -> str | None:
        if target.startswith("eosdyn.") and target.split(".", 1)[1] in self.api:
            target = self.api[target.split(".", 1)[1]]
        head, _, rest = target.partition(".")
        candidates = [target]
        scope = obj if obj.is_module or obj.is_class else obj.parent
        try:
            base = scope.resolve(head)
            candidates.insert(0, f"{base}.{rest}" if rest else base)
        except (griffe.NameResolutionError, AttributeError, KeyError):
            pass
        for path in candidates:
            found = self._lookup(path, loader)
            if found is not None:
                return found
        return None

    @staticmethod
    def _lookup(path: str, loader) -> str | None:
        if not path.startswith("eosdyn"):
            return None
        try:
            found = loader.modules_collection[path]
        except (KeyError, griffe.AliasResolutionError, griffe.CyclicAliasError):
            return None
        try:
            canonical = found.final_target.path if found.is_alias else found.path
        except (griffe.AliasResolutionError, griffe.CyclicAliasError):
            return None
        if found.is_attribute and found.docstring is None:
            return None                      # not rendered: nothing to say about it
        parts = canonical.split(".")
        if any(p.startswith("_") for p in parts[1:]) or canonical.startswith(NOT_RENDERED):
            return None
        return canonical
