"""Our timeout applies through a caller's own client: one built with httpx's defaults (a 5 s
read timeout), against a server that thinks for 8 s before its first byte, as a reasoning model
may. Every entry point, sync and async, gets its answer; the caller keeps its client's own
timeouts only by passing them (``timeout=client.timeout``). The cases run side by side, so the
test takes about 8 s, not 8 s each."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from llama_index.core.llms import ChatMessage

import stepfun_core as core
from langchain_stepfun import ChatStepFun
from llama_index_stepfun import StepFun
from tests.reliability.raw_server import RawServer, Send, hold, whole

THINKING = 8.0
REPLY = {
    "id": "r",
    "model": "step-3.5-flash",
    "choices": [{"index": 0, "message": {"content": "Hoot."}, "finish_reason": "stop"}],
}


def slow(send: Send, request: Any) -> bool:
    hold(THINKING)
    send(whole(200, json.dumps(REPLY).encode()))
    return False


def cases(base_url: str) -> dict[str, Callable[[], str]]:
    def core_sync() -> str:
        client = core.StepFunClient(api_key="k", base_url=base_url, http_client=httpx.Client())
        payload = core.build_chat_request("step-3.5-flash", [{"role": "user", "content": "?"}])
        return client.create(payload).first.content

    def core_async() -> str:
        async def run() -> str:
            async with httpx.AsyncClient() as http:
                client = core.AsyncStepFunClient(api_key="k", base_url=base_url, http_client=http)
                payload = core.build_chat_request(
                    "step-3.5-flash", [{"role": "user", "content": "?"}]
                )
                return (await client.create(payload)).first.content

        return asyncio.run(run())

    def langchain() -> str:
        chat = ChatStepFun(api_key="k", base_url=base_url, http_client=httpx.Client())
        return chat.invoke("?").text

    def llamaindex() -> str:
        llm = StepFun(api_key="k", api_base=base_url, http_client=httpx.Client())
        return str(llm.chat([ChatMessage(role="user", content="?")]).message.content)

    return {"core sync": core_sync, "core async": core_async, "langchain": langchain,
            "llamaindex": llamaindex}  # fmt: skip


def test_our_timeout_applies_through_a_callers_client_with_httpx_defaults() -> None:
    assert httpx.Client().timeout.read == 5.0  # what the caller's client would apply alone
    with RawServer(slow) as server, ThreadPoolExecutor(4) as pool:
        futures = {name: pool.submit(call) for name, call in cases(server.base_url).items()}
        answers = {name: future.result() for name, future in futures.items()}
    assert answers == dict.fromkeys(answers, "Hoot."), answers


def test_the_callers_own_timeout_is_kept_when_passed() -> None:
    http = httpx.Client(timeout=httpx.Timeout(0.5))
    with RawServer(slow) as server:
        client = core.StepFunClient(
            api_key="k", base_url=server.base_url, http_client=http, timeout=http.timeout,
            max_retries=0,
        )  # fmt: skip
        payload = core.build_chat_request("step-3.5-flash", [{"role": "user", "content": "?"}])
        with pytest.raises(core.APITimeoutError):
            client.create(payload)
