"""Two step-1-era streamed tool calls (no index, "" ids) stay two calls through StepFun."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from llama_index.core.base.llms.types import ChatResponse
from llama_index.core.tools import FunctionTool

from llama_index_stepfun import StepFun
from tests.replica import Replica

PROMPT = "Use get_weather and get_time for Paris"


def get_weather(city: str) -> str:
    """Get the weather of a city."""
    return city


def get_time(city: str) -> str:
    """Get the local time of a city."""
    return city


TOOLS = [FunctionTool.from_defaults(get_weather), FunctionTool.from_defaults(get_time)]


def stream_sync(base_url: str) -> tuple[StepFun, list[ChatResponse]]:
    # Own clients, closed at the end, so no pooled connection outlives the test.
    with httpx.Client() as http:
        llm = StepFun(model="step-1-8k", api_key="k", api_base=base_url, http_client=http)
        return llm, list(llm.stream_chat_with_tools(TOOLS, user_msg=PROMPT))


async def stream_async(base_url: str) -> tuple[StepFun, list[ChatResponse]]:
    async with httpx.AsyncClient() as http:
        llm = StepFun(model="step-1-8k", api_key="k", api_base=base_url, async_http_client=http)
        stream = await llm.astream_chat_with_tools(TOOLS, user_msg=PROMPT)
        return llm, [response async for response in stream]


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_two_index_less_calls_in_one_stream(replica: Replica, mode: str) -> None:
    run: Any = stream_sync if mode == "sync" else lambda url: asyncio.run(stream_async(url))
    llm, responses = run(replica.base_url)
    selections = llm.get_tool_calls_from_response(responses[-1])
    assert [(s.tool_name, s.tool_kwargs) for s in selections] == [
        ("get_weather", {"city": "Paris"}),
        ("get_time", {"city": "Paris"}),
    ]
    assert len({s.tool_id for s in selections}) == 2
