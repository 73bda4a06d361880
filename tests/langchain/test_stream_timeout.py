"""``stream_chunk_timeout`` ends a stream that goes silent, keeping what was received."""

from __future__ import annotations

import asyncio

import pytest
from langchain_core.exceptions import ModelTimeoutError

from langchain_stepfun import ChatStepFun
from stepfun_core import StreamIdleTimeoutError
from tests.replica import Fault, Replica


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_silent_stream_is_cut_after_the_chunk_timeout(replica: Replica, mode: str) -> None:
    replica.enqueue(Fault.stall(after=2, seconds=3))
    model = ChatStepFun(
        model="step-3.5-flash", api_key="k", base_url=replica.base_url, stream_chunk_timeout=0.2
    )
    received: list[str] = []

    async def consume_async() -> None:
        async for chunk in model.astream("Tell me a story"):
            received.append(chunk.text)

    with pytest.raises(StreamIdleTimeoutError) as caught:
        if mode == "sync":
            for chunk in model.stream("Tell me a story"):
                received.append(chunk.text)
        else:
            asyncio.run(consume_async())
    assert isinstance(caught.value, ModelTimeoutError)
    assert caught.value.partial is not None
    assert caught.value.partial.first.reasoning
    assert len(replica.requests) == 1
