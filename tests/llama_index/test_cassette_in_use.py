"""StepFun in use: a FunctionAgent with two tools, a RAG pipeline, and Settings.llm."""

from __future__ import annotations

import asyncio
import functools
import json
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from llama_index.core import Document, Settings, SummaryIndex, VectorStoreIndex
from llama_index.core.agent.workflow import AgentStream, FunctionAgent, ToolCallResult
from llama_index.core.base.llms.types import ThinkingBlock
from llama_index.core.callbacks import CallbackManager, TokenCountingHandler

from llama_index_stepfun import StepFun
from tests.llama_index.conftest import Driver, WordEmbedding, cassette


def get_weather(city: str) -> str:
    """Get the current weather in a city."""
    return f"Sunny, 21 C in {city}"


def get_time(timezone: str) -> str:
    """Get the current time in a time zone."""
    return f"12:00 in {timezone}"


QUESTION = "Use get_weather for Paris and get_time for 'Europe/Paris', then answer."
DOCS = [
    Document(text="StepFun is an AI company based in Shanghai. It builds the Step models."),
    Document(text="Paris is the capital of France, on the Seine."),
]


def on_cassette(name: str) -> list[pytest.MarkDecorator]:
    return [pytest.mark.vcr, pytest.mark.default_cassette(name)]


def weather_after_time() -> list[Callable[[str], str]]:
    """The two tools, get_weather answering only after get_time has (then 0.5 s later)."""
    answered = threading.Event()

    @functools.wraps(get_time)
    def time_first(timezone: str) -> str:
        try:
            return get_time(timezone)
        finally:
            answered.set()

    @functools.wraps(get_weather)
    def weather_last(city: str) -> str:
        answered.wait(5)
        time.sleep(0.5)  # for get_time's answer to reach the agent first
        return get_weather(city)

    return [weather_last, time_first]


def run_agent(
    streaming: bool, tools: list[Callable[[str], str]] | None = None
) -> tuple[Any, list[Any]]:
    agent = FunctionAgent(
        tools=tools or [get_weather, get_time],
        llm=StepFun(model="step-3.5-flash"),
        streaming=streaming,
    )

    async def run() -> tuple[Any, list[Any]]:
        handler = agent.run(user_msg=QUESTION)
        events = [event async for event in handler.stream_events()]
        return await handler, events

    return asyncio.run(run())


@pytest.mark.parametrize(
    "streaming",
    [
        pytest.param(True, marks=on_cassette("agent_streaming.yaml"), id="streaming"),
        pytest.param(False, marks=on_cassette("agent.yaml"), id="not-streaming"),
    ],
)
def test_function_agent_calls_two_tools_and_answers(streaming: bool, vcr: Any) -> None:
    result, events = run_agent(streaming)
    check_agent_run(result, events, vcr, streaming)


@pytest.mark.vcr
@pytest.mark.default_cassette("agent.yaml")
def test_function_agent_tools_may_finish_in_any_order(vcr: Any) -> None:
    """The agent runs tools in a thread pool: the first one called can finish last."""
    result, events = run_agent(False, tools=weather_after_time())
    assert [e.tool_name for e in events if isinstance(e, ToolCallResult)][-1] == "get_weather"
    check_agent_run(result, events, vcr, False)


def check_agent_run(result: Any, events: list[Any], vcr: Any, streaming: bool) -> None:
    calls = [e for e in events if isinstance(e, ToolCallResult)]
    assert sorted(c.tool_name for c in calls) == ["get_time", "get_weather"]
    assert len({c.tool_id for c in calls}) == 2
    answer = str(result.response.content)
    assert "Sunny, 21 C in" in answer and "12:00 in" in answer
    # step-3.5-flash reasons first: the answer keeps its thinking, and the reasoning of the
    # tool-call turn goes back with it (echo_reasoning="tool_calls").
    assert isinstance(result.response.blocks[0], ThinkingBlock)
    follow_up = json.loads(vcr.requests[1].body)["messages"]
    [turn] = [m for m in follow_up if m.get("tool_calls")]
    assert turn["reasoning"] and len(turn["tool_calls"]) == 2
    # Each call answered once; in the order the tools finished (they run in a thread pool).
    assert sorted(m["tool_call_id"] for m in follow_up if m["role"] == "tool") == sorted(
        c["id"] for c in turn["tool_calls"]
    )
    if streaming:
        streams = [e for e in events if isinstance(e, AgentStream)]
        assert "".join(e.thinking_delta or "" for e in streams)
        assert "".join(e.delta for e in streams).endswith(answer)


@cassette("rag_query.yaml")
def test_vector_index_query_engine(driver: Driver, vcr: Any) -> None:
    counter = TokenCountingHandler()
    Settings.callback_manager = CallbackManager([counter])
    Settings.llm = StepFun(model="step-3.5-flash")
    Settings.embed_model = WordEmbedding()
    engine = VectorStoreIndex.from_documents(DOCS).as_query_engine(similarity_top_k=2)
    question = "Where is StepFun based?"
    response = asyncio.run(engine.aquery(question)) if driver.is_async else engine.query(question)
    assert str(response) and len(response.source_nodes) == 2
    sent = json.loads(vcr.requests[0].body)
    assert "based in Shanghai" in json.dumps(sent["messages"], ensure_ascii=False)
    usage = json.loads(vcr.responses[0]["body"]["string"])["usage"]
    assert counter.llm_token_counts[-1].prompt_token_count == usage["prompt_tokens"]
    assert len(counter.llm_token_counts) == 1


@cassette("rag_stream.yaml")
def test_streaming_query_engine(driver: Driver) -> None:
    Settings.llm = StepFun(model="step-3.5-flash")
    Settings.embed_model = WordEmbedding()
    engine = VectorStoreIndex.from_documents(DOCS).as_query_engine(
        similarity_top_k=2, streaming=True
    )
    question = "Where is StepFun based?"
    if driver.is_async:

        async def run() -> list[str]:
            response = await engine.aquery(question)
            return [piece async for piece in response.async_response_gen()]

        pieces = asyncio.run(run())
    else:
        pieces = list(engine.query(question).response_gen)
    assert len(pieces) > 1 and "".join(pieces).strip()


@cassette("rag_chat_engine.yaml")
def test_chat_engine(driver: Driver) -> None:
    Settings.llm = StepFun(model="step-3.5-flash")
    Settings.embed_model = WordEmbedding()
    engine = VectorStoreIndex.from_documents(DOCS).as_chat_engine()
    question = "Where is StepFun based?"
    response = asyncio.run(engine.achat(question)) if driver.is_async else engine.chat(question)
    assert str(response) and response.source_nodes


@cassette("summary_index.yaml")
def test_settings_llm_drives_a_summary_index(driver: Driver) -> None:
    Settings.llm = StepFun(model="step-1-8k")
    assert isinstance(Settings.llm, StepFun)
    engine = SummaryIndex.from_documents(DOCS).as_query_engine()
    question = "Which cities are mentioned?"
    response = asyncio.run(engine.aquery(question)) if driver.is_async else engine.query(question)
    assert str(response)
    assert len(response.source_nodes) == 2
