"""After ``[DONE]``: hand the connection back to the pool when the rest of the body is at hand.

A stream is over at ``data: [DONE]`` (as in openai-python); whatever follows (the chunked
terminator, keep-alive comments, a cut, or a proxy that holds the connection open) must not
delay or spoil the answer. The rest of the body is read for a short grace period at most (a
timer cuts a read that would block longer), so a well-behaved server's connection is reused
and a misbehaving one is simply closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import select
import socket
import threading
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


def _socket_of(response: Any) -> socket.socket | None:
    network = response.extensions.get("network_stream")
    sock = network.get_extra_info("socket") if network is not None else None
    return sock if isinstance(sock, socket.socket) else None


def _readable(sock: socket.socket, timeout: float) -> bool:
    """True if the socket has bytes to read within ``timeout`` seconds."""
    try:
        if getattr(sock, "pending", lambda: 0)():
            return True
        ready, _, _ = select.select([sock], [], [], max(0.0, timeout))
    except (OSError, ValueError):
        return False
    return bool(ready)


class _Cutter:
    """Shuts the socket down at the end of the grace period, unless cancelled first.

    A readable socket promises one read only: its bytes may be half a chunk header, or a
    compressed block that inflates to nothing, and the read after it would block for the whole
    read timeout. A shutdown wakes such a read (closing the socket would not, on Linux).
    """

    def __init__(self, sock: socket.socket, seconds: float) -> None:
        self._lock = threading.Lock()
        self._live = True
        self._timer = threading.Timer(seconds, self._cut, args=(sock,))
        self._timer.daemon = True
        self._timer.start()

    def _cut(self, sock: socket.socket) -> None:
        with self._lock:
            if self._live:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def cancel(self) -> None:
        """Stop the timer (the tail was read, or given up)."""
        with self._lock:
            self._live = False
        self._timer.cancel()


def drain(response: Any, pieces: Iterator[bytes]) -> None:
    """Read the tail of a finished stream for at most the grace period, then close."""
    deadline = time.monotonic() + GRACE_SECONDS
    cutter: _Cutter | None = None
    received = 0
    try:
        if not _end_is_buffered(response):
            sock = _socket_of(response)
            if sock is None or not _readable(sock, GRACE_SECONDS):
                return
            cutter = _Cutter(sock, max(0.0, deadline - time.monotonic()))
        while received <= MAX_TAIL_BYTES and time.monotonic() < deadline:
            received += len(next(pieces))
    except StopIteration:
        pass
    except Exception:  # the answer is complete: a broken tail changes nothing
        pass
    finally:
        if cutter is not None:
            cutter.cancel()
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
    except Exception:  # the answer is complete: a broken tail (or a timeout) changes nothing
        pass
    finally:
        await response.aclose()
