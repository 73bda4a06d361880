"""Core completions and stream chunks to LlamaIndex ChatResponses.

A message holds a ThinkingBlock (the reasoning), a TextBlock, then a ToolCallBlock per client
tool call. ``additional_kwargs`` mirrors the reasoning (``reasoning_content``) and the tool calls
(``tool_calls``), and holds the server-side calls such as ``web_search`` (``server_tool_calls``,
never client calls) and a stated refusal (``refusal``: LlamaIndex has no block for it).
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ContentBlock,
    MessageRole,
    TextBlock,
    ThinkingBlock,
    ToolCallBlock,
)

from stepfun_core import (
    ChoiceDelta,
    Chunk,
    Completion,
    ServerToolCall,
    StreamAccumulator,
    ToolCall,
    ToolCallDelta,
    Usage,
)
from stepfun_core.parse import arguments_object
from stepfun_core.surrogates import join_surrogates

# Where the reasoning and a stated refusal live in ``message.additional_kwargs``.
REASONING_KEY = "reasoning_content"
REFUSAL_KEY = "refusal"
_USAGE_FIELDS = tuple(field.name for field in fields(Usage))
_NOTHING = ChoiceDelta()  # what a chunk without a delta for the first choice adds (read only)


def usage_kwargs(usage: Usage | None) -> dict[str, Any]:
    """Token counts for ``ChatResponse.additional_kwargs`` (cached and reasoning when reported)."""
    counts = ((name, getattr(usage, name)) for name in _USAGE_FIELDS) if usage else ()
    return {name: count for name, count in counts if count is not None}


def _tool_call_block(call: ToolCall, *, parsed: bool) -> ToolCallBlock:
    # Its arguments parsed when they are a whole JSON object, else the text (so far).
    try:
        kwargs = arguments_object(call.arguments) if parsed else call.arguments or {}
    except ValueError:
        kwargs = call.arguments
    return ToolCallBlock(tool_call_id=call.id, tool_name=call.name, tool_kwargs=kwargs)


def _message_kwargs(
    reasoning: str,
    calls: list[dict[str, Any]],
    server_calls: list[dict[str, Any]],
    refusal: str,
    audio: dict[str, Any] | None = None,
) -> dict[str, Any]:
    named: dict[str, Any] = {
        REASONING_KEY: reasoning,
        "tool_calls": calls,
        "server_tool_calls": server_calls,
        REFUSAL_KEY: refusal,
    }
    kwargs = {key: value for key, value in named.items() if value}
    if audio is not None:  # an audio model's spoken answer: base64 data, its transcript
        kwargs["audio"] = audio
    return kwargs


def _assistant(blocks: list[ContentBlock], additional_kwargs: dict[str, Any]) -> ChatMessage:
    # Built without validation: the blocks were made (and validated) one by one, and a message
    # per chunk would otherwise validate every block of the message so far again.
    return ChatMessage.model_construct(
        role=MessageRole.ASSISTANT, additional_kwargs=additional_kwargs, blocks=blocks
    )


def chat_response(completion: Completion) -> ChatResponse:
    """A whole completion as a ChatResponse; ``raw`` is the completion's JSON."""
    choice = completion.first
    usage = completion.usage
    blocks: list[ContentBlock] = []
    if choice.reasoning:
        tokens = usage.reasoning_tokens if usage is not None else None
        blocks.append(ThinkingBlock(content=choice.reasoning, num_tokens=tokens))
    blocks.append(TextBlock(text=choice.content))
    blocks.extend(_tool_call_block(call, parsed=True) for call in choice.tool_calls)
    calls = [call.to_dict() for call in choice.tool_calls]
    server_calls = [call.to_dict() for call in choice.server_tool_calls]
    message = _assistant(
        blocks, _message_kwargs(choice.reasoning, calls, server_calls, choice.refusal, choice.audio)
    )
    extra = usage_kwargs(usage)
    if choice.finish_reason:
        extra["finish_reason"] = choice.finish_reason
    return ChatResponse(message=message, raw=completion.to_dict(), additional_kwargs=extra)


class StreamedCalls:
    """The tool calls of a stream as ToolCallBlocks and wire dicts, kept between chunks.

    While the stream runs a call's arguments are the text so far, shown again each time it has
    grown by a quarter (linear work), and only the calls a chunk names are made again; the
    finishing response holds every call whole, its arguments parsed once.
    """

    __slots__ = (
        "_blocks",
        "_dicts",
        "_disordered",
        "_entries",
        "_received",
        "_server",
        "blocks",
        "dicts",
        "server_dicts",
    )

    def __init__(self) -> None:
        # index -> (the call as last seen, parsed or not); its block and wire dict by index too,
        # so the lists each response holds are copied at C speed.
        self._entries: dict[int, tuple[ToolCall, bool]] = {}
        self._blocks: dict[int, ToolCallBlock] = {}
        self._dicts: dict[int, dict[str, Any]] = {}
        self._server: dict[int, dict[str, Any]] = {}  # server-side calls' wire dicts
        self._received: dict[int, int] = {}  # index -> characters of arguments received
        self._disordered = False  # a call came after one with a higher index
        self.blocks: list[ToolCallBlock] = []
        self.dicts: list[dict[str, Any]] = []
        self.server_dicts: list[dict[str, Any]] = []  # the server-side calls (web_search)

    def due(self, deltas: list[ToolCallDelta]) -> list[int]:
        """The calls these deltas start, name, or grow by a quarter since last shown."""
        due = []
        for delta in deltas:
            received = self._received.get(delta.index, 0) + len(delta.arguments or "")
            self._received[delta.index] = received
            shown = self._entries.get(delta.index)
            if (
                shown is None
                or delta.name
                or delta.id
                or received >= 1.25 * len(shown[0].arguments)
            ):
                due.append(delta.index)
        return due

    def refresh(self, accumulator: StreamAccumulator, indexes: list[int]) -> None:
        """Show again the calls at these indexes, as received so far (the stream runs)."""
        for index in indexes:
            call = accumulator.tool_call(index)
            if isinstance(call, ServerToolCall):
                self._server[index] = call.to_dict()
            else:
                self._take(call, parsed=False)
        self._publish()

    def update(self, calls: list[ToolCall], server_calls: list[ServerToolCall]) -> None:
        """Take every call of the finished stream, its arguments parsed."""
        kept = {call.index for call in calls}
        for index in [i for i in self._entries if i not in kept]:  # now a server-side call
            del self._entries[index], self._blocks[index], self._dicts[index]
        for call in calls:
            self._take(call, parsed=True)
        self._server = {call.index: call.to_dict() for call in server_calls}
        self._publish()

    def _take(self, call: ToolCall, *, parsed: bool) -> None:
        entry = self._entries.get(call.index)
        if entry is None and self._entries and call.index < next(reversed(self._entries)):
            self._disordered = True  # a call after one with a higher index
        if entry is None or entry[1] != parsed or not _same_call(entry[0], call):
            self._entries[call.index] = (call, parsed)
            self._blocks[call.index] = _tool_call_block(call, parsed=parsed)
            self._dicts[call.index] = call.to_dict()

    def _publish(self) -> None:
        if self._disordered:  # back in index order
            self._entries = {i: self._entries[i] for i in sorted(self._entries)}
            self._blocks = {i: self._blocks[i] for i in self._entries}
            self._dicts = {i: self._dicts[i] for i in self._entries}
            self._disordered = False
        self.blocks = list(self._blocks.values())
        self.dicts = list(self._dicts.values())
        self.server_dicts = list(self._server.values())


def _same_call(seen: ToolCall, now: ToolCall) -> bool:
    # The accumulator hands out the same string object until a call's arguments grow, so an
    # identity test tells an unchanged call apart without comparing long texts.
    return seen.arguments is now.arguments and seen.id == now.id and seen.name == now.name


class StreamResponder:
    """Turns each chunk of one stream into a ChatResponse holding the whole message so far.

    Only what a chunk changed is rebuilt; tool calls come from the stream's accumulator.
    """

    __slots__ = (
        "_accumulator",
        "_audio",
        "_calls",
        "_last_is_whole",
        "_refusal",
        "_refusal_pieces",
        "_text",
        "_text_block",
        "_thinking",
        "_thinking_block",
    )

    def __init__(self, accumulator: StreamAccumulator) -> None:
        self._accumulator = accumulator
        self._text = ""
        self._thinking = ""
        self._refusal = self._refusal_pieces = ""
        self._text_block = TextBlock(text="")
        self._thinking_block: ThinkingBlock | None = None
        self._calls = StreamedCalls()
        # Whether the last response holds the whole completion: none yet, so a stream of only
        # [DONE] still ends in one response (LlamaIndex's completion wrappers need one).
        self._last_is_whole = False
        self._audio: dict[str, Any] | None = None  # an audio model's, once the stream is whole

    def response(self, chunk: Chunk) -> ChatResponse:
        """The response for the chunk the stream just yielded (already accumulated)."""
        choice = chunk.delta(0) or _NOTHING
        delta, thinking_delta = choice.content, choice.reasoning
        if choice.refusal:
            self._refusal_pieces += choice.refusal
            # A sentence or two: joined again per piece (a character's halves may be split).
            self._refusal = join_surrogates(self._refusal_pieces)
        if delta:
            self._text += delta
            self._text_block = TextBlock(text=self._text)
        if thinking_delta:
            self._thinking += thinking_delta
            self._thinking_block = ThinkingBlock(content=self._thinking)
        extra: dict[str, Any] = {"thinking_delta": thinking_delta} if thinking_delta else {}
        # The whole completion (and the running usage StepFun repeats on every chunk, so that
        # token counters see it once) for the chunk that finishes the stream and for those that
        # only add metadata after it; more text after a finish reason gets plain responses.
        accumulator = self._accumulator
        self._last_is_whole = bool(
            (choice.finish_reason or not (delta or thinking_delta)) and accumulator.finished
        )
        if self._last_is_whole:
            extra.update(usage_kwargs(accumulator.usage))
            raw: dict[str, Any] = self.finish(extra, choice.finish_reason)
        else:
            if choice.tool_calls and (due := self._calls.due(choice.tool_calls)):
                self._calls.refresh(accumulator, due)
            raw = {"id": chunk.id, "object": "chat.completion.chunk", "model": chunk.model}
        return ChatResponse(message=self._message(), raw=raw, delta=delta, additional_kwargs=extra)

    def closing(self) -> ChatResponse | None:
        """One more response, holding the whole completion, if the last one did not.

        Agents and token counters read the last response; a stream ending without a finish
        reason (``[DONE]`` alone, docs/wire.md#stream-tool-calls) would leave it partial.
        """
        if self._last_is_whole:
            return None
        self._last_is_whole = True
        extra = usage_kwargs(self._accumulator.usage)
        raw = self.finish(extra, None)
        return ChatResponse(message=self._message(), raw=raw, delta="", additional_kwargs=extra)

    def _message(self) -> ChatMessage:
        calls = self._calls
        blocks: list[ContentBlock] = []
        if self._thinking_block is not None:
            blocks.append(self._thinking_block)
        blocks.append(self._text_block)
        blocks.extend(calls.blocks)
        kwargs = _message_kwargs(
            self._thinking, calls.dicts, calls.server_dicts, self._refusal, self._audio
        )
        return _assistant(blocks, kwargs)

    def finish(self, extra: dict[str, Any], finish_reason: str | None) -> dict[str, Any]:
        """The whole completion's JSON, for a response that holds the whole stream."""
        completion = self._accumulator.result()
        choice = completion.first
        if reason := finish_reason or choice.finish_reason:
            extra["finish_reason"] = reason
        if self._thinking_block is not None and completion.usage is not None:
            self._thinking_block.num_tokens = completion.usage.reasoning_tokens
        self._calls.update(choice.tool_calls, choice.server_tool_calls)
        self._audio = choice.audio
        return completion.to_dict()
