"""Pickling and deep-copying ChatStepFun and LlamaIndex's StepFun.

- With the default shared pool a model must round-trip through ``pickle`` and work, in this
  process and in a spawned one (used once before pickling, so any lazily built client is in it).
- With the caller's own ``httpx`` client (proxy, TLS, headers: here a header the server checks)
  pickling must either refuse with an error that says so (not an obscure "cannot pickle
  '_thread.RLock' object") or keep that client; silently dropping it is a failure.
- ``copy.deepcopy`` must neither copy nor drop the caller's client: the copy's requests still
  go through the caller's transport.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import copy
import multiprocessing
import os
import pickle
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.downstream.calls import (
    aask,
    ask,
    build,
    pickled_exchange,
    run_closing,
)
from tests.downstream.echo import EchoServer, echo_answer

ADAPTERS = ("langchain", "llamaindex")
# The core's clients take the caller's client too (``http_client=``): same expectations.
WITH_CLIENT = ("core", "langchain", "llamaindex")
KEY = "sk-pickle"
CALLER_HEADER = "x-caller"


@pytest.fixture(scope="module")
def spawn_pool() -> Iterator[concurrent.futures.ProcessPoolExecutor]:
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as pool:
        yield pool


def settings(model: Any) -> dict[str, Any]:
    """What must survive the round trip (the key as its value)."""
    url = getattr(model, "base_url", None) or model.api_base
    return {
        "type": type(model).__name__,
        "model": model.model,
        "url": url,
        "key": model.api_key.get_secret_value(),
        "max_retries": model.max_retries,
        "timeout": model.timeout,
        "headers": model.default_headers,
    }


@pytest.mark.parametrize("used", [False, True], ids=["fresh", "used"])
@pytest.mark.parametrize("target", ADAPTERS)
def test_pickle_round_trip_with_the_default_pool(target: str, used: bool, echo: EchoServer) -> None:
    headers = {"X-Tenant": "t1"}
    model = build(
        target, echo.base_url, api_key=KEY, max_retries=1, timeout=20.0, default_headers=headers
    )
    if used:
        assert ask(model, "before pickling") == echo_answer("before pickling")
        assert run_closing(aask(model, "before (async)")) == echo_answer("before (async)")
    clone = pickle.loads(pickle.dumps(model))
    assert settings(clone) == settings(model)
    assert ask(clone, "clone sync") == echo_answer("clone sync")
    assert ask(clone, "clone stream", stream=True) == echo_answer("clone stream")
    assert run_closing(aask(clone, "clone async")) == echo_answer("clone async")
    assert {r.headers["authorization"] for r in echo.requests} == {f"Bearer {KEY}"}
    # Excluded from serialization (they may hold a proxy's credentials), but not from pickle.
    assert {r.headers.get("x-tenant") for r in echo.requests} == {"t1"}


@pytest.mark.parametrize("target", ADAPTERS)
def test_pickled_model_works_in_a_spawned_process(
    target: str, echo: EchoServer, spawn_pool: concurrent.futures.ProcessPoolExecutor
) -> None:
    model = build(target, echo.base_url, api_key=KEY, timeout=20.0)
    assert ask(model, "parent") == echo_answer("parent")
    data = pickle.dumps(model)
    results = [
        r
        for mode in ("sync", "async")
        for r in spawn_pool.submit(pickled_exchange, data, "spawned", mode).result(timeout=180)
    ]
    assert [r["error"] for r in results] == [None] * 4
    assert all(r["text"] == echo_answer(r["prompt"]) for r in results), results
    assert {r["pid"] for r in results} != {os.getpid()}
    assert {r.headers["authorization"] for r in echo.requests} == {f"Bearer {KEY}"}


# --- the caller's own client ------------------------------------------------------------------
def with_client(target: str, base_url: str, client: Any) -> Any:
    """A model using `client` (sync or async) for its requests."""
    is_async = isinstance(client, httpx.AsyncClient)
    if target == "langchain":
        name = "http_async_client" if is_async else "http_client"
    else:  # LlamaIndex's StepFun, and the core pair
        name = "async_http_client" if is_async else "http_client"
    return build(target, base_url, api_key=KEY, timeout=20.0, **{name: client})


@pytest.mark.parametrize("kind", ["sync", "async"])
@pytest.mark.parametrize("target", WITH_CLIENT)
def test_pickling_with_the_callers_client_refuses_clearly_or_keeps_it(
    target: str, kind: str, echo: EchoServer
) -> None:
    headers = {CALLER_HEADER: "mine"}
    if kind == "sync":
        client: Any = httpx.Client(headers=headers)
        model = with_client(target, echo.base_url, client)
        assert ask(model, "before") == echo_answer("before")
    else:
        client = httpx.AsyncClient(headers=headers)
        model = with_client(target, echo.base_url, client)
    try:
        _refuse_clearly_or_keep(model, kind, echo)
    finally:
        if kind == "sync":
            client.close()


def _refuse_clearly_or_keep(model: Any, kind: str, echo: EchoServer) -> None:
    try:
        data = pickle.dumps(model)
    except Exception as exc:
        message = f"{type(exc).__name__}: {exc}"
        assert "_thread" not in message and "client" in message.lower(), (
            f"pickling a model with the caller's client failed with an obscure error: {message}"
        )
        return
    clone = pickle.loads(data)
    echo.reset()
    if kind == "sync":
        assert ask(clone, "after") == echo_answer("after")
    else:
        assert run_closing(aask(clone, "after")) == echo_answer("after")
    sent = echo.requests[-1].headers.get(CALLER_HEADER)
    assert sent == "mine", "the round trip silently dropped the caller's http client"


class RecordingTransport(httpx.BaseTransport):
    """The caller's transport: remembers every request it sent."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.seen: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(str(request.url))
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


class AsyncRecordingTransport(httpx.AsyncBaseTransport):
    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.seen: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(str(request.url))
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def _field_client(model: Any, kind: str) -> Any:
    if type(model).__name__ != "ChatStepFun":
        return None
    return model.http_client if kind == "sync" else model.http_async_client


@pytest.mark.parametrize("copier", [copy.deepcopy, copy.copy], ids=["deepcopy", "copy"])
@pytest.mark.parametrize("target", WITH_CLIENT)
def test_deepcopy_shares_the_callers_sync_client(
    target: str, copier: Callable[[Any], Any], echo: EchoServer
) -> None:
    # copy.copy of a core client holding the caller's client once raised pickling's TypeError.
    transport = RecordingTransport()
    with httpx.Client(transport=transport, headers={CALLER_HEADER: "mine"}) as client:
        model = with_client(target, echo.base_url, client)
        assert ask(model, "original") == echo_answer("original")
        clone = copier(model)
        if target == "langchain":
            assert _field_client(clone, "sync") is client
        assert ask(clone, "deep copy") == echo_answer("deep copy")
    assert len(transport.seen) == 2, "the copy's request did not go through the caller's client"
    assert [r.headers.get(CALLER_HEADER) for r in echo.requests] == ["mine", "mine"]


@pytest.mark.parametrize("target", WITH_CLIENT)
def test_deepcopy_shares_the_callers_async_client(target: str, echo: EchoServer) -> None:
    transport = AsyncRecordingTransport()

    async def scenario() -> tuple[str, str, Any]:
        async with httpx.AsyncClient(transport=transport, headers={CALLER_HEADER: "mine"}) as c:
            model = with_client(target, echo.base_url, c)
            first = await aask(model, "original")
            clone = copy.deepcopy(model)
            shared = _field_client(clone, "async") is c if target == "langchain" else None
            return first, await aask(clone, "deep copy"), shared

    first, second, shared = asyncio.run(scenario())
    assert first == echo_answer("original") and second == echo_answer("deep copy")
    assert shared in (True, None)
    assert len(transport.seen) == 2, "the copy's request did not go through the caller's client"
    assert [r.headers.get(CALLER_HEADER) for r in echo.requests] == ["mine", "mine"]
