"""Fold stream chunks into the whole completion received so far."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from stepfun_core.jsonio import ValueEnd, decode_json
from stepfun_core.parse import MAX_TOOL_CALLS, fallback_tool_call_id, parse_usage
from stepfun_core.surrogates import join_surrogates
from stepfun_core.types import Choice, Completion, ServerToolCall, ToolCall, joined_audio

if TYPE_CHECKING:
    from stepfun_core.types import ChoiceDelta, Chunk, ToolCallDelta, Usage

# Function names are at most 64 characters (the spec); fragments beyond this are dropped, so
# a server cannot grow a name without end.
MAX_NAME = 256
# More choices than anyone asks for (``n``); a stream opening a new one per event is read no
# further than this, so its memory stays near its bytes.
MAX_CHOICES = 128


@dataclass(slots=True)
class ToolCallBuilder:
    """A tool call being assembled from deltas that share one index.

    Argument pieces are joined when read: ``str +=`` on an attribute would copy the whole text
    each time, and a call streamed in thousands of pieces would cost its square.
    """

    index: int
    id: str = ""
    type: str = ""
    name: str = ""
    results: list[Any] | None = None
    _text: str = ""
    _pieces: list[str] = field(default_factory=list)
    _closes: bool = False  # the arguments so far end in "}" (perhaps whole JSON)
    # Made when first asked (index-less calls), then fed each piece.
    _value_end: ValueEnd | None = None
    _whole: bool | None = None  # the JSON parsed, once its value closed

    @property
    def arguments(self) -> str:
        """The arguments received so far."""
        if self._pieces:
            self._text += "".join(self._pieces)
            self._pieces.clear()
        return self._text

    def add(self, delta: ToolCallDelta) -> None:
        """Merge one delta: the first id and type, a name or its fragment, more arguments."""
        if delta.id and not self.id:
            self.id = delta.id
        if delta.type and not self.type:
            self.type = delta.type
        # Step-1-era streams send the name whole, in its own chunk; some servers repeat it on
        # every delta, so an identical repeat is not a fragment (docs/wire.md#stream-tool-calls).
        if delta.name and delta.name != self.name and len(self.name) < MAX_NAME:
            self.name = delta.name if not self.name else self.name + delta.name
        if delta.arguments:
            self._pieces.append(delta.arguments)
            if self._value_end is not None:
                self._value_end.feed(delta.arguments)
            if tail := delta.arguments.rstrip():
                self._closes = tail[-1] == "}"
        if delta.results is not None:
            self.results = delta.results

    def has_whole_arguments(self) -> bool:
        """True if the arguments so far are whole JSON (an object: they end in a brace).

        Parsed once, when their value closes: asked at each of thousands of pieces, parsing
        all of them each time cost their square.
        """
        if not self._closes:
            return False
        if self._value_end is None:
            self._value_end = ValueEnd()
            self._value_end.feed(self.arguments)
        if not self._value_end.closed:
            return False
        if self._whole is None:  # they end in "}": valid JSON is an object
            self._whole = isinstance(decode_json(self.arguments), dict)
        return self._whole

    @property
    def is_server_side(self) -> bool:
        """True for calls the server ran itself, such as ``web_search``."""
        return (bool(self.type) and self.type != "function") or self.results is not None


def _another_call(delta: ToolCallDelta, held: ToolCallBuilder) -> bool:
    """True if ``delta`` starts a function call where a server call (a search) is held.

    Its id differs from the search's, or it is a function's first delta (its name, or its type
    with its name or id); an id sent after the search's first delta is still the search's.
    Between function calls, one index is one call, as in OpenAI's streams.
    """
    if not held.is_server_side:
        return False
    if (delta.id and held.id and delta.id != held.id) or (delta.name and delta.name != held.name):
        return True
    return bool((delta.id or delta.name) and delta.type and delta.type != held.type)


@dataclass(slots=True)
class TextBuffer:
    """Text received piece by piece, folded into a few large strings every ``FOLD`` pieces.

    A ``str`` per streamed token would cost about 60 bytes on top of the text itself.
    """

    FOLD: ClassVar[int] = 256
    _blocks: list[str] = field(default_factory=list)
    _pieces: list[str] = field(default_factory=list)

    def append(self, text: str) -> None:
        """Add a piece at the end."""
        self._pieces.append(text)
        if len(self._pieces) >= self.FOLD:
            self._blocks.append("".join(self._pieces))
            self._pieces.clear()

    def text(self) -> str:
        """Everything so far, as one string."""
        return "".join(self._blocks) + "".join(self._pieces)


@dataclass(slots=True)
class ChoiceBuilder:
    """One choice being assembled."""

    index: int
    content: TextBuffer = field(default_factory=TextBuffer)
    reasoning: TextBuffer = field(default_factory=TextBuffer)
    refusal: TextBuffer = field(default_factory=TextBuffer)
    tool_calls: dict[int, ToolCallBuilder] = field(default_factory=dict)
    finish_reason: str | None = None
    latest_call: int = -1  # the highest tool-call index so far (index-less deltas follow it)
    # Each tool-call index the server sent -> the call's slot: the index itself, unless another
    # call held that slot (an index-less web search takes the first free one).
    slots: dict[int, int] = field(default_factory=dict)
    audio: list[dict[str, Any]] = field(default_factory=list)

    def add(self, delta: ChoiceDelta) -> None:
        """Merge what one chunk adds to this choice."""
        if delta.content:
            self.content.append(delta.content)
        if delta.reasoning:
            self.reasoning.append(delta.reasoning)
        if delta.refusal:
            self.refusal.append(delta.refusal)
        if delta.audio:
            self.audio.append(delta.audio)
        if delta.tool_calls:
            self._add_calls(delta)
        if delta.finish_reason:
            self.finish_reason = delta.finish_reason

    def _add_calls(self, delta: ChoiceDelta) -> None:
        """Merge the delta's tool calls; calls past MAX_TOOL_CALLS leave the delta too."""
        past_cap = False
        for call in delta.tool_calls:
            if call.positional:
                call.index = self._index_of_positional(call)
            else:  # more arguments for a slot given before: the common case, inline
                slot = self.slots.get(call.index)
                if slot is None or call.id or call.name or call.type:
                    slot = self._slot_of(call, slot)
                call.index = slot
            builder = self.tool_calls.get(call.index)
            if builder is None:
                self.latest_call = max(self.latest_call, call.index)
                if len(self.tool_calls) >= MAX_TOOL_CALLS:
                    past_cap = True  # a server inventing calls without end is not followed
                    continue
                builder = self.tool_calls[call.index] = ToolCallBuilder(call.index)
            builder.add(call)
        if past_cap:  # nor seen by the stream's reader: the delta is yielded after this
            delta.tool_calls = [c for c in delta.tool_calls if c.index in self.tool_calls]

    def _slot_of(self, call: ToolCallDelta, index: int | None) -> int:
        """The slot of a delta sent with an index: that index, unless another call holds it.

        ``index`` is the slot given that index before, if any. A web_search call comes without
        an index (docs/wire.md#web-search) and takes the first free slot; a function call then
        streamed at that index is another call (one merged into the search left the reply with
        no call to run). It gets a new slot, where every later delta with its index goes
        (parallel calls may interleave their pieces).
        """
        if index is None:  # the index's first delta: its own slot, unless that is taken
            index = call.index if call.index not in self.tool_calls else self.latest_call + 1
            self.slots[call.index] = index
        elif (held := self.tool_calls.get(index)) is not None and _another_call(call, held):
            index = self.slots[call.index] = self.latest_call + 1  # a search's index, say
        return index

    def _index_of_positional(self, call: ToolCallDelta) -> int:
        """Give an index to a delta sent without one (step-1-era streams).

        Those streams send each call's name whole, then its arguments. A new id, or a name once
        the latest call has whole JSON arguments, starts the next call (parallel calls to one
        function stay apart); the same name over unfinished arguments is the same call.
        """
        latest_index = self.latest_call
        latest = self.tool_calls.get(latest_index)
        if latest is None:  # no call yet (0), or one past MAX_TOOL_CALLS (what follows is too)
            return max(latest_index, 0)
        if call.id and latest.id and call.id != latest.id:
            return latest_index + 1
        if call.name and latest.name and (call.name != latest.name or latest.has_whole_arguments()):
            return latest_index + 1
        return latest_index

    def calls(self, response_id: str = "") -> tuple[list[ToolCall], list[ServerToolCall]]:
        """The client tool calls and the server-side calls received so far, by index."""
        every = [self.call(index, response_id) for index in sorted(self.tool_calls)]
        calls = [call for call in every if isinstance(call, ToolCall)]
        return calls, [call for call in every if isinstance(call, ServerToolCall)]

    def call(self, index: int, response_id: str = "") -> ToolCall | ServerToolCall:
        """The call at this index as received so far: a client call, or one the server ran."""
        b = self.tool_calls[index]
        if b.is_server_side:
            return ServerToolCall(b.id, b.type, b.name, b.arguments, b.results or [], index)
        call_id = b.id or fallback_tool_call_id(response_id, index)
        return ToolCall(call_id, b.name, b.arguments, index)

    def build(self, response_id: str = "") -> Choice:
        """Return the choice as received so far."""
        calls, server_calls = self.calls(response_id)
        # Halves of a character split across chunks are joined here too, for callers that feed
        # the accumulator themselves (streams join them before the chunks are yielded).
        return Choice(
            index=self.index,
            content=join_surrogates(self.content.text()),
            reasoning=join_surrogates(self.reasoning.text()),
            tool_calls=calls,
            server_tool_calls=server_calls,
            finish_reason=self.finish_reason,
            refusal=join_surrogates(self.refusal.text()),
            audio=joined_audio(self.audio) if self.audio else None,
        )


class StreamAccumulator:
    """Keeps the message so far: text, reasoning, tool calls by index, finish reason, usage.

    Usage is cumulative on every StepFun chunk (docs/wire.md#stream-framing): the last one wins.
    """

    __slots__ = ("_choices", "_expected_choices", "_raw_usage", "created", "id", "model")

    def __init__(self, n: int = 1) -> None:
        self._expected_choices = min(n, MAX_CHOICES)  # the request's ``n``
        self.clear()

    def clear(self) -> None:
        """Forget what was received (the stream is sent again), staying the same object."""
        # A new dict: a reader in another thread keeps the one it took.
        self._choices: dict[int, ChoiceBuilder] = {}
        self.id = self.model = ""
        self.created = 0
        self._raw_usage: dict[str, Any] | None = None

    @property
    def usage(self) -> Usage | None:
        """The latest usage received (each chunk repeats the running total)."""
        return parse_usage(self._raw_usage)

    def add(self, chunk: Chunk) -> None:
        """Merge one chunk (and give index-less tool-call deltas their index, in place)."""
        if chunk.id and not self.id:
            self.id = chunk.id
        if chunk.model:
            self.model = chunk.model
        # The legacy first chunk says created:0 (docs/wire.md#legacy-stream).
        if chunk.created:
            self.created = chunk.created
        if chunk.raw_usage is not None:
            self._raw_usage = chunk.raw_usage
        for delta in chunk.choices:
            builder = self._choices.get(delta.index)
            if builder is None:
                if len(self._choices) >= MAX_CHOICES:
                    continue  # a server inventing choices without end is not followed
                builder = self._choices[delta.index] = ChoiceBuilder(delta.index)
            builder.add(delta)

    @property
    def finished(self) -> bool:
        """True once every choice asked for (``n``) has come and has a finish reason."""
        choices = self._choices
        return len(choices) >= self._expected_choices and all(
            c.finish_reason for c in choices.values()
        )

    def choice(self, index: int = 0) -> Choice:
        """Return one choice as received so far."""
        builder = self._choices.get(index)
        return builder.build(self.id) if builder else Choice(index=index)

    def tool_calls(self, index: int = 0) -> tuple[list[ToolCall], list[ServerToolCall]]:
        """The tool calls of one choice so far, without joining its text.

        Each call's arguments so far are copied into one string: asked after every chunk, that
        costs the square of their length.
        """
        builder = self._choices.get(index)
        return builder.calls(self.id) if builder else ([], [])

    def tool_call(self, index: int, choice: int = 0) -> ToolCall | ServerToolCall:
        """One tool call of a choice so far, by its index (a chunk has just named it)."""
        return self._choices[choice].call(index, self.id)

    def result(self) -> Completion:
        """Return the completion as received so far."""
        choices = self._choices
        return Completion(
            id=self.id,
            model=self.model,
            created=self.created,
            choices=[choices[i].build(self.id) for i in sorted(choices)],
            usage=parse_usage(self._raw_usage),
        )
