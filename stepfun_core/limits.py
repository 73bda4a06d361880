"""Bounds on one call: a total deadline, and caps on the bytes a reply may bring.

Both are sans-I/O and shared by the sync and async clients: the drivers feed the body's pieces
in and give each attempt the timeouts the deadline leaves.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, TypeVar

from stepfun_core.errors import ResponseTooLargeError, TotalTimeoutError

# A whole completion is rarely over 1 MiB; 32 MiB leaves room for long answers and stops a
# decompression bomb (500 KB of gzip can inflate to 1.5 GB) long before it costs real memory.
DEFAULT_MAX_RESPONSE_BYTES = 32 * 1024 * 1024
# Error bodies are a few hundred bytes; more than this is read no further.
MAX_ERROR_BODY_BYTES = 64 * 1024

T = TypeVar("T")


class Deadline:
    """The end of a call's time budget (``total_timeout`` seconds from its start)."""

    __slots__ = ("end", "seconds")

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds

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


def run_by(deadline: Deadline, work: Callable[[], T], discard: Callable[[Any], None]) -> T:
    """Run blocking ``work`` and return its result, or raise TotalTimeoutError at the deadline.

    A blocking read cannot be interrupted, and a server that trickles its headers a byte at a
    time resets every read timeout; so the work runs in a thread of its own and the caller
    waits only until the deadline. Work finished after that is handed to ``discard`` (to close
    a response) by the thread that did it.
    """
    box: dict[str, Any] = {}
    done = threading.Event()
    abandoned = threading.Event()
    context = contextvars.copy_context()

    def run() -> None:
        try:
            box["value"] = context.run(work)
        except BaseException as exc:
            box["error"] = exc
        finally:
            done.set()
            if abandoned.is_set():
                discard(box.get("value"))

    threading.Thread(target=run, name="stepfun-deadline", daemon=True).start()
    if not done.wait(deadline.remaining()):
        abandoned.set()
        if done.is_set():  # finished just now: its thread may not have seen the flag
            discard(box.get("value"))
        raise deadline.error()
    if "error" in box:
        raise box["error"]
    value: T = box["value"]
    return value


async def arun_by(deadline: Deadline, work: Coroutine[Any, Any, T]) -> T:
    """Await ``work``, or cancel it and raise TotalTimeoutError at the deadline."""
    try:
        return await asyncio.wait_for(work, deadline.remaining())
    except asyncio.TimeoutError:
        raise deadline.error() from None
