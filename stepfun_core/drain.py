"""After ``[DONE]``: hand the connection back to the pool when the rest of the body is at hand.

A stream is over at ``data: [DONE]`` (as in openai-python); whatever follows (the chunked
terminator, keep-alive comments, a cut, or a proxy that holds the connection open) must not
delay or spoil the answer. The rest of the body is read only for a short grace period and only
while reading cannot block, so a well-behaved server's connection is reused and a misbehaving
one is simply closed.
"""

from __future__ import annotations

import asyncio
import select
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

GRACE_SECONDS = 0.05
MAX_TAIL_BYTES = 64 * 1024
_TERMINATOR = b"\r\n0\r\n\r\n"


def _end_is_buffered(response: Any) -> bool:
    r"""True if the HTTP parser already holds the end of this chunked body, unread.

    httpx 0.28 with httpcore 1.x keeps received bytes in h11 (its ``trailing_data``), often
    the ``0\r\n\r\n`` terminator that came in the same packet as ``[DONE]``; no public API
    shows them, so this looks and, on any other stack, answers False.
    """
    try:
        connection = response.stream._stream._httpcore_stream._stream._connection
        data, _closed = connection._h11_state.trailing_data
    except (AttributeError, TypeError, ValueError):
        return False
    return isinstance(data, (bytes, bytearray)) and _TERMINATOR in b"\r\n" + bytes(data)


def _readable(response: Any, timeout: float) -> bool:
    """True if the response's socket has bytes to read within ``timeout`` seconds."""
    network = response.extensions.get("network_stream")
    sock = network.get_extra_info("socket") if network is not None else None
    if sock is None:
        return False
    try:
        if getattr(sock, "pending", lambda: 0)():
            return True
        ready, _, _ = select.select([sock], [], [], max(0.0, timeout))
    except (OSError, ValueError):
        return False
    return bool(ready)


def drain(response: Any, pieces: Iterator[bytes]) -> None:
    """Read the tail of a finished stream while it arrives without blocking, then close."""
    deadline = time.monotonic() + GRACE_SECONDS
    received = 0
    try:
        while received <= MAX_TAIL_BYTES:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not (_end_is_buffered(response) or _readable(response, remaining)):
                break
            received += len(next(pieces))
    except StopIteration:
        pass
    except Exception:
        pass
    finally:
        response.close()


async def adrain(response: Any, pieces: AsyncIterator[bytes]) -> None:
    """Read the tail of a finished stream for at most the grace period, then close."""
    deadline = time.monotonic() + GRACE_SECONDS
    received = 0
    try:
        while received <= MAX_TAIL_BYTES:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            received += len(await asyncio.wait_for(anext(pieces), remaining))
    except StopAsyncIteration:
        pass
    except Exception:
        pass
    finally:
        await response.aclose()
