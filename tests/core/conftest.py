"""Drivers that run the same client call sync or async, over an httpx.MockTransport."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from stepfun_core import AsyncStepFunClient, Chunk, Completion, RetryPolicy, StepFunClient

Handler = Callable[[httpx.Request], httpx.Response]
FAST = RetryPolicy(max_retries=2, initial_delay=0.001, max_delay=0.002)


@dataclass
class Driver:
    """Runs create/stream through a sync or an async client against one handler."""

    mode: str
    requests: list[httpx.Request] = field(default_factory=list)

    def _clients(
        self, handler: Handler, **options: Any
    ) -> tuple[StepFunClient, AsyncStepFunClient]:
        def record(request: httpx.Request) -> httpx.Response:
            self.requests.append(request)
            return handler(request)

        options.setdefault("retry_policy", FAST)
        options.setdefault("api_key", "sk-test-key")
        transport = httpx.MockTransport(record)
        return (
            StepFunClient(http_client=httpx.Client(transport=transport), **options),
            AsyncStepFunClient(http_client=httpx.AsyncClient(transport=transport), **options),
        )

    def create(self, handler: Handler, payload: Mapping[str, Any], **options: Any) -> Completion:
        sync, concurrent = self._clients(handler, **options)
        if self.mode == "sync":
            return sync.create(payload)
        return asyncio.run(concurrent.create(payload))

    def stream(
        self, handler: Handler, payload: Mapping[str, Any], **options: Any
    ) -> tuple[list[Chunk], Completion]:
        sync, concurrent = self._clients(handler, **options)
        if self.mode == "sync":
            with sync.stream(payload) as stream:
                chunks = list(stream)
            return chunks, stream.completion()

        async def run() -> tuple[list[Chunk], Completion]:
            stream = await concurrent.stream(payload)
            async with stream:
                chunks = [chunk async for chunk in stream]
            return chunks, stream.completion()

        return asyncio.run(run())


@pytest.fixture(params=["sync", "async"])
def driver(request: pytest.FixtureRequest) -> Driver:
    return Driver(request.param)


def reply(
    body: bytes | dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
) -> Handler:
    """A handler that always answers the same."""

    def handle(request: httpx.Request) -> httpx.Response:
        if isinstance(body, dict):
            return httpx.Response(status, json=body, headers=headers)
        merged = {"content-type": "text/event-stream", **(headers or {})}
        return httpx.Response(status, content=body, headers=merged)

    return handle


def sequence(*handlers: Handler) -> Handler:
    """A handler that answers with each handler in turn (the last one repeats)."""
    calls = {"n": 0}

    def handle(request: httpx.Request) -> httpx.Response:
        index = min(calls["n"], len(handlers) - 1)
        calls["n"] += 1
        return handlers[index](request)

    return handle
