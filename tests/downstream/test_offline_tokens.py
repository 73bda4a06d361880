"""Token counting as the frameworks use it, offline: sockets to anything but loopback refused (the
suite's harness), ``transformers`` and ``tiktoken`` unimportable, model calls on the replica.

- LangChain: ``trim_messages(token_counter=model)``; ``create_agent`` with
  ``ContextEditingMiddleware`` counting through the model (``token_count_method="model"``), which
  clears old tool results that a characters/4 count would leave; ``SummarizationMiddleware`` with
  a token trigger and the model's counter.
- LlamaIndex: ``Settings.tokenizer = stepfun_tokenizer`` with a ``ChatMemoryBuffer`` under a
  chat engine, and a ``FunctionAgent`` whose default memory counts with it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import llama_index.core
import pytest
from langchain.agents import create_agent
from langchain.agents.middleware import (
    ClearToolUsesEdit,
    ContextEditingMiddleware,
    SummarizationMiddleware,
)
from langchain_core.messages import (
    AIMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
    trim_messages,
)
from langchain_core.messages.utils import count_tokens_approximately
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver
from llama_index.core import Settings
from llama_index.core.agent.workflow import FunctionAgent
from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.chat_engine import SimpleChatEngine
from llama_index.core.memory import ChatMemoryBuffer

from langchain_stepfun import ChatStepFun
from llama_index_stepfun import StepFun, stepfun_tokenizer
from stepfun_core import estimate_tokens
from stepfun_core import tokens as core_tokens
from tests.downstream.calls import run_closing
from tests.replica import Replica

MODEL = "step-3.5-flash"
KEY = "sk-offline-tokens"
# A long Chinese tool result: over 1,000 tokens for StepFun, 270 by characters / 4.
REPORT = "今天天气晴朗气温二十一度东南风三级。" * 60


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No tokenizer library can be imported, LlamaIndex has no global tokenizer yet, and no
    count is remembered from other tests."""
    monkeypatch.setitem(sys.modules, "transformers", None)
    monkeypatch.setitem(sys.modules, "tiktoken", None)
    monkeypatch.setattr(llama_index.core, "global_tokenizer", None)
    core_tokens._MEMO.clear()
    yield
    core_tokens._MEMO.clear()


def chat_model(replica: Replica) -> ChatStepFun:
    return ChatStepFun(model=MODEL, api_key=KEY, base_url=replica.base_url)


@tool
def weather_report(city: str) -> str:
    """Get the detailed weather report of a city."""
    return f"{city}: {REPORT}"


def tool_contents(request_messages: list[dict[str, Any]]) -> list[str]:
    return [m["content"] for m in request_messages if m["role"] == "tool"]


# --- LangChain ------------------------------------------------------------------------------------
def test_trim_messages_with_the_model_as_counter(replica: Replica) -> None:
    model = chat_model(replica)
    history: list[Any] = [SystemMessage("你是一个天气助手。")]
    for i, city in enumerate(["北京", "上海", "广州", "深圳"]):
        call = {"name": "weather_report", "args": {"city": city}, "id": f"call_{i}"}
        history += [
            HumanMessage(f"{city}天气如何?"),
            AIMessage("", tool_calls=[call]),
            ToolMessage(f"{city}: {REPORT}", tool_call_id=f"call_{i}"),
            AIMessage(f"{city}今天晴。"),
        ]
    budget = 3_000
    kept = trim_messages(
        history,
        token_counter=model,
        max_tokens=budget,
        strategy="last",
        start_on="human",
        include_system=True,
    )
    assert isinstance(kept[0], SystemMessage)
    assert kept[-1] == history[-1]
    assert (
        model.get_num_tokens_from_messages(kept)
        <= budget
        < model.get_num_tokens_from_messages(history)
    )
    # Counting Chinese by characters / 4 keeps about four times as much: more than fits.
    naive = trim_messages(
        history,
        token_counter=count_tokens_approximately,
        max_tokens=budget,
        strategy="last",
        start_on="human",
        include_system=True,
    )
    assert len(naive) > len(kept)
    assert model.get_num_tokens_from_messages(naive) > budget
    # The trimmed history goes out as it was counted.
    answer = model.invoke(kept)
    assert answer.text
    assert replica.requests[-1].json["messages"][0]["role"] == "system"


def run_three_turns(agent: Any) -> None:
    config = {"configurable": {"thread_id": "weather"}}
    for city in ["北京", "上海", "广州"]:
        agent.invoke({"messages": [HumanMessage(f"{city}天气如何? Use weather_report.")]}, config)


def context_editing_agent(replica: Replica, method: str) -> Any:
    edit = ClearToolUsesEdit(trigger=2_500, keep=1)
    middleware = ContextEditingMiddleware(edits=[edit], token_count_method=method)  # type: ignore[arg-type]
    return create_agent(
        chat_model(replica),
        tools=[weather_report],
        middleware=[middleware],
        checkpointer=InMemorySaver(),
    )


def test_context_editing_counts_with_the_model(replica: Replica) -> None:
    run_three_turns(context_editing_agent(replica, "model"))
    assert len(replica.requests) == 6
    last = tool_contents(replica.requests[-1].json["messages"])
    # Two old reports were cleared by the edit; the newest one was kept.
    assert last[:-1] == ["[cleared]", "[cleared]"]
    assert REPORT in last[-1]


def test_a_characters_over_four_count_would_not_have_cleared(replica: Replica) -> None:
    # The same conversation counted the usual approximate way: the Chinese reports look four
    # times smaller, so nothing is cleared and the request grows past the trigger.
    run_three_turns(context_editing_agent(replica, "approximate"))
    sent = replica.requests[-1].json["messages"]
    assert "[cleared]" not in tool_contents(sent)
    assert sum(estimate_tokens(c) for c in tool_contents(sent)) > 2_500


def test_summarization_triggered_by_the_models_token_count(replica: Replica) -> None:
    model = chat_model(replica)
    summarize = SummarizationMiddleware(
        model=model,
        trigger=("tokens", 2_000),
        keep=("messages", 2),
        token_counter=model.get_num_tokens_from_messages,
    )
    agent = create_agent(
        model, tools=[weather_report], middleware=[summarize], checkpointer=InMemorySaver()
    )
    run_three_turns(agent)
    state = agent.get_state({"configurable": {"thread_id": "weather"}}).values
    summaries = [m for m in state["messages"] if "summary" in m.text.lower()]
    assert summaries, [m.text[:60] for m in state["messages"]]
    # The summary request carried the old conversation; later requests no longer do.
    assert len(tool_contents(replica.requests[-1].json["messages"])) < 3
    assert model.get_num_tokens_from_messages(state["messages"]) < 6_000


# --- LlamaIndex -----------------------------------------------------------------------------------
def test_llamaindex_cannot_count_offline_without_a_tokenizer() -> None:
    # The fixture really takes tiktoken away: LlamaIndex's default needs it.
    with pytest.raises(ImportError):
        ChatMemoryBuffer.from_defaults(token_limit=1_000)


def test_llamaindex_memory_buffer_with_our_tokenizer(replica: Replica) -> None:
    Settings.tokenizer = stepfun_tokenizer
    llm = StepFun(model=MODEL, api_key=KEY, api_base=replica.base_url)
    history = [
        ChatMessage(
            role="user" if i % 2 == 0 else "assistant", content=f"第{i}段:" + "天气晴朗" * 50
        )
        for i in range(10)
    ]
    limit = 1_000
    memory = ChatMemoryBuffer.from_defaults(chat_history=list(history), llm=llm, token_limit=limit)
    assert memory.tokenizer_fn is stepfun_tokenizer
    engine = SimpleChatEngine.from_defaults(llm=llm, memory=memory)
    engine.chat("总结一下")
    sent = [m["content"] for m in replica.requests[-1].json["messages"]]
    assert sent[-1] == "总结一下"
    assert 1 < len(sent) < len(history) + 1  # old turns dropped, recent ones kept
    assert sent[:-1] == [m.content for m in history[-(len(sent) - 1) :]]
    # Within the limit as LlamaIndex counts (its messages joined by spaces), by our estimate.
    assert estimate_tokens(" ".join(sent)) <= limit


def test_llamaindex_function_agent_counts_with_our_tokenizer(replica: Replica) -> None:
    calls: list[str] = []

    def counting(text: str) -> list[int]:
        calls.append(text)
        return stepfun_tokenizer(text)

    Settings.tokenizer = counting

    def get_weather(city: str) -> str:
        """Get the current weather in a city."""
        return f"{city}: {REPORT}"

    llm = StepFun(model=MODEL, api_key=KEY, api_base=replica.base_url)
    agent = FunctionAgent(tools=[get_weather], llm=llm)

    async def ask() -> str:
        return str(await agent.run(user_msg="北京天气如何? Use get_weather."))

    answer = run_closing(ask())
    assert REPORT[:10] in str(answer)
    assert calls  # the agent's memory counted with it, and nothing fell back to tiktoken
