"""After ``[DONE]``: the connection goes back to the pool only if the body's end is already here.

A stream is over at ``data: [DONE]``; what follows (the chunked terminator, keep-alives, a cut,
a proxy holding the connection) must not delay or spoil the answer. The rest of the body is
read only if it arrives within ``GRACE_SECONDS`` (a blocking read cannot be cut at that bound,
so a sync stream reads on only when it has already arrived); else the connection is closed.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

from stepfun_core.waits import within

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

    async def rest() -> None:
        async for _ in pieces:
            pass

    with contextlib.suppress(Exception):  # the answer is complete: a broken tail changes nothing
        await (rest() if body_end_arrived(response) else within(rest(), GRACE_SECONDS))


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
