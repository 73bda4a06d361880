"""The README is for users: short, its first screen runnable, every snippet executed here.

Each Python snippet runs as a user would paste it, in a fresh interpreter whose environment points
the clients at the loopback replica (``STEP_API_KEY`` and ``STEP_BASE_URL``, as the README says to
set them); each ``stepfun doctor`` line runs the same way. Shell lines that install or set
variables are what the README's own commands (the tour, the test suite) already run.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.replica import Replica

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text(encoding="utf-8")
BLOCK = re.compile(r"^```(?P<lang>\w+)\n(?P<code>.*?)^```", re.S | re.M)
PYTHON = [m["code"] for m in BLOCK.finditer(README) if m["lang"] == "python"]
DOCTOR = [
    line.split("#")[0].split()
    for m in BLOCK.finditer(README)
    if m["lang"] == "bash"
    for line in m["code"].splitlines()
    if line.startswith("stepfun doctor")
]
# Runs each snippet in a namespace of its own, in one interpreter (imports are paid once).
RUNNER = """
import json, sys
for i, code in enumerate(json.load(open(sys.argv[1]))):
    print(f"=== snippet {i}", flush=True)
    exec(compile(code, f"<README snippet {i}>", "exec"), {"__name__": "__main__"})
"""


def environment(replica: Replica) -> dict[str, str]:
    scrubbed = ("STEP_API_KEY", "STEPFUN_API_KEY", "STEP_BASE_URL", "STEPFUN_BASE_URL")
    env = {k: v for k, v in os.environ.items() if k not in scrubbed}
    env.update(STEP_API_KEY="replica-key", STEP_BASE_URL=replica.base_url, NO_COLOR="1")
    return env


def test_the_first_screen_has_what_a_user_needs() -> None:
    lines = README.splitlines()
    assert len(lines) <= 300
    first = "\n".join(lines[:40])
    assert "pip install" in first and "STEP_API_KEY" in first and "STEP_BASE_URL" in first
    assert "ChatStepFun(" in first and "StepFun(" in first
    # The two commands of a fresh clone, word for word (CI runs the second one).
    assert 'pip install -q -e ".[examples]" && .venv/bin/python -m examples' in first
    assert 'pip install -q -e ".[dev]" && .venv/bin/pytest' in first


def test_every_python_snippet_runs(replica: Replica, tmp_path: Path) -> None:
    assert len(PYTHON) >= 6
    snippets = tmp_path / "snippets.json"
    snippets.write_text(json.dumps(PYTHON), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-c", RUNNER, str(snippets)],
        cwd=tmp_path,
        env=environment(replica),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    outputs = result.stdout.split("=== snippet ")[1:]
    assert len(outputs) == len(PYTHON)
    assert all(out.split("\n", 1)[1].strip() for out in outputs), result.stdout  # each printed
    assert len(replica.requests) >= len(PYTHON)  # every snippet reached the (replica) API


@pytest.mark.parametrize("command", DOCTOR, ids=" ".join)
def test_every_doctor_line_runs(replica: Replica, command: list[str]) -> None:
    assert command[:2] == ["stepfun", "doctor"]
    result = subprocess.run(
        [str(Path(sys.executable).parent / "stepfun"), *command[1:]],  # the installed command
        env=environment(replica),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "answered by the loopback replica" in result.stdout
