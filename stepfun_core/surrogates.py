r"""UTF-16 surrogate halves in received text: joined into characters, never passed on alone.

The API escapes an emoji as two ``\uXXXX`` halves, and a stream may cut between them. A lone
half cannot be encoded as UTF-8 (printing it or sending it back would fail), so a high half
ending a piece is held back and put in front of the next piece of the same field.
"""

from __future__ import annotations

import re

from stepfun_core.types import ChoiceDelta, Chunk, ToolCallDelta

_SURROGATE = re.compile("[\ud800-\udfff]")
REPLACEMENT = "\ufffd"
_TEXT_FIELDS = ("content", "reasoning", "refusal")  # of a ChoiceDelta, streamed piece by piece


def has_surrogates(text: str) -> bool:
    """True if the text holds UTF-16 surrogate code points (halves of a character)."""
    # isascii() is a flag check in C: ids, names and most text never reach the regex.
    return not text.isascii() and _SURROGATE.search(text) is not None


def join_surrogates(text: str) -> str:
    """Join surrogate pairs into their characters; a lone half becomes U+FFFD."""
    if not has_surrogates(text):
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def has_lone_surrogate(text: str) -> bool:
    """True if a surrogate half remains once pairs are joined."""
    if not has_surrogates(text):
        return False
    joined = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")
    return has_surrogates(joined)


class SurrogateJoiner:
    """Per stream: fixes the text fields of chunks in place, holding a trailing high half."""

    __slots__ = ("_held",)

    def __init__(self) -> None:
        # (choice, field, tool-call index, positional). A positional call (sent without an index,
        # step-1-era) has its place in the chunk for index until the accumulator numbers it: a
        # U+FFFD released for it stays positional, so it joins that call, not the one numbered so.
        self._held: dict[tuple[int, str, int, bool], str] = {}

    @property
    def holding(self) -> bool:
        """True while a high half waits for its low half."""
        return bool(self._held)

    def _fix(self, key: tuple[int, str, int, bool], text: str) -> str:
        held = self._held.pop(key, "")
        if held:
            text = held + text
        if text and "\ud800" <= text[-1] <= "\udbff":  # a high half, waiting for its low half
            self._held[key] = text[-1]
            text = text[:-1]
        return join_surrogates(text)

    def fix(self, chunk: Chunk) -> None:
        """Join halves in the chunk's text in place; a piece's trailing high half is held."""
        chunk.id = join_surrogates(chunk.id)
        chunk.model = join_surrogates(chunk.model)
        for delta in chunk.choices:
            if delta.finish_reason:
                delta.finish_reason = join_surrogates(delta.finish_reason)
            for field in _TEXT_FIELDS:
                key = (delta.index, field, 0, False)
                if getattr(delta, field) or key in self._held:
                    setattr(delta, field, self._fix(key, getattr(delta, field)))
            for call in delta.tool_calls:
                call.id = join_surrogates(call.id) if call.id else call.id
                call.name = join_surrogates(call.name) if call.name else call.name
                call.type = join_surrogates(call.type) if call.type else call.type
                key = (delta.index, "arguments", call.index, call.positional)
                if call.arguments or key in self._held:
                    call.arguments = self._fix(key, call.arguments or "") or None
            if delta.finish_reason and self._held:
                # Nothing follows a finish reason: a half still held ends this delta as U+FFFD,
                # so the chunk that finishes the choice (and carries its usage) stays the last.
                self._release(delta)

    def flush(self) -> Chunk | None:
        """A chunk with U+FFFD for each half still held at the end of the stream, if any."""
        if not self._held:
            return None
        deltas = [ChoiceDelta(index) for index in sorted({key[0] for key in self._held})]
        for delta in deltas:
            self._release(delta)
        return Chunk(choices=deltas)

    def _release(self, delta: ChoiceDelta) -> None:
        """End the delta's fields with U+FFFD for each half held for its choice."""
        for key in sorted(key for key in self._held if key[0] == delta.index):
            del self._held[key]
            _, field, index, positional = key
            if field != "arguments":
                setattr(delta, field, getattr(delta, field) + REPLACEMENT)
                continue
            calls = (c for c in delta.tool_calls if (c.index, c.positional) == (index, positional))
            call = next(calls, None)
            if call is None:
                delta.tool_calls.append(
                    ToolCallDelta(index, arguments=REPLACEMENT, positional=positional)
                )
            else:
                call.arguments = (call.arguments or "") + REPLACEMENT
