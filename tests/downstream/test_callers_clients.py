"""ChatStepFun and LlamaIndex StepFun take a caller's clients: httpx2's, and subclasses of
httpx's or httpx2's (how auth, tracing and instrumentation are added), sync and async, over
the loopback replica. The subclass's own hook runs on every request, and the client is never
closed by us."""

from __future__ import annotations

import asyncio
import importlib
from typing import Any

import pytest

from tests.replica import Replica

PROMPT = "Tell me about owls"


def traced(library: str, kind: str) -> Any:
    """A subclass of ``library.kind`` that stamps every request, as a tracing client would."""
    base = getattr(importlib.import_module(library), kind)

    def build_request(self: Any, *args: Any, **kwargs: Any) -> Any:
        request = base.build_request(self, *args, **kwargs)
        request.headers["x-traced-by"] = f"{library}.{kind} subclass"
        return request

    return type(f"Traced{kind}", (base,), {"build_request": build_request})()


@pytest.mark.parametrize("subclassed", [False, True], ids=["plain", "subclass"])
@pytest.mark.parametrize("library", ["httpx", "httpx2"])
def test_the_adapters_take_callers_clients(
    replica: Replica, library: str, subclassed: bool
) -> None:
    from llama_index.core.llms import ChatMessage

    from langchain_stepfun import ChatStepFun
    from llama_index_stepfun import StepFun

    lib = importlib.import_module(library)
    sync = traced(library, "Client") if subclassed else lib.Client()
    concurrent = traced(library, "AsyncClient") if subclassed else lib.AsyncClient()
    chat = ChatStepFun(
        api_key="k", base_url=replica.base_url, http_client=sync, http_async_client=concurrent
    )
    llm = StepFun(
        api_key="k", api_base=replica.base_url, http_client=sync, async_http_client=concurrent
    )
    message = [ChatMessage(role="user", content=PROMPT)]

    async def both() -> tuple[str, str | None, str]:
        # One loop: an AsyncClient's connections belong to the loop that made them, so the
        # caller (this test) closes it here, after checking that we left it open.
        answers = (
            (await chat.ainvoke(PROMPT)).text,
            (await llm.achat(message)).message.content,
            "".join([r.delta or "" async for r in await llm.astream_chat(message)]),
        )
        assert not concurrent.is_closed
        await concurrent.aclose()
        return answers

    assert chat.invoke(PROMPT).text
    assert "".join(c.text for c in chat.stream(PROMPT))
    assert llm.chat(message).message.content
    assert all(asyncio.run(both()))
    requests = replica.requests
    assert len(requests) == 6
    if subclassed:
        stamps = {r.headers.get("x-traced-by") for r in requests}
        assert stamps == {f"{library}.Client subclass", f"{library}.AsyncClient subclass"}
    assert not sync.is_closed  # ours to close, not theirs
    sync.close()
