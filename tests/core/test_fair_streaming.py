"""An async stream whose bytes are already buffered gives the event loop turns while it is read.

A server writes a whole 3,000-event stream at once; while one task reads it (through the core
client, ChatStepFun or LlamaIndex StepFun), a second task counts the turns the loop gives it.
Read in one step (as before), the stream would leave the counter near zero; read fairly, other
tasks (connects, timers, other users' streams) get many turns. Turns are counted, not timed.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

import stepfun_core as core
from stepfun_core import pools
from tests.reliability.raw_server import END, RawServer, Send, chunk, head

EVENTS = 3000


def whole_stream(send: Send, request: Any) -> bool:
    def event(delta: dict[str, Any], finish: str | None = None) -> bytes:
        body = {"id": "r", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
        return b"data: " + json.dumps(body).encode() + b"\n\n"

    events = b"".join(event({"content": f"w{i} "}) for i in range(EVENTS))
    send(head() + chunk(events + event({}, "stop") + b"data: [DONE]\n\n") + END)
    return True


class Turns:
    """Counts the loop's turns given to another task, from the stream's first event on."""

    def __init__(self) -> None:
        self.total = 0
        self.at_first_event: int | None = None

    async def count(self) -> None:
        while True:
            self.total += 1
            await asyncio.sleep(0)

    def event(self) -> None:
        if self.at_first_event is None:
            self.at_first_event = self.total

    @property
    def while_reading(self) -> int:
        return self.total - (self.at_first_event or 0)


async def read_core(base_url: str, turns: Turns) -> int:
    client = core.AsyncStepFunClient(api_key="k", base_url=base_url)
    payload = core.build_chat_request("step-3.5-flash", [{"role": "user", "content": "?"}])
    events = 0
    async with await client.stream(payload) as stream:
        async for _ in stream:
            turns.event()
            events += 1
    return events


async def read_langchain(base_url: str, turns: Turns) -> int:
    pytest.importorskip("langchain_core", reason="the core-only matrix cell has no LangChain")
    from langchain_stepfun import ChatStepFun

    events = 0
    async for _ in ChatStepFun(api_key="k", base_url=base_url).astream("?"):
        turns.event()
        events += 1
    return events


async def read_llamaindex(base_url: str, turns: Turns) -> int:
    pytest.importorskip("llama_index.core", reason="the core-only matrix cell has no LlamaIndex")
    from llama_index.core.llms import ChatMessage

    from llama_index_stepfun import StepFun

    llm = StepFun(api_key="k", api_base=base_url)
    events = 0
    async for _ in await llm.astream_chat([ChatMessage(role="user", content="?")]):
        turns.event()
        events += 1
    return events


@pytest.mark.parametrize("read", [read_core, read_langchain, read_llamaindex])
def test_a_buffered_stream_lets_other_tasks_run(read: Any) -> None:
    turns = Turns()

    async def main() -> tuple[int, int]:
        ticker = asyncio.create_task(turns.count())
        await asyncio.sleep(0)
        try:
            read_events = await read(server.base_url, turns)
            return read_events, turns.while_reading
        finally:
            ticker.cancel()
            await pools.aclose_loop_pools()

    with RawServer(whole_stream) as server:
        events, turns_while_reading = asyncio.run(main())
    assert events >= EVENTS
    # Thousands of events read fairly give the loop dozens of turns; in one step, a handful.
    assert turns_while_reading > 20, turns_while_reading
