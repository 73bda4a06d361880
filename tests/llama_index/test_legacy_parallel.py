"""Two step-1-era streamed tool calls (no index, "" ids) stay two calls through StepFun."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from llama_index.core.tools import FunctionTool

from llama_index_stepfun import StepFun
from tests.replica import Replica


def get_weather(city: str) -> str:
    """Get the weather of a city."""
    return city


def get_time(city: str) -> str:
    """Get the local time of a city."""
    return city


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_two_index_less_calls_in_one_stream(replica: Replica, mode: str) -> None:
    llm = StepFun(model="step-1-8k", api_key="k", api_base=replica.base_url)
    tools = [FunctionTool.from_defaults(get_weather), FunctionTool.from_defaults(get_time)]
    prompt = "Use get_weather and get_time for Paris"

    async def collect_async() -> list[Any]:
        stream = await llm.astream_chat_with_tools(tools, user_msg=prompt)
        return [response async for response in stream]

    if mode == "sync":
        responses = list(llm.stream_chat_with_tools(tools, user_msg=prompt))
    else:
        responses = asyncio.run(collect_async())
    selections = llm.get_tool_calls_from_response(responses[-1])
    assert [(s.tool_name, s.tool_kwargs) for s in selections] == [
        ("get_weather", {"city": "Paris"}),
        ("get_time", {"city": "Paris"}),
    ]
    assert len({s.tool_id for s in selections}) == 2
