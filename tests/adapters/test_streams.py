"""Streams from the loopback replica through each adapter: cut when silent, legacy tool calls.

The adapter's own name for the idle timeout (``stream_chunk_timeout`` in LangChain) reaches the
core's watchdog; the step-1-era tool-call deltas the core folds stay two calls once the
framework has summed the adapter's chunks (LangChain) or read its last response (LlamaIndex).
"""

from __future__ import annotations

import httpx
from langgraph.types import RetryPolicy

import stepfun_core as core
from tests.adapters.drivers import Adapter, raised
from tests.replica import Fault, Replica


def test_a_silent_stream_is_cut_after_the_idle_timeout(adapter: Adapter, replica: Replica) -> None:
    replica.enqueue(Fault.stall(after=2, seconds=3))
    model = adapter.make(
        model="step-3.5-flash", api_key="k", base_url=replica.base_url, stream_idle_timeout=1.0
    )
    with raised(adapter, core.StreamIdleTimeoutError) as caught:
        adapter.stream(model, "Tell me a story")
    assert caught.value.partial is not None
    assert caught.value.partial.first.reasoning
    assert len(replica.requests) == 1
    # Round 13 (langchain-openai's stream_chunk_timeout tests): the message names the setting.
    # Deliberately no built-in TimeoutError, as langchain-openai's is: that is an OSError, which
    # LangGraph's default RetryPolicy never retries (this one it does, as every timeout of ours).
    assert "stream_chunk_timeout" in str(caught.value)
    assert RetryPolicy().retry_on(caught.value)  # type: ignore[operator]


def test_an_idle_timeout_of_0_is_off(adapter: Adapter, replica: Replica) -> None:
    # Round 14: langchain-openai reads stream_chunk_timeout=0 as "no watchdog"; ChatOpenAI users
    # bring it. It was refused here (pydantic's gt=0); now 0 is off, as None is.
    replica.enqueue(Fault.stall(after=2, seconds=0.3))
    model = adapter.make(
        model="step-3.5-flash", api_key="k", base_url=replica.base_url, stream_idle_timeout=0
    )
    assert model.client.settings.stream_idle_timeout is None
    assert adapter.stream(model, "Tell me a story").text  # whole, through the stall
    idle = adapter.fields.get("stream_idle_timeout", "stream_idle_timeout")
    assert adapter.stream(model, "Tell me a story", **{idle: 0}).text  # per call too


def get_weather(city: str) -> str:
    """Get the weather of a city."""
    return city


def get_time(city: str) -> str:
    """Get the local time of a city."""
    return city


def test_two_index_less_calls_in_one_stream(adapter: Adapter, replica: Replica) -> None:
    # Own sync client, closed at the end, so no pooled connection outlives the test (an async
    # call's pool belongs to its event loop, closed as asyncio.run ends).
    with httpx.Client() as http:
        model = adapter.make(
            model="step-1-8k", api_key="k", base_url=replica.base_url, http_client=http
        )
        reply = adapter.with_tools(
            model, [get_weather, get_time], "Use get_weather and get_time for Paris", stream=True
        )
    assert [(c.name, c.arguments) for c in reply.calls] == [
        ("get_weather", {"city": "Paris"}),
        ("get_time", {"city": "Paris"}),
    ]
    assert len({c.id for c in reply.calls}) == 2
    # The replica sends the legacy shape (no index on any tool-call delta) for step-1 models.
    assert replica.requests[0].json["model"] == "step-1-8k"
