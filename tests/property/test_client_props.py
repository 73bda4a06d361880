"""The clients end to end over httpx.MockTransport: any status, body and headers give a
Completion, a stream, or a StepFunError, and nothing else."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import httpx
from hypothesis import example, given
from hypothesis import strategies as st

import stepfun_core
from stepfun_core import AsyncStepFunClient, Completion, StepFunClient, StepFunError
from tests.property.strategies import (
    JSON_VALUES,
    SSE_BYTES,
    chunk_objects,
    completion_objects,
    deep_texts,
    dumps,
    heavy,
    mutated,
    sse_bodies,
)

Handler = Callable[[httpx.Request], httpx.Response]

BODIES = st.one_of(
    st.binary(max_size=200),
    JSON_VALUES.map(lambda v: dumps(v).encode()),
    mutated(completion_objects()).map(lambda v: dumps(v).encode()),
    st.builds(lambda v: dumps({"error": v}).encode(), JSON_VALUES),
    deep_texts(2, 3000).map(str.encode),
    SSE_BYTES,
)
# Header values as bytes (any but CR and LF), so odd bytes reach the client as they would.
HEADER_BYTES = st.binary(max_size=30).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b""))
CONTENT_TYPES = st.one_of(
    st.sampled_from(
        [
            b"application/json",
            b"application/json; charset=utf-8",
            b"text/event-stream",
            b"text/event-stream; charset=utf-8",
            b"text/plain",
            b"text/html",
            b"",
            b"application/json, text/event-stream",
        ]
    ),
    HEADER_BYTES,
)
HEADERS = st.fixed_dictionaries(
    {"content-type": CONTENT_TYPES},
    optional={
        "retry-after": st.one_of(
            HEADER_BYTES,
            st.sampled_from([b"Mon, 01 Jan 99999 00:00:00 GMT", b"nan", b"-1", b"1e999"]),
        ),
        "retry-after-ms": HEADER_BYTES,
        "x-trace-id": HEADER_BYTES,
        "content-encoding": st.sampled_from(
            [b"gzip", b"deflate", b"br", b"zstd", b"identity", b"x"]
        ),
    },
)
STATUSES = st.one_of(
    st.sampled_from([200, 201, 204, 400, 401, 404, 429, 451, 500, 503]), st.integers(100, 599)
)


def payload() -> dict[str, Any]:
    return stepfun_core.build_chat_request("step-3.5-flash", [{"role": "user", "content": "hi"}])


def handler_for(status: int, body: bytes, headers: dict[str, bytes]) -> Handler:
    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=body, headers=headers)

    return handle


def sync_client(handler: Handler) -> StepFunClient:
    http = httpx.Client(transport=httpx.MockTransport(handler))
    return StepFunClient(api_key="k", base_url="http://test/v1", http_client=http, max_retries=0)


def async_client(handler: Handler) -> AsyncStepFunClient:
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return AsyncStepFunClient(
        api_key="k", base_url="http://test/v1", http_client=http, max_retries=0
    )


EXAMPLES = [
    (
        500,
        b'{"error": {"message": "x"}}',
        {"content-type": b"application/json", "retry-after": b"Mon, 01 Jan 99999 00:00:00 GMT"},
    ),
    (429, b"{}", {"content-type": b"application/json", "retry-after": b"01 Jan 99999 00:00:00"}),
    (200, b'{"choices": 5}', {"content-type": b"application/json"}),
    (200, b'{"choices": [{"message": "text"}]}', {"content-type": b"application/json"}),
    (
        200,
        b'{"choices": [{"message": {"tool_calls": [{"function": "t"}]}}]}',
        {"content-type": b""},
    ),
    (200, b"[" * 5000, {"content-type": b"application/json"}),
    (500, b"[" * 5000, {"content-type": b"application/json"}),
    (200, b'{"a": 1}', {"content-type": b"application/json", "content-encoding": b"gzip"}),
]


def _examples(test: Any) -> Any:
    for status, body, headers in EXAMPLES:
        test = example(status, body, headers)(test)
    return test


@heavy()
@given(STATUSES, BODIES, HEADERS)
@_examples
def test_create(status: int, body: bytes, headers: dict[str, bytes]) -> None:
    try:
        completion = sync_client(handler_for(status, body, headers)).create(payload())
    except StepFunError as exc:
        str(exc)
        return
    assert isinstance(completion, Completion)


@heavy()
@given(STATUSES, BODIES, HEADERS)
@_examples
async def test_async_create(status: int, body: bytes, headers: dict[str, bytes]) -> None:
    try:
        completion = await async_client(handler_for(status, body, headers)).create(payload())
    except StepFunError as exc:
        str(exc)
        return
    assert isinstance(completion, Completion)


@heavy()
@given(completion_objects(), st.sampled_from([200, 201]))
def test_create_reads_every_well_formed_completion(obj: dict[str, Any], status: int) -> None:
    # The other side of the fuzzing above: catching everything must not catch good replies.
    body = dumps(obj).encode()
    handler = handler_for(status, body, {"content-type": b"application/json"})
    completion = sync_client(handler).create(payload())
    assert len(completion.choices) == len(obj["choices"])


STREAM_BODIES = st.one_of(
    BODIES,
    st.lists(mutated(chunk_objects()).map(dumps), max_size=4).flatmap(
        lambda datas: sse_bodies(datas, done=True)
    ),
)


@heavy()
@given(STATUSES, STREAM_BODIES, HEADERS)
@_examples
def test_stream(status: int, body: bytes, headers: dict[str, bytes]) -> None:
    client = sync_client(handler_for(status, body, headers))
    with contextlib.suppress(StepFunError), client.stream(payload()) as stream:
        for _ in stream:
            pass
        stream.completion()


@heavy()
@given(STATUSES, STREAM_BODIES, HEADERS)
@_examples
async def test_async_stream(status: int, body: bytes, headers: dict[str, bytes]) -> None:
    with contextlib.suppress(StepFunError):
        stream = await async_client(handler_for(status, body, headers)).stream(payload())
        async with stream:
            async for _ in stream:
                pass
            stream.completion()
