"""Bounds on one call (sans-I/O): a total deadline, and caps on the bytes a reply may bring."""

from __future__ import annotations

import time
import zlib
from dataclasses import dataclass, field
from typing import Any

import httpx

from stepfun_core.errors import MalformedResponseError, ResponseTooLargeError, TotalTimeoutError
from stepfun_core.jsonio import decode_json

# A whole completion is rarely over 1 MiB; 32 MiB leaves room for long answers and stops a
# decompression bomb (500 KB of gzip can inflate to 1.5 GB) long before it costs real memory.
DEFAULT_MAX_RESPONSE_BYTES = 32 * 1024 * 1024
# Error bodies are a few hundred bytes; more than this is read no further.
MAX_ERROR_BODY_BYTES = 64 * 1024
# The codings we ask for and inflate ourselves, a piece at a time under the byte cap. httpx
# would also offer br and zstd when their packages are installed, and inflates each network
# read whole before any cap sees it (16 KB of zstd became 512 MiB in one step).
ACCEPT_ENCODING = "gzip, deflate"
CODINGS = frozenset({"identity", "gzip", "x-gzip", "deflate"})
_GZIP_MAGIC = b"\x1f\x8b"


class Deadline:
    """The end of a call's time budget (``total_timeout`` seconds from its start)."""

    __slots__ = ("end", "seconds", "timeouts")

    def __init__(self, seconds: float, timeouts: dict[str, float | None]) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds
        # The call's own per-phase timeouts (httpx's names), each attempt's capped by what is left.
        self.timeouts = timeouts

    def remaining(self) -> float:
        """Seconds left (never negative)."""
        return max(0.0, self.end - time.monotonic())

    def error(self) -> TotalTimeoutError:
        """The error for a spent budget."""
        return TotalTimeoutError(
            f"the call took longer than total_timeout={self.seconds:g} s and was ended"
        )

    def limit(self, request: httpx.Request) -> None:
        """Give the request's next attempt per-phase timeouts none longer than what is left."""
        left = self.remaining()
        request.extensions["timeout"] = {
            name: left if value is None else min(value, left)
            for name, value in self.timeouts.items()
        }


@dataclass(slots=True)
class Tries:
    """What one call has spent: its retries, its deadline (None without one), its payloads.

    ``plan`` holds the payloads it may send in turn and ``tried`` the place of the one it is on
    (see ``BaseClient._echo_plan``). Shared by the call's retries and a stream's restarts: they
    stay within ``max_retries`` and ``total_timeout`` together, and a payload refused in a
    stream is not sent again.
    """

    deadline: Deadline | None
    attempt: int = 0
    plan: list[tuple[str | None, Any]] = field(default_factory=list)
    tried: int = 0


def content_codings(header: str | None) -> list[str]:
    """The codings a Content-Encoding names, in order (``identity`` and empty ones left out)."""
    codings = (c.strip().lower() for c in (header or "").split(","))
    return [c for c in codings if c and c != "identity"]


class Inflater:
    """Decodes a body's raw pieces (gzip, deflate or plain) and counts them against a cap.

    Output is bounded as it is inflated, so memory stays near the cap whatever the ratio.
    """

    __slots__ = ("_coding", "_corrupt", "_decoder", "_salvage", "left")

    def __init__(self, content_encoding: str | None, limit: int, *, salvage: bool = True) -> None:
        self.left = limit
        self._salvage = salvage  # whether corrupt data's error holds what inflated before it
        # More than one coding is refused unread (http.refused_unread).
        self._coding = next(iter(content_codings(content_encoding)), "")
        self._decoder: zlib._Decompress | None = None
        self._corrupt = False

    def feed(self, raw: bytes) -> bytes:
        """The decoded bytes of one piece (at most one past the cap); ``left`` goes below 0.

        A gzip body may hold several members, one after another (RFC 1952): each is inflated.
        Corrupt data raises MalformedResponseError, whose ``body`` is (with ``salvage``) what the
        piece inflated to before it (an error body's text, a stream's last events).
        """
        if not self._coding:
            self.left -= len(raw)
            return raw
        if self._corrupt:  # the decoder is past use
            raise MalformedResponseError(f"the reply's {self._coding} data is corrupt", body=b"")
        pieces: list[bytes] = []
        while raw and self.left >= 0:
            if self._decoder is None or self._decoder.eof:
                if self._decoder is not None and not _GZIP_MAGIC.startswith(raw[:2]):
                    break  # padding after the last member, ignored as gzip(1) does
                self._decoder = zlib.decompressobj(_window_bits(self._coding, raw[0]))
            before = self._decoder.copy()  # zlib drops all of a failing call's output
            try:
                pieces.append(self._decoder.decompress(raw, self.left + 1))
            except zlib.error as exc:
                self._corrupt = True
                pieces.append(_inflatable(before, raw, self.left + 1) if self._salvage else b"")
                self.left -= len(pieces[-1])
                message = f"the reply's {self._coding} data is corrupt"
                raise MalformedResponseError(message, body=b"".join(pieces)) from exc
            self.left -= len(pieces[-1])
            raw = self._decoder.unused_data  # the next member's bytes, once this one ended
        return b"".join(pieces)


def _inflatable(decoder: zlib._Decompress, raw: bytes, limit: int) -> bytes:
    """What ``decoder`` inflates of the longest start of ``raw`` that is not corrupt.

    An error body's text, or a stream's events, before corrupt data in the same piece. Found by
    halving: any start longer than a corrupt one is corrupt too.
    """
    good, bad = 0, len(raw)
    while bad - good > 1:
        middle = (good + bad) // 2
        try:
            decoder.copy().decompress(raw[:middle], limit)
            good = middle
        except zlib.error:
            bad = middle
    return decoder.decompress(raw[:good], limit)


def _window_bits(coding: str, first_byte: int) -> int:
    if coding != "deflate":
        return 16 + zlib.MAX_WBITS  # a gzip wrapper
    # "deflate" is zlib-wrapped by the RFC, yet some servers send raw deflate (no 0x78 header).
    return zlib.MAX_WBITS if first_byte & 0x0F == 8 else -zlib.MAX_WBITS


def coding_of(response: httpx.Response) -> str | None:
    """The Content-Encoding left to undo: none once httpx has read (and decoded) the body.

    A mock transport or a cassette hands httpx the whole body up front; a network reply is
    read raw, a piece at a time, and inflated by us under the byte cap.
    """
    return None if response.is_stream_consumed else response.headers.get("content-encoding")


class BodyReader:
    """Collects a reply's body piece by piece, within a byte cap and a deadline.

    An error body stops at ``MAX_ERROR_BODY_BYTES`` (its status already says what went wrong);
    a success body over ``max_bytes`` is an error, since a truncated answer would be wrong.
    """

    __slots__ = ("_deadline", "_inflater", "_limit", "_pieces", "_raw", "_truncate")

    def __init__(self, response: httpx.Response, max_bytes: int, deadline: Deadline | None) -> None:
        self._truncate = not response.is_success
        self._limit = MAX_ERROR_BODY_BYTES if self._truncate else max_bytes
        self._deadline = deadline
        coding = coding_of(response)
        # A success is never kept from corrupt data: no need to inflate its good start again.
        self._inflater = Inflater(coding, self._limit, salvage=self._truncate)
        self._pieces: list[bytes] = []
        # An error body's bytes as they came, while it claims a coding (see ``add``).
        self._raw: list[bytes] | None = [] if self._truncate and coding else None

    def add(self, raw: bytes) -> bool:
        """Keep a piece; False once an error body is full (stop reading)."""
        if self._deadline is not None and self._deadline.remaining() <= 0:
            raise self._deadline.error()
        if self._raw is not None:
            self._raw.append(raw)
        try:
            data = self._inflater.feed(raw)
        except MalformedResponseError as error:
            if self._raw is None:
                raise  # never kept: a failed check cannot tell a bad trailer from altered text
            self._pieces.append(error.body)  # an error body's text before the corrupt data
            if any(self._pieces) and (
                b"".join(self._raw).startswith(_GZIP_MAGIC)
                or type(decode_json(self.content())) is dict
            ):
                return False  # its status says what went wrong
            # An error page mislabelled as compressed (a proxy's, say): its status still says
            # what went wrong, and whether to retry; it is read again from its first byte, plain.
            self._inflater, self._pieces = Inflater(None, self._limit), []
            data, self._raw = self._inflater.feed(b"".join(self._raw)), None
        over = self._inflater.left
        if over >= 0:
            self._pieces.append(data)
            return True
        if not self._truncate:
            raise ResponseTooLargeError(
                f"the reply is larger than max_response_bytes={self._limit} "
                "(after decompression) and was not read further"
            )
        self._pieces.append(data[: len(data) + over])
        return False

    def content(self) -> bytes:
        """The body read so far."""
        return b"".join(self._pieces)  # one piece is returned as it is, not copied

    def whole_despite(self, error: BaseException) -> bool:
        """True if the body read before ``error`` is a whole JSON object: nothing is lost.

        A cut or the deadline after the whole answer ends the read as its end would.
        """
        content = self.content()
        return content.rstrip().endswith(b"}") and isinstance(decode_json(content), dict)
