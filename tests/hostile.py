"""What the hardening tests of the core and of both adapters share.

Hostile inputs (JSON too deep to read or to write, tool arguments and schemas that are not JSON,
media whose bytes lie, surrogate halves), bodies sent piece by piece, gzipped or trickled over
``httpx.MockTransport``, the two streamed tool-call shapes carrying those arguments, and the
checks run on the outcome (every case at once; no secret in any chained error).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import gc
import gzip
import json
import sys
import threading
import time
import traceback
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.core.wire_samples import legacy_call, legacy_tool_chunk, sse

Handler = Callable[[httpx.Request], httpx.Response]

MEDIA = Path(__file__).resolve().parent / "media"
PNG = (MEDIA / "tiny.png").read_bytes()
WAV = (MEDIA / "tiny.wav").read_bytes()
GIF = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,"
DEEP = "[" * 50_000 + "]" * 50_000
BAD_ARGUMENTS = {
    "deep": "[" * 5000 + "]" * 5000,
    "truncated": '{"city": "Par',
    "not-json": "not json",
    "null": "null",  # no object: LlamaIndex ran the tool with its defaults (review of round 9)
}
USAGE = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}


class Opaque:
    """A value that is not JSON."""


def race(target: Callable[[int], None], threads: int = 8) -> list[BaseException]:
    """Run ``target(n)`` in ``threads`` threads at once, switching between them as often as the
    interpreter can; return what they raised (a race is the finding)."""
    errors: list[BaseException] = []

    def run(n: int) -> None:
        try:
            target(n)
        except Exception as exc:
            errors.append(exc)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        workers = [threading.Thread(target=run, args=(n,)) for n in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    finally:
        sys.setswitchinterval(interval)
    return errors


@contextlib.contextmanager
def collections_paused() -> Iterator[None]:
    """No automatic garbage collection while deep JSON goes through LangChain.

    LangChain parses streamed tool-call arguments itself (``parse_partial_json``: ``json.loads``,
    whose C recursion counts against the interpreter's limit on 3.10 and 3.11), to that limit
    for the thousands of levels these cases hold. A collection deep in it runs earlier tests'
    finalizers with no stack left, and pytest cannot even report what they raised (a CI run
    failed so). Our own reading refuses such text before parsing it (stepfun_core.jsonio).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def self_referencing() -> dict[str, Any]:
    """A tool schema that holds itself."""
    schema: dict[str, Any] = {"type": "object", "properties": {}}
    schema["properties"]["child"] = schema
    return schema


def tool(parameters: Any) -> dict[str, Any]:
    """An OpenAI-style tool with these parameters."""
    function = {"name": "get_weather", "description": "Weather.", "parameters": parameters}
    return {"type": "function", "function": function}


# Tools whose schema is not JSON, and the path the error must name.
BAD_TOOLS: dict[str, tuple[dict[str, Any], str]] = {
    "nan": (
        tool({"type": "object", "properties": {"n": {"maximum": float("nan")}}}),
        "tools[0].function.parameters.properties.n.maximum",
    ),
    "set": (tool({"type": "object", "default": {1, 2}}), "tools[0].function.parameters.default"),
    "self-ref": (tool(self_referencing()), "tools[0].function.parameters"),
}


def nested_list(depth: int) -> list[Any]:
    """A Python list nested ``depth`` levels deep (too deep for json.dumps)."""
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


def deep_call(**extra: Any) -> dict[str, Any]:
    """A tool call whose arguments arrived as a value too deep to write back as JSON."""
    function = {"name": "get_weather", "arguments": nested_list(5000)}
    return {"id": "call_deep", "type": "function", "function": function, **extra}


# Values that are not JSON, under a field ``foo``, and the path the error must name.
BAD_VALUES: dict[str, tuple[Any, str]] = {
    "nan": (float("nan"), "foo"),
    "inf": (float("inf"), "foo"),
    "deep-inf": ({"deep": [1, float("-inf")]}, "foo.deep[1]"),
    "set": ({1, 2}, "foo"),
    "datetime": (datetime.datetime(2026, 1, 1), "foo"),
    "bytes": (b"bytes", "foo"),
    "object": (Opaque(), "foo"),
}


@dataclass
class RecordingAPI:
    """An httpx.MockTransport handler standing in for StepFun; keeps the requests it saw."""

    handler: Handler
    requests: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.handler(request)

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests]

    def http_clients(self) -> tuple[httpx.Client, httpx.AsyncClient]:
        """A sync and an async caller's client, both answered by this API."""
        transport = httpx.MockTransport(self)
        return httpx.Client(transport=transport), httpx.AsyncClient(transport=transport)

    def options(self, async_client_field: str, **options: Any) -> dict[str, Any]:
        """A model's options with both caller's clients answered here, a test key, no retries.

        ``async_client_field``: the adapter's name for its async client option.
        """
        sync, concurrent = self.http_clients()
        return {
            "api_key": "sk-test-key",
            "max_retries": 0,
            "http_client": sync,
            async_client_field: concurrent,
            **options,
        }


class Body(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A response body sent piece by piece (sync or async), pausing between pieces, maybe
    failing at the end; counts the pieces sent."""

    def __init__(
        self,
        pieces: list[bytes],
        *,
        error: Callable[[], Exception] | None = None,
        pause: float = 0.0,
    ) -> None:
        self.pieces = pieces
        self.error = error
        self.pause = pause
        self.sent = 0

    def __iter__(self) -> Iterator[bytes]:
        for piece in self.pieces:
            if self.pause:
                time.sleep(self.pause)
            self.sent += 1
            yield piece
        if self.error is not None:
            raise self.error()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self.pieces:
            if self.pause:
                await asyncio.sleep(self.pause)
            self.sent += 1
            yield piece
        if self.error is not None:
            raise self.error()


def raw_reply(body: bytes, content_type: str = "application/json", status: int = 200) -> Handler:
    """A handler answering with these exact bytes."""
    return lambda request: httpx.Response(
        status, content=body, headers={"content-type": content_type}
    )


def sse_reply(*pieces: bytes, error: Callable[[], Exception] | None = None) -> Handler:
    """A handler streaming these pieces as an event stream, then maybe failing."""
    headers = {"content-type": "text/event-stream"}
    return lambda request: httpx.Response(
        200, stream=Body(list(pieces), error=error), headers=headers
    )


def json_reply(body: dict[str, Any] | bytes, status: int = 200) -> Handler:
    """A handler answering with this JSON body (or these bytes, labelled as JSON)."""
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return raw_reply(content, status=status)


def by_mode(whole: dict[str, Any], streamed: bytes) -> Handler:
    """A handler answering a whole request with ``whole``, a streamed one with ``streamed``."""

    def handle(request: httpx.Request) -> httpx.Response:
        if json.loads(request.content).get("stream"):
            return raw_reply(streamed, "text/event-stream")(request)
        return raw_reply(json.dumps(whole).encode())(request)

    return handle


def gzip_reply(body: bytes, content_type: str) -> Handler:
    """A handler answering with ``body`` gzipped: small on the wire, large once inflated."""
    packed = gzip.compress(body)
    assert len(packed) < 5_000  # only the inflated size may be over a test's cap
    headers = {"content-type": content_type, "content-encoding": "gzip"}
    return lambda request: httpx.Response(200, content=packed, headers=headers)


def trickle(body: bytes, pause: float = 0.05) -> Handler:
    """A handler sending ``body`` one byte every ``pause`` seconds."""
    headers = {"content-type": "application/json"}
    return lambda request: httpx.Response(
        200, stream=Body([body[i : i + 1] for i in range(len(body))], pause=pause), headers=headers
    )


def chunk(content: str = "", finish: str | None = None, **delta: Any) -> dict[str, Any]:
    choice: dict[str, Any] = {"index": 0, "delta": {"content": content, **delta}}
    if finish is not None:
        choice["finish_reason"] = finish
    return {"id": "r1", "model": "step-3.5-flash", "choices": [choice]}


def completion_body(message: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "id": "r1",
        "model": "step-3.5-flash",
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        "usage": USAGE,
        **extra,
    }


OK = completion_body({"role": "assistant", "content": "ok"})
# An answer in two events, the usage on the last.
ANSWER = sse(chunk("Hello"), {**chunk(" world", finish="stop"), "usage": USAGE})
# Events of the wrong types (a delta, choices, a choice, tool calls, a function, usage) around
# three good pieces of text: "Hi there!", one call with no name, no usage, finish_reason "stop".
WRONG_TYPE_EVENTS = sse(
    {"id": "r1", "choices": [{"index": 0, "delta": "x"}]},
    {"id": "r1", "choices": 5},
    {"id": "r1", "choices": [5]},
    chunk("Hi", tool_calls={}),
    {**chunk(" there", tool_calls=[{"index": 0, "function": "text"}]), "usage": []},
    chunk("!", finish="stop"),
)
# An emoji whose UTF-16 halves come in two events (JSON escapes, as the API may send them).
SPLIT_EMOJI = (
    b'data: {"id":"r1","choices":[{"index":0,"delta":{"content":"a\\ud83d"}}]}\n\n'
    b'data: {"id":"r1","choices":[{"index":0,"delta":{"content":"\\ude00b"},'
    b'"finish_reason":"stop"}]}\n\n'
    b"data: [DONE]\n\n"
)


def two_calls(arguments: str) -> dict[str, Any]:
    """A reply calling two tools: the first with ``arguments``, the second with good ones."""
    return completion_body(
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "id": "call_bad",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": arguments},
                },
                {
                    "id": "call_ok",
                    "type": "function",
                    "function": {"name": "get_time", "arguments": '{"tz": "UTC"}'},
                },
            ],
        }
    )


def indexed_stream(arguments: str) -> bytes:
    """A call whose ``arguments`` come in two indexed deltas, then a good second call."""
    half = len(arguments) // 2
    first = {
        "index": 0,
        "id": "call_bad",
        "type": "function",
        "function": {"name": "get_weather", "arguments": arguments[:half]},
    }
    second = {
        "index": 1,
        "id": "call_ok",
        "type": "function",
        "function": {"name": "get_time", "arguments": '{"tz": "UTC"}'},
    }
    return sse(
        chunk(tool_calls=[first]),
        chunk(tool_calls=[{"index": 0, "function": {"arguments": arguments[half:]}}]),
        chunk(tool_calls=[second]),
        chunk(finish="tool_calls"),
    )


def legacy_stream(arguments: str) -> bytes:
    """Step-1-era deltas: no index, each name whole in its own delta, then the arguments."""
    half = len(arguments) // 2
    end = {
        **legacy_tool_chunk(legacy_call("", ""), 20),
        "choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": "tool_calls"}],
    }
    return sse(
        legacy_tool_chunk(legacy_call("get_weather", ""), 1),
        legacy_tool_chunk(legacy_call("", arguments[:half]), 2),
        legacy_tool_chunk(legacy_call("", arguments[half:]), 3),
        legacy_tool_chunk(legacy_call("get_time", ""), 4),
        legacy_tool_chunk(legacy_call("", '{"tz": "UTC"}'), 5),
        end,
    )


STREAM_SHAPES = pytest.mark.parametrize(
    "shape", [indexed_stream, legacy_stream], ids=["indexed", "legacy"]
)


def each(cases: dict[str, Any], check: Callable[[Any], None]) -> None:
    """Run ``check`` on every case; fail once, naming every case that failed and how."""
    failures = []
    for name, case in cases.items():
        try:
            check(case)
        except (Exception, pytest.fail.Exception) as exc:
            failures.append(f"{name}: {type(exc).__name__}: {exc!s:.300}")
    assert not failures, "\n".join(failures)


def chain(error: BaseException) -> list[BaseException]:
    """The error and every cause and context chained to it."""
    seen: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def assert_not_shown(error: BaseException, *secrets: str) -> None:
    """No secret in the message, repr, a formatted traceback, or any chained exception."""
    texts = ["".join(traceback.format_exception(error))]
    for item in chain(error):
        texts.extend([str(item), repr(item), repr(item.args)])
    for secret in secrets:
        for text in texts:
            assert secret not in text, text


# --- a server refusing response_format json_schema (docs/wire.md#disputed) ---------------------
JSON_SCHEMA_REFUSAL = {
    "error": {
        "message": "Request param: response_format is invalid, recommended val is: must be text "
        "or json_object",
        "type": "input_invalid",
    }
}
CITY = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}


def through_openrouter(status: int, error: dict[str, str]) -> dict[str, object]:
    """StepFun's error as OpenRouter passes it on: JSON text in ``metadata.raw``."""
    raw = json.dumps({"error": error})
    wrapped = {"message": "Provider returned error", "code": status}
    return {"error": {**wrapped, "metadata": {"raw": raw, "provider_name": "StepFun"}}}


def refusing_json_schema(request: httpx.Request) -> httpx.Response:
    """A server that refuses json_schema as the capture shows and answers JSON mode."""
    if json.loads(request.content)["response_format"]["type"] == "json_schema":
        return httpx.Response(400, json=JSON_SCHEMA_REFUSAL)
    return httpx.Response(
        200, json=completion_body({"role": "assistant", "content": '{"name": "Paris"}'})
    )
