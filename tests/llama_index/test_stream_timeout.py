"""``stream_idle_timeout`` ends a stream that goes silent, keeping what was received."""

from __future__ import annotations

import asyncio

import pytest
from llama_index.core.llms import ChatMessage

from llama_index_stepfun import StepFun
from stepfun_core import StreamIdleTimeoutError
from tests.replica import Fault, Replica


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_silent_stream_is_cut_after_the_idle_timeout(replica: Replica, mode: str) -> None:
    replica.enqueue(Fault.stall(after=2, seconds=3))
    llm = StepFun(
        model="step-3.5-flash", api_key="k", api_base=replica.base_url, stream_idle_timeout=0.2
    )
    messages = [ChatMessage(role="user", content="Tell me a story")]

    async def consume_async() -> None:
        async for _ in await llm.astream_chat(messages):
            pass

    with pytest.raises(StreamIdleTimeoutError) as caught:
        if mode == "sync":
            for _ in llm.stream_chat(messages):
                pass
        else:
            asyncio.run(consume_async())
    assert caught.value.partial is not None
    assert caught.value.partial.first.reasoning
    assert len(replica.requests) == 1
