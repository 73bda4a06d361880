"""No file in the repository links or cites a path outside it, and every local link resolves.

Every Markdown file and every notebook's Markdown cells are read: a relative link must name a file
of the repository (and, with ``#anchor``, a heading or ``<a id>`` in it), and no text may cite the
notes the project was built from, which live outside the repository.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
LINK = re.compile(r"\]\((?P<target>[^)\s]+)\)")
OUTSIDE = re.compile(r"\.\./shared|shared/reference|stepfun-wire\.md")


def tracked(*suffixes: str) -> list[Path]:
    names = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return [REPO / n for n in names if n.endswith(suffixes) and (REPO / n).is_file()]


def markdown_of(path: Path) -> str:
    if path.suffix != ".ipynb":
        return path.read_text(encoding="utf-8")
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")


def anchors_of(path: Path) -> set[str]:
    """GitHub-style heading slugs and explicit ``<a id>`` anchors of a Markdown file.

    A docs page whose front matter says ``include: PATH`` shows that file (docs/_mkdocs/hooks.py),
    so its anchors are that file's.
    """
    text = markdown_of(path)
    included = re.match(r"---\ninclude: (\S+)\n---", text)
    if included:
        return anchors_of(REPO / included[1])
    found = set(re.findall(r'<a id="([^"]+)"', text))
    for heading in re.findall(r"^#+ (.+)$", text, re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        found.add(slug)
    return found


DOCUMENTS = tracked(".md", ".ipynb")


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: str(p.relative_to(REPO)))
def test_local_links_resolve_inside_the_repository(path: Path) -> None:
    for match in LINK.finditer(markdown_of(path)):
        target = match["target"]
        if re.match(r"[a-z]+:", target):  # http(s), mailto: a public address
            continue
        # No "../" either: a link that climbs reads as leaving the repository to readers and
        # tools that resolve it from elsewhere (the site, a package index).
        assert not target.startswith("../"), f"{path.name} climbs out of its folder: {target}"
        file_part, _, anchor = target.partition("#")
        resolved = (path.parent / file_part).resolve() if file_part else path
        assert resolved.is_relative_to(REPO), f"{path.name} links outside the repository: {target}"
        assert resolved.exists(), f"{path.name} links to a missing file: {target}"
        if anchor and resolved.suffix in (".md", ".ipynb"):
            assert anchor in anchors_of(resolved), f"{path.name}: no #{anchor} in {file_part}"


def test_nothing_cites_notes_outside_the_repository() -> None:
    cited = [
        str(path.relative_to(REPO))
        for path in tracked(".md", ".ipynb", ".py", ".toml", ".yml", ".yaml", ".txt", ".cfg")
        if path != Path(__file__)
        and OUTSIDE.search(path.read_text(encoding="utf-8", errors="replace"))
    ]
    assert cited == []
