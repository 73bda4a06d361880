"""The tour (``python -m examples``): runs offline, fails in one line, and matches the README."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from examples.__main__ import SECTIONS
from tests.replica import Fault, Replica

REPO = Path(__file__).resolve().parent.parent
SCRUBBED = (
    "STEP_API_KEY",
    "STEPFUN_API_KEY",
    "STEP_BASE_URL",
    "STEPFUN_BASE_URL",
    "VCR_RECORD_MODE",
)


def tour(
    *args: str, timeout: float = 120, **env: str
) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run ``python -m examples`` from the repository root with no key (unless given in env)."""
    environ = {k: v for k, v in os.environ.items() if k not in SCRUBBED}
    environ.update(NO_COLOR="1", PYTHONWARNINGS="ignore", **env)
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "examples", *args],
        cwd=REPO,
        env=environ,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return result, time.perf_counter() - started


def assert_one_line_error(result: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


# --- the whole tour, offline --------------------------------------------------------------------
@pytest.fixture(scope="module")
def offline() -> tuple[subprocess.CompletedProcess[str], float]:
    """One run of the whole tour with no key, shared by the tests below."""
    return tour()


def test_tour_replays_every_section_offline_in_under_a_minute(
    offline: tuple[subprocess.CompletedProcess[str], float],
) -> None:
    result, elapsed = offline
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", result.stderr
    out = result.stdout
    assert "Replaying recorded responses" in out
    assert "loopback replica" in out or "real StepFun API" in out
    assert "STEP_API_KEY=<your key> .venv/bin/python -m examples" in out
    positions = [out.find(f"== {n}. {s.title} ==") for n, s in enumerate(SECTIONS, start=1)]
    assert -1 not in positions, out
    assert positions == sorted(positions)
    assert f"Done: {len(SECTIONS)} examples" in out
    assert elapsed < 60


def test_sections_show_what_they_are_about(
    offline: tuple[subprocess.CompletedProcess[str], float],
) -> None:
    out = offline[0].stdout
    assert "Thinking: " in out and "Answer: " in out  # streamed reasoning, then the answer
    assert re.search(r"Tokens: \d+ in \(\d+ cached\), \d+ out \(\d+ reasoning\)", out)
    assert "call get_weather(" in out and "call get_timezone(" in out  # two tools, one turn
    assert "[tools] get_weather -> " in out and "[tools] get_timezone -> " in out
    assert "Movie(title='Spirited Away', year=2001" in out
    assert "Sources:\n  [1] reasoning.md (BM25 score" in out
    assert "Tool: order_status(" in out and "Tool: delivery_estimate(" in out


def test_each_section_says_what_it_asks_before_the_answer(
    offline: tuple[subprocess.CompletedProcess[str], float],
) -> None:
    out = offline[0].stdout
    headings = [out.find(f"== {n}. {s.title} ==") for n, s in enumerate(SECTIONS, start=1)]
    for start, end in zip(headings, [*headings[1:], len(out)], strict=True):
        section = out[start:end]
        asked = min(i for i in (section.find("Question: "), section.find("Task: ")) if i >= 0)
        shown = [section.find(m) for m in ("Answer: ", "Extracted: ", "[model] ", "Tool: ")]
        assert asked < min(i for i in shown if i >= 0), section
    assert out.count("Question: ") == len(SECTIONS) - 1 and out.count("Task: ") == 1
    assert "Replaying recorded responses" in out.split("== 1.")[0]


def test_no_escape_codes_when_piped(
    offline: tuple[subprocess.CompletedProcess[str], float],
) -> None:
    assert "\033[" not in offline[0].stdout


def test_list_and_section_selection() -> None:
    listed, _ = tour("--list")
    assert listed.returncode == 0
    assert len(listed.stdout.strip().splitlines()) == len(SECTIONS)
    one, _ = tour("langchain_chain")
    assert one.returncode == 0, one.stderr
    assert "== 1. " in one.stdout and "== 2. " not in one.stdout
    assert "Done: 1 example in" in one.stdout


# --- errors end in one line ---------------------------------------------------------------------
def test_missing_cassette_is_a_one_line_message(tmp_path: Path) -> None:
    result, _ = tour(STEPFUN_EXAMPLES_CASSETTES=str(tmp_path))
    assert_one_line_error(result, "section 1", "is missing", "--record", "STEP_API_KEY")


def test_changed_request_is_a_one_line_message(tmp_path: Path) -> None:
    shutil.copytree(REPO / "cassettes" / "examples", tmp_path, dirs_exist_ok=True)
    cassette = tmp_path / "langchain_chain.yaml"
    text = cassette.read_text(encoding="utf-8")
    assert "server-sent events" in text
    cassette.write_text(text.replace("server-sent events", "websockets"), encoding="utf-8")
    result, _ = tour("1", STEPFUN_EXAMPLES_CASSETTES=str(tmp_path))
    assert_one_line_error(result, "section 1", "does not hold", "--record")


def test_unknown_section_is_a_one_line_message() -> None:
    result, _ = tour("99")
    assert_one_line_error(result, "unknown section '99'")


def test_live_mode_uses_the_api_and_reports_its_errors_in_one_line() -> None:
    with Replica() as replica:
        live = {"STEP_API_KEY": "sk-live-test", "STEP_BASE_URL": replica.base_url}
        ok, _ = tour("1", **live)
        assert ok.returncode == 0, ok.stderr
        assert "Live: talking to the StepFun API at " + replica.base_url in ok.stdout
        assert len(replica.requests) == 1  # no cassette: the request reached the server
        replica.enqueue(Fault.status(401))
        failed, _ = tour("1", **live)
    assert_one_line_error(failed, "section 1", "rejected the key", "STEP_API_KEY")


# --- the BM25 retriever of the RAG example ------------------------------------------------------
def test_bm25_ranks_the_matching_document_first() -> None:
    from llama_index.core import Document
    from llama_index.core.schema import QueryBundle

    from examples.bm25 import BM25Retriever, tokenize

    assert tokenize("How do I read reasoning_content?") == ["read", "reasoning_content"]
    docs = [
        Document(text="Streaming sends server-sent events with cumulative usage."),
        Document(text="Set reasoning_format to deepseek-style to get reasoning_content."),
        Document(text="Tool calls come back with an id, a name and JSON arguments."),
    ]
    retriever = BM25Retriever(docs, top_k=2)
    hits = retriever.retrieve(QueryBundle("where is reasoning_content?"))
    assert [hit.node.node_id for hit in hits] == [docs[1].node_id]
    assert hits[0].score is not None and hits[0].score > 0
    assert retriever.retrieve(QueryBundle("penguins")) == []
    both = retriever.retrieve(QueryBundle("usage of tool calls"))
    assert [hit.node.node_id for hit in both] == [docs[2].node_id, docs[0].node_id]


def test_reasoning_is_dimmed_on_a_terminal() -> None:
    pty = pytest.importorskip("pty")
    environ = {k: v for k, v in os.environ.items() if k not in (*SCRUBBED, "NO_COLOR")}
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "examples", "2"], cwd=REPO, env=environ, stdout=follower
    )
    os.close(follower)
    output = b""
    while True:
        try:
            data = os.read(leader, 4096)
        except OSError:  # the terminal closed
            break
        if not data:
            break
        output += data
    os.close(leader)
    assert process.wait(timeout=60) == 0
    text = output.decode()
    assert "\033[2mThinking: " in text  # the reasoning is dimmed
    assert "\033[0m\r\n\r\nAnswer: " in text  # and the answer is not
