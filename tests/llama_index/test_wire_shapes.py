"""Replies in the captured wire shapes (docs/wire.md) become the right LlamaIndex responses."""

from __future__ import annotations

import json

from llama_index.core.base.llms.types import TextBlock, ThinkingBlock, ToolCallBlock

from tests.core.wire_samples import (
    CURRENT_STREAM,
    LEGACY_STREAM,
    LEGACY_TOOL_STREAM,
    PARALLEL_TOOL_STREAM,
    REASONING_REPLY,
    TOOL_CALL_REPLY,
    WEB_SEARCH_REPLY,
    current_chunk,
    sse,
)
from tests.llama_index.conftest import Driver, MockAPI, json_reply, sse_reply, user


def test_reasoning_reply_thinking_first_and_usage(driver: Driver) -> None:
    api = MockAPI(json_reply(REASONING_REPLY))
    response = driver.chat(api.llm(model="step-3.7-flash"), user("hi"))
    thinking, text = response.message.blocks
    assert isinstance(thinking, ThinkingBlock) and thinking.content == "用户打招呼"
    assert thinking.num_tokens == 300
    assert isinstance(text, TextBlock) and response.message.content == "你好"
    assert response.message.additional_kwargs["reasoning_content"] == "用户打招呼"
    assert response.raw == REASONING_REPLY
    assert response.additional_kwargs == {
        "prompt_tokens": 85,
        "completion_tokens": 340,
        "total_tokens": 425,
        "cached_tokens": 0,
        "reasoning_tokens": 300,
        "finish_reason": "stop",
    }


def test_tool_call_with_finish_reason_stop(driver: Driver) -> None:
    api = MockAPI(json_reply(TOOL_CALL_REPLY))
    llm = api.llm()
    response = driver.chat(llm, user("weather?"))
    [block] = [b for b in response.message.blocks if isinstance(b, ToolCallBlock)]
    assert block.tool_call_id == "call_brg23SRcTgmpm_V0jfP-iA"
    assert block.tool_kwargs == {"city": " 上海 "}
    [selection] = llm.get_tool_calls_from_response(response)
    assert (selection.tool_name, selection.tool_kwargs) == ("get_weather", {"city": " 上海 "})
    assert response.message.additional_kwargs["tool_calls"] == [
        {
            "id": "call_brg23SRcTgmpm_V0jfP-iA",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": " 上海 "}'},
        }
    ]
    assert response.additional_kwargs["cached_tokens"] == 48


def test_web_search_is_exposed_but_never_a_client_tool_call(driver: Driver) -> None:
    api = MockAPI(json_reply(WEB_SEARCH_REPLY))
    llm = api.llm()
    response = driver.chat(llm, user("上海最高的楼"))
    assert llm.get_tool_calls_from_response(response, error_on_no_tool_call=False) == []
    assert "tool_calls" not in response.message.additional_kwargs
    [search] = response.message.additional_kwargs["server_tool_calls"]
    assert search["type"] == "web_search"
    assert search["function"]["results"][0]["url"] == "https://example.com"
    assert response.message.content == "上海中心大厦"


def test_legacy_stream_shape(driver: Driver) -> None:
    api = MockAPI(sse_reply(LEGACY_STREAM))
    responses = driver.stream_chat(api.llm(model="step-1-8k"), user("hi"))
    assert "".join(r.delta or "" for r in responses) == "阶跃星辰"
    assert [r.message.content for r in responses][-3:] == ["阶跃星辰"] * 3
    last = responses[-1]
    assert last.additional_kwargs["completion_tokens"] == 24
    assert last.raw["usage"]["prompt_tokens"] == 90
    assert last.raw["choices"][0]["finish_reason"] == "stop"
    assert last.additional_kwargs["finish_reason"] == "stop"


def test_current_stream_shape_with_thinking_deltas(driver: Driver) -> None:
    api = MockAPI(sse_reply(CURRENT_STREAM))
    responses = driver.stream_chat(api.llm(model="step-3.7-flash"), user("hi"))
    pieces = [r.additional_kwargs.get("thinking_delta") for r in responses]
    assert [p for p in pieces if p] == ["用户", "想知道。"]
    last = responses[-1]
    assert isinstance(last.message.blocks[0], ThinkingBlock)
    assert last.message.blocks[0].content == "用户想知道。"
    assert last.message.content == "人工智能公司。 😊"
    assert last.delta == " 😊"
    assert last.message.additional_kwargs["reasoning_content"] == "用户想知道。"
    assert last.additional_kwargs["cached_tokens"] == 64
    assert last.additional_kwargs["completion_tokens"] == 616


def test_usage_comes_from_the_last_chunk_not_a_sum(driver: Driver) -> None:
    api = MockAPI(sse_reply(CURRENT_STREAM))
    responses = driver.stream_chat(api.llm(model="step-3.7-flash"), user("hi"))
    # Only the final response reports usage: the API's last running total, not a sum.
    assert [r.additional_kwargs.get("total_tokens") for r in responses] == [None] * 4 + [701]
    assert responses[-1].raw["usage"]["total_tokens"] == 701


def test_legacy_tool_stream_without_index(driver: Driver) -> None:
    api = MockAPI(sse_reply(LEGACY_TOOL_STREAM))
    llm = api.llm(model="step-1-8k")
    responses = driver.stream_chat(llm, user("weather?"))
    [selection] = llm.get_tool_calls_from_response(responses[-1])
    assert selection.tool_name == "get_weather"
    assert selection.tool_kwargs == {"city": "上海"}
    # "" ids get the core's stable fallback id, the same on every chunk.
    ids = {s.tool_id for r in responses[1:] for s in llm.get_tool_calls_from_response(r)}
    assert len(ids) == 1 and next(iter(ids)).startswith("call_")
    # A partial argument string is read as far as it goes; no chunk raises.
    partial = llm.get_tool_calls_from_response(responses[2], error_on_no_tool_call=False)
    assert partial[0].tool_kwargs == {}


def test_parallel_tool_calls_in_one_chunk_grouped_by_index(driver: Driver) -> None:
    api = MockAPI(sse_reply(PARALLEL_TOOL_STREAM))
    llm = api.llm(model="step-3.7-flash")
    responses = driver.stream_chat(llm, user("weather and time?"))
    first = llm.get_tool_calls_from_response(responses[0])
    assert [s.tool_name for s in first] == ["get_weather", "get_time"]
    calls = llm.get_tool_calls_from_response(responses[-1])
    assert [(c.tool_id, c.tool_name, c.tool_kwargs) for c in calls] == [
        ("call_aaaaaaaaaaaaaaaaaaaaaa", "get_weather", {"city": "Paris"}),
        ("call_bbbbbbbbbbbbbbbbbbbbbb", "get_time", {"tz": "UTC"}),
    ]
    mirrored = responses[-1].message.additional_kwargs["tool_calls"]
    assert [json.loads(c["function"]["arguments"]) for c in mirrored] == [
        {"city": "Paris"},
        {"tz": "UTC"},
    ]


def test_one_chunk_with_last_reasoning_and_first_text(driver: Driver) -> None:
    body = sse(
        current_chunk({"content": "", "reasoning": "think"}, 1),
        current_chunk({"content": "Hel", "reasoning": "ing"}, 2),
        current_chunk({"content": "lo"}, 3, finish="stop"),
    )
    responses = driver.stream_chat(MockAPI(sse_reply(body)).llm(), user("hi"))
    middle = responses[1]
    assert middle.delta == "Hel" and middle.additional_kwargs["thinking_delta"] == "ing"
    assert responses[-1].message.blocks[0].content == "thinking"
    assert responses[-1].message.content == "Hello"


def test_stream_complete_yields_text_and_deltas(driver: Driver) -> None:
    api = MockAPI(sse_reply(CURRENT_STREAM))
    responses = driver.stream_complete(api.llm(model="step-3.7-flash"), "hi")
    assert responses[-1].text == "人工智能公司。 😊"
    assert "".join(r.delta or "" for r in responses) == "人工智能公司。 😊"
    assert responses[-1].additional_kwargs["completion_tokens"] == 616


def test_streamed_messages_are_valid_models(driver: Driver) -> None:
    from llama_index.core.base.llms.types import ChatMessage, ChatResponse

    api = MockAPI(sse_reply(PARALLEL_TOOL_STREAM))
    for response in driver.stream_chat(api.llm(), user("x")):
        dumped = response.model_dump()
        assert ChatResponse.model_validate(dumped).model_dump() == dumped
        assert ChatMessage.model_validate_json(response.message.model_dump_json()) == (
            response.message
        )
        copy = response.message.model_copy(deep=True)
        assert copy == response.message and copy.blocks is not response.message.blocks
