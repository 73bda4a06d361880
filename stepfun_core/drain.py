"""After ``[DONE]``: the connection goes back to the pool only if the body's end is already here.

A stream is over at ``data: [DONE]``; what follows (the chunked terminator, keep-alives, a cut,
a proxy holding the connection) must not delay or spoil the answer. One rule, sync and async:
the rest of the body is read only if it has already arrived; else the connection is closed.
Nothing waits for it: an async read cut by a timeout could be cancelled inside httpcore's own
clean-up, which then never gave its connection back (the pool filled up for good).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

_TERMINATOR = b"0\r\n\r\n"


def read_tail(response: Any, pieces: Iterator[bytes]) -> None:
    """Read what follows ``[DONE]`` if it has already arrived (the caller closes)."""
    with contextlib.suppress(Exception):  # the answer is complete: a broken tail changes nothing
        if body_end_arrived(response):
            for _ in pieces:  # already here: this ends at once, pooling the connection
                pass


async def aread_tail(response: Any, pieces: AsyncIterator[bytes]) -> None:
    """`read_tail`, for an async stream."""
    with contextlib.suppress(Exception):
        if body_end_arrived(response):
            async for _ in pieces:
                pass


def body_end_arrived(response: Any) -> bool:
    """True if the rest of the body has been received, so reading it cannot wait."""
    length = response.headers.get("content-length")
    if length is not None:  # a proxy may send a stream sized, as one body
        return str(length).isdigit() and int(response.num_bytes_downloaded) >= int(length)
    # Exactly the terminator (after the CRLF closing [DONE]'s chunk): the same bytes inside a
    # later chunk's data do not end the body.
    return _unparsed_bytes(response).removeprefix(b"\r\n") == _TERMINATOR


def _unparsed_bytes(response: Any) -> bytes:
    r"""The bytes received on the response's connection but not parsed yet (b"" if unknown).

    The one place this library reads another's internals (CONTRIBUTING.md): httpcore keeps what
    it received in h11, often the ``0\r\n\r\n`` terminator that came in the same packet as
    ``[DONE]``, and no public API shows it. On a stack without these attributes (httpx2, a
    mock transport, a future httpcore) it answers b"": the connection is then closed, not
    reused, which is safe.
    """
    try:
        connection = response.stream._stream._httpcore_stream._stream._connection
        data, _closed = connection._h11_state.trailing_data
    except (AttributeError, TypeError, ValueError):
        return b""
    return bytes(data) if isinstance(data, (bytes, bytearray)) else b""
