"""What an adversarial review found in the hardened core, each pinned so it stays fixed.

(The review's reproductions attacked the library from outside; these are their smallest
forms, over httpx.MockTransport.)
"""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import httpx
import pytest

import stepfun_core as core
from stepfun_core import request
from stepfun_core.accumulator import MAX_CHOICES, StreamAccumulator
from stepfun_core.parse import MAX_TOOL_CALLS, parse_chunk, parse_completion
from tests.core.conftest import Driver, reply
from tests.hostile import PNG, race

PAYLOAD = core.build_chat_request("step-3.5-flash", [{"role": "user", "content": "hi"}])
FAST = core.RetryPolicy(max_retries=2, initial_delay=0.001, max_delay=0.002)
SSE = (
    b'data: {"id":"a","choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":"stop"}]}'
    b"\n\ndata: [DONE]\n\n"
)


def client(handler: Any, **options: Any) -> core.StepFunClient:
    options.setdefault("retry_policy", FAST)
    transport = httpx.MockTransport(handler)
    return core.StepFunClient(api_key="k", http_client=httpx.Client(transport=transport), **options)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:99999/v1", "http://127.0.0.1:0/v1", "https://api.example.com/v1#"]
)
def test_a_port_out_of_range_or_an_empty_fragment_is_refused(url: str) -> None:
    with pytest.raises(core.InvalidParameterError, match="base_url"):
        core.StepFunClient(api_key="k", base_url=url)


def test_a_stream_read_twice_or_after_close_is_a_typed_error() -> None:
    sse = {"content-type": "text/event-stream"}
    stepfun = client(lambda request: httpx.Response(200, content=SSE, headers=sse))
    stream = stepfun.stream(PAYLOAD)
    assert [c.choices[0].content for c in stream] == ["hi"]
    with pytest.raises(core.StreamError, match="already read"):
        list(stream)
    closed = stepfun.stream(PAYLOAD)
    closed.close()
    with pytest.raises(core.StreamError, match="already read"):
        list(closed)


def test_a_closed_caller_client_is_named_not_a_runtime_error() -> None:
    http = httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(200)))
    stepfun = core.StepFunClient(api_key="k", http_client=http)
    http.close()
    with pytest.raises(core.InvalidParameterError, match="http_client"):
        stepfun.create(PAYLOAD)


def test_a_callers_raise_for_status_hook_is_typed_and_retried() -> None:
    replies = iter([429, 200])
    seen: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        status = next(replies)
        seen.append(status)
        body = {"choices": [{"index": 0, "message": {"content": "ok"}}]} if status == 200 else {}
        return httpx.Response(status, json=body)

    def raise_for_status(response: httpx.Response) -> None:
        response.raise_for_status()

    hooks = {"response": [raise_for_status]}
    http = httpx.Client(transport=httpx.MockTransport(handler), event_hooks=hooks)
    stepfun = core.StepFunClient(api_key="k", http_client=http, retry_policy=FAST)
    assert stepfun.create(PAYLOAD).first.content == "ok"
    assert seen == [429, 200]


def test_every_string_from_the_server_can_be_encoded() -> None:
    half = "\ud800"
    body = {
        "id": f"id{half}",
        "model": f"m{half}",
        "choices": [
            {
                "index": 0,
                "finish_reason": f"stop{half}",
                "message": {
                    "content": "",
                    "tool_calls": [{"id": f"c{half}", "function": {"name": f"f{half}"}}],
                },
            }
        ],
    }
    completion = parse_completion(json.loads(json.dumps(body)))
    choice = completion.first
    for text in (
        completion.id,
        completion.model,
        choice.finish_reason or "",
        choice.tool_calls[0].id,
    ):
        text.encode("utf-8")
    choice.tool_calls[0].name.encode("utf-8")
    error = core.errors.make_status_error(400, {"error": {"message": f"bad{half}", "type": "x"}})
    str(error).encode("utf-8")
    chunk = parse_chunk(json.loads(json.dumps({**body, "choices": []})))
    state = core.stream.StreamState()
    raw = json.dumps({"id": f"id{half}", "model": f"m{half}", "choices": []})
    list(state.feed(f"data: {raw}\n\n".encode()))
    assert chunk.id == f"id{half}"  # parse_chunk alone keeps the bytes; the stream joins them
    state.accumulator.result().id.encode("utf-8")


def test_a_stream_opening_a_choice_per_event_is_bounded() -> None:
    accumulator = StreamAccumulator()
    for index in range(MAX_CHOICES + 50):
        accumulator.add(parse_chunk({"choices": [{"index": index, "delta": {"content": "x"}}]}))
    assert len(accumulator.result().choices) == MAX_CHOICES


def test_a_reply_opening_a_tool_call_per_piece_is_bounded() -> None:
    # Hostile round 9: choices were bounded, calls were not: 30 MiB of events held 1.8 million
    # calls (730 MiB). A whole reply's list is read as far as the same bound.
    accumulator = StreamAccumulator()
    for index in range(MAX_TOOL_CALLS + 50):
        delta = {"tool_calls": [{"index": index, "id": f"c{index}", "function": {"name": "f"}}]}
        accumulator.add(parse_chunk({"choices": [{"index": 0, "delta": delta}]}))
    assert len(accumulator.result().first.tool_calls) == MAX_TOOL_CALLS
    # Review: a call past the bound reached the stream's reader (LlamaIndex raised KeyError),
    # and the arguments of index-less calls past it were glued onto the last call kept.
    state = core.stream.StreamState()
    seen: set[int] = set()
    for i in range(MAX_TOOL_CALLS + 3):
        for delta in (
            {"id": f"c{i}", "function": {"name": "f"}},
            {"function": {"arguments": "{}"}},
        ):
            raw = json.dumps({"choices": [{"index": 0, "delta": {"tool_calls": [delta]}}]})
            for piece in state.feed(f"data: {raw}\n\n".encode()):
                seen.update(call.index for call in piece.choices[0].tool_calls)
    kept = state.accumulator.result().first.tool_calls
    assert len(kept) == len(seen) == MAX_TOOL_CALLS
    assert {call.arguments for call in kept} == {"{}"}
    calls = [{"id": f"c{i}", "function": {"name": "f"}} for i in range(MAX_TOOL_CALLS + 50)]
    message = {"role": "assistant", "content": "", "tool_calls": calls}
    whole = parse_completion({"choices": [{"index": 0, "message": message}]})
    assert len(whole.first.tool_calls) == MAX_TOOL_CALLS


def test_repr_hides_a_query_that_may_hold_a_token() -> None:
    stepfun = core.StepFunClient(api_key="k", base_url="https://gw.example.com/v1?token=s3cret")
    assert "s3cret" not in repr(stepfun)
    assert stepfun.base_url.endswith("?token=s3cret")  # still sent


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"reasoning_effort": ["low"]}, "reasoning_effort"),
        ({"response_format": {"type": ["json_object"]}}, "response_format.type"),
        ({"tool_choice": {"type": "function", "function": "f"}}, "tool_choice"),
        ({"max_tokens": 10**5000}, "max_tokens"),
    ],
)
def test_odd_parameter_values_are_named_not_python_errors(
    params: dict[str, Any], field: str
) -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(500)

    with pytest.raises(core.InvalidParameterError, match=field.replace(".", r"\.")):
        client(handler).create(
            core.build_chat_request("step-3.5-flash", [{"role": "user", "content": "hi"}], **params)
        )
    assert sent == []


@pytest.mark.parametrize("role", [["user"], {"r": 1}])
def test_an_unhashable_role_is_named(role: Any) -> None:
    with pytest.raises(core.InvalidParameterError, match=r"messages\[0\]\.role"):
        core.build_chat_request("m", [{"role": role, "content": "hi"}])


def test_empty_data_events_do_not_keep_the_idle_watchdog_happy() -> None:
    def pieces() -> Any:
        yield b'data: {"id":"a","choices":[{"index":0,"delta":{"content":"hi"}}]}\n\n'
        for _ in range(60):
            yield b"data:\n\ndata: {}\n\n"

    async def apieces() -> Any:
        for piece in pieces():
            await asyncio.sleep(0.02)
            yield piece

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=apieces(), headers={"content-type": "text/event-stream"})

    async def run() -> None:
        transport = httpx.MockTransport(handler)
        stepfun = core.AsyncStepFunClient(
            api_key="k", http_client=httpx.AsyncClient(transport=transport), stream_idle_timeout=0.3
        )
        stream = await stepfun.stream(PAYLOAD)
        async with stream:
            async for _ in stream:
                pass

    with pytest.raises(core.StreamIdleTimeoutError) as caught:
        asyncio.run(run())
    assert caught.value.partial is not None and caught.value.partial.first.content == "hi"


# Round 6.


def test_an_index_less_call_after_a_negative_index_is_not_a_key_error() -> None:
    state = core.stream.StreamState()
    call = '{"index":-2,"id":"c1","function":{"name":"f","arguments":"{}"}}'
    body = (
        f'data: {{"choices":[{{"index":0,"delta":{{"tool_calls":[{call}]}}}}]}}\n\n'
        'data: {"choices":[{"index":0,"delta":{"tool_calls":[{"function":{"arguments":"x"}}]}}]}'
        "\n\n"
    )
    list(state.feed(body.encode()))
    assert [c.arguments for c in state.accumulator.result().first.tool_calls] == ["{}", "x"]


def test_threads_filling_the_media_cache_together_get_no_key_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(request, "_CHECKED_MEDIA", {})
    monkeypatch.setattr(request, "_MAX_CHECKED_MEDIA", 4)  # every check evicts

    def check(thread: int) -> None:
        # Threads switch between the size check and the eviction.
        for i in range(5000):
            data = base64.b64encode(PNG + b"%d.%d" % (thread, i)).decode()
            request._check_data_url("f", f"data:image/png;base64,{data}", "image")

    assert race(check) == []


@pytest.mark.parametrize("payload", [None, [], "x", {"model": "m"}])
def test_a_payload_that_is_not_a_mapping_is_refused_before_sending(
    driver: Driver, payload: Any
) -> None:
    # None sent GET /models and returned an empty completion; the others an AttributeError.
    for call in (driver.create, driver.stream):
        with pytest.raises(core.InvalidParameterError, match="payload"):
            call(reply(SSE), payload)
    assert driver.requests == []
