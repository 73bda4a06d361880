"""The docs site (``mkdocs.yml``) builds ``--strict`` and offline, and shows each public name.

``mkdocs build --strict`` fails on a broken link or anchor, a page missing from the navigation, an
API name mkdocstrings cannot find, or a notebook link that leads nowhere (docs/_mkdocs/hooks.py).
It runs in a process of its own with the test suite's network guard on, so a plugin that fetched
anything at build time would fail it too. Read the site with ``mkdocs serve``.
"""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

API_PAGES = {
    "stepfun_core": REPO / "docs" / "api" / "stepfun_core.md",
    "langchain_stepfun": REPO / "docs" / "api" / "langchain_stepfun.md",
    "llama_index_stepfun": REPO / "docs" / "api" / "llama_index_stepfun.md",
}
BUILD = """\
import sys
from tests.conftest import block_network
block_network()
from mkdocs.__main__ import cli
cli(["build", "--strict", "--config-file", "mkdocs.yml", "--site-dir", sys.argv[1]])
"""
# A link the hooks should have rewritten: relative, to a Markdown file or a notebook.
SOURCE_LINK = re.compile(r'href="(?![a-z]+:|#)[^"]*\.(?:md|ipynb)(?:#[^"]*)?"')


def untracked() -> set[str]:
    return set(
        subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=all"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    before = untracked()
    done = subprocess.run(
        [sys.executable, "-c", BUILD, str(out)],
        check=False,
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},  # no notice of MkDocs 2
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "WARNING" not in done.stderr, done.stderr
    assert untracked() == before, "the build wrote into the repository"
    return out


def test_the_site_builds_strictly_offline(site: Path) -> None:
    pages = {p.relative_to(site).as_posix() for p in site.rglob("index.html")}
    for page in (
        "index.html",
        "langchain/index.html",
        "langchain_stepfun/index.html",
        "llama_index_stepfun/index.html",
        "performance/index.html",
        "contributing/index.html",
        "api/stepfun_core/index.html",
        "api/langchain_stepfun/index.html",
        "api/llama_index_stepfun/index.html",
    ):
        assert page in pages


def test_the_included_files_are_shown_with_their_links_rewritten(site: Path) -> None:
    home = (site / "index.html").read_text(encoding="utf-8")
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert readme.splitlines()[0].removeprefix("# ") in home
    assert 'href="core/"' in home  # README's docs/core.md
    contributing = (site / "contributing" / "index.html").read_text(encoding="utf-8")
    assert 'href="../wire/#current-stream"' in contributing  # CONTRIBUTING's docs/wire.md#...
    for page in site.rglob("*.html"):
        left = SOURCE_LINK.findall(page.read_text(encoding="utf-8"))
        assert left == [], f"{page.relative_to(site)} still links to source files: {left}"


@pytest.mark.parametrize("package", API_PAGES)
def test_the_api_reference_documents_each_public_name_once(package: str) -> None:
    documented = re.findall(rf"^::: {package}\.(\w+)$", API_PAGES[package].read_text(), re.M)
    public = importlib.import_module(package).__all__
    assert sorted(documented) == sorted(public), (
        f"docs/api/{package}.md must hold one '::: {package}.NAME' for each name of __all__"
    )


def test_the_chat_model_reference_shows_fields_not_field_calls(site: Path) -> None:
    page = (site / "api" / "langchain_stepfun" / "index.html").read_text(encoding="utf-8")
    assert 'id="langchain_stepfun.ChatStepFun.max_tokens"' in page  # undocumented fields too
    assert 'id="langchain_stepfun.ChatStepFun.model_config"' not in page
    assert "validation_alias" not in page  # Field(...) calls shown as their defaults
    llm = (site / "api" / "llama_index_stepfun" / "index.html").read_text(encoding="utf-8")
    assert "The StepFun model name." in llm  # a Field(description=...) as the docstring
