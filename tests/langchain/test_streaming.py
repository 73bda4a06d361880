"""The chunk converter on wire shapes the replica does not produce (docs/wire.md#web-search)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from langchain_core import exceptions as lc
from langchain_core.messages import AIMessageChunk

from langchain_stepfun import ChatStepFun
from langchain_stepfun.streaming import ChunkConverter
from stepfun_core import StreamAccumulator, fallback_tool_call_id, parse_chunk
from tests.hostile import RecordingAPI


def run(events: list[dict[str, Any]], **kwargs: Any) -> list[AIMessageChunk]:
    converter, accumulator = ChunkConverter(**kwargs), StreamAccumulator()
    out = []
    for event in events:
        chunk = parse_chunk(event)
        accumulator.add(chunk)
        generation = converter.convert(chunk)
        if generation is not None:
            out.append(generation.message)
    out.extend(generation.message for generation in converter.closing(accumulator))
    return out  # type: ignore[return-value]


def event(delta: dict[str, Any], finish: str | None = None, **usage: int) -> dict[str, Any]:
    choice: dict[str, Any] = {"index": 0, "delta": delta}
    if finish:
        choice["finish_reason"] = finish
    body: dict[str, Any] = {"id": "abc.def", "model": "step-3.5-flash", "choices": [choice]}
    if usage:
        body["usage"] = usage
    return body


def total(chunks: list[AIMessageChunk]) -> AIMessageChunk:
    full = chunks[0]
    for chunk in chunks[1:]:
        full = full + chunk
    return full


def test_a_repeated_whole_name_is_not_appended() -> None:
    call = {"index": 0, "id": "call_1", "type": "function"}
    chunks = run(
        [
            event({"tool_calls": [{**call, "function": {"name": "lookup", "arguments": ""}}]}),
            event(
                {"tool_calls": [{"index": 0, "function": {"name": "lookup", "arguments": "{}"}}]}
            ),
            event({}, "tool_calls"),
        ]
    )
    full = total(chunks)
    assert full.tool_calls == [{"name": "lookup", "args": {}, "id": "call_1", "type": "tool_call"}]


# Step-1-era deltas send "" for the id until it is sent (docs/wire.md#stream-tool-calls).
PLACEHOLDER = {"index": 0, "id": "", "type": "", "function": {"name": "f", "arguments": ""}}
LATE_ID = {"index": 0, "id": "call_real", "type": "function", "function": {"arguments": "{}"}}
NO_ID = {"index": 0, "function": {"arguments": "{}"}}


@pytest.mark.parametrize(("second", "expected"), [(LATE_ID, "call_real"), (NO_ID, None)])
def test_a_tool_call_id_is_the_first_real_one_sent_once(
    second: dict[str, Any], expected: str | None
) -> None:
    events = [event({"tool_calls": [PLACEHOLDER]}), event({"tool_calls": [second]}, "tool_calls")]
    chunks = run(events)
    full = total(chunks)
    call_id = expected or fallback_tool_call_id("abc.def", 0)
    assert full.tool_calls == [{"name": "f", "args": {}, "id": call_id, "type": "tool_call"}]
    assert sum(1 for c in chunks for t in c.tool_call_chunks if t["id"]) == 1
    # No chunk alone shows a whole call (LangChain reads a last chunk's pieces as one).
    assert not [b for c in chunks for b in c.content_blocks if b["type"] == "tool_call"]
    accumulator = StreamAccumulator()
    for body in events:
        accumulator.add(parse_chunk(body))
    assert [c.id for c in accumulator.choice(0).tool_calls] == [call_id]


@pytest.mark.parametrize("call_id", ["call_real", ""])
def test_streamed_and_invoked_tool_call_ids_agree(call_id: str) -> None:
    events = [
        event({"tool_calls": [PLACEHOLDER]}),
        event({"tool_calls": [{**LATE_ID, "id": call_id}]}, "tool_calls"),
    ]
    sse = "".join(f"data: {json.dumps(body)}\n\n" for body in events) + "data: [DONE]\n\n"
    whole = {"id": call_id, "type": "function", "function": {"name": "f", "arguments": "{}"}}
    message = {"role": "assistant", "content": "", "tool_calls": [whole]}
    reply = {**event({}), "choices": [{"index": 0, "message": message, "finish_reason": "stop"}]}

    def handler(request: httpx.Request) -> httpx.Response:
        if json.loads(request.content).get("stream"):
            headers = {"content-type": "text/event-stream"}
            return httpx.Response(200, text=sse, headers=headers)
        return httpx.Response(200, json=reply)

    api = RecordingAPI(handler)
    model = ChatStepFun(**api.options("http_async_client"))
    streaming = ChatStepFun(**api.options("http_async_client", streaming=True))
    v1 = ChatStepFun(**api.options("http_async_client", streaming=True, output_version="v1"))
    messages = [
        model.invoke("hi"),
        streaming.invoke("hi"),
        total(list(model.stream("hi"))),
        asyncio.run(streaming.ainvoke("hi")),
        v1.invoke("hi"),
        total(list(v1.stream("hi"))),
    ]
    assert [body.get("stream", False) for body in api.bodies] == [False] + [True] * 5
    expected = call_id or fallback_tool_call_id("abc.def", 0)
    for answer in messages:
        assert [c["id"] for c in answer.tool_calls] == [expected]
    for answer in messages[-2:]:
        blocks = [b for b in answer.content_blocks if b["type"] == "tool_call"]
        assert [b["id"] for b in blocks] == [expected]  # type: ignore[typeddict-item]


def test_server_side_deltas_never_become_tool_call_chunks() -> None:
    search = {
        "index": 0,
        "id": "call_s",
        "type": "web_search",
        "function": {"name": "step_websearch", "arguments": '{"keyword": "x"}', "results": [{}]},
    }
    chunks = run(
        [
            event({"role": "assistant", "content": "", "tool_calls": [search]}),
            event({"tool_calls": [{"index": 0, "function": {"arguments": " "}}]}),
            event({"content": "Found."}, "stop"),
        ]
    )
    full = total(chunks)
    assert full.tool_call_chunks == [] and full.tool_calls == []
    assert full.additional_kwargs["server_tool_calls"][0]["id"] == "call_s"


def test_empty_chunks_are_skipped_and_usage_can_be_left_out() -> None:
    chunks = run(
        [
            event({"role": "", "content": ""}, prompt_tokens=0, completion_tokens=0),
            event({"content": "Hi"}, prompt_tokens=3, completion_tokens=1),
            event({"content": ""}, "stop", prompt_tokens=3, completion_tokens=1),
        ],
        stream_usage=False,
    )
    assert [c.content for c in chunks] == ["Hi", ""]
    assert all(c.usage_metadata is None for c in chunks)


def test_a_reasoning_and_text_chunk_keeps_both() -> None:
    chunks = run([event({"reasoning": "so", "content": "Yes"}, "stop")])
    assert chunks[0].content == "Yes"
    assert chunks[0].additional_kwargs == {"reasoning_content": "so"}
    assert [b["type"] for b in chunks[0].content_blocks] == ["reasoning", "text"]


def test_timeouts_are_langchain_timeouts() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    transport = httpx.MockTransport(handler)
    model = ChatStepFun(api_key="k", max_retries=0, http_client=httpx.Client(transport=transport))
    with pytest.raises(lc.ModelTimeoutError):
        model.invoke("hi")
    with pytest.raises(lc.ModelTimeoutError):
        list(model.stream("hi"))
