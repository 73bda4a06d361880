"""The chunk converter on wire shapes the replica does not produce (docs/wire.md#web-search)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from langchain_core import exceptions as lc
from langchain_core.messages import AIMessageChunk

from langchain_stepfun import ChatStepFun
from langchain_stepfun.streaming import ChunkConverter
from stepfun_core import StreamAccumulator, parse_chunk


def run(events: list[dict[str, Any]], **kwargs: Any) -> list[AIMessageChunk]:
    converter, accumulator = ChunkConverter(**kwargs), StreamAccumulator()
    out = []
    for event in events:
        chunk = parse_chunk(event)
        accumulator.add(chunk)
        generation = converter.convert(chunk)
        if generation is not None:
            out.append(generation.message)
    out.append(converter.last(accumulator).message)
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
