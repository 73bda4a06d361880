"""Drop-in use on cassettes, sync and async: an LCEL chain and a LangGraph agent."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import pytest
from langchain.agents import create_agent
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, ToolMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate

from tests.langchain.conftest import (
    ASYNC_STREAMING_NEEDS_311,
    Driver,
    get_time,
    get_weather,
    model,
)

pytestmark = pytest.mark.vcr

QUESTION = "Use get_weather and get_time for Paris, then answer."


def chain() -> Any:
    prompt = ChatPromptTemplate.from_messages(
        [("system", "You answer in one sentence."), ("human", "Tell me about {topic}.")]
    )
    return prompt | model(model="step-3.5-flash") | StrOutputParser()


def test_lcel_chain(driver: Driver) -> None:
    text = driver.run(chain(), {"topic": "lighthouses"})
    assert isinstance(text, str) and "lighthouses" in text
    if driver.is_async:

        async def collect() -> list[str]:
            return [piece async for piece in chain().astream({"topic": "lighthouses"})]

        pieces = asyncio.run(collect())
    else:
        pieces = list(chain().stream({"topic": "lighthouses"}))
    assert len(pieces) > 1
    assert "".join(pieces) == text


def agent() -> Any:
    return create_agent(model(model="step-3.5-flash"), tools=[get_weather, get_time])


def test_agent_calls_two_tools_in_one_turn(driver: Driver) -> None:
    state = driver.run(agent(), {"messages": [HumanMessage(QUESTION)]})
    messages = state["messages"]
    assert [type(m).__name__ for m in messages] == [
        "HumanMessage",
        "AIMessage",
        "ToolMessage",
        "ToolMessage",
        "AIMessage",
    ]
    calls = messages[1].tool_calls
    assert [c["name"] for c in calls] == ["get_weather", "get_time"]
    assert len({c["id"] for c in calls}) == 2
    final = messages[-1]
    assert isinstance(final, AIMessage) and not final.tool_calls
    assert "sunny in Paris" in final.text and "10:00 in Paris" in final.text


def test_agent_streams_messages(driver: Driver) -> None:
    inputs = {"messages": [HumanMessage(QUESTION)]}
    if driver.is_async and sys.version_info < (3, 11):
        pytest.skip(ASYNC_STREAMING_NEEDS_311)
    if driver.is_async:

        async def collect() -> list[Any]:
            stream = agent().astream(inputs, stream_mode="messages")
            return [item async for item in stream]

        items = asyncio.run(collect())
    else:
        items = list(agent().stream(inputs, stream_mode="messages"))
    ai_chunks = [m for m, _ in items if isinstance(m, AIMessageChunk)]
    tools = [m for m, _ in items if isinstance(m, ToolMessage)]
    assert sorted(t.content for t in tools) == ["It is 10:00 in Paris.", "It is sunny in Paris."]
    # Two model calls, each closed by one last chunk that alone carries the usage.
    lasts = [c for c in ai_chunks if c.chunk_position == "last"]
    assert len(lasts) == 2
    assert [c for c in ai_chunks if c.usage_metadata] == lasts
    first_turn = ai_chunks[: ai_chunks.index(lasts[0]) + 1]
    merged = first_turn[0]
    for chunk in first_turn[1:]:
        merged = merged + chunk
    assert [c["name"] for c in merged.tool_calls] == ["get_weather", "get_time"]
    answer = "".join(c.text for c in ai_chunks[ai_chunks.index(lasts[0]) + 1 :])
    assert "sunny in Paris" in answer
