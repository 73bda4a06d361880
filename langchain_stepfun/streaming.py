"""Stream chunks to LangChain message chunks, keeping the per-chunk path lean.

StepFun's cumulative usage, the model name and the finish reason go on the last chunk only
(LangChain adds up usage and concatenates strings as chunks merge). A tool call's id is sent
once: the first real one, as it arrives after any ``""`` placeholders, else a fallback id as
the stream ends; a name repeated whole is not appended again. A call of placeholders only is
sent as the stream ends, unless its index turned out to be a server call's. Server-side
``web_search`` calls arrive whole on the last chunk (docs/wire.md#stream-shapes).
"""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AIMessageChunk, ToolCallChunk
from langchain_core.outputs import ChatGenerationChunk

from langchain_stepfun.outputs import (
    PROVIDER,
    REASONING_KEY,
    REFUSAL_KEY,
    SERVER_TOOL_CALLS_KEY,
    UNPARSED_KEY,
    usage_metadata,
)
from stepfun_core import Chunk, StreamAccumulator, ToolCall, ToolCallDelta
from stepfun_core.parse import arguments_object
from stepfun_core.types import AUDIO_PIECES


class ChunkConverter:
    """Turns the chunks of one stream into ``ChatGenerationChunk`` objects."""

    __slots__ = ("_ids", "_kept", "_names", "_one_call", "_placeholders", "_server", "stream_usage")

    def __init__(self, *, stream_usage: bool = True, one_call: bool = False) -> None:
        self.stream_usage = stream_usage
        # parallel_tool_calls=False: the first call is kept, whether or not the server obeyed.
        self._one_call = one_call
        self._kept: int | None = None
        # Tool-call index -> the name sent so far; the indices whose id was sent.
        self._names: dict[int, str] = {}
        self._ids: set[int] = set()
        self._server: set[int] = set()
        self._placeholders: set[int] = set()  # indices that only sent empty deltas so far

    def convert(self, chunk: Chunk) -> ChatGenerationChunk | None:
        """The generation chunk for one wire chunk, or None when it adds nothing."""
        if not chunk.choices:
            return None
        delta = chunk.choices[0]
        if len(chunk.choices) > 1 or delta.index != 0:  # odd chunks only: the usual one is fast
            if (merged := chunk.delta(0)) is None:
                return None
            delta = merged
        calls = self._tool_call_chunks(delta.tool_calls) if delta.tool_calls else None
        if not (delta.content or delta.reasoning or calls or delta.refusal or delta.audio):
            return None
        # No message id: LangChain gives every chunk of the run the same run-based id (the
        # API's id may repeat across calls; it is in the last chunk's response_metadata).
        fields: dict[str, Any] = {
            "content": delta.content,
            "response_metadata": {"model_provider": PROVIDER},
        }
        if delta.reasoning:
            fields["additional_kwargs"] = {REASONING_KEY: delta.reasoning}
        if delta.refusal:  # its pieces add up when LangChain merges the chunks
            fields.setdefault("additional_kwargs", {})[REFUSAL_KEY] = delta.refusal
        # Only the audio pieces that add up: LangChain's merge would add up an id or a format too
        # (or refuse two of another type); the answer's other keys go on the last chunk, once.
        if delta.audio and (
            pieces := {k: v for k in AUDIO_PIECES if isinstance(v := delta.audio.get(k), str)}
        ):
            fields.setdefault("additional_kwargs", {})["audio"] = pieces
        if calls:
            fields["tool_call_chunks"] = calls
        return ChatGenerationChunk(message=AIMessageChunk(**fields))

    def _tool_call_chunks(self, deltas: list[ToolCallDelta]) -> list[ToolCallChunk]:
        # LangChain merges tool-call chunks by index across message chunks, never within one:
        # several deltas of one call in one chunk become one ToolCallChunk. It concatenates ids
        # as it merges, so each call's id goes out once, when the first real one arrives.
        out: dict[int, ToolCallChunk] = {}
        for delta in deltas:
            index = delta.index
            if not self._sent(delta):
                continue
            known = self._names.get(index, "")
            name = delta.name if delta.name and delta.name != known else None
            self._names[index] = known + name if name else known
            call_id = None
            if delta.id and index not in self._ids:
                call_id = delta.id
                self._ids.add(index)
            previous = out.get(index)
            if previous is None:
                out[index] = ToolCallChunk(
                    name=name, args=delta.arguments, id=call_id, index=index, type="tool_call_chunk"
                )
                continue
            if name:
                previous["name"] = (previous["name"] or "") + name
            if delta.arguments:
                previous["args"] = (previous["args"] or "") + delta.arguments
            previous["id"] = previous["id"] or call_id
        return list(out.values())

    def _sent(self, delta: ToolCallDelta) -> bool:
        """False for a server call's delta, a placeholder, or a call past the one kept."""
        index = delta.index
        if index in self._server:
            return False
        if (delta.type and delta.type != "function") or delta.results is not None:
            self._server.add(index)
            return False
        if not (delta.id or delta.name or delta.arguments):
            self._placeholders.add(index)  # step-1 era: it may yet be a server call's index
            return False
        if self._one_call:
            self._kept = index if self._kept is None else self._kept
            return index == self._kept
        return True

    def closing(self, accumulator: StreamAccumulator) -> list[ChatGenerationChunk]:
        """Calls' missing ids, placeholder-only calls and blank arguments' "{}"; then `last`."""
        without_id = self._names.keys() - self._ids - self._server
        unsent = self._placeholders - self._names.keys() - self._server
        calls = accumulator.tool_calls(0)[0] if self._names or unsent else []
        # Blank arguments are none, as invoke reads them; LangChain's merge would make " " an
        # invalid call, so "{}" is added to them.
        blank = {c.index for c in calls if c.arguments and not c.arguments.strip()}
        blank &= self._names.keys() | unsent
        missing = [
            ToolCallChunk(
                name=call.name if call.index in unsent else None,
                args="{}"
                if call.index in blank
                else call.arguments
                if call.index in unsent
                else None,
                id=call.id,
                index=call.index,
                type="tool_call_chunk",
            )
            for call in calls
            if call.index in without_id or call.index in unsent or call.index in blank
        ]
        if self._one_call:
            missing = [c for c in missing if self._kept in (None, c["index"])][:1]
        if not missing:
            return [self.last(accumulator)]
        # The core's fallback ids (invoke's), on a chunk of their own: LangChain reads the
        # tool-call pieces of a last chunk as whole calls.
        metadata = {"model_provider": PROVIDER}
        ids = AIMessageChunk(content="", tool_call_chunks=missing, response_metadata=metadata)
        return [ChatGenerationChunk(message=ids), self.last(accumulator)]

    def _unparsed(self, call: ToolCall) -> bool:
        if self._one_call and call.index != self._kept:
            return False  # never sent
        try:
            arguments_object(call.arguments)
        except ValueError:
            return True
        return False

    def last(self, accumulator: StreamAccumulator) -> ChatGenerationChunk:
        """The final chunk: finish reason, model name, usage (once) and server calls."""
        choice = accumulator.choice(0)
        fields: dict[str, Any] = {
            "content": "",
            "response_metadata": {
                "model_provider": PROVIDER,
                "model_name": accumulator.model,
                "finish_reason": choice.finish_reason,
                "id": accumulator.id,
            },
            "chunk_position": "last",
        }
        if self.stream_usage and accumulator.usage is not None:
            fields["usage_metadata"] = usage_metadata(accumulator.usage)
        # LangChain reads streamed arguments leniently (cut ones as if whole): say which are not
        # a JSON object, as invoke has them in invalid_tool_calls.
        if unparsed := [c.id for c in choice.tool_calls if self._unparsed(c)]:
            fields["response_metadata"][UNPARSED_KEY] = unparsed
        if choice.server_tool_calls:
            calls = [call.to_dict() for call in choice.server_tool_calls]
            fields["additional_kwargs"] = {SERVER_TOOL_CALLS_KEY: calls}
        if choice.audio and (
            whole := {k: v for k, v in choice.audio.items() if k not in AUDIO_PIECES}
        ):
            fields.setdefault("additional_kwargs", {})["audio"] = whole
        return ChatGenerationChunk(
            message=AIMessageChunk(**fields),
            generation_info={"finish_reason": choice.finish_reason},
        )
