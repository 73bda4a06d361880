"""A server (a gateway, a cache) that repeats one completion id must not cost a turn.

LangGraph's ``add_messages`` replaces a message whose id it has seen. Two turns of a small graph
on one thread, against a scripted server that gives every reply the same id: both answers
survive, by ``invoke``, by ``stream_mode="messages"`` (the model then streams) and async.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START, MessagesState, StateGraph

from langchain_stepfun import ChatStepFun
from tests.downstream.calls import run_closing
from tests.downstream.scripted import Message, ScriptedAPI
from tests.langchain.conftest import ASYNC_STREAMING_NEEDS_311

REPEATED = "chatcmpl-the-same-every-time"
THREAD = {"configurable": {"thread_id": "repeated-ids"}}


def numbered(body: dict[str, Any], n: int) -> Message:
    return {"content": f"answer number {n + 1}"}


@pytest.fixture
def api() -> Iterator[ScriptedAPI]:
    with ScriptedAPI(numbered, response_id=REPEATED) as server:
        yield server


def graph(api: ScriptedAPI) -> Any:
    model = ChatStepFun(model="step-3.5-flash", api_key="sk-ids", base_url=api.base_url)

    def call(state: MessagesState) -> dict[str, list[BaseMessage]]:
        return {"messages": [model.invoke(state["messages"])]}

    async def acall(state: MessagesState) -> dict[str, list[BaseMessage]]:
        return {"messages": [await model.ainvoke(state["messages"])]}

    builder = StateGraph(MessagesState)
    builder.add_node("model", call, afunc=acall)  # type: ignore[call-overload]
    builder.add_edge(START, "model")
    return builder.compile(checkpointer=InMemorySaver())


def turn(app: Any, text: str, mode: str) -> None:
    value = {"messages": [HumanMessage(text)]}
    if mode == "invoke":
        app.invoke(value, THREAD)
    elif mode == "stream":
        streamed = list(app.stream(value, THREAD, stream_mode="messages"))
        assert streamed, "the model streamed nothing"
        # The tokens of one answer share one id, so a client can put them back together.
        assert len({message.id for message, _ in streamed}) == 1
    elif mode == "ainvoke":
        run_closing(app.ainvoke(value, THREAD))
    else:

        async def consume() -> None:
            async for _ in app.astream(value, THREAD, stream_mode="messages"):
                pass

        run_closing(consume())


@pytest.mark.parametrize(
    "mode",
    [
        "invoke",
        "stream",
        "ainvoke",
        pytest.param(
            "astream",
            marks=pytest.mark.skipif(sys.version_info < (3, 11), reason=ASYNC_STREAMING_NEEDS_311),
        ),
    ],
)
def test_both_turns_survive_a_repeated_completion_id(api: ScriptedAPI, mode: str) -> None:
    app = graph(api)
    turn(app, "first question", mode)
    turn(app, "second question", mode)
    messages = app.get_state(THREAD).values["messages"]
    assert [type(m).__name__ for m in messages] == [
        "HumanMessage",
        "AIMessage",
        "HumanMessage",
        "AIMessage",
    ]
    first, second = messages[1], messages[3]
    assert isinstance(first, AIMessage) and isinstance(second, AIMessage)
    assert (first.text, second.text) == ("answer number 1", "answer number 2")
    assert first.id != second.id
    assert first.response_metadata["id"] == second.response_metadata["id"] == REPEATED
    # The second request carried the whole history, both answers included.
    sent = [m["content"] for m in api.chat_requests[1]["messages"]]
    assert sent == ["first question", "answer number 1", "second question"]
    streamed = mode in ("stream", "astream")
    assert [bool(r.get("stream")) for r in api.chat_requests] == [streamed, streamed]
