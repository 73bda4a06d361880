"""After ``[DONE]``: the connection goes back to the pool if the body's end comes soon.

A stream is over at ``data: [DONE]``; what follows (the chunked terminator, keep-alives, a cut,
a proxy holding the connection) must not delay or spoil the answer. The rest of the body is
read if it has already arrived; an async stream also waits ``GRACE_SECONDS`` for it (a server
often flushes the terminator apart), then shuts the socket down rather than cancel the read:
a read cancelled inside httpcore could keep its connection taken for good, filling the pool.
A sync read cannot be cut at that bound, so a sync stream reads on only what has arrived.
Either way, a connection whose end did not come is closed, not reused.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

GRACE_SECONDS = 0.05
_TERMINATOR = b"0\r\n\r\n"


def read_tail(response: Any, pieces: Iterator[bytes]) -> None:
    """Read what follows ``[DONE]`` if it has already arrived (the caller closes)."""
    with contextlib.suppress(Exception):  # the answer is complete: a broken tail changes nothing
        if body_end_arrived(response):
            for _ in pieces:  # already here: this ends at once, pooling the connection
                pass


async def aread_tail(response: Any, pieces: AsyncIterator[bytes]) -> None:
    """Read what follows ``[DONE]`` if it ends within the grace period (the caller closes)."""
    with contextlib.suppress(Exception):  # the answer is complete: a broken tail changes nothing
        cut = None
        if not body_end_arrived(response):
            # httpx's public extension; only an HTTP/1.1 connection is this response's alone.
            network_stream = response.extensions.get("network_stream")
            if response.http_version != "HTTP/1.1" or network_stream is None:
                return
            cut = asyncio.get_running_loop().call_later(GRACE_SECONDS, shut_down, network_stream)
        try:
            async for _ in pieces:
                pass
        finally:
            if cut is not None:
                cut.cancel()


def shut_down(network_stream: Any) -> None:
    """Shut an httpcore network stream's socket (reads on it fail at once); never raises."""
    with contextlib.suppress(Exception):
        sock = network_stream.get_extra_info("socket")
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except TypeError:  # uvloop's stand-in socket refuses: a twin of its descriptor does it
            with socket.socket(fileno=os.dup(sock.fileno())) as twin:
                twin.shutdown(socket.SHUT_RDWR)


def body_end_arrived(response: Any) -> bool:
    """True if the rest of the body has been received, so reading it cannot wait."""
    length = response.headers.get("content-length")
    if length is not None:  # a proxy may send a stream sized, as one body
        return str(length).isdigit() and int(response.num_bytes_downloaded) >= int(length)
    # Exactly the terminator (after the CRLF closing [DONE]'s chunk): the same bytes inside a
    # later chunk's data do not end the body.
    return _unparsed_bytes(response).removeprefix(b"\r\n") == _TERMINATOR


def _unparsed_bytes(response: Any) -> bytes:
    """The bytes h11 received on the connection but did not parse yet (b"" if unknown).

    The one read of another library's internals: CONTRIBUTING.md says why, and why b"" is safe.
    """
    stream = getattr(response.stream, "wrapped", response.stream)  # under `ClosedInFull`
    try:
        connection = stream._stream._httpcore_stream._stream._connection
        data, _closed = connection._h11_state.trailing_data
    except (AttributeError, TypeError, ValueError):
        return b""
    return bytes(data) if isinstance(data, (bytes, bytearray)) else b""
