"""Two step-1-era streamed tool calls (no index, "" ids) stay two calls through ChatStepFun."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from langchain_core.messages import AIMessageChunk

from langchain_stepfun import ChatStepFun
from tests.replica import Replica


def get_weather(city: str) -> str:
    """Get the weather of a city."""
    return city


def get_time(city: str) -> str:
    """Get the local time of a city."""
    return city


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_two_index_less_calls_in_one_stream(replica: Replica, mode: str) -> None:
    prompt = "Use get_weather and get_time for Paris"

    def collect_sync() -> list[Any]:
        # Own clients, closed at the end, so no pooled connection outlives the test.
        with httpx.Client() as http:
            model = ChatStepFun(
                model="step-1-8k", api_key="k", base_url=replica.base_url, http_client=http
            )
            return list(model.bind_tools([get_weather, get_time]).stream(prompt))

    async def collect_async() -> list[Any]:
        async with httpx.AsyncClient() as http:
            model = ChatStepFun(
                model="step-1-8k", api_key="k", base_url=replica.base_url, http_async_client=http
            )
            bound = model.bind_tools([get_weather, get_time])
            return [chunk async for chunk in bound.astream(prompt)]

    chunks = collect_sync() if mode == "sync" else asyncio.run(collect_async())
    message: AIMessageChunk = chunks[0]
    for chunk in chunks[1:]:
        message = message + chunk
    assert [(c["name"], c["args"]) for c in message.tool_calls] == [
        ("get_weather", {"city": "Paris"}),
        ("get_time", {"city": "Paris"}),
    ]
    assert len({c["id"] for c in message.tool_calls}) == 2
    # The replica really sent the legacy shape: no index on any tool-call delta.
    assert replica.requests[0].json["model"] == "step-1-8k"
