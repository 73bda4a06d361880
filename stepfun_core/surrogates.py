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
        # By choice: (field, tool-call index, positional) -> the high half held. A positional
        # call (sent without an index, step-1-era) has its place in the chunk for index until
        # the accumulator numbers it: a U+FFFD released for it stays positional, so it joins
        # that call, not the one numbered so. (By choice, so releasing one choice's halves
        # never walks the others': thousands of choices or calls once cost their square.)
        self._held: dict[int, dict[tuple[str, int, bool], str]] = {}

    @property
    def holding(self) -> bool:
        """True while a high half waits for its low half."""
        return bool(self._held)

    def _fix(self, choice: int, key: tuple[str, int, bool], text: str) -> str:
        halves = self._held.get(choice)
        if halves and key in halves:
            text = halves.pop(key) + text
            if not halves:
                del self._held[choice]
        if text and "\ud800" <= text[-1] <= "\udbff":  # a high half, waiting for its low half
            self._held.setdefault(choice, {})[key] = text[-1]
            text = text[:-1]
        return join_surrogates(text)

    def fix(self, chunk: Chunk) -> None:
        """Join halves in the chunk's text in place; a piece's trailing high half is held."""
        chunk.id = join_surrogates(chunk.id)
        chunk.model = join_surrogates(chunk.model)
        for delta in chunk.choices:
            if delta.finish_reason:
                delta.finish_reason = join_surrogates(delta.finish_reason)
            halves = self._held.get(delta.index) or {}  # what this choice held before
            for field in _TEXT_FIELDS:
                key = (field, 0, False)
                if getattr(delta, field) or key in halves:
                    setattr(delta, field, self._fix(delta.index, key, getattr(delta, field)))
            transcript = delta.audio.get("transcript") if delta.audio else None
            if transcript and type(transcript) is str:  # an audio model's answer, spoken
                fixed = self._fix(delta.index, ("transcript", 0, False), transcript)
                if fixed != transcript:  # a copy: the parsed event is not ours to change
                    delta.audio = {**(delta.audio or {}), "transcript": fixed}
            for call in delta.tool_calls:
                call.id = join_surrogates(call.id) if call.id else call.id
                call.name = join_surrogates(call.name) if call.name else call.name
                call.type = join_surrogates(call.type) if call.type else call.type
                key = ("arguments", call.index, call.positional)
                if call.arguments or key in halves:
                    call.arguments = self._fix(delta.index, key, call.arguments or "") or None
            if delta.finish_reason and delta.index in self._held:
                # Nothing follows a finish reason: a half still held ends this delta as U+FFFD,
                # so the chunk that finishes the choice (and carries its usage) stays the last.
                self._release(delta)

    def flush(self) -> Chunk | None:
        """A chunk with U+FFFD for each half still held at the end of the stream, if any."""
        if not self._held:
            return None
        deltas = [ChoiceDelta(index) for index in sorted(self._held)]
        for delta in deltas:
            self._release(delta)
        return Chunk(choices=deltas)

    def _release(self, delta: ChoiceDelta) -> None:
        """End the delta's fields with U+FFFD for each half held for its choice."""
        halves = self._held.pop(delta.index, {})
        calls: dict[tuple[int, bool], ToolCallDelta] = {}
        for call in reversed(delta.tool_calls):  # the first of each place wins
            calls[(call.index, call.positional)] = call
        for field, index, positional in sorted(halves):
            if field == "transcript":
                audio = delta.audio or {}
                spoken = audio.get("transcript")
                spoken = spoken if type(spoken) is str else ""
                delta.audio = {**audio, "transcript": spoken + REPLACEMENT}
                continue
            if field != "arguments":
                setattr(delta, field, getattr(delta, field) + REPLACEMENT)
                continue
            place = calls.get((index, positional))
            if place is None:
                place = calls[(index, positional)] = ToolCallDelta(index, positional=positional)
                delta.tool_calls.append(place)
            place.arguments = (place.arguments or "") + REPLACEMENT
