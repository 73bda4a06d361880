"""The shared connection pools: one per process for sync calls, one per event loop for async.

- Made once, under a lock: 32 threads starting together share one pool, not 32.
- Per process: a forked child (multiprocessing, gunicorn or celery prefork workers) drops the
  parent's pools, so it never writes into the parent's sockets (``os.register_at_fork``).
- Per event loop: an AsyncClient's connections belong to the loop that made them. When
  ``asyncio.run`` ends, its loop finalizes the async generators it knows (``shutdown_asyncgens``);
  a small generator registered with the loop closes that loop's pool then. The pool is kept on
  the loop itself, so a loop dropped without being closed is collected together with its pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import ssl
import threading
from collections.abc import AsyncIterator
from typing import Any, NamedTuple

import httpx

from stepfun_core.settings import DEFAULT_TIMEOUT

POOL_LIMITS = httpx.Limits(max_connections=1000, max_keepalive_connections=100)

_lock = threading.Lock()
_ssl_context: ssl.SSLContext | None = None
_sync_client: httpx.Client | None = None


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


class _LoopPool(NamedTuple):
    """A loop's pool, the process that made it, and the generator that closes it."""

    pid: int
    client: httpx.AsyncClient
    closer: AsyncIterator[None]


def _closer_for(client: httpx.AsyncClient) -> AsyncIterator[None]:
    closer = _close_with_loop(client)
    # Calling __anext__ inside the running loop hands the generator to the loop's asyncgen
    # hooks (so shutdown_asyncgens will close it); it reaches its yield without awaiting.
    step: Any = closer.__anext__()
    with contextlib.suppress(StopIteration):
        step.send(None)
    return closer


# The pool is kept on the loop itself, so that a loop dropped without close() is collected
# with its pool (a registry would keep both alive for ever). Loops that take no attributes
# (uvloop's) use this registry instead, swept as they close.
_ATTRIBUTE = "_stepfun_core_pool"
_registry: dict[asyncio.AbstractEventLoop, _LoopPool] = {}


def _entry_of(loop: asyncio.AbstractEventLoop) -> _LoopPool | None:
    entry: _LoopPool | None = getattr(loop, _ATTRIBUTE, None) or _registry.get(loop)
    return entry


def loop_pool(loop: asyncio.AbstractEventLoop) -> httpx.AsyncClient | None:
    """The shared pool of this process on that loop, if one is open."""
    entry = _entry_of(loop)
    if entry is None or entry.pid != os.getpid() or entry.client.is_closed:
        return None
    return entry.client


def _keep(loop: asyncio.AbstractEventLoop, entry: _LoopPool) -> None:
    previous = _entry_of(loop)
    if previous is not None and previous.pid != entry.pid:
        _inherited.append(previous)  # a forked parent's: never finalized here
    try:
        setattr(loop, _ATTRIBUTE, entry)
    except AttributeError:
        for closed in [known for known in _registry if known.is_closed()]:
            del _registry[closed]
        _registry[loop] = entry


def shared_async_client() -> httpx.AsyncClient:
    """The pooled async client of the running event loop."""
    loop = asyncio.get_running_loop()
    client = loop_pool(loop)
    if client is not None:
        return client
    ssl_context = shared_ssl_context()
    with _lock:
        client = loop_pool(loop)
        if client is None:
            client = httpx.AsyncClient(
                verify=ssl_context, timeout=DEFAULT_TIMEOUT, limits=POOL_LIMITS
            )
            _keep(loop, _LoopPool(os.getpid(), client, _closer_for(client)))
    return client


# What a forked child inherited of its parent's async pools: kept, never used, never
# finalized (finalizing would run on the parent's loop and could write to the parent's
# sockets, e.g. a TLS close_notify). The sync pool is simply dropped: collecting it closes
# only the child's copies of the descriptors, which the parent's connections outlive.
_inherited: list[object] = []


def _after_fork_in_child() -> None:
    """Start the child with no pool and a fresh lock; the parent's pools are never used."""
    global _sync_client, _lock  # noqa: PLW0603 - the child's own state
    _lock = threading.Lock()
    _sync_client = None
    _inherited.append(dict(_registry))
    _registry.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
