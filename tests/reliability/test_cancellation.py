"""Cancellation: a consumer that stops early must close the connection, sync and async.

The replica streams a long reply (100,000 events), so it is still writing when the consumer
stops: if the client closed the socket, the replica's write fails and its connection ends at
once; if not, the connection stays open and ``wait_idle`` fails.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import stepfun_core as core
from stepfun_core import pools as core_http
from tests.reliability.conftest import MODEL, PROMPT, TARGETS, Row, build, run_async
from tests.replica import Fault, Replica

LONG = 100_000
STOP_AFTER = 3


def _record(row: Row, target: str, case: str, mode: str, closed: bool, got: int) -> None:
    row.set(
        category="cancellation",
        case=case,
        adapter=target,
        mode=mode,
        expected="connection closed at once (server sees it end)",
        observed=f"{'closed' if closed else 'STILL OPEN'} after {got} chunks",
        requests=1,
    )


def _sync_stream(target: str, inst: Any) -> Any:
    if target == "core":
        payload = core.build_chat_request(MODEL, [{"role": "user", "content": PROMPT}])
        return iter(inst.sync.stream(payload))
    if target == "langchain":
        return inst.stream(PROMPT)
    from llama_index.core.base.llms.types import ChatMessage

    return inst.stream_chat([ChatMessage(role="user", content=PROMPT)])


async def _async_stream(target: str, inst: Any) -> Any:
    if target == "core":
        payload = core.build_chat_request(MODEL, [{"role": "user", "content": PROMPT}])
        return await inst.aio.stream(payload)
    if target == "langchain":
        return inst.astream(PROMPT)
    from llama_index.core.base.llms.types import ChatMessage

    return await inst.astream_chat([ChatMessage(role="user", content=PROMPT)])


@pytest.mark.parametrize("target", TARGETS)
def test_break_out_of_a_sync_stream(target: str, server: Replica, row: Row) -> None:
    server.enqueue(Fault.events(LONG))
    inst = build(target, server.base_url)
    got = 0
    for _ in _sync_stream(target, inst):
        got += 1
        if got == STOP_AFTER:
            break
    closed = server.wait_idle(2.0)
    _record(row, target, "break out of a sync stream (no close() call)", "sync stream", closed, got)
    assert got == STOP_AFTER
    assert closed


def test_break_out_of_a_core_stream_context(server: Replica, row: Row) -> None:
    server.enqueue(Fault.events(LONG))
    client = build("core", server.base_url).sync
    payload = core.build_chat_request(MODEL, [{"role": "user", "content": PROMPT}])
    got = 0
    with client.stream(payload) as stream:
        for _ in stream:
            got += 1
            if got == STOP_AFTER:
                break
        still_referenced = stream  # the stream object outlives the loop: only __exit__ closes
    closed = server.wait_idle(2.0)
    _record(row, "core", "break inside `with client.stream(...)`", "sync stream", closed, got)
    assert still_referenced is not None
    assert closed


@pytest.mark.parametrize("target", TARGETS)
def test_cancel_an_async_stream(target: str, server: Replica, row: Row) -> None:
    server.enqueue(Fault.events(LONG))
    inst = build(target, server.base_url)
    state: dict[str, Any] = {"got": 0}

    async def consume(started: asyncio.Event) -> None:
        async for _ in await _async_stream(target, inst):
            state["got"] += 1
            if state["got"] == STOP_AFTER:
                started.set()
            await asyncio.sleep(0)

    async def main() -> None:
        started = asyncio.Event()
        task = asyncio.create_task(consume(started))
        await asyncio.wait_for(started.wait(), 5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # Checked while the loop and its pool are still alive (run_async closes the pool after).
        state["closed"] = await asyncio.to_thread(server.wait_idle, 2.0)
        pool = (await core_http.shared_async_client())._transport._pool  # type: ignore[attr-defined]
        state["pooled"] = len(pool.connections)

    run_async(main)
    _record(
        row,
        target,
        "cancel the asyncio task mid-stream",
        "async stream",
        state["closed"],
        state["got"],
    )
    assert state["got"] >= STOP_AFTER
    assert state["closed"]
    assert state["pooled"] == 0


@pytest.mark.parametrize("target", TARGETS)
def test_break_out_of_an_async_stream(target: str, server: Replica, row: Row) -> None:
    server.enqueue(Fault.events(LONG))
    inst = build(target, server.base_url)
    state: dict[str, Any] = {"got": 0}

    async def main() -> None:
        async for _ in await _async_stream(target, inst):
            state["got"] += 1
            if state["got"] == STOP_AFTER:
                break
        # An abandoned async generator is closed by the loop's finalizer hook, one tick later.
        await asyncio.sleep(0.05)
        state["closed"] = await asyncio.to_thread(server.wait_idle, 2.0)

    run_async(main)
    _record(
        row,
        target,
        "break out of an async stream (no aclose() call)",
        "async stream",
        state["closed"],
        state["got"],
    )
    assert state["closed"]
