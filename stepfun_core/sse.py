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
    """Feed it bytes as they arrive; it returns the events completed by each feed.

    Only new bytes are searched for line ends and an unfinished line is joined once it ends, so the
    cost is linear in the bytes however they are split.
    """

    __slots__ = (
        "_at_start",
        "_data",
        "_event",
        "_head",
        "_id",
        "_max_event_size",
        "_pending",
        "_pending_size",
        "_size",
        "_skip_lf",
    )

    def __init__(self, max_event_size: int = DEFAULT_MAX_EVENT_SIZE) -> None:
        self._pending: list[bytes] = []
        self._pending_size = 0
        self._head = b""
        self._data: list[str] = []
        self._event = ""
        self._id: str | None = None
        self._size = 0
        self._at_start = True
        self._skip_lf = False
        self._max_event_size = max_event_size

    @property
    def has_partial_event(self) -> bool:
        """True if bytes of an unfinished event are buffered."""
        return bool(self._pending or self._data or self._head)

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        """Decode a piece of the stream; return the events it completes."""
        if self._at_start:
            chunk = self._strip_bom(chunk)
        if self._skip_lf and chunk:
            # The previous piece ended in CR: an LF opening this one belongs to it.
            self._skip_lf = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
        events: list[ServerSentEvent] = []
        if not chunk:
            return events
        lines = self._split(chunk)
        rest = lines.pop()
        if lines:
            if self._pending:
                lines[0] = b"".join(self._pending) + lines[0]
                self._pending = []
                self._pending_size = 0
            for line in lines:
                self._take_line(line, events)
        if rest:
            self._pending.append(rest)
            self._pending_size += len(rest)
            if self._pending_size + self._size > self._max_event_size:
                raise SSEDecodeError(f"an event is larger than {self._max_event_size} bytes")
        return events

    def _split(self, chunk: bytes) -> list[bytes]:
        """The chunk cut at its line ends; the last item is the unfinished rest."""
        if b"\r" in chunk:
            self._skip_lf = chunk[-1:] == b"\r"
            return _LINE_END.split(chunk)
        # The common case (LF only): a plain split is several times faster than the regex.
        return chunk.split(b"\n")

    def _strip_bom(self, chunk: bytes) -> bytes:
        head = self._head + chunk
        if len(head) < len(_BOM) and _BOM.startswith(head):
            self._head = head  # not enough bytes yet to tell
            return b""
        self._at_start = False
        self._head = b""
        return head.removeprefix(_BOM)

    def _add_data(self, value: str, size: int) -> None:
        self._data.append(value)
        self._size += size
        if self._size > self._max_event_size:
            raise SSEDecodeError(f"an event is larger than {self._max_event_size} bytes")

    def _take_line(self, raw: bytes, events: list[ServerSentEvent]) -> None:
        if raw[:6] == b"data: ":
            # The line every chunk has: skip the generic field parsing below.
            self._add_data(raw[6:].decode("utf-8", "replace"), len(raw))
            return
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
        if line[0] == ":":  # a comment (a keep-alive)
            return
        name, sep, value = line.partition(":")
        if sep and value[:1] == " ":
            value = value[1:]
        if name == "data":
            self._add_data(value, len(raw))
        elif name == "event":
            self._event = value
        elif name == "id" and "\0" not in value:
            self._id = value
