"""JSON nested 2 to 50,000 levels deep, built as text, through every path that reads JSON.

``json.loads`` raises RecursionError (not ValueError) past roughly 1,000 levels, and values
that do load can still be too deep to write back (``json.dumps``) or to ``str()``. Whatever
the depth, only the library's typed errors may come out.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from typing import Any

import httpx
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import stepfun_core
from stepfun_core import AsyncStepFunClient, StepFunClient, StepFunError
from stepfun_core.errors import describe_error_body, make_status_error
from stepfun_core.jsonio import MAX_DEPTH, deeper_than, too_deep
from stepfun_core.stream import StreamState
from tests.property.strategies import nested_text, nested_value

DEPTHS = st.integers(2, 50_000)
SHAPES = st.sampled_from(["list", "object", "mixed"])
# Where the deep value sits in the document; "{}" is the deep value itself.
PLACES = st.sampled_from(
    [
        "{}",
        '{"choices":[{"delta":{"content":{}}}]}',
        '{"choices":[{"delta":{"tool_calls":[{"function":{"arguments":{}}}]}}]}',
        '{"choices":[{"delta":{"tool_calls":[{"function":{"name":"f","results":{}}}]}}]}',
        '{"choices":[{"message":{"tool_calls":[{"function":{"arguments":{}}}]}}]}',
        '{"choices":[{"message":{"content":"x"},"finish_reason":"stop"}],"extra":{}}',
        '{"usage":{}}',
        '{"error":{}}',
        '{"error":{"message":{},"type":"server_error"}}',
        '{"error":{"message":"m","type":{}}}',
        '{"error":{"code":{}}}',
    ]
)


@st.composite
def deep_documents(draw: st.DrawFn) -> str:
    deep = nested_text(draw(DEPTHS), draw(SHAPES), closed=draw(st.booleans()))
    return draw(PLACES).replace("{}", deep, 1)


def payload() -> dict[str, Any]:
    return stepfun_core.build_chat_request("step-3.5-flash", [{"role": "user", "content": "hi"}])


def client(body: bytes, status: int, content_type: str) -> StepFunClient:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=body, headers={"content-type": content_type})

    http = httpx.Client(transport=httpx.MockTransport(handler))
    return StepFunClient(api_key="k", base_url="http://test/v1", http_client=http, max_retries=0)


EXAMPLE = "[" * 5000


@given(deep_documents())
@example(EXAMPLE)
@example('{"choices":[{"delta":{"content":' + "[" * 2000 + "]" * 2000 + "}}]}")
def test_stream_state_event(document: str) -> None:
    state = StreamState()
    try:
        list(state.feed(b"data: " + document.encode() + b"\n\n"))
        state.finish()
    except StepFunError:
        pass


@given(deep_documents(), st.sampled_from([200, 400, 429, 500]))
@example(EXAMPLE, 200)
@example('{"error":' + EXAMPLE + "}", 500)
def test_client_create(document: str, status: int) -> None:
    with contextlib.suppress(StepFunError):
        client(document.encode(), status, "application/json").create(payload())


@given(deep_documents(), st.sampled_from(["application/json", "text/event-stream"]))
@example(EXAMPLE, "application/json")
def test_client_stream(document: str, content_type: str) -> None:
    body = document.encode()
    if content_type == "text/event-stream":
        body = b"data: " + body + b"\n\ndata: [DONE]\n\n"
    try:
        with client(body, 200, content_type).stream(payload()) as stream:
            for _ in stream:
                pass
    except StepFunError:
        pass


@given(deep_documents())
@example('{"error":{"message":' + EXAMPLE + "}}")
async def test_async_client_create(document: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500, content=document.encode())

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    async_client = AsyncStepFunClient(
        api_key="k", base_url="http://test/v1", http_client=http, max_retries=0
    )
    with contextlib.suppress(StepFunError):
        await asyncio.wait_for(async_client.create(payload()), 10)


@given(st.integers(2, 20_000), SHAPES, st.sampled_from(["message", "type", "code", "error"]))
@example(5000, "list", "message")
def test_make_status_error_with_deep_bodies(depth: int, shape: str, where: str) -> None:
    # Built as Python values: a body handed over by a caller need not come from json.loads.
    deep = nested_value(depth, "list" if shape == "list" else "object")
    body: Any = {"error": deep} if where == "error" else {"error": {where: deep}}
    message, kind = describe_error_body(body)
    assert message is None or isinstance(message, str)
    assert kind is None or isinstance(kind, str)
    error = make_status_error(400, body)
    assert isinstance(error, StepFunError)
    assert str(error)


# --- the check made before parsing ---------------------------------------------------------------
# Strings holding what a scan could take for structure: brackets, quotes, escapes, newlines.
TRICKY_STRINGS = st.text(alphabet='[]{}"\\ a\n', max_size=8)


@st.composite
def values_with_tricky_strings(draw: st.DrawFn) -> Any:
    value: Any = draw(TRICKY_STRINGS)
    # Past MAX_DEPTH, yet shallow enough for json.dumps (recursive in C) under pytest's stack.
    for _ in range(draw(st.integers(0, MAX_DEPTH + 100))):
        key = draw(TRICKY_STRINGS)
        value = draw(st.sampled_from([[key, value], [value], {key: value}]))
    return value


@given(
    values_with_tricky_strings(),
    st.booleans(),
    st.sampled_from(["utf-8", "utf-16", "utf-16-be", "utf-32-le"]),
)
@example([[["]]]"]]], False, "utf-8")
def test_the_depth_check_agrees_with_the_value_it_reads(
    value: Any, ascii_only: bool, encoding: str
) -> None:
    text = json.dumps(value, ensure_ascii=ascii_only)
    assert too_deep(text) is deeper_than(value, MAX_DEPTH)
    # Bytes are read as json.loads reads them (UTF-8, -16 or -32), so the same text is checked.
    if deeper_than(value, MAX_DEPTH):
        with pytest.raises(ValueError, match="nested more than"):
            stepfun_core.load_json(text.encode(encoding))
    else:
        assert stepfun_core.load_json(text.encode(encoding)) == value


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16", "utf-32"])
def test_bytes_are_checked_as_json_loads_reads_them(encoding: str) -> None:
    # U+2200 is the bytes of '"' in UTF-16: read as UTF-8, a string started there and hid the
    # brackets after it from the check, while json.loads read them all.
    text = json.dumps(["\u2200", nested_value(MAX_DEPTH + 100)], ensure_ascii=False)
    with pytest.raises(ValueError, match="nested more than"):
        stepfun_core.load_json(text.encode(encoding))


def _frames() -> int:
    frame, count = sys._getframe(), 0
    while frame is not None:
        frame, count = frame.f_back, count + 1
    return count


FRAGMENTS = st.one_of(
    st.text(alphabet='[]{}"\\:,1a \n', max_size=12),
    st.builds(lambda opener, count: opener * count, st.sampled_from("[{"), st.integers(0, 900)),
    st.sampled_from(['"', '\\"', "\\\\", '{"a":', "[1,"]),
)


@given(st.lists(FRAGMENTS, max_size=12).map("".join))
@example('"' + "[" * 900)
@example('["\\\n' + "[" * 900)
def test_text_the_check_lets_through_never_takes_json_loads_past_max_depth(text: str) -> None:
    # Only text the check passes is parsed: its parse must fit in MAX_DEPTH levels of stack
    # (json's C recursion counts against this limit up to Python 3.11; later, against its own).
    if too_deep(text):
        return
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(_frames() + MAX_DEPTH + 50)
    try:
        json.loads(text)
    except ValueError:
        pass
    finally:
        sys.setrecursionlimit(limit)
