"""Import time: the median of fresh interpreters, each timing one import statement."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys

from benchmarks.transport import REPO_ROOT

# key -> (label, statement)
IMPORTS = {
    "httpx": ("httpx", "import httpx"),
    "stepfun_core": ("stepfun_core", "import stepfun_core"),
    "lc_base": (
        "langchain_core.language_models + httpx",
        "import langchain_core.language_models, httpx",
    ),
    # langchain_core.language_models loads its members lazily: importing the package alone does
    # not load BaseChatModel (and langsmith under it), which every chat model subclasses.
    "lc_chat": (
        "BaseChatModel + httpx",
        "from langchain_core.language_models import BaseChatModel; import httpx",
    ),
    "langchain_stepfun": ("langchain_stepfun", "import langchain_stepfun"),
    "langchain_openai": ("langchain_openai", "import langchain_openai"),
    "li_base": ("llama_index.core.llms", "import llama_index.core.llms"),
    # llama_index.core.llms does not import httpx, and httpx imports its CLI (rich, click,
    # pygments: ~45 ms) when those happen to be installed, as they are in a dev venv.
    "li_httpx": ("llama_index.core.llms + httpx", "import llama_index.core.llms, httpx"),
    "llama_index_stepfun": ("llama_index_stepfun", "import llama_index_stepfun"),
    "openai_like": ("llama_index.llms.openai_like", "import llama_index.llms.openai_like"),
}

_PROBE = "import time; t = time.perf_counter(); {stmt}; print(time.perf_counter() - t)"


def time_import(stmt: str) -> float | None:
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE.format(stmt=stmt)],
        check=False,
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env=env,
        timeout=120,
    )
    if proc.returncode != 0:
        return None
    return float(proc.stdout.strip().splitlines()[-1])


def run_imports(repeats: int, log=print) -> dict[str, dict]:
    """One discarded round (writes .pyc files), then ``repeats`` interleaved rounds."""
    keys = list(IMPORTS)
    times: dict[str, list[float]] = {k: [] for k in keys}
    failed: set[str] = set()
    for r in range(repeats + 1):
        order = keys if r % 2 else list(reversed(keys))
        for key in order:
            if key in failed:
                continue
            t = time_import(IMPORTS[key][1])
            if t is None:
                failed.add(key)
            elif r:
                times[key].append(t)
    log(f"  imports: {repeats} fresh interpreters per module")
    out = {}
    for key in keys:
        label = IMPORTS[key][0]
        if key in failed or not times[key]:
            out[key] = {"label": label, "missing": True}
        else:
            out[key] = {"label": label, "median": statistics.median(times[key]), "all": times[key]}
    return out
