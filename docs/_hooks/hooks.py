"""MkDocs hooks of eosdyn's site (declared in ``mkdocs.yml``); nothing here fetches anything.

* ``on_config``: expands the nav entry of the subpackage reference into one page per subpackage;
* ``on_files``: adds the generated subpackage pages and every figure of ``figures/`` (served at
  ``figures/NAME.png``);
* ``on_page_markdown``: replaces the markers ``<!-- eosdyn:NAME -->`` by the tables and pages that
  :mod:`gen_pages` makes from the code (an unknown marker, or a gallery figure that does not exist,
  is an error);
* ``on_page_content``: turns the maths that ``pymdownx.arithmatex`` marked (``$...$``, ``$$...$$``)
  into MathML with ``latex2mathml``, so formulas render in any current browser without MathJax.
"""

from __future__ import annotations

import html
import logging
import re
import sys
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File

sys.path.insert(0, str(Path(__file__).resolve().parent))

import gen_pages  # noqa: E402

log = logging.getLogger("mkdocs.hooks.eosdyn")
ROOT = gen_pages.ROOT
PACKAGES_INDEX = "reference/packages/index.md"
MARKER = re.compile(r"<!--\s*eosdyn:([a-z-]+)\s*-->")
_pages_cache: dict = {}


def _package_pages():
    if "pages" not in _pages_cache:
        _pages_cache["pages"] = gen_pages.package_pages()
    return _pages_cache["pages"]


def on_config(config, **kwargs):
    _pages_cache.clear()
    gen_pages._griffe_package.cache_clear()     # `mkdocs serve`: read the code again
    pages = _package_pages()

    def expand(items):
        for i, item in enumerate(items):
            if isinstance(item, dict):
                (title, value), = item.items()
                if value == PACKAGES_INDEX:
                    sub = [PACKAGES_INDEX] + [{t: f"reference/packages/{f}"} for f, (t, _) in pages.items()]
                    items[i] = {title: sub}
                elif isinstance(value, list):
                    expand(value)

    expand(config["nav"])
    return config


def on_files(files, config, **kwargs):
    for name, (_, markdown) in _package_pages().items():
        files.append(File.generated(config, f"reference/packages/{name}", content=markdown))
    for fig in sorted((ROOT / "figures").glob("*.png")):
        files.append(File.generated(config, f"figures/{fig.name}", abs_src_path=str(fig)))
    return files


def _marker(name: str, page) -> str:
    depth = page.file.src_uri.count("/")
    up = "../" * depth
    if name == "schema":
        return gen_pages.schema_tables()[0]
    if name == "parameters":
        return gen_pages.parameter_table()[0]
    if name == "scan-variables":
        return gen_pages.scan_tables()[0]
    if name == "engines":
        return gen_pages.engine_table()[0]
    if name == "checks":
        return gen_pages.check_table()[0]
    if name == "api":
        return gen_pages.api_reference()[0]
    if name == "gallery":
        text, _, missing = gen_pages.gallery(prefix=f"{up}figures/")
        for stem in missing:
            log.warning(f"gallery: figures/{stem}.png is missing (run `eosdyn figures --only {stem}`)")
        return text
    raise PluginError(f"{page.file.src_uri}: unknown marker <!-- eosdyn:{name} -->")


def on_page_markdown(markdown, page, config, files, **kwargs):
    return MARKER.sub(lambda m: _marker(m.group(1), page), markdown)


# -- maths ------------------------------------------------------------------------------------------
INLINE = re.compile(r'<span class="arithmatex">\\\((.*?)\\\)</span>', re.S)
BLOCK = re.compile(r'<div class="arithmatex">\\\[(.*?)\\\]</div>', re.S)


def _mathml(latex: str, display: str, where: str) -> str:
    from latex2mathml.converter import convert

    tex = html.unescape(latex).strip()
    # latex2mathml lays out align* as a table but not aligned (same syntax, same meaning here)
    tex = tex.replace("{aligned}", "{align*}")
    try:
        out = convert(tex, display=display)
    except Exception as exc:  # latex2mathml raises many types; report the formula and the page
        log.warning(f"{where}: cannot convert the formula {tex!r} to MathML: {exc}")
        return html.escape(tex)
    if display == "block":
        return f'<div class="eosdyn-math">{out}</div>'
    return out


def on_page_content(content, page, config, files, **kwargs):
    where = page.file.src_uri
    content = BLOCK.sub(lambda m: _mathml(m.group(1), "block", where), content)
    return INLINE.sub(lambda m: _mathml(m.group(1), "inline", where), content)
