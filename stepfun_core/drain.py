"""After ``[DONE]``: hand the connection back to the pool when the rest of the body is at hand.

A stream is over at ``data: [DONE]`` (as in openai-python); whatever follows (the chunked
terminator, keep-alive comments, a cut, or a proxy that holds the connection open) must not
delay or spoil the answer. The rest of the body is read only when it is exactly the end of the
body and already at hand (sync), or for a short grace period (async, where a read can be
cancelled); a well-behaved server's connection is reused, a misbehaving one is simply closed.
"""

from __future__ import annotations

import asyncio
import select
import socket
import ssl
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
    return _TERMINATOR in b"\r\n" + _trailing(response)


def _trailing(response: Any) -> bytes:
    """The bytes h11 has received but not parsed yet (b"" on any other stack)."""
    try:
        connection = response.stream._stream._httpcore_stream._stream._connection
        data, _closed = connection._h11_state.trailing_data
    except (AttributeError, TypeError, ValueError):
        return b""
    return bytes(data) if isinstance(data, (bytes, bytearray)) else b""


def _body_is_complete(response: Any) -> bool:
    """True if every byte of a body sized by ``Content-Length`` has arrived.

    A proxy may send a stream that way; its end is then parsed without reading the socket.
    """
    length = str(response.headers.get("content-length", ""))
    return length.isdigit() and int(response.num_bytes_downloaded) >= int(length)


def _socket_of(response: Any) -> socket.socket | None:
    network = response.extensions.get("network_stream")
    sock = network.get_extra_info("socket") if network is not None else None
    return sock if isinstance(sock, socket.socket) else None


def _end_is_arriving(response: Any) -> bool:
    """True if the socket's next bytes (within the grace period) are exactly the body's end.

    Only a plain socket can be peeked at; over TLS the bytes are encrypted, and a readable
    socket alone promises nothing (half a chunk header, a block that inflates to nothing, a
    keep-alive: the read after it could block for the whole read timeout). So anything but the
    terminator, or TLS, means close.
    """
    sock = _socket_of(response)
    if sock is None or isinstance(sock, ssl.SSLSocket):
        return False
    try:
        ready, _, _ = select.select([sock], [], [], GRACE_SECONDS)
        if not ready:
            return False
        peeked = sock.recv(len(_TERMINATOR) + 2, socket.MSG_PEEK | socket.MSG_DONTWAIT)
    except (OSError, ValueError):
        return False
    return (_trailing(response) + peeked).lstrip(b"\r\n") == _TERMINATOR.lstrip(b"\r\n")


def drain(response: Any, pieces: Iterator[bytes]) -> None:
    """Give the connection back to the pool if the body's end is at hand; else close it.

    Reading goes on only when it cannot block: the end already parsed (h11 holds it), every
    byte of a sized body received, or exactly the end waiting on a plain socket. Nothing else
    is read, so nothing waits.
    """
    if response.is_closed:  # read to its end (no [DONE]): the connection is already pooled
        return
    try:
        if _end_is_buffered(response) or _body_is_complete(response) or _end_is_arriving(response):
            for _ in pieces:  # the terminator: this ends at once, returning the connection
                pass
    except Exception:  # the answer is complete: a broken tail changes nothing
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
    except Exception:  # the answer is complete: a broken tail (or a timeout) changes nothing
        pass
    finally:
        await response.aclose()
