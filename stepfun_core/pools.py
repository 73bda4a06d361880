"""The shared connection pools: one per process for sync calls, one per event loop for async.

- Made once, under a lock: 32 threads starting together share one pool, not 32.
- Per process: a forked child (multiprocessing, gunicorn or celery prefork workers) drops the
  parent's pools, so it never writes into the parent's sockets (``os.register_at_fork``).
- Per event loop: an AsyncClient's connections belong to the loop that made them. When
  ``asyncio.run`` ends, its loop finalizes the async generators it knows (``shutdown_asyncgens``);
  a small generator registered with the loop closes that loop's pool then. Pools of loops that
  closed some other way are dropped the next time a pool is asked for.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import ssl
import threading
from collections.abc import AsyncIterator
from typing import Any

import httpx

from stepfun_core.settings import DEFAULT_TIMEOUT

POOL_LIMITS = httpx.Limits(max_connections=1000, max_keepalive_connections=100)

_lock = threading.Lock()
_ssl_context: ssl.SSLContext | None = None
_sync_client: httpx.Client | None = None
_async_clients: dict[asyncio.AbstractEventLoop, httpx.AsyncClient] = {}
# Keeps each loop's closer generator alive until the loop finalizes it.
_closers: dict[asyncio.AbstractEventLoop, AsyncIterator[None]] = {}


def shared_ssl_context() -> ssl.SSLContext:
    """One SSL context for every client: building one costs about 17 ms."""
    global _ssl_context  # noqa: PLW0603 - made once per process
    if _ssl_context is None:
        with _lock:
            if _ssl_context is None:
                _ssl_context = httpx.create_ssl_context()
    return _ssl_context


def shared_sync_client() -> httpx.Client:
    """The process-wide pooled sync client used when the caller brings none."""
    global _sync_client  # noqa: PLW0603 - one pool per process, made on first use
    client = _sync_client
    if client is None or client.is_closed:
        ssl_context = shared_ssl_context()
        with _lock:
            client = _sync_client
            if client is None or client.is_closed:
                client = _sync_client = httpx.Client(
                    verify=ssl_context, timeout=DEFAULT_TIMEOUT, limits=POOL_LIMITS
                )
    return client


async def _close_with_loop(client: httpx.AsyncClient) -> AsyncIterator[None]:
    """Suspended until the loop shuts its async generators down; then closes the pool."""
    try:
        yield
    finally:
        with contextlib.suppress(Exception):
            await client.aclose()


def _register_closer(loop: asyncio.AbstractEventLoop, client: httpx.AsyncClient) -> None:
    closer = _close_with_loop(client)
    # Calling __anext__ inside the running loop hands the generator to the loop's asyncgen
    # hooks (so shutdown_asyncgens will close it); it reaches its yield without awaiting.
    step: Any = closer.__anext__()
    with contextlib.suppress(StopIteration):
        step.send(None)
    _closers[loop] = closer


def _forget_closed_loops() -> None:
    for loop in [loop for loop in _async_clients if loop.is_closed()]:
        _async_clients.pop(loop, None)
        _closers.pop(loop, None)


def shared_async_client() -> httpx.AsyncClient:
    """The pooled async client of the running event loop."""
    loop = asyncio.get_running_loop()
    client = _async_clients.get(loop)
    if client is not None and not client.is_closed:
        return client
    ssl_context = shared_ssl_context()
    with _lock:
        _forget_closed_loops()
        client = _async_clients.get(loop)
        if client is None or client.is_closed:
            client = httpx.AsyncClient(
                verify=ssl_context, timeout=DEFAULT_TIMEOUT, limits=POOL_LIMITS
            )
            _async_clients[loop] = client
            _register_closer(loop, client)
    return client


# The parent's pools as a forked child inherited them: kept, never used, never finalized (a
# finalizer could write to the parent's sockets or wake the parent's loop).
_inherited: list[object] = []


def _after_fork_in_child() -> None:
    """Start the child with no pool and a fresh lock; the parent's pools are never touched."""
    global _sync_client, _lock  # noqa: PLW0603 - the child's own state
    _lock = threading.Lock()
    _inherited.append((_sync_client, dict(_async_clients), dict(_closers)))
    _sync_client = None
    _async_clients.clear()
    _closers.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
