"""Replies on cassettes, sync and async: both stream shapes, reasoning, usage, tool calls,
web_search, reasoning echo and n > 1.

``step-1-8k`` answers in the legacy stream shape and ``step-3.5-flash`` in the current one
(docs/wire.md#stream-shapes). Each test runs twice (``driver``) on one cassette.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from langchain_core.messages import BaseMessage, HumanMessage, ToolMessage

from stepfun_core import fallback_tool_call_id
from tests.langchain.conftest import (
    Driver,
    aggregate,
    final_usage,
    get_time,
    get_weather,
    model,
    sent_body,
)

pytestmark = pytest.mark.vcr

LEGACY, CURRENT = "step-1-8k", "step-3.5-flash"
SHAPES = [pytest.param(LEGACY, id="legacy"), pytest.param(CURRENT, id="current")]
# Over 256 tokens, the prompt-cache unit, so cached tokens are reported (docs/wire.md#usage).
LONG_PROMPT = "Explain tides briefly. " + " ".join(
    f"Note {i}: the moon pulls the oceans toward it as the earth turns." for i in range(60)
)
WEB_SEARCH = {"type": "web_search", "function": {"description": "Search the web"}}


@pytest.mark.parametrize("model_name", SHAPES)
def test_invoke_text_reasoning_and_usage(driver: Driver, model_name: str) -> None:
    message = driver.invoke(model(model=model_name), LONG_PROMPT)
    assert isinstance(message.content, str) and message.content
    meta = message.response_metadata
    assert meta["model_name"] == model_name
    assert meta["model_provider"] == "stepfun"
    assert meta["finish_reason"] == "stop"
    usage = message.usage_metadata
    assert usage is not None
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    # Legacy replies put cached_tokens at the top of usage, current ones in the details.
    assert usage.get("input_token_details", {}).get("cache_read", 0) >= 256
    if model_name == CURRENT:
        reasoning = message.additional_kwargs["reasoning_content"]
        assert reasoning
        assert usage.get("output_token_details", {}).get("reasoning", 0) > 0
        assert message.content_blocks[0] == {"type": "reasoning", "reasoning": reasoning}
    else:
        assert "reasoning_content" not in message.additional_kwargs
    assert [b["type"] for b in message.content_blocks][-1] == "text"


@pytest.mark.parametrize("model_name", SHAPES)
def test_stream_text_reasoning_and_usage(driver: Driver, vcr: Any, model_name: str) -> None:
    chunks = driver.stream(model(model=model_name), LONG_PROMPT)
    assert all(c.response_metadata.get("model_provider") == "stepfun" for c in chunks)
    # Usage, model name and finish reason on exactly one chunk: the last one.
    for key in ("model_name", "finish_reason"):
        assert [c for c in chunks if key in c.response_metadata] == [chunks[-1]]
    assert [c for c in chunks if c.usage_metadata] == [chunks[-1]]
    assert chunks[-1].chunk_position == "last"
    full = aggregate(chunks)
    assert full.response_metadata["model_name"] == model_name
    assert full.response_metadata["finish_reason"] == "stop"
    api = final_usage(vcr)
    assert full.usage_metadata is not None
    assert full.usage_metadata["input_tokens"] == api["prompt_tokens"]
    assert full.usage_metadata["output_tokens"] == api["completion_tokens"]
    assert full.usage_metadata["total_tokens"] == api["total_tokens"]
    assert full.usage_metadata.get("input_token_details", {}).get("cache_read", 0) >= 256
    types = [b["type"] for b in full.content_blocks]
    assert types == (["reasoning", "text"] if model_name == CURRENT else ["text"])
    # Reasoning arrives piece by piece, on several chunks.
    with_reasoning = [c for c in chunks if c.additional_kwargs.get("reasoning_content")]
    assert (len(with_reasoning) > 1) is (model_name == CURRENT)


def test_parallel_tool_calls(driver: Driver) -> None:
    bound = model(model=CURRENT).bind_tools([get_weather, get_time])
    prompt = "Use get_weather and get_time for Paris."
    message = driver.invoke(bound, prompt)
    # Non-streaming tool calls come with finish_reason "stop" (docs/wire.md#reply-tool-calls).
    assert message.response_metadata["finish_reason"] == "stop"
    assert [c["name"] for c in message.tool_calls] == ["get_weather", "get_time"]
    assert all(c["args"] == {"city": "Paris"} for c in message.tool_calls)
    chunks = driver.stream(bound, prompt)
    full = aggregate(chunks)
    assert [c["name"] for c in full.tool_calls] == ["get_weather", "get_time"]
    assert [c["index"] for c in full.tool_call_chunks] == [0, 1]
    assert all(c["id"] and c["id"].startswith("call_") for c in full.tool_calls)
    blocks = [b["type"] for b in full.content_blocks]
    assert blocks == ["reasoning", "tool_call", "tool_call"]


def test_tool_calls_survive_v1_streams_with_reasoning_first(driver: Driver) -> None:
    bound = model(model=CURRENT, output_version="v1").bind_tools([get_weather, get_time])
    full = aggregate(driver.stream(bound, "Use get_weather and get_time for Rome."))
    calls = [b for b in full.content_blocks if b["type"] == "tool_call"]
    assert [c["name"] for c in calls] == ["get_weather", "get_time"]
    assert [c["args"] for c in calls] == [{"city": "Rome"}, {"city": "Rome"}]
    assert full.content_blocks[0]["type"] == "reasoning"


def test_legacy_stream_tool_call_quirks(driver: Driver) -> None:
    # No index, "" ids and types, the name and the arguments in separate chunks (§1.6).
    bound = model(model=LEGACY).bind_tools([get_weather])
    chunks = driver.stream(bound, "What is the weather in Oslo?")
    full = aggregate(chunks)
    assert len(full.tool_calls) == 1
    call = full.tool_calls[0]
    assert call["name"] == "get_weather"
    assert call["args"] == {"city": "Oslo"}
    assert call["id"] == fallback_tool_call_id(full.response_metadata["id"], 0)
    assert full.response_metadata["finish_reason"] == "stop"
    # The id is sent once, so merging chunks never doubles it.
    assert sum(1 for c in chunks for t in c.tool_call_chunks if t["id"]) == 1


def test_web_search_is_server_side(driver: Driver) -> None:
    bound = model(model=CURRENT).bind_tools([WEB_SEARCH])
    prompt = "Search the web: tallest building in Shanghai"
    for message in (driver.invoke(bound, prompt), aggregate(driver.stream(bound, prompt))):
        assert message.tool_calls == []
        assert message.tool_call_chunks == [] if hasattr(message, "tool_call_chunks") else True
        (search,) = message.additional_kwargs["server_tool_calls"]
        assert search["type"] == "web_search"
        assert search["function"]["results"]
        assert message.content
        types = [b["type"] for b in message.content_blocks]
        assert types == ["reasoning", "server_tool_call", "server_tool_result", "text"]
        result = message.content_blocks[2]
        assert result["tool_call_id"] == search["id"]  # type: ignore[typeddict-item]


@pytest.mark.parametrize("mode", ["invoke", "stream"])
def test_reasoning_is_echoed_with_tool_calls(driver: Driver, vcr: Any, mode: str) -> None:
    bound = model(model=CURRENT).bind_tools([get_weather])
    question = HumanMessage("What is the weather in Lima?")
    if mode == "invoke":
        first: Any = driver.invoke(bound, [question])
    else:
        first = aggregate(driver.stream(bound, [question]))
    reasoning = first.additional_kwargs["reasoning_content"]
    call = first.tool_calls[0]
    answer = ToolMessage(get_weather.invoke(call["args"]), tool_call_id=call["id"])
    second = driver.invoke(bound, [question, first, answer])
    assert "sunny" in str(second.content)
    assistant = sent_body(vcr)["messages"][1]
    assert assistant["reasoning"] == reasoning
    assert assistant["tool_calls"][0]["id"] == call["id"]
    assert assistant["content"] == ""


def test_n_generations(driver: Driver) -> None:
    chat = model(model=CURRENT, n=2)
    messages: list[list[BaseMessage]] = [[HumanMessage("Name a colour.")]]
    run = asyncio.run(chat.agenerate(messages)) if driver.is_async else chat.generate(messages)
    generations: list[Any] = run.generations[0]
    assert len(generations) == 2
    texts = [g.text for g in generations]
    assert texts[0] != texts[1]
    # The usage covers the request: only the first generation carries it.
    assert generations[0].message.usage_metadata is not None
    assert generations[1].message.usage_metadata is None
    with pytest.raises(ValueError, match="n > 1"):
        driver.stream(chat, "Name a colour.")
