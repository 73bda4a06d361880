"""Reliability suite harness: drivers for the three entry points, fast retries, the row collector.

Every test records one row (category, case, adapter, mode, expected, observed, requests seen)
through the ``row`` fixture; the outcome of the test decides whether the row counts as survived.
At the end of the session ``pytest_terminal_summary`` prints::

    faults survived N/N
    bad inputs rejected N/N
    secret probes clean N/N
    concurrent requests N ok
    ...

and, when ``RELIABILITY_REPORT=1`` is set, writes the tables to ``docs/reliability.md``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import logging
import os
import platform
import socket
import time
import traceback
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

import pytest

import stepfun_core
from stepfun_core import pools as core_http
from stepfun_core.retry import RetryPolicy
from tests.replica import Replica
from tests.replica.brain import think
from tests.replica.shapes import stream_chunks

T = TypeVar("T")

SECRET = "sk-reliability-SECRET-1234567890abcdef"
MODEL = "step-3.5-flash"
PROMPT = "Tell me about zebras, giraffes, lions, tigers and elephants"
REPO = Path(__file__).resolve().parents[2]
REPORT_PATH = REPO / "docs" / "reliability.md"
TARGETS = ("core", "langchain", "llamaindex")
MODES = ("sync", "async")
CATEGORIES = ("fault", "bad input", "secret", "load", "cancellation")
ROUND2 = "round 2"  # the causes of issue 16, found by a second independent hostile round


# --- expected answers (the replica's brain is deterministic) -------------------------------------
def wire_body(prompt: str = PROMPT, model: str = MODEL) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": prompt}]}


def expected_text(prompt: str = PROMPT, model: str = MODEL) -> str:
    """The content the replica answers to one user message."""
    return "".join(think(wire_body(prompt, model)).choices[0].content)


def first_content_event(prompt: str = PROMPT, model: str = MODEL) -> int:
    """Index of the first SSE event that carries content (reasoning models think first)."""
    for i, chunk in enumerate(stream_chunks(think(wire_body(prompt, model)))):
        for choice in chunk.get("choices", []):
            if (choice.get("delta") or {}).get("content"):
                return i
    raise AssertionError("the replica's answer has no content")


EXPECTED = expected_text()


# --- the row collector ---------------------------------------------------------------------------
@dataclass
class Row:
    """One line of the reliability report."""

    nodeid: str
    category: str = ""
    case: str = ""
    adapter: str = ""
    mode: str = ""
    expected: str = ""
    observed: str = ""
    requests: int | None = None
    ok_count: int = 0
    outcome: str = "not run"  # passed / failed / xfail (known bug) / skipped

    def set(self, **values: Any) -> Row:
        for name, value in values.items():
            setattr(self, name, value)
        return self

    @property
    def passed(self) -> bool:
        return self.outcome == "passed"


_ROWS: list[Row] = []
_ROW_KEY = pytest.StashKey[Row]()


@pytest.fixture
def row(request: pytest.FixtureRequest) -> Row:
    """This test's report row; fill it with ``row.set(...)``."""
    item = request.node
    entry = Row(nodeid=item.nodeid)
    item.stash[_ROW_KEY] = entry
    _ROWS.append(entry)
    return entry


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    entry = item.stash.get(_ROW_KEY, None)
    if entry is None:
        return
    if report.when == "setup" and not report.passed:
        entry.outcome = "failed" if report.failed else "skipped"
    elif report.when == "call":
        if hasattr(report, "wasxfail"):
            entry.outcome = "xfail (known bug)" if report.skipped else "failed (xpass)"
        else:
            entry.outcome = report.outcome
    elif report.when == "teardown" and report.failed:
        entry.outcome = "failed"


def _count(category: str) -> tuple[int, int]:
    rows = [r for r in _ROWS if r.category == category]
    return sum(r.passed for r in rows), len(rows)


# Each category of rows: its table's title and its line in the summary (``{passed}``/
# ``{total}`` rows passed; ``{ok}`` the answers counted by the load rows).
SECTIONS = (
    ("fault", "Faults", "faults survived {passed}/{total}"),
    (
        "bad input",
        "Bad inputs (each rejected before any request)",
        "bad inputs rejected {passed}/{total}",
    ),
    (
        "secret",
        "Secret probes (the key `" + SECRET + "` must never appear)",
        "secret probes clean {passed}/{total}",
    ),
    ("load", "Load", "concurrent requests {ok} ok"),
    ("cancellation", "Cancellation", "cancellations closed {passed}/{total}"),
    ("process", "Processes, loops and threads", "processes, loops and threads {passed}/{total}"),
    ("limit", "Hostile bytes, size and time", "limits held {passed}/{total}"),
    (
        ROUND2,
        "Round 2: what a second hostile round found (issue 16)",
        "round 2 probes held {passed}/{total}",
    ),
)


def summary_lines() -> list[str]:
    lines = []
    for category, _title, line in SECTIONS:
        passed, total = _count(category)
        ok = sum(r.ok_count for r in _ROWS if r.category == category and r.passed)
        if total or category in CATEGORIES:
            lines.append(line.format(passed=passed, total=total, ok=ok))
    return lines


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    if not _ROWS:
        return
    terminalreporter.section("reliability")
    for line in summary_lines():
        terminalreporter.write_line(line)
    if os.environ.get("RELIABILITY_REPORT") == "1":
        REPORT_PATH.write_text(render_report(), encoding="utf-8")
        terminalreporter.write_line(f"report written to {REPORT_PATH.relative_to(REPO)}")


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _grouped(category: str) -> list[list[Row]]:
    groups: dict[str, list[Row]] = {}
    for entry in _ROWS:
        if entry.category == category:
            groups.setdefault(entry.case, []).append(entry)
    return list(groups.values())


def _variants(rows: list[Row]) -> str:
    adapters = sorted({r.adapter for r in rows}, key=lambda a: (a not in TARGETS, a))
    modes = sorted({r.mode for r in rows if r.mode})
    return f"{', '.join(adapters)}" + (f" x {', '.join(modes)}" if modes else "")


def _requests(rows: list[Row]) -> str:
    seen = sorted({r.requests for r in rows if r.requests is not None})
    return ", ".join(str(n) for n in seen) if seen else "-"


def _observed(rows: list[Row]) -> str:
    values: list[str] = []
    for entry in rows:
        if entry.observed and entry.observed not in values:
            values.append(entry.observed)
    return "; ".join(values[:3]) + (" ..." if len(values) > 3 else "")


def _table(category: str, title: str) -> list[str]:
    lines = [
        f"## {title}",
        "",
        "| Case | Expected | Observed | Requests seen | Variants | Passed |",
        "|---|---|---|---|---|---|",
    ]
    for rows in _grouped(category):
        passed = sum(r.passed for r in rows)
        bad = [r.outcome for r in rows if not r.passed]
        mark = f"{passed}/{len(rows)}" + (f" ({', '.join(sorted(set(bad)))})" if bad else "")
        first = rows[0]
        lines.append(
            f"| {_cell(first.case)} | {_cell(first.expected)} | {_cell(_observed(rows))} "
            f"| {_requests(rows)} | {_cell(_variants(rows))} | {mark} |"
        )
    return [*lines, ""]


def render_report() -> str:
    """The Markdown report of this run."""
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Reliability and security report",
        "",
        "Generated by the reliability suite (`tests/reliability/`) from its last run:",
        "`RELIABILITY_REPORT=1 pytest tests/reliability` "
        f"({stamp}, Python {platform.python_version()}, {os.cpu_count()} CPUs).",
        "Every row was driven through the loopback replica (a real socket on 127.0.0.1). "
        "*Variants* lists the entry points (core client, LangChain `ChatStepFun`, LlamaIndex "
        "`StepFun`) and modes (sync/async x stream/no stream) the case ran in; *Requests seen* "
        "is what the server received in each run.",
        "",
        "```",
        *summary_lines(),
        "```",
        "",
    ]
    for category, title, _line in SECTIONS:
        if any(r.category == category for r in _ROWS):
            lines += _table(category, title)
    failing = [r for r in _ROWS if not r.passed]
    if failing:
        lines += ["## Rows that did not pass", ""]
        lines += [f"- `{r.nodeid}`: {r.outcome}" for r in failing]
        lines.append("")
    lines += [
        "## How to read and rerun",
        "",
        "- Retries use the core's real retry loop with the backoff shortened to milliseconds "
        "(the `fast_retries` fixture); `Retry-After`/`retry-after-ms` are honoured as sent.",
        "- Connection refused: a closed loopback port. Connect timeout: a loopback listener "
        "whose accept queue is full (never accepted). Read timeout: the replica's "
        "`delay`/`stall` faults.",
        "- Regenerate: `RELIABILITY_REPORT=1 .venv/bin/pytest tests/reliability -q`.",
        "",
    ]
    return "\n".join(lines)


# --- fast retries, fresh pools, a clean env ------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class FastRetryPolicy(RetryPolicy):
    """The core's policy with millisecond backoff, so retry rows run fast."""

    initial_delay: float = 0.002
    max_delay: float = 0.01


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every client built in this suite (adapters included) gets millisecond backoff."""
    monkeypatch.setattr("stepfun_core.client_base.RetryPolicy", FastRetryPolicy)


def reset_sync_pool() -> None:
    """Close the shared sync pool so each test starts with no pooled connection.

    (The next request makes a new pool: the core replaces a closed one.)
    """
    core_http.close_sync_pools()


def sync_pool_connections() -> list[Any]:
    """The connections held by the shared sync pool (httpcore's view)."""
    pool = core_http.shared_sync_client()
    transport = pool._transport
    return list(getattr(transport, "_pool").connections)  # noqa: B009


@pytest.fixture
def server(replica: Replica) -> Iterator[Replica]:
    """The session replica, with no request, no fault and no client connection open."""
    reset_sync_pool()
    replica.wait_idle(3.0)
    replica.reset()
    yield replica
    reset_sync_pool()


def run_async(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine in a fresh loop, then close that loop's shared pool (as a server would)."""

    async def main() -> T:
        try:
            return await factory()
        finally:
            await core_http.aclose_loop_pools()

    return asyncio.run(main())


@contextlib.contextmanager
def debug_logs() -> Iterator[list[logging.LogRecord]]:
    """Capture every record at DEBUG from the root, httpx, httpcore and stepfun_core loggers."""
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep(logging.DEBUG)
    names = ["", "httpx", "httpcore", "stepfun_core", "langchain_stepfun", "llama_index"]
    loggers = [logging.getLogger(n) for n in names]
    saved = [(lg, lg.level, lg.disabled) for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.DEBUG)
        lg.disabled = False
    logging.getLogger().addHandler(handler)
    try:
        yield records
    finally:
        logging.getLogger().removeHandler(handler)
        for lg, level, disabled in saved:
            lg.setLevel(level)
            lg.disabled = disabled


def error_text(error: BaseException) -> str:
    """Everything an error shows: str, repr, traceback, details, and each chained cause."""
    parts = [str(error), repr(error), "".join(traceback.format_exception(error))]
    for name in ("message", "body", "partial", "trace_id"):
        parts.append(repr(getattr(error, name, None)))
    cause = error.__cause__ or error.__context__
    while cause is not None:
        parts += [str(cause), repr(cause), repr(getattr(cause, "request", None))]
        cause = cause.__cause__ or cause.__context__
    return "\n".join(parts)


def attempts_logged(records: list[logging.LogRecord]) -> int:
    """How many attempts the core logged (one DEBUG line per failed attempt)."""
    return sum(1 for r in records if r.name == "stepfun_core" and " attempt " in r.getMessage())


def trace_id_for(server: Replica) -> str:
    """The X-Trace-Id the replica sent for its last request."""
    last = server.requests[-1]
    return hashlib.sha256(last.path.encode() + last.body).hexdigest()[:32]


@contextlib.contextmanager
def closed_port() -> Iterator[int]:
    """A loopback port nobody listens on (connection refused)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    sock.close()
    yield port


@contextlib.contextmanager
def unaccepting_port() -> Iterator[int]:
    """A loopback listener whose accept queue is full: new connects hang (connect timeout)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = int(listener.getsockname()[1])
    fillers = []
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            filler.connect(("127.0.0.1", port))
        fillers.append(filler)
    time.sleep(0.02)
    try:
        yield port
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


# --- drivers: one call, any entry point, sync or async, streamed or not --------------------------
@dataclass
class Outcome:
    """What one call gave: the final text, the deltas seen before any error, the error."""

    text: str | None = None
    seen: list[str] = field(default_factory=list)
    error: BaseException | None = None
    elapsed: float = 0.0

    @property
    def seen_text(self) -> str:
        return "".join(self.seen)


class CoreClients:
    """The core's two clients built with the same options."""

    def __init__(self, **options: Any) -> None:
        self.sync = stepfun_core.StepFunClient(**options)
        self.aio = stepfun_core.AsyncStepFunClient(**options)

    def __repr__(self) -> str:
        return f"CoreClients({self.sync!r}, {self.aio!r})"


def build(
    target: str,
    base_url: str,
    *,
    api_key: str | None = SECRET,
    max_retries: int = 2,
    timeout: float | None = None,
    model: str = MODEL,
    **limits: Any,
) -> Any:
    """One instance of the entry point, pointed at ``base_url``.

    ``limits``: settings the three share by name (``total_timeout``, ``max_response_bytes``).
    """
    if target == "core":
        return CoreClients(
            api_key=api_key, base_url=base_url, max_retries=max_retries, timeout=timeout, **limits
        )
    if target == "langchain":
        from langchain_stepfun import ChatStepFun

        return ChatStepFun(
            model=model,
            api_key=api_key,
            base_url=base_url,
            max_retries=max_retries,
            timeout=timeout,
            **limits,
        )
    if target == "llamaindex":
        from llama_index_stepfun import StepFun

        return StepFun(
            model=model,
            api_key=api_key,
            api_base=base_url,
            max_retries=max_retries,
            timeout=timeout,
            **limits,
        )
    raise ValueError(target)


def _lc_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "".join(b.get("text", "") if isinstance(b, dict) else str(b) for b in content or [])


def _core_messages(prompt: Any) -> list[dict[str, Any]]:
    return prompt if isinstance(prompt, list) else [{"role": "user", "content": prompt}]


def _li_messages(prompt: Any) -> list[Any]:
    from llama_index.core.base.llms.types import ChatMessage

    return prompt if isinstance(prompt, list) else [ChatMessage(role="user", content=prompt)]


def _core_sync(inst: Any, stream: bool, prompt: Any, out: Outcome, params: dict[str, Any]) -> str:
    payload = stepfun_core.build_chat_request(MODEL, _core_messages(prompt), **params)
    if not stream:
        return inst.sync.create(payload).first.content
    with inst.sync.stream(payload) as chunks:
        for chunk in chunks:
            out.seen.extend(c.content for c in chunk.choices if c.index == 0)
    return chunks.completion().first.content


def _lc_sync(inst: Any, stream: bool, prompt: Any, out: Outcome, params: dict[str, Any]) -> str:
    runnable = params.pop("runnable", None) or inst
    if not stream:
        return _lc_text(runnable.invoke(prompt, **params).content)
    for piece in runnable.stream(prompt, **params):
        out.seen.append(_lc_text(piece.content))
    return out.seen_text


def _li_sync(inst: Any, stream: bool, prompt: Any, out: Outcome, params: dict[str, Any]) -> str:
    tools = params.pop("tools", None)
    messages = _li_messages(prompt)
    if tools is not None:
        if not stream:
            return inst.chat_with_tools(tools, chat_history=messages, **params).message.content
        responses = inst.stream_chat_with_tools(tools, chat_history=messages, **params)
    elif not stream:
        return inst.chat(messages, **params).message.content
    else:
        responses = inst.stream_chat(messages, **params)
    last = None
    for last in responses:
        out.seen.append(last.delta or "")
    return last.message.content if last is not None else ""


async def _core_async(
    inst: Any, stream: bool, prompt: Any, out: Outcome, params: dict[str, Any]
) -> str:
    payload = stepfun_core.build_chat_request(MODEL, _core_messages(prompt), **params)
    if not stream:
        return (await inst.aio.create(payload)).first.content
    chunks = await inst.aio.stream(payload)
    async with chunks:
        async for chunk in chunks:
            out.seen.extend(c.content for c in chunk.choices if c.index == 0)
    return chunks.completion().first.content


async def _lc_async(
    inst: Any, stream: bool, prompt: Any, out: Outcome, params: dict[str, Any]
) -> str:
    runnable = params.pop("runnable", None) or inst
    if not stream:
        return _lc_text((await runnable.ainvoke(prompt, **params)).content)
    async for piece in runnable.astream(prompt, **params):
        out.seen.append(_lc_text(piece.content))
    return out.seen_text


async def _li_async(
    inst: Any, stream: bool, prompt: Any, out: Outcome, params: dict[str, Any]
) -> str:
    tools = params.pop("tools", None)
    messages = _li_messages(prompt)
    if tools is not None:
        if not stream:
            reply = await inst.achat_with_tools(tools, chat_history=messages, **params)
            return reply.message.content
        gen = await inst.astream_chat_with_tools(tools, chat_history=messages, **params)
    elif not stream:
        return (await inst.achat(messages, **params)).message.content
    else:
        gen = await inst.astream_chat(messages, **params)
    last = None
    async for last in gen:
        out.seen.append(last.delta or "")
    return last.message.content if last is not None else ""


_SYNC = {"core": _core_sync, "langchain": _lc_sync, "llamaindex": _li_sync}
_ASYNC = {"core": _core_async, "langchain": _lc_async, "llamaindex": _li_async}


def _sync_call(
    target: str, inst: Any, stream: bool, prompt: Any, out: Outcome, params: dict[str, Any]
) -> str:
    return _SYNC[target](inst, stream, prompt, out, params)


async def _async_call(
    target: str, inst: Any, stream: bool, prompt: Any, out: Outcome, params: dict[str, Any]
) -> str:
    return await _ASYNC[target](inst, stream, prompt, out, params)


def call(
    target: str, inst: Any, mode: str, stream: bool, prompt: Any = PROMPT, **params: Any
) -> Outcome:
    """Run one call; never raises: the error (if any) is in the outcome."""
    out = Outcome()
    start = time.monotonic()
    try:
        if mode == "sync":
            out.text = _sync_call(target, inst, stream, prompt, out, dict(params))
        else:
            out.text = run_async(
                lambda: _async_call(target, inst, stream, prompt, out, dict(params))
            )
    except Exception as exc:
        out.error = exc
    out.elapsed = time.monotonic() - start
    return out


async def acall(
    target: str, inst: Any, stream: bool, prompt: Any = PROMPT, **params: Any
) -> Outcome:
    """The async call inside a running loop (for load and cancellation tests)."""
    out = Outcome()
    try:
        out.text = await _async_call(target, inst, stream, prompt, out, dict(params))
    except Exception as exc:
        out.error = exc
    return out


# --- parametrization -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Combo:
    """One (entry point, sync/async, stream/no stream) variant."""

    target: str
    mode: str
    stream: bool

    @property
    def label(self) -> str:
        return f"{self.mode} {'stream' if self.stream else 'no stream'}"

    def build(self, base_url: str, **options: Any) -> Any:
        return build(self.target, base_url, **options)

    def call(self, inst: Any, prompt: Any = PROMPT, **params: Any) -> Outcome:
        return call(self.target, inst, self.mode, self.stream, prompt, **params)


def combos(
    *, stream: tuple[bool, ...] = (False, True), targets: tuple[str, ...] = TARGETS
) -> list[Any]:
    return [
        pytest.param(Combo(t, m, s), id=f"{t}-{m}-{'stream' if s else 'nostream'}")
        for t in targets
        for m in MODES
        for s in stream
    ]


def adapters_available() -> bool:
    try:
        import langchain_stepfun  # noqa: F401
        import llama_index_stepfun  # noqa: F401
    except Exception:
        return False
    return True
