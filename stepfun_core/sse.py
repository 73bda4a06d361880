"""An incremental Server-Sent Events decoder: bytes in, events out, correct at any split point.

Lines end at CR, LF or CRLF only (never at U+2028 or other str.splitlines() breaks, which
occur inside JSON strings); a leading BOM is dropped; invalid UTF-8 becomes U+FFFD.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_LINE_END = re.compile(rb"\r\n|\r|\n")
_BOM = b"\xef\xbb\xbf"
DEFAULT_MAX_EVENT_SIZE = 16 * 1024 * 1024


class SSEDecodeError(ValueError):
    """The byte stream cannot be decoded as SSE (an event over the size limit)."""


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    """One dispatched event."""

    data: str
    event: str = "message"
    id: str | None = None


class SSEDecoder:
    """Feed it bytes as they arrive; it returns the events completed by each feed."""

    __slots__ = (
        "_at_start",
        "_comments",
        "_data",
        "_event",
        "_id",
        "_max_event_size",
        "_pending",
        "_size",
        "_skip_lf",
    )

    def __init__(self, max_event_size: int = DEFAULT_MAX_EVENT_SIZE) -> None:
        self._pending = b""
        self._data: list[str] = []
        self._event = ""
        self._id: str | None = None
        self._size = 0
        self._at_start = True
        self._skip_lf = False
        self._comments = 0
        self._max_event_size = max_event_size

    @property
    def comments_seen(self) -> int:
        """How many comment lines (keep-alives) were skipped."""
        return self._comments

    @property
    def has_partial_event(self) -> bool:
        """True if bytes of an unfinished event are buffered."""
        return bool(self._pending or self._data)

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        """Decode a piece of the stream; return the events it completes."""
        if self._skip_lf and chunk:
            # The previous piece ended in CR: an LF opening this one belongs to it.
            self._skip_lf = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
        buffer = self._pending + chunk if self._pending else chunk
        if self._at_start:
            if len(buffer) < len(_BOM) and _BOM.startswith(buffer):
                self._pending = buffer
                return []
            self._at_start = False
            if buffer.startswith(_BOM):
                buffer = buffer[len(_BOM) :]
        events: list[ServerSentEvent] = []
        start = 0
        for match in _LINE_END.finditer(buffer):
            self._take_line(buffer[start : match.start()], events)
            start = match.end()
        if start and buffer[start - 1 : start] == b"\r" and start == len(buffer):
            self._skip_lf = True
        self._pending = buffer[start:]
        if len(self._pending) + self._size > self._max_event_size:
            raise SSEDecodeError(f"an event is larger than {self._max_event_size} bytes")
        return events

    def _take_line(self, raw: bytes, events: list[ServerSentEvent]) -> None:
        if not raw:
            if self._data:
                events.append(
                    ServerSentEvent("\n".join(self._data), self._event or "message", self._id)
                )
            self._data = []
            self._event = ""
            self._size = 0
            return
        line = raw.decode("utf-8", "replace")
        if line[0] == ":":
            self._comments += 1
            return
        name, sep, value = line.partition(":")
        if sep and value[:1] == " ":
            value = value[1:]
        if name == "data":
            self._data.append(value)
            self._size += len(raw)
            if self._size > self._max_event_size:
                raise SSEDecodeError(f"an event is larger than {self._max_event_size} bytes")
        elif name == "event":
            self._event = value
        elif name == "id" and "\0" not in value:
            self._id = value
