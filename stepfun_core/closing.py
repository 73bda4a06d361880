"""Closing an async response in full, whatever the caller cancels meanwhile.

A cancellation inside httpcore 1.x's close left the request counted active for good: on a pool
of 4, with calls cancelled at random, every call failed with ``PoolTimeout`` after 6 rounds of 40
(a kin of encode/httpcore#1093). httpx closes a body only through ``response.stream``: the close
runs from there as a task of its own, which the caller's cancellation does not reach.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine
from typing import Any

import httpx

# Closes running on after their caller was cancelled (the loop keeps only weak references).
_closing: set[asyncio.Task[None]] = set()


class ClosedInFull(httpx.AsyncByteStream):
    """A response body (httpx's public ``AsyncByteStream``) whose close always runs to its end."""

    def __init__(self, stream: httpx.AsyncByteStream) -> None:
        self.wrapped = stream

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self.wrapped.__aiter__()

    async def aclose(self) -> None:
        """Close the body; a cancellation stops the wait, never the close."""
        await asyncio.shield(kept(self.wrapped.aclose()))


def kept(close: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
    """Run a close as a task of its own, kept until it ends."""
    closing = asyncio.ensure_future(close)
    _closing.add(closing)
    closing.add_done_callback(_forget)
    return closing


def _forget(closing: asyncio.Task[None]) -> None:
    _closing.discard(closing)
    if not closing.cancelled():
        closing.exception()  # retrieved: a close that failed after its caller left changes nothing


def close_in_full(response: httpx.Response) -> None:
    """``response`` with its body's close made uncancellable, when httpcore's pool holds it.

    Only httpcore sets the ``network_stream`` extension; a task per close (about 20 us) is not
    spent on other transports. httpx2's responses are left as they are: its pool recovers, and
    they take only its own stream class.
    """
    if "network_stream" in response.extensions and isinstance(
        response.stream, httpx.AsyncByteStream
    ):
        response.stream = ClosedInFull(response.stream)
