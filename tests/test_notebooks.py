"""The integration notebooks of ``docs/`` run offline and still show the outputs they store.

Each notebook is executed with nbclient in a Jupyter kernel of this Python. A first cell, added
only for the run and never stored, starts `tests.notebook_cassette` in the kernel: every request
is answered from ``cassettes/notebooks/<notebook>.yaml`` (and sockets to anything but loopback are
refused); a last cell checks that every recorded request was sent. Cells tagged ``skip-execution``
(the ``%pip install`` cells) are not run: nbclient skips that tag.

The stored outputs are then compared with the new ones, cell by cell: the text printed to stdout
exactly (random ids such as LangChain's ``lc_run-...`` aside), and of the values a cell shows (a
message's repr) their kinds, not their text, which follows the frameworks' reprs from one version
to the next. Warnings printed to stderr are not compared, for the same reason.

Re-record a notebook (its cassette and its stored outputs, written together by one run) with::

    python tests/record.py tests/test_notebooks.py

against the loopback replica, or against the real API with ``STEP_API_KEY`` set (``tests/record.py``
runs the tests marked ``vcr`` with ``VCR_RECORD_MODE=rewrite``; ``once`` records only a notebook
whose cassette is missing).
"""

from __future__ import annotations

import copy
import os
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell

from stepfun_probes.cassette_format import normalize_ids
from tests.conftest import CASSETTES, REPO, record_mode

DOCS = REPO / "docs"
NOTEBOOK_CASSETTES = CASSETTES / "notebooks"
NOTEBOOKS = ("langchain_stepfun", "llama_index_stepfun")
SKIP_TAG = "skip-execution"  # nbclient's default skip_cells_with_tag
CELL_TIMEOUT = 120  # seconds; a replayed cell takes well under one
ENV_NAMES = ("STEP_API_KEY", "STEPFUN_API_KEY", "STEP_BASE_URL", "STEPFUN_BASE_URL")

SETUP = """\
import sys
assert sys.prefix == {prefix!r}, f"the kernel runs {{sys.executable}}, not the tests' Python"
sys.path.insert(0, {repo!r})
import tests.notebook_cassette as _notebook_cassette
_notebook_cassette.start({cassette!r}, record={record!r})
"""
TEARDOWN = "_notebook_cassette.stop()"


def recording(cassette: Path) -> bool:
    """Whether this run records (``VCR_RECORD_MODE``), as the suite's VCR tests do."""
    mode = record_mode()
    return mode != "none" and (mode != "once" or not cassette.exists())


def kernel_env(record: bool) -> dict[str, str]:
    """The kernel's environment: a dummy key and the default URL when replaying.

    Recording keeps what the suite's conftest set (the replica's URL and key) or the caller's key.
    """
    env = dict(os.environ)
    if not record:
        for name in ENV_NAMES:
            env.pop(name, None)
        env["STEP_API_KEY"] = "replay"
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"  # debugpy's note on frozen modules, on stderr
    return env


def execute(stored: nbformat.NotebookNode, cassette: Path, record: bool) -> nbformat.NotebookNode:
    """A copy of the notebook, executed in a fresh kernel through its cassette."""
    run = copy.deepcopy(stored)
    setup = SETUP.format(prefix=sys.prefix, repo=str(REPO), cassette=str(cassette), record=record)
    run.cells = [new_code_cell(setup), *run.cells, new_code_cell(TEARDOWN)]
    client = NotebookClient(
        run,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        # Run where the notebook lives, as Jupyter does.
        resources={"metadata": {"path": str(DOCS)}},
        record_timing=False,
        skip_cells_with_tag=SKIP_TAG,
    )
    client.execute(env=kernel_env(record))
    run.cells = run.cells[1:-1]
    return run


def store(executed: nbformat.NotebookNode, path: Path) -> None:
    """Write the executed notebook, counting executions from 1 as a fresh run would."""
    count = 0
    for cell in executed.cells:
        if cell.cell_type == "code" and cell.get("execution_count") is not None:
            count += 1
            cell.execution_count = count
            for output in cell.outputs:
                if "execution_count" in output:
                    output.execution_count = count
    nbformat.write(executed, path)


def shown(cell: nbformat.NotebookNode) -> dict[str, Any]:
    """What a code cell showed, in the terms the comparison uses (see the module docstring)."""
    outputs = cell.get("outputs", [])
    return {
        "stdout": normalize_ids(
            "".join(o.text for o in outputs if o.output_type == "stream" and o.name == "stdout")
        ),
        "values": [sorted(o.data) for o in outputs if o.output_type == "execute_result"],
        "displays": [sorted(o.data) for o in outputs if o.output_type == "display_data"],
        "errors": [f"{o.ename}: {o.evalue}" for o in outputs if o.output_type == "error"],
    }


def code_cells(notebook: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def skipped(cell: nbformat.NotebookNode) -> bool:
    return SKIP_TAG in cell.get("metadata", {}).get("tags", [])


@pytest.mark.vcr  # selected by tests/record.py (pytest -m vcr), which re-records the notebooks
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_executes_offline_and_shows_what_it_stores(name: str) -> None:
    path = DOCS / f"{name}.ipynb"
    cassette = NOTEBOOK_CASSETTES / f"{name}.yaml"
    record = recording(cassette)
    stored = nbformat.read(path, as_version=4)
    executed = execute(stored, cassette, record)
    if record:
        store(executed, path)
        stored = nbformat.read(path, as_version=4)
    assert cassette.is_file(), f"{cassette} is missing: record it (see this module's docstring)"

    before, after = code_cells(stored), code_cells(executed)
    assert [c.source for c in before] == [c.source for c in after]
    for index, (old, new) in enumerate(zip(before, after, strict=True)):
        where = f"{name}.ipynb, code cell {index + 1}:\n{old.source}"
        assert not shown(new)["errors"], where
        if skipped(old):
            assert not old.outputs and old.execution_count is None, where
            continue
        assert old.execution_count is not None, f"{where}\nnever executed in the stored notebook"
        assert shown(old) == shown(new), where


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_stored_notebook_holds_no_harness_or_secrets(name: str) -> None:
    text = (DOCS / f"{name}.ipynb").read_text(encoding="utf-8")
    for needle in ("notebook_cassette", "replica-key", "127.0.0.1", "localhost", "Bearer "):
        assert needle not in text, needle
    notebook = nbformat.read(DOCS / f"{name}.ipynb", as_version=4)
    nbformat.validate(notebook)
    installs = [c for c in code_cells(notebook) if c.source.lstrip().startswith(("%pip", "!pip"))]
    assert installs, "the notebook shows how to install the package"
    assert all(skipped(cell) for cell in installs), "install cells must be tagged skip-execution"
