"""ChatStepFun and LlamaIndex StepFun take a caller's httpx2 clients (over the loopback replica)."""

from __future__ import annotations

import asyncio

from tests.replica import Replica


def test_the_adapters_take_httpx2_clients(replica: Replica) -> None:
    import httpx2
    from llama_index.core.llms import ChatMessage

    from langchain_stepfun import ChatStepFun
    from llama_index_stepfun import StepFun

    sync, concurrent = httpx2.Client(), httpx2.AsyncClient()
    chat = ChatStepFun(
        api_key="k", base_url=replica.base_url, http_client=sync, http_async_client=concurrent
    )
    llm = StepFun(
        api_key="k", api_base=replica.base_url, http_client=sync, async_http_client=concurrent
    )
    message = [ChatMessage(role="user", content="Tell me about owls")]

    async def both() -> tuple[str, str | None]:
        # One loop: an AsyncClient's connections belong to the loop that made them, so the
        # caller (this test) closes it here, after checking that we left it open.
        answers = (
            (await chat.ainvoke(message[0].content)).text,
            (await llm.achat(message)).message.content,
        )
        assert not concurrent.is_closed
        await concurrent.aclose()
        return answers

    assert chat.invoke("Tell me about owls").text
    assert "".join(c.text for c in chat.stream("Tell me about owls"))
    assert llm.chat(message).message.content
    assert all(asyncio.run(both()))
    assert len(replica.requests) == 5
    assert not sync.is_closed  # ours to close, not theirs
    sync.close()
