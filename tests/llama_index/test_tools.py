"""Tool hooks: specs and tool_choice on the wire, tool calls out, single-call trimming."""

from __future__ import annotations

import pytest
from llama_index.core.base.llms.types import ChatMessage, ChatResponse, TextBlock, ToolCallBlock
from llama_index.core.tools import FunctionTool

from llama_index_stepfun import web_search_tool
from tests.core.wire_samples import PARALLEL_TOOL_STREAM, TOOL_CALL_REPLY, WEB_SEARCH_REPLY
from tests.llama_index.conftest import Driver, MockAPI, json_reply, sse_reply


def get_weather(city: str) -> str:
    """Get the weather in a city."""
    return f"sunny in {city}"


def get_time(tz: str) -> str:
    """Get the time in a time zone."""
    return f"noon in {tz}"


TOOLS = [FunctionTool.from_defaults(get_weather), FunctionTool.from_defaults(get_time)]


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({}, "auto"),
        ({"tool_required": True}, "required"),
        ({"tool_choice": "none"}, "none"),
        ({"tool_choice": "get_time"}, {"type": "function", "function": {"name": "get_time"}}),
    ],
)
def test_tool_specs_and_choice_on_the_wire(
    driver: Driver, options: dict[str, object], expected: object
) -> None:
    api = MockAPI(json_reply(TOOL_CALL_REPLY))
    history = [ChatMessage(role="system", content="Be brief.")]
    driver.chat_with_tools(api.llm(), TOOLS, user_msg="Weather?", chat_history=history, **options)
    [body] = api.bodies
    assert [t["function"]["name"] for t in body["tools"]] == ["get_weather", "get_time"]
    assert body["tools"][0]["function"]["parameters"]["properties"]["city"]["type"] == "string"
    assert body["tool_choice"] == expected
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert len(history) == 1  # the caller's history is not changed


@pytest.mark.parametrize("strict", [True, False])
def test_strict_tools_per_call_as_llama_indexs_openai(driver: Driver, strict: bool) -> None:
    # It was dropped without a word; LlamaIndex's OpenAI marks each function strict.
    api = MockAPI(json_reply(TOOL_CALL_REPLY))
    driver.chat_with_tools(api.llm(), TOOLS, user_msg="Weather?", strict=strict)
    [body] = api.bodies
    functions = [tool["function"] for tool in body["tools"]]
    assert [f.get("strict") for f in functions] == ([True, True] if strict else [None, None])
    closed = [f["parameters"].get("additionalProperties") for f in functions]
    assert closed == ([False, False] if strict else [None, None])
    assert "strict" not in body


def test_web_search_passes_through_as_a_tool(driver: Driver) -> None:
    api = MockAPI(json_reply(WEB_SEARCH_REPLY))
    llm = api.llm()
    response = driver.chat_with_tools(
        llm, [web_search_tool("Search the web")], user_msg="上海最高的楼"
    )
    [body] = api.bodies
    assert body["tools"] == [{"type": "web_search", "function": {"description": "Search the web"}}]
    assert "tool_choice" not in body
    assert llm.get_tool_calls_from_response(response, error_on_no_tool_call=False) == []
    assert response.message.additional_kwargs["server_tool_calls"][0]["type"] == "web_search"


def test_no_tool_call_raises_only_when_asked() -> None:
    llm = MockAPI(json_reply(TOOL_CALL_REPLY)).llm()
    response = ChatResponse(message=ChatMessage(role="assistant", content="no tools"))
    assert llm.get_tool_calls_from_response(response, error_on_no_tool_call=False) == []
    with pytest.raises(ValueError, match="tool call"):
        llm.get_tool_calls_from_response(response)


def test_legacy_additional_kwargs_tool_calls_are_read() -> None:
    llm = MockAPI(json_reply(TOOL_CALL_REPLY)).llm()
    message = ChatMessage(
        role="assistant",
        content="",
        additional_kwargs={
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}}
            ]
        },
    )
    [selection] = llm.get_tool_calls_from_response(ChatResponse(message=message))
    assert (selection.tool_id, selection.tool_name, selection.tool_kwargs) == ("c1", "f", {"a": 1})


@pytest.mark.parametrize("arguments", ["", "  ", "\n"], ids=["empty", "spaces", "newline"])
def test_blank_arguments_are_no_arguments_in_the_block_and_the_selection(arguments: str) -> None:
    # Review of round 15: blank arguments were the text itself in the ToolCallBlock and {} in
    # the tool selection (and in LangChain's reply); one reader in the core decides now.
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": arguments}}
    message = {"role": "assistant", "content": "", "tool_calls": [call]}
    reply = {**TOOL_CALL_REPLY, "choices": [{"index": 0, "message": message}]}
    llm = MockAPI(json_reply(reply)).llm()
    response = llm.chat([ChatMessage(role="user", content="x")])
    [block] = [b for b in response.message.blocks if isinstance(b, ToolCallBlock)]
    [selection] = llm.get_tool_calls_from_response(response)
    assert block.tool_kwargs == selection.tool_kwargs == {}


def _two_calls(driver: Driver, allow: bool) -> ChatResponse:
    # The stream shape holds two tool calls; a non-streaming reply is what chat_with_tools sees.
    api = MockAPI(sse_reply(PARALLEL_TOOL_STREAM))
    full = driver.stream_chat(api.llm(), [ChatMessage(role="user", content="x")])[-1]
    reply = {
        **TOOL_CALL_REPLY,
        "choices": [
            {
                "index": 0,
                "finish_reason": "tool_calls",
                "message": {
                    "role": "assistant",
                    "content": "",
                    "tool_calls": full.message.additional_kwargs["tool_calls"],
                },
            }
        ],
    }
    llm = MockAPI(json_reply(reply)).llm()
    return driver.chat_with_tools(
        llm, TOOLS, user_msg="weather and time", allow_parallel_tool_calls=allow
    )


def test_parallel_calls_trimmed_unless_allowed(driver: Driver) -> None:
    single = _two_calls(driver, allow=False)
    assert [b.tool_name for b in single.message.blocks if isinstance(b, ToolCallBlock)] == [
        "get_weather"
    ]
    assert len(single.message.additional_kwargs["tool_calls"]) == 1
    both = _two_calls(driver, allow=True)
    assert [b.tool_name for b in both.message.blocks if isinstance(b, ToolCallBlock)] == [
        "get_weather",
        "get_time",
    ]
    assert isinstance(both.message.blocks[0], TextBlock)


def test_parallel_calls_trimmed_unless_allowed_when_streaming_too(driver: Driver) -> None:
    # Hostile round 8: LlamaIndex trims only chat_with_tools' replies, and a FunctionAgent
    # streams, so allow_parallel_tool_calls=False ran both calls' tools.
    def names(allow: bool) -> list[list[str]]:
        llm = MockAPI(sse_reply(PARALLEL_TOOL_STREAM)).llm()
        responses = driver.stream_chat_with_tools(
            llm, TOOLS, user_msg="weather and time", allow_parallel_tool_calls=allow
        )
        calls = [
            llm.get_tool_calls_from_response(r, error_on_no_tool_call=False) for r in responses
        ]
        return [[call.tool_name for call in some] for some in calls if some]

    assert names(allow=False)[-1] == ["get_weather"]
    assert all(len(some) == 1 for some in names(allow=False))
    assert names(allow=True)[-1] == ["get_weather", "get_time"]


def test_predict_and_call_runs_the_tool() -> None:
    llm = MockAPI(json_reply(TOOL_CALL_REPLY)).llm()
    answer = llm.predict_and_call(TOOLS, user_msg="weather?")
    assert answer.response == "sunny in  上海 "


def test_an_invalid_tool_name_fails_before_sending(driver: Driver) -> None:
    from stepfun_core import InvalidParameterError

    api = MockAPI(json_reply(TOOL_CALL_REPLY))
    bad = FunctionTool.from_defaults(get_weather, name="get weather!")
    with pytest.raises(InvalidParameterError, match="get weather!"):
        driver.chat_with_tools(api.llm(), [bad], user_msg="Weather?")
    assert api.requests == []
