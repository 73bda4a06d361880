"""Core completions and stream chunks to LlamaIndex ChatResponses.

A message holds, in order: a ThinkingBlock (the reasoning), a TextBlock, then one ToolCallBlock
per client tool call. ``additional_kwargs`` mirrors the reasoning (``reasoning_content``), the
tool calls as plain dicts (``tool_calls``) and the server-side calls such as ``web_search``
(``server_tool_calls``), which are never client tool calls.
"""

from __future__ import annotations

from typing import Any, TypeVar

from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ContentBlock,
    MessageRole,
    TextBlock,
    ThinkingBlock,
    ToolCallBlock,
)
from pydantic import BaseModel

from stepfun_core import (
    Chunk,
    Completion,
    ServerToolCall,
    StreamAccumulator,
    ToolCall,
    Usage,
    load_json,
)

M = TypeVar("M", bound=BaseModel)


def usage_kwargs(usage: Usage | None) -> dict[str, Any]:
    """Token counts for ``ChatResponse.additional_kwargs`` (cached and reasoning when reported)."""
    if usage is None:
        return {}
    counts: dict[str, Any] = {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    }
    if usage.cached_tokens is not None:
        counts["cached_tokens"] = usage.cached_tokens
    if usage.reasoning_tokens is not None:
        counts["reasoning_tokens"] = usage.reasoning_tokens
    return counts


def tool_kwargs_of(arguments: str) -> dict[str, Any] | str:
    """Parsed arguments when they are a whole JSON object, else the text as received."""
    try:
        value = load_json(arguments) if arguments else {}
    except ValueError:
        return arguments
    return value if isinstance(value, dict) else arguments


def tool_call_block(call: ToolCall) -> ToolCallBlock:
    """A client tool call as a ToolCallBlock."""
    return ToolCallBlock(
        tool_call_id=call.id, tool_name=call.name, tool_kwargs=tool_kwargs_of(call.arguments)
    )


def _message_kwargs(
    reasoning: str, calls: list[dict[str, Any]], server_calls: list[dict[str, Any]]
) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    if reasoning:
        kwargs["reasoning_content"] = reasoning
    if calls:
        kwargs["tool_calls"] = calls
    if server_calls:
        kwargs["server_tool_calls"] = server_calls
    return kwargs


def _server_dicts(calls: list[ServerToolCall]) -> list[dict[str, Any]]:
    return [c.to_dict() for c in calls]


def chat_response(completion: Completion) -> ChatResponse:
    """A whole completion as a ChatResponse; ``raw`` is the completion's JSON."""
    choice = completion.first
    usage = completion.usage
    blocks: list[ContentBlock] = []
    if choice.reasoning:
        tokens = usage.reasoning_tokens if usage is not None else None
        blocks.append(ThinkingBlock(content=choice.reasoning, num_tokens=tokens))
    blocks.append(TextBlock(text=choice.content))
    blocks.extend(tool_call_block(c) for c in choice.tool_calls)
    message = ChatMessage(
        role=MessageRole.ASSISTANT,
        blocks=blocks,
        additional_kwargs=_message_kwargs(
            choice.reasoning,
            [c.to_dict() for c in choice.tool_calls],
            _server_dicts(choice.server_tool_calls),
        ),
    )
    extra = usage_kwargs(usage)
    if choice.finish_reason:
        extra["finish_reason"] = choice.finish_reason
    return ChatResponse(message=message, raw=completion.to_dict(), additional_kwargs=extra)


def trusted(cls: type[M], values: dict[str, Any]) -> M:
    """A model from values already of the right types, every field given, without validation.

    What pydantic's ``model_construct`` does, minus its per-call default handling: the stream
    builds a message per chunk, and validating what we built ourselves would cost ~7 us each.
    """
    obj = cls.__new__(cls)
    object.__setattr__(obj, "__dict__", values)
    object.__setattr__(obj, "__pydantic_fields_set__", set(values))
    object.__setattr__(obj, "__pydantic_extra__", None)
    object.__setattr__(obj, "__pydantic_private__", None)
    return obj


def _text_block(text: str) -> TextBlock:
    return trusted(TextBlock, {"block_type": "text", "text": text})


def _thinking_block(content: str) -> ThinkingBlock:
    values: dict[str, Any] = {
        "block_type": "thinking",
        "content": content,
        "num_tokens": None,
        "additional_information": {},
    }
    return trusted(ThinkingBlock, values)


class StreamResponder:
    """Turns each chunk of one stream into a ChatResponse holding the whole message so far.

    Only what a chunk changed is rebuilt: the text and thinking blocks when a piece of them
    arrived, the tool-call blocks when a tool-call delta arrived (from the stream's
    accumulator, which has folded in every chunk up to the one being answered, so ids and
    arguments are exactly what the final completion reports).
    """

    __slots__ = (
        "_accumulator",
        "_calls",
        "_server_calls",
        "_text",
        "_text_block",
        "_thinking",
        "_thinking_block",
        "_tool_blocks",
    )

    def __init__(self, accumulator: StreamAccumulator) -> None:
        self._accumulator = accumulator
        self._text = ""
        self._thinking = ""
        self._text_block = _text_block("")
        self._thinking_block: ThinkingBlock | None = None
        self._tool_blocks: list[ToolCallBlock] = []
        self._calls: list[dict[str, Any]] = []
        self._server_calls: list[dict[str, Any]] = []

    def _add_tool_deltas(self) -> None:
        calls, server_calls = self._accumulator.tool_calls(0)
        self._tool_blocks = [tool_call_block(c) for c in calls]
        self._calls = [c.to_dict() for c in calls]
        self._server_calls = _server_dicts(server_calls)

    def response(self, chunk: Chunk) -> ChatResponse:
        """The response for the chunk the stream just yielded (already accumulated)."""
        delta = thinking_delta = ""
        finish_reason = None
        choice = chunk.delta(0)
        if choice is not None:
            delta, thinking_delta = choice.content, choice.reasoning
            finish_reason = choice.finish_reason
            if choice.tool_calls:
                self._add_tool_deltas()
        if delta:
            self._text += delta
            self._text_block = _text_block(self._text)
        if thinking_delta:
            self._thinking += thinking_delta
            self._thinking_block = _thinking_block(self._thinking)
        return self._build(chunk, delta, thinking_delta, finish_reason)

    def _build(
        self, chunk: Chunk, delta: str, thinking_delta: str, finish_reason: str | None
    ) -> ChatResponse:
        accumulator = self._accumulator
        blocks: list[ContentBlock] = []
        if self._thinking_block is not None:
            blocks.append(self._thinking_block)
        blocks.append(self._text_block)
        if self._tool_blocks:
            blocks.extend(self._tool_blocks)
        message = trusted(
            ChatMessage,
            {
                "role": MessageRole.ASSISTANT,
                "additional_kwargs": _message_kwargs(
                    self._thinking, self._calls, self._server_calls
                ),
                "blocks": blocks,
            },
        )
        # StepFun repeats the running usage on every chunk: only the final response reports it,
        # so token counters see the API's total once.
        extra: dict[str, Any] = {}
        if thinking_delta:
            extra["thinking_delta"] = thinking_delta
        # The whole completion is built for the chunk that finishes the stream and for chunks
        # that only add metadata (usage) after it; a server that sends more text after its
        # finish reason gets plain chunk responses, not a rebuild of everything per chunk.
        if accumulator.finished and (finish_reason or not (delta or thinking_delta)):
            extra.update(usage_kwargs(accumulator.usage))
            raw: dict[str, Any] = self.finish(extra, finish_reason)
        else:
            raw = {"id": chunk.id, "object": "chat.completion.chunk", "model": chunk.model}
        values = {
            "message": message,
            "raw": raw,
            "delta": delta,
            "logprobs": None,
            "additional_kwargs": extra,
        }
        return trusted(ChatResponse, values)

    def finish(self, extra: dict[str, Any], finish_reason: str | None) -> dict[str, Any]:
        """The whole completion's JSON, for the responses after the finish reason arrived."""
        completion = self._accumulator.result()
        reason = finish_reason or completion.first.finish_reason
        if reason:
            extra["finish_reason"] = reason
        if self._thinking_block is not None and completion.usage is not None:
            self._thinking_block.num_tokens = completion.usage.reasoning_tokens
        return completion.to_dict()
