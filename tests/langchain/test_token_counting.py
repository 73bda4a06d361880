"""``ChatStepFun`` counts tokens offline: no ``transformers``, no model hub, no tiktoken.

LangChain's default ``get_num_tokens_from_messages`` needs the GPT-2 tokenizer of
``transformers``; here both ``transformers`` and ``tiktoken`` are made unimportable, so any
fallback to them fails the test.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest
from langchain_core.messages import (
    AIMessage,
    FunctionMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.tools import tool

from langchain_stepfun import ChatStepFun
from langchain_stepfun.request import request_body
from langchain_stepfun.tools import format_tool
from stepfun_core import count_prompt_tokens, estimate_tokens, remember_prompt_tokens
from stepfun_core import tokens as core_tokens


@tool
def get_weather(city: str) -> str:
    """Get the current weather in a city."""
    return f"Sunny in {city}."


@pytest.fixture(autouse=True)
def no_tokenizer_libraries(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """``import transformers`` / ``import tiktoken`` raise ImportError; no remembered counts."""
    monkeypatch.setitem(sys.modules, "transformers", None)
    monkeypatch.setitem(sys.modules, "tiktoken", None)
    core_tokens._MEMO.clear()
    yield
    core_tokens._MEMO.clear()


@pytest.fixture
def model() -> ChatStepFun:
    return ChatStepFun(model="step-3.5-flash", api_key="sk-tokens")


HISTORY = [
    SystemMessage("你是一个乐于助人的助手。"),
    HumanMessage("巴黎的天气怎么样?"),
    AIMessage(
        "",
        tool_calls=[{"name": "get_weather", "args": {"city": "Paris"}, "id": "call_1"}],
        additional_kwargs={"reasoning_content": "I need the weather tool."},
    ),
    ToolMessage("晴,二十一度。", tool_call_id="call_1"),
    AIMessage("巴黎今天晴,二十一度。"),
]


def test_the_fallback_tokenizer_is_really_unavailable() -> None:
    with pytest.raises(ImportError):
        import transformers  # noqa: F401


def test_text_counts_match_the_core_estimate(model: ChatStepFun) -> None:
    text = "阶跃星辰 StepFun 1234 😊"
    assert model.get_num_tokens(text) == estimate_tokens(text) == len(model.get_token_ids(text))
    assert model.get_num_tokens("你好" * 100) >= 200


def test_messages_count_as_the_request_would_carry_them(model: ChatStepFun) -> None:
    body = request_body(model, list(HISTORY), None, {})
    assert model.get_num_tokens_from_messages(list(HISTORY)) == count_prompt_tokens(
        body["messages"]
    )
    with_tools = model.get_num_tokens_from_messages(list(HISTORY), tools=[get_weather])
    assert with_tools == count_prompt_tokens(body["messages"], [format_tool(get_weather)])
    assert with_tools > model.get_num_tokens_from_messages(list(HISTORY))


def test_reasoning_echo_follows_the_models_setting(model: ChatStepFun) -> None:
    echoed = model.get_num_tokens_from_messages(list(HISTORY))
    never = model.model_copy(update={"echo_reasoning": "never"})
    assert never.get_num_tokens_from_messages(list(HISTORY)) < echoed


def test_the_apis_reported_count_is_preferred(model: ChatStepFun) -> None:
    # What the core clients remember after a call (in a process that counts): the body's messages
    # and tools.
    model.get_num_tokens_from_messages([])
    body = request_body(model, list(HISTORY), None, {"tools": [format_tool(get_weather)]})
    remember_prompt_tokens(body["messages"], body.get("tools"), 61)
    assert model.get_num_tokens_from_messages(list(HISTORY), tools=[get_weather]) == 61
    longer = [*HISTORY, HumanMessage("罗马呢?")]
    added = model.get_num_tokens_from_messages(longer[-1:]) - model.get_num_tokens_from_messages([])
    assert model.get_num_tokens_from_messages(longer, tools=[get_weather]) == 61 + added


def test_messages_the_api_cannot_take_are_counted_not_refused(model: ChatStepFun) -> None:
    odd = [HumanMessage("hi"), FunctionMessage(name="lookup", content="世界" * 50)]
    assert model.get_num_tokens_from_messages(odd) >= 100


def test_a_custom_tokenizer_still_wins_for_text() -> None:
    model = ChatStepFun(api_key="sk-tokens", custom_get_token_ids=lambda text: [1] * len(text))
    assert model.get_token_ids("abc") == [1, 1, 1]
    assert model.get_num_tokens("abcdef") == 6
