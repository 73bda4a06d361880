"""LangGraph: a ``create_agent`` conversation on one thread, through three checkpointers.

Turn one runs, the conversation is saved by the checkpointer (``InMemorySaver``, ``SqliteSaver``
or ``AsyncSqliteSaver``), then a NEW agent (and, for SQLite, a new connection to the same file)
restores it and runs turn two. Checked: the restored messages equal the ones turn one produced
(reasoning in ``additional_kwargs["reasoning_content"]``, tool calls, usage), and turn two sends
the restored history to the server in the wire shape, with the reasoning echoed on the
tool-call turn (``echo_reasoning="tool_calls"``). Turn one runs with ``invoke`` and with
``stream_mode="messages"`` (the merged chunks are what gets saved).
"""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import pytest
from langchain.agents import create_agent
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, ToolMessage
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from langchain_stepfun import ChatStepFun
from tests.langchain.conftest import ASYNC_STREAMING_NEEDS_311
from tests.replica import Replica, think
from tests.replica.brain import Reply

MODEL = "step-3.5-flash"
KEY = "sk-langgraph"
Q1 = "What is the weather in Paris? Use get_weather."
Q2 = "And what about Rome? Use get_weather."
THREAD = {"configurable": {"thread_id": "conversation-1"}}


@tool
def get_weather(city: str) -> str:
    """Get the current weather in a city."""
    return f"Sunny and 21 C in {city}."


def make_agent(base_url: str, checkpointer: Any, **options: Any) -> Any:
    model = ChatStepFun(model=MODEL, api_key=KEY, base_url=base_url, **options)
    return create_agent(model, tools=[get_weather], checkpointer=checkpointer)


# --- what the server answered, from the replica's deterministic brain -----------------------------
def reply_to(replica: Replica, index: int) -> Reply:
    return think(replica.requests[index].json)


def usage_of(reply: Reply) -> dict[str, int]:
    return {
        "input_tokens": reply.prompt_tokens,
        "output_tokens": reply.completion_tokens,
        "total_tokens": reply.prompt_tokens + reply.completion_tokens,
    }


def check_turn_one(messages: list[Any], replica: Replica) -> None:
    """The four messages of turn one match what the server sent."""
    assert [type(m).__name__ for m in messages] == [
        "HumanMessage",
        "AIMessage",
        "ToolMessage",
        "AIMessage",
    ]
    human, calling, result, answer = messages
    first, second = reply_to(replica, 0), reply_to(replica, 1)
    call = first.choices[0].tool_calls[0]
    assert isinstance(human, HumanMessage) and human.content == Q1
    assert isinstance(calling, AIMessage)
    assert [(c["name"], c["args"], c["id"]) for c in calling.tool_calls] == [
        (call.name, json.loads(call.arguments), call.id)
    ]
    assert calling.additional_kwargs.get("reasoning_content") == "".join(first.choices[0].reasoning)
    assert calling.usage_metadata is not None
    assert {k: calling.usage_metadata[k] for k in usage_of(first)} == usage_of(first)  # type: ignore[literal-required]
    assert calling.usage_metadata.get("output_token_details", {}).get("reasoning") == (
        first.reasoning_tokens
    )
    assert isinstance(result, ToolMessage) and result.tool_call_id == call.id
    assert result.content == get_weather.invoke(json.loads(call.arguments))
    assert isinstance(answer, AIMessage) and not answer.tool_calls
    assert answer.text == "".join(second.choices[0].content)
    assert answer.additional_kwargs.get("reasoning_content") == "".join(second.choices[0].reasoning)
    assert answer.usage_metadata is not None
    assert {k: answer.usage_metadata[k] for k in usage_of(second)} == usage_of(second)  # type: ignore[literal-required]


def expected_history(replica: Replica, echo: str = "tool_calls") -> list[dict[str, Any]]:
    """Turn one in the wire shape, as turn two must send it back, then the new question."""
    first, second = reply_to(replica, 0), reply_to(replica, 1)
    call = first.choices[0].tool_calls[0]
    calling: dict[str, Any] = {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": json.loads(call.arguments)},
            }
        ],
    }
    answer = {"role": "assistant", "content": "".join(second.choices[0].content)}
    if echo != "never":
        calling["reasoning"] = "".join(first.choices[0].reasoning)
    if echo == "always":
        answer["reasoning"] = "".join(second.choices[0].reasoning)
    return [
        {"role": "user", "content": Q1},
        calling,
        {
            "role": "tool",
            "content": get_weather.invoke(json.loads(call.arguments)),
            "tool_call_id": call.id,
        },
        answer,
        {"role": "user", "content": Q2},
    ]


def _parsed_arguments(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Tool-call arguments are JSON text on the wire; parse them to compare."""
    out = []
    for original in messages:
        message = dict(original)
        if "tool_calls" in message:
            calls = []
            for call in message["tool_calls"]:
                arguments = call["function"]["arguments"]
                assert isinstance(arguments, str), f"arguments must be JSON text: {arguments!r}"
                calls.append(
                    {**call, "function": {**call["function"], "arguments": json.loads(arguments)}}
                )
            message["tool_calls"] = calls
        out.append(message)
    return out


def check_turn_two(replica: Replica, final: list[Any], echo: str = "tool_calls") -> None:
    assert len(replica.requests) == 4, [r.json["messages"][-1] for r in replica.requests]
    sent = replica.requests[2].json["messages"]
    assert _parsed_arguments(sent) == expected_history(replica, echo)
    # Restored or live, turn one goes out byte for byte the same.
    assert sent[:3] == replica.requests[1].json["messages"][:3]
    assert {r.headers["authorization"] for r in replica.requests} == {f"Bearer {KEY}"}
    assert [type(m).__name__ for m in final[4:]] == [
        "HumanMessage",
        "AIMessage",
        "ToolMessage",
        "AIMessage",
    ]
    assert final[-1].text == "".join(reply_to(replica, 3).choices[0].content)


def same_messages(restored: list[Any], original: list[Any]) -> None:
    """The checkpointer's round trip keeps every field of every message."""
    assert len(restored) == len(original)
    for after, before in zip(restored, original, strict=True):
        assert type(after) is type(before) or (
            isinstance(before, AIMessageChunk) and type(after) is AIMessage
        )
        assert after.content == before.content
        assert after.additional_kwargs == before.additional_kwargs
        if isinstance(before, AIMessage):
            assert after.tool_calls == before.tool_calls
            assert after.usage_metadata == before.usage_metadata
            assert after.response_metadata == before.response_metadata


# --- savers ---------------------------------------------------------------------------------------
@contextmanager
def sync_saver(kind: str, path: Path, shared: dict[str, Any]) -> Iterator[Any]:
    """A checkpointer; for SQLite a new connection each time (to the same file)."""
    if kind == "memory":
        yield shared.setdefault("memory", InMemorySaver())
        return
    with SqliteSaver.from_conn_string(str(path)) as saver:
        yield saver


@asynccontextmanager
async def async_saver(path: Path) -> AsyncIterator[Any]:
    async with AsyncSqliteSaver.from_conn_string(str(path)) as saver:
        yield saver


def _streamed_turn(agent: Any, question: str) -> tuple[str, str]:
    """Turn one with ``stream_mode="messages"``: the model's text and reasoning, as streamed."""
    text, reasoning = [], []
    for message, metadata in agent.stream(
        {"messages": [("user", question)]}, THREAD, stream_mode="messages"
    ):
        if isinstance(message, AIMessageChunk) and metadata.get("langgraph_node") == "model":
            text.append(message.text)
            reasoning.append(message.additional_kwargs.get("reasoning_content", ""))
    return "".join(text), "".join(reasoning)


@pytest.mark.parametrize("how", ["invoke", "stream messages"])
@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_conversation_survives_the_checkpointer(
    kind: str, how: str, replica: Replica, tmp_path: Path
) -> None:
    path, shared = tmp_path / "checkpoints.sqlite", {}
    with sync_saver(kind, path, shared) as saver:
        agent = make_agent(replica.base_url, saver)
        if how == "invoke":
            live = agent.invoke({"messages": [("user", Q1)]}, THREAD)["messages"]
        else:
            text, reasoning = _streamed_turn(agent, Q1)
            live = agent.get_state(THREAD).values["messages"]
            assert text == "".join(reply_to(replica, 1).choices[0].content)
            expected_reasoning = "".join(
                "".join(reply_to(replica, i).choices[0].reasoning) for i in (0, 1)
            )
            assert reasoning == expected_reasoning
    check_turn_one(live, replica)

    with sync_saver(kind, path, shared) as saver:  # a new agent, a new connection
        agent = make_agent(replica.base_url, saver)
        restored = agent.get_state(THREAD).values["messages"]
        same_messages(restored, live)
        check_turn_one(restored, replica)
        final = agent.invoke({"messages": [("user", Q2)]}, THREAD)["messages"]
    check_turn_two(replica, final)


@pytest.mark.parametrize("how", ["ainvoke", "astream messages"])
async def test_conversation_survives_the_async_sqlite_checkpointer(
    how: str, replica: Replica, tmp_path: Path
) -> None:
    if how != "ainvoke" and sys.version_info < (3, 11):
        pytest.skip(ASYNC_STREAMING_NEEDS_311)
    path = tmp_path / "checkpoints.sqlite"
    async with async_saver(path) as saver:
        agent = make_agent(replica.base_url, saver)
        if how == "ainvoke":
            live = (await agent.ainvoke({"messages": [("user", Q1)]}, THREAD))["messages"]
        else:
            pieces = []
            async for message, metadata in agent.astream(
                {"messages": [("user", Q1)]}, THREAD, stream_mode="messages"
            ):
                if isinstance(message, AIMessageChunk) and metadata["langgraph_node"] == "model":
                    pieces.append(message.text)
            assert "".join(pieces) == "".join(reply_to(replica, 1).choices[0].content)
            live = (await agent.aget_state(THREAD)).values["messages"]
    check_turn_one(live, replica)

    async with async_saver(path) as saver:
        agent = make_agent(replica.base_url, saver)
        restored = (await agent.aget_state(THREAD)).values["messages"]
        same_messages(restored, live)
        final = (await agent.ainvoke({"messages": [("user", Q2)]}, THREAD))["messages"]
    check_turn_two(replica, final)


@pytest.mark.parametrize(
    "options",
    [{"output_version": "v1"}, {"echo_reasoning": "always"}, {"echo_reasoning": "never"}],
    ids=["output_version=v1", "echo_reasoning=always", "echo_reasoning=never"],
)
def test_restored_history_follows_the_models_options(
    options: dict[str, Any], replica: Replica
) -> None:
    saver = InMemorySaver()
    live = make_agent(replica.base_url, saver, **options).invoke(
        {"messages": [("user", Q1)]}, THREAD
    )["messages"]
    if options.get("output_version") == "v1":
        # Reasoning first among the content blocks, the tool call among them too.
        kinds = [block["type"] for block in live[1].content_blocks]
        assert kinds[0] == "reasoning" and "tool_call" in kinds, kinds
        assert live[3].content_blocks[0]["type"] == "reasoning"
    agent = make_agent(replica.base_url, saver, **options)  # a new agent, the same saver
    same_messages(agent.get_state(THREAD).values["messages"], live)
    final = agent.invoke({"messages": [("user", Q2)]}, THREAD)["messages"]
    check_turn_two(replica, final, str(options.get("echo_reasoning", "tool_calls")))
