"""Round 2, HTTP details: Retry-After 0, redirects, and message ids a server repeats.

- ``Retry-After: 0`` (or ``retry-after-ms: 0``) on a 429 never becomes a tight loop: our own
  backoff applies to 0, as openai-python does; with ``max_retries=50`` fewer than 10 requests
  arrive in the first second (before: ~1,400).
- A 3xx (301/302/307/308 with a Location) is an error naming where it points (scheme, host
  and path of the Location, never its query string), and is not followed.
- ``AIMessage.id`` stays unique when a server repeats the completion id (the API's id stays
  in ``response_metadata["id"]``), so LangGraph's ``add_messages`` keeps both turns.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

import stepfun_core as core
from tests.reliability.conftest import ROUND2, Combo, Row, combos, error_text, run_async
from tests.reliability.raw_server import (
    END,
    RawServer,
    Send,
    answer_events,
    chunk,
    completion,
    head,
    whole,
)

RATE_LIMITED = b'{"error":{"message":"slow down","type":"rate_limit_exceeded"}}'
ZERO_WAITS = {"Retry-After: 0": {"Retry_After": "0"}, "retry-after-ms: 0": {"retry_after_ms": "0"}}


def rate_limited_for_ever(headers: dict[str, str]) -> Any:
    def script(send: Send, request: Any) -> bool:
        send(whole(429, RATE_LIMITED, **headers))
        return True

    return script


@pytest.mark.parametrize("combo", combos(stream=(False,)))
@pytest.mark.parametrize("wait", list(ZERO_WAITS))
def test_retry_after_zero_is_not_a_tight_loop(
    wait: str, combo: Combo, row: Row, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("stepfun_core.client_base.RetryPolicy", core.RetryPolicy)  # real backoff
    with RawServer(rate_limited_for_ever(ZERO_WAITS[wait])) as server:
        inst = combo.build(server.base_url, max_retries=50, total_timeout=1.0)
        out = combo.call(inst, "hi")
    row.set(
        category=ROUND2,
        case=f"429 with {wait} for ever, max_retries=50 (total_timeout=1 s)",
        adapter=combo.target,
        mode=combo.label,
        expected="our backoff applies: fewer than 10 requests in the second",
        observed=f"{len(server.requests)} requests; {type(out.error).__name__}",
        requests=len(server.requests),
    )
    assert isinstance(out.error, (core.RateLimitError, core.TotalTimeoutError)), repr(out.error)
    assert len(server.requests) < 10, f"{len(server.requests)} requests in about a second"


# --- redirects -----------------------------------------------------------------------------------
LOCATION = "https://gateway.example.net:8443/v2/moved/chat/completions"
QUERY = "sig=Qxw7Zjq4Vkb9token"


def redirects(status: int) -> Any:
    def script(send: Send, request: Any) -> bool:
        send(whole(status, b"", "text/html", Location=f"{LOCATION}?{QUERY}"))
        return True

    return script


@pytest.mark.parametrize("combo", combos())
@pytest.mark.parametrize("status", (301, 302, 307, 308))
def test_a_redirect_names_where_it_points(status: int, combo: Combo, row: Row) -> None:
    with RawServer(redirects(status)) as server:
        out = combo.call(combo.build(server.base_url, max_retries=2), "hi")
    message = str(out.error) if out.error else ""
    named = [
        p for p in ("https", "gateway.example.net", "/v2/moved/chat/completions") if p in message
    ]
    shown = error_text(out.error) if out.error else ""
    row.set(
        category=ROUND2,
        case=f"{status} with a Location (https, another host, a path, a signed query)",
        adapter=combo.target,
        mode=combo.label,
        expected="an error naming the Location's scheme, host and path, not its query; "
        "not followed",
        observed=f"{type(out.error).__name__}: {message[:90]}" if out.error else "no error",
        requests=len(server.requests),
    )
    assert isinstance(out.error, core.StepFunError), repr(out.error)
    assert len(named) == 3, f"the error does not say where the redirect points: {message!r}"
    assert "sig=" not in shown and "Qxw7" not in shown, "the Location's query is shown"
    assert len(server.requests) == 1


# --- message ids a server repeats -----------------------------------------------------------------
REPEATED = "chatcmpl-repeated-by-a-cache"


class RepeatsItsId:
    """A server (a cache, a gateway) that gives every reply the same completion id."""

    def __init__(self) -> None:
        self.turns = itertools.count(1)

    def __call__(self, send: Send, request: Any) -> bool:
        n = next(self.turns)
        if isinstance(request, dict) and request.get("stream"):
            events = [e.replace(b'"raw-1"', f'"{REPEATED}"'.encode()) for e in answer_events()]
            send(head() + b"".join(chunk(e) for e in events) + chunk(b"data: [DONE]\n\n") + END)
        else:
            send(whole(200, completion(f"answer {n}", completion_id=REPEATED)))
        return True


def _message(inst: Any, how: str) -> Any:
    if how == "invoke":
        return inst.invoke("hi")
    if how == "ainvoke":
        return run_async(lambda: inst.ainvoke("hi"))
    if how == "stream":
        pieces = list(inst.stream("hi"))
    else:

        async def collect() -> list[Any]:
            return [piece async for piece in inst.astream("hi")]

        pieces = run_async(collect)
    total = pieces[0]
    for piece in pieces[1:]:
        total = total + piece
    return total


@pytest.mark.parametrize("how", ("invoke", "ainvoke", "stream", "astream"))
def test_message_ids_stay_unique_when_the_server_repeats_one(how: str, row: Row) -> None:
    with RawServer(RepeatsItsId()) as server:
        inst = Combo("langchain", "sync", False).build(server.base_url, max_retries=0)
        first, second = _message(inst, how), _message(inst, how)
    row.set(
        category=ROUND2,
        case=f"two replies with the same completion id ({how})",
        adapter="langchain",
        mode=how,
        expected="AIMessage.id differs; the API's id in response_metadata['id']",
        observed=f"ids {first.id!r}, {second.id!r}; "
        f"response_metadata id {first.response_metadata.get('id')!r}",
        requests=len(server.requests),
    )
    assert first.id and second.id and first.id != second.id, (first.id, second.id)
    assert first.response_metadata.get("id") == REPEATED
    assert second.response_metadata.get("id") == REPEATED


def test_langgraph_keeps_both_turns_when_the_server_repeats_an_id(row: Row) -> None:
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import END as LAST
    from langgraph.graph import START, MessagesState, StateGraph

    with RawServer(RepeatsItsId()) as server:
        model = Combo("langchain", "sync", False).build(server.base_url, max_retries=0)

        def chat(state: MessagesState) -> dict[str, Any]:
            return {"messages": [model.invoke(state["messages"])]}

        graph = StateGraph(MessagesState)
        graph.add_node("chat", chat)
        graph.add_edge(START, "chat")
        graph.add_edge("chat", LAST)
        app = graph.compile(checkpointer=InMemorySaver())
        config = {"configurable": {"thread_id": "round2"}}
        app.invoke({"messages": [("user", "first question")]}, config)
        state = app.invoke({"messages": [("user", "second question")]}, config)
    kinds = [m.type for m in state["messages"]]
    row.set(
        category=ROUND2,
        case="LangGraph add_messages over two turns, the server repeating the completion id",
        adapter="langchain",
        mode="langgraph",
        expected="human, ai, human, ai: both answers kept",
        observed=", ".join(kinds),
        requests=len(server.requests),
    )
    assert kinds == ["human", "ai", "human", "ai"], kinds
    assert [m.content for m in state["messages"][1::2]] == ["answer 1", "answer 2"]
