"""Re-record the cassettes: ``python tests/record.py [pytest args]``.

Runs pytest over the cassette-backed tests (``-m vcr``) with ``VCR_RECORD_MODE=rewrite``
(each used cassette is deleted, then recorded afresh). With ``STEP_API_KEY`` or ``STEPFUN_API_KEY``
set it records against the real StepFun API (``STEP_BASE_URL`` if you set one); without a key it
records against the loopback replica (the conftest starts it and points the clients at it).
Pass ``VCR_RECORD_MODE=once`` in the environment to only record missing cassettes.
The notebooks of ``docs/`` are re-recorded too (``tests/test_notebooks.py``): each one's cassette
in ``cassettes/notebooks/`` and its stored outputs, from the same run; only them:
``python tests/record.py tests/test_notebooks.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DUMMY_KEYS = {"replay", "replica-key"}


def main(argv: list[str]) -> int:
    """Run pytest in record mode; returns its exit code."""
    env = dict(os.environ)
    env.setdefault("VCR_RECORD_MODE", "rewrite")
    if env["VCR_RECORD_MODE"] == "none":
        env["VCR_RECORD_MODE"] = "rewrite"
    key = next(
        (
            env[n]
            for n in ("STEP_API_KEY", "STEPFUN_API_KEY")
            if env.get(n) not in (None, "", *DUMMY_KEYS)
        ),
        None,
    )
    if key is None:
        for name in ("STEP_API_KEY", "STEPFUN_API_KEY"):
            env.pop(name, None)  # a dummy key must not look like a real one
        target = "the loopback replica (no STEP_API_KEY / STEPFUN_API_KEY set)"
    else:
        base = env.get("STEP_BASE_URL") or env.get("STEPFUN_BASE_URL") or "the default base URL"
        target = f"the real StepFun API at {base}"
    print(
        f"Recording cassettes against {target}, VCR_RECORD_MODE={env['VCR_RECORD_MODE']}",
        flush=True,
    )
    has_paths = any((REPO / a.split("::")[0]).exists() for a in argv if not a.startswith("-"))
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-m",
        "vcr",
        *argv,
        # cassettes/doctor is recorded by `stepfun doctor --probe --record` (README), not here.
        *([] if has_paths else ["tests", "--ignore=tests/doctor"]),
    ]
    return subprocess.call(command, cwd=REPO, env=env)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
