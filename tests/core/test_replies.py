"""Plain replies: text, reasoning, tool calls with finish_reason "stop", web_search, usage."""

from __future__ import annotations

import json

from stepfun_core import build_chat_request
from stepfun_core.parse import parse_completion, parse_usage
from tests.core.conftest import Driver, reply
from tests.core.wire_samples import REASONING_REPLY, TOOL_CALL_REPLY, WEB_SEARCH_REPLY

PAYLOAD = build_chat_request("step-3.7-flash", [{"role": "user", "content": "上海天气"}])


def test_request_on_the_wire(driver: Driver) -> None:
    driver.create(
        reply(REASONING_REPLY), PAYLOAD, api_key="sk-wire", default_headers={"X-Trace-Id": "mine"}
    )
    [request] = driver.requests
    assert request.url == "https://api.stepfun.ai/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer sk-wire"
    assert request.headers["x-trace-id"] == "mine"
    body = json.loads(request.content)
    assert body == {**PAYLOAD, "stream": False}
    # UTF-8 goes out as is, not as \\u escapes.
    assert "上海天气".encode() in request.content


def test_reasoning_reply(driver: Driver) -> None:
    completion = driver.create(reply(REASONING_REPLY), PAYLOAD)
    assert completion.first.content == "你好"
    assert completion.first.reasoning == "用户打招呼"
    assert completion.raw == REASONING_REPLY
    assert completion.usage is not None and completion.usage.reasoning_tokens == 300


def test_tool_calls_with_finish_reason_stop(driver: Driver) -> None:
    completion = driver.create(reply(TOOL_CALL_REPLY), PAYLOAD)
    [call] = completion.first.tool_calls
    assert (call.id, call.name) == ("call_brg23SRcTgmpm_V0jfP-iA", "get_weather")
    assert json.loads(call.arguments) == {"city": " 上海 "}
    assert completion.first.finish_reason == "stop"
    assert completion.first.content == ""
    assert completion.usage is not None and completion.usage.cached_tokens == 48


def test_web_search_is_a_server_call_not_a_client_call(driver: Driver) -> None:
    completion = driver.create(reply(WEB_SEARCH_REPLY), PAYLOAD)
    assert completion.first.tool_calls == []
    [search] = completion.first.server_tool_calls
    assert search.type == "web_search"
    assert search.name == "step_websearch"
    assert search.results[0]["url"] == "https://example.com"
    assert completion.first.content == "上海中心大厦"


def test_lenient_parsing_of_odd_shapes() -> None:
    completion = parse_completion(
        {
            "choices": [
                {
                    "finish_reason": None,
                    "message": {
                        "role": "assistant",
                        "content": None,
                        "tool_calls": [
                            {
                                "id": "call-1766673564415832077",
                                "index": 0,
                                "function": {"name": "f", "arguments": {"a": 1}},
                            }
                        ],
                    },
                }
            ],
            "usage": {
                "completion_tokens": 106,
                "prompt_tokens": 410,
                "total_tokens": 516,
                "completion_tokens_details": None,
                "prompt_tokens_details": None,
            },
            "unexpected": "field",
        }
    )
    choice = completion.first
    assert choice.content == "" and choice.finish_reason is None
    assert json.loads(choice.tool_calls[0].arguments) == {"a": 1}
    assert completion.usage is not None and completion.usage.cached_tokens is None


def test_usage_in_either_place() -> None:
    top = parse_usage(
        {"cached_tokens": 3, "prompt_tokens": 10, "completion_tokens": 1, "total_tokens": 11}
    )
    nested = parse_usage(
        {"prompt_tokens": 10, "completion_tokens": 1, "prompt_tokens_details": {"cached_tokens": 4}}
    )
    assert top is not None and top.cached_tokens == 3
    assert nested is not None and nested.cached_tokens == 4 and nested.total_tokens == 11
    assert parse_usage(None) is None


def test_completion_round_trips_to_the_wire_shape() -> None:
    completion = parse_completion(TOOL_CALL_REPLY)
    completion.raw = None
    rebuilt = parse_completion(completion.to_dict())
    assert rebuilt.first.tool_calls == completion.first.tool_calls
    assert rebuilt.usage == completion.usage
