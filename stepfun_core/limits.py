"""Bounds on one call: a total deadline, and caps on the bytes a reply may bring.

Both are sans-I/O and shared by the sync and async clients: the drivers feed the body's pieces
in and give each attempt the timeouts the deadline leaves.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from stepfun_core.errors import ResponseTooLargeError, TotalTimeoutError

# A whole completion is rarely over 1 MiB; 32 MiB leaves room for long answers and stops a
# decompression bomb (500 KB of gzip can inflate to 1.5 GB) long before it costs real memory.
DEFAULT_MAX_RESPONSE_BYTES = 32 * 1024 * 1024
# Error bodies are a few hundred bytes; more than this is read no further.
MAX_ERROR_BODY_BYTES = 64 * 1024


class Deadline:
    """The end of a call's time budget (``total_timeout`` seconds from its start)."""

    __slots__ = ("end", "seconds")

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds

    @classmethod
    def start(cls, seconds: float | None) -> Deadline | None:
        """A deadline from now, or None when there is no budget."""
        return None if seconds is None else cls(seconds)

    def remaining(self) -> float:
        """Seconds left (never negative)."""
        return max(0.0, self.end - time.monotonic())

    def check(self) -> None:
        """Raise TotalTimeoutError if the budget is spent."""
        if time.monotonic() >= self.end:
            raise self.error()

    def error(self) -> TotalTimeoutError:
        """The error for a spent budget."""
        return TotalTimeoutError(
            f"the call took longer than total_timeout={self.seconds:g} s and was ended"
        )

    def cap(self, timeouts: Mapping[str, float | None]) -> dict[str, float | None]:
        """The per-phase timeouts of one attempt, none longer than what is left."""
        left = self.remaining()
        return {
            name: left if value is None else min(value, left) for name, value in timeouts.items()
        }


class BodyReader:
    """Collects a reply body piece by piece, within a byte cap and a deadline.

    ``truncate``: an error body stops at the cap (its status already says what went wrong);
    a success body over the cap is an error, since a truncated answer would be wrong.
    """

    __slots__ = ("_deadline", "_limit", "_pieces", "_size", "_truncate")

    def __init__(self, limit: int, deadline: Deadline | None, *, truncate: bool = False) -> None:
        self._limit = limit
        self._deadline = deadline
        self._truncate = truncate
        self._pieces: list[bytes] = []
        self._size = 0

    def add(self, piece: bytes) -> bool:
        """Keep a piece; False once an error body is full (stop reading)."""
        if self._deadline is not None:
            self._deadline.check()
        self._size += len(piece)
        if self._size > self._limit:
            if not self._truncate:
                raise ResponseTooLargeError(
                    f"the reply is larger than max_response_bytes={self._limit} "
                    "(after decompression) and was not read further"
                )
            self._pieces.append(piece[: len(piece) - (self._size - self._limit)])
            return False
        self._pieces.append(piece)
        return True

    def content(self) -> bytes:
        """The body read so far."""
        return self._pieces[0] if len(self._pieces) == 1 else b"".join(self._pieces)
