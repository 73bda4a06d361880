"""MkDocs hooks: the site shows the repository's own Markdown files, their links working.

One source of truth: README.md, CONTRIBUTING.md and benchmarks/README.md stay where they are. A
page of docs/ whose front matter says ``include: PATH`` shows that file of the repository instead
of its own (empty) body.

Every link in the repository is written for GitHub, relative to the file that holds it. On the site,
each relative link is rewritten to the page that shows its target (a guide of docs/, or a page that
includes the file), or, for a file the site does not show (CHANGELOG.md, a module), to that file in
the repository on GitHub. The notebooks are rendered to HTML by mkdocs-jupyter, past MkDocs' own
link handling, so their links are rewritten in the HTML, and one that leads nowhere is reported
(which fails ``mkdocs build --strict``).
"""

from __future__ import annotations

import logging
import posixpath
import re
from pathlib import Path
from typing import Any

from mkdocs.structure.files import Files
from mkdocs.structure.pages import Page
from mkdocs.utils.meta import get_data

log = logging.getLogger("mkdocs.hooks.stepfun")

REPO = Path(__file__).resolve().parents[2]
DOCS = "docs"
# A Markdown link's target, as tests/test_links.py reads it.
MARKDOWN_LINK = re.compile(r"\]\((?P<target>[^)\s]+)\)")
HTML_HREF = re.compile(r'href="(?P<target>[^"]+)"')
FENCE = re.compile(r"^ {0,3}(```|~~~)")

# The repository file that each including page of docs/ shows, and the page that shows it.
shown_by: dict[str, str] = {}


def on_files(files: Files, config: Any) -> Files:
    """Note which page shows which repository file (read from their front matter)."""
    shown_by.clear()
    for file in files.documentation_pages():
        if file.abs_src_path is None or not file.src_uri.endswith(".md"):
            continue
        _, meta = get_data(Path(file.abs_src_path).read_text(encoding="utf-8"))
        if "include" in meta:
            shown_by[str(meta["include"])] = f"{DOCS}/{file.src_uri}"
    return files


def on_page_markdown(markdown: str, page: Page, config: Any, files: Files) -> str:
    """Show the included file, and point every relative link at what the site shows."""
    origin = f"{DOCS}/{page.file.src_uri}"
    if "include" in page.meta:
        origin = str(page.meta["include"])
        markdown = (REPO / origin).read_text(encoding="utf-8")
    return _outside_fences(
        markdown,
        lambda text: MARKDOWN_LINK.sub(
            lambda m: f"]({_site_target(m['target'], origin, page, config)})", text
        ),
    )


def on_page_content(html: str, page: Page, config: Any, files: Files) -> str:
    """Rewrite the links of a rendered notebook; report those that lead nowhere."""
    if not page.file.src_uri.endswith(".ipynb"):
        return html
    origin = f"{DOCS}/{page.file.src_uri}"

    def rewrite(match: re.Match[str]) -> str:
        target = _site_target(match["target"], origin, page, config)
        if not re.match(r"[a-z]+:|#", target):
            file_part, _, anchor = target.partition("#")
            here = posixpath.dirname(page.file.src_uri)
            src = posixpath.normpath(posixpath.join(here, file_part))
            linked = files.get_file_from_path(src)
            if linked is None:
                log.warning("%s links to %s, which the site does not have", origin, target)
                return match[0]
            target = linked.url_relative_to(page.file) + (f"#{anchor}" if anchor else "")
        return f'href="{target}"'

    return HTML_HREF.sub(rewrite, html)


def _site_target(target: str, origin: str, page: Page, config: Any) -> str:
    """Where a link written in ``origin`` (a repository path) leads on the site."""
    if re.match(r"[a-z]+:", target) or target.startswith("#"):
        return target  # an address, or a place on the same page
    file_part, _, anchor = target.partition("#")
    path = posixpath.normpath(posixpath.join(posixpath.dirname(origin), file_part))
    path = shown_by.get(path, path)
    if not (REPO / path).exists():
        return target  # left as written: MkDocs reports it
    suffix = f"#{anchor}" if anchor else ""
    if path.startswith(f"{DOCS}/"):
        here = posixpath.dirname(page.file.src_uri) or "."
        return posixpath.relpath(path.removeprefix(f"{DOCS}/"), here) + suffix
    kind = "tree" if (REPO / path).is_dir() else "blob"
    return f"{config['repo_url'].rstrip('/')}/{kind}/main/{path}{suffix}"


def _outside_fences(markdown: str, rewrite: Any) -> str:
    """Apply ``rewrite`` to the text outside fenced code blocks, whose contents are code."""
    parts: list[str] = []
    prose: list[str] = []
    fence: str | None = None
    for line in markdown.splitlines(keepends=True):
        opened = FENCE.match(line)
        if fence is None and opened:
            parts.append(rewrite("".join(prose)))
            prose = []
            fence = opened[1]
            parts.append(line)
        elif fence is not None:
            parts.append(line)
            if line.strip().startswith(fence) and line.strip().strip(fence[0]) == "":
                fence = None
        else:
            prose.append(line)
    parts.append(rewrite("".join(prose)))
    return "".join(parts)
