"""Load: 500 concurrent async requests and a 16-thread sync burst through ONE instance of each
entry point, all answers checked, no connection left open; a 20,000-chunk stream in flat memory.
"""

from __future__ import annotations

import asyncio
import gc
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

import stepfun_core as core
from stepfun_core import pools as core_http
from tests.reliability.conftest import (
    MODEL,
    REPO,
    TARGETS,
    Row,
    acall,
    build,
    call,
    expected_text,
    reset_sync_pool,
    run_async,
    sync_pool_connections,
)
from tests.replica import Replica

CONCURRENT = 500
THREADS = 16
PER_THREAD = 8


@pytest.fixture(scope="module")
def burst_server() -> Iterator[Replica]:
    """A replica of its own for the bursts."""
    with Replica() as server:
        yield server


def prompt(i: int) -> str:
    return f"Tell me about item{i} please"


def _pool_idle(connections: list[Any]) -> bool:
    return all(c.is_idle() or c.is_closed() for c in connections)


def _wait_for(predicate: Any, timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.01)
    return bool(predicate())


@pytest.mark.parametrize("target", TARGETS)
def test_500_concurrent_async_requests(target: str, burst_server: Replica, row: Row) -> None:
    burst_server.reset()
    inst = build(target, burst_server.base_url, timeout=30.0)
    expected = {i: expected_text(prompt(i)) for i in range(CONCURRENT)}
    report: dict[str, Any] = {}

    async def burst() -> None:
        start = time.monotonic()
        outs = await asyncio.gather(
            *[acall(target, inst, i % 2 == 1, prompt(i)) for i in range(CONCURRENT)]
        )
        report["elapsed"] = time.monotonic() - start
        report["ok"] = sum(o.error is None and o.text == expected[i] for i, o in enumerate(outs))
        report["errors"] = [repr(o.error) for o in outs if o.error is not None][:3]
        pool = (await core_http.shared_async_client())._transport._pool  # type: ignore[attr-defined]
        connections = list(pool.connections)
        report["pool"] = len(connections)
        report["pool_idle"] = _pool_idle(connections)
        report["requests_in_pool"] = len(pool._requests)
        await asyncio.to_thread(
            _wait_for, lambda: burst_server.open_connections <= len(connections)
        )
        report["server_open"] = burst_server.open_connections

    run_async(burst)  # closes this loop's pool at the end, as an application would on shutdown
    closed = burst_server.wait_idle(5.0)
    row.set(
        category="load",
        case=f"{CONCURRENT} concurrent async requests (half streamed), one instance",
        adapter=target,
        mode="async",
        expected=f"{CONCURRENT} exact answers; pool idle; 0 connections after close",
        observed=(
            f"{report['ok']}/{CONCURRENT} ok in {report['elapsed']:.1f} s; "
            f"{report['pool']} idle pooled (server: {report['server_open']}); "
            f"open after close: {burst_server.open_connections}"
        ),
        requests=len(burst_server.requests),
        ok_count=report["ok"],
    )
    assert report["ok"] == CONCURRENT, report["errors"]
    assert len(burst_server.requests) == CONCURRENT
    assert report["pool_idle"]
    assert report["requests_in_pool"] == 0
    assert report["pool"] <= core_http.DEFAULT_SIZE[1]
    assert report["server_open"] <= report["pool"]
    assert closed, "connections left open after the pool was closed"


@pytest.mark.parametrize("target", TARGETS)
def test_16_thread_sync_burst(target: str, burst_server: Replica, row: Row) -> None:
    burst_server.reset()
    reset_sync_pool()
    inst = build(target, burst_server.base_url, timeout=30.0)
    total = THREADS * PER_THREAD

    def worker(t: int) -> int:
        ok = 0
        for k in range(PER_THREAD):
            i = t * PER_THREAD + k
            out = call(target, inst, "sync", k % 2 == 1, prompt(i))
            ok += out.error is None and out.text == expected_text(prompt(i))
        return ok

    start = time.monotonic()
    with ThreadPoolExecutor(THREADS) as pool:
        ok = sum(pool.map(worker, range(THREADS)))
    elapsed = time.monotonic() - start
    connections = sync_pool_connections()
    idle = _pool_idle(connections)
    settled = _wait_for(lambda: burst_server.open_connections <= len(connections))
    server_open = burst_server.open_connections
    reset_sync_pool()
    closed = burst_server.wait_idle(5.0)
    row.set(
        category="load",
        case=f"{THREADS}-thread sync burst ({total} requests, half streamed), one instance",
        adapter=target,
        mode="sync",
        expected=f"{total} exact answers; pool idle; 0 connections after close",
        observed=(
            f"{ok}/{total} ok in {elapsed:.1f} s; {len(connections)} idle pooled "
            f"(server: {server_open}); open after close: {burst_server.open_connections}"
        ),
        requests=len(burst_server.requests),
        ok_count=ok,
    )
    assert ok == total
    assert len(burst_server.requests) == total
    assert idle
    assert len(connections) <= THREADS
    assert settled
    assert closed


# --- a long stream in flat memory (core) ---------------------------------------------------------
@pytest.fixture(scope="module")
def long_replica() -> Iterator[str]:
    """A replica in its own process (so tracemalloc sees only the client) with 20,000-token
    replies."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.replica",
            "--port",
            "0",
            "--events",
            "20000",
            "--timeout",
            "120",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        yield line.strip().rsplit(" ", 1)[1]
    finally:
        proc.terminate()
        proc.wait(5)


def _stream_peak(client: core.StepFunClient, chunks: int) -> tuple[int, int, str]:
    """(chunks received, tracemalloc peak in bytes, final content) for one long stream."""
    payload = core.build_chat_request(MODEL, [{"role": "user", "content": "hi"}], max_tokens=chunks)
    gc.collect()
    tracemalloc.start()
    try:
        count = 0
        with client.stream(payload) as stream:
            for _ in stream:
                count += 1
        content = stream.completion().first.content
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return count, peak, content


def test_20000_chunk_stream_in_flat_memory(long_replica: str, row: Row) -> None:
    client = core.StepFunClient(api_key="k", base_url=long_replica, timeout=60.0)
    _stream_peak(client, 200)  # warm up: imports, the pool, the first connection
    small_count, small_peak, small_text = _stream_peak(client, 2_000)
    big_count, big_peak, big_text = _stream_peak(client, 20_000)
    # The content itself must be held (twice at the end: the pieces and the joined copy);
    # everything else must not grow with the number of chunks.
    small_overhead = small_peak - 2 * len(small_text)
    big_overhead = big_peak - 2 * len(big_text)
    row.set(
        category="load",
        case="20,000-chunk stream, tracemalloc peak vs a 2,000-chunk one (core)",
        adapter="core",
        mode="sync stream",
        expected="every chunk; peak minus the text held does not grow with chunks",
        observed=(
            f"{big_count} chunks; peak {big_peak / 1024:.0f} KiB "
            f"(text {len(big_text) / 1024:.0f} KiB, overhead {big_overhead / 1024:.0f} KiB) vs "
            f"{small_count} chunks: peak {small_peak / 1024:.0f} KiB "
            f"(overhead {small_overhead / 1024:.0f} KiB)"
        ),
        requests=None,
    )
    assert big_count >= 20_000
    assert big_text.endswith("w19989") or big_text.startswith("w0 w1 ")
    assert len(big_text.split()) >= 19_980
    assert small_count >= 2_000
    assert big_overhead <= 1.5 * small_overhead + 64 * 1024
