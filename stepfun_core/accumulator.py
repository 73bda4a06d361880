"""Fold stream chunks into the whole completion received so far."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from stepfun_core.parse import fallback_tool_call_id
from stepfun_core.types import (
    Choice,
    ChoiceDelta,
    Chunk,
    Completion,
    ServerToolCall,
    ToolCall,
    ToolCallDelta,
    Usage,
)


@dataclass(slots=True)
class ToolCallBuilder:
    """A tool call being assembled from deltas that share one index."""

    index: int
    id: str = ""
    type: str = ""
    name: str = ""
    arguments: str = ""
    results: list[Any] | None = None

    def add(self, delta: ToolCallDelta) -> None:
        """Merge one delta: ids and types are set once, names set once, arguments appended."""
        if delta.id and not self.id:
            self.id = delta.id
        if delta.type and not self.type:
            self.type = delta.type
        # Step-1-era streams send the name whole, in its own chunk (stepfun-wire §1.6); some
        # servers repeat it on every delta, so an identical repeat is not a fragment.
        if delta.name and delta.name != self.name:
            self.name = delta.name if not self.name else self.name + delta.name
        if delta.arguments:
            self.arguments += delta.arguments
        if delta.results is not None:
            self.results = delta.results

    @property
    def is_server_side(self) -> bool:
        """True for calls the server ran itself, such as ``web_search``."""
        return (bool(self.type) and self.type != "function") or self.results is not None


@dataclass(slots=True)
class ChoiceBuilder:
    """One choice being assembled."""

    index: int
    content: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    tool_calls: dict[int, ToolCallBuilder] = field(default_factory=dict)
    finish_reason: str | None = None

    def add(self, delta: ChoiceDelta) -> None:
        """Merge what one chunk adds to this choice."""
        if delta.content:
            self.content.append(delta.content)
        if delta.reasoning:
            self.reasoning.append(delta.reasoning)
        for call in delta.tool_calls:
            builder = self.tool_calls.get(call.index)
            if builder is None:
                builder = self.tool_calls[call.index] = ToolCallBuilder(call.index)
            builder.add(call)
        if delta.finish_reason:
            self.finish_reason = delta.finish_reason

    def build(self, response_id: str = "") -> Choice:
        """Return the choice as received so far."""
        calls: list[ToolCall] = []
        server_calls: list[ServerToolCall] = []
        for index in sorted(self.tool_calls):
            b = self.tool_calls[index]
            if b.is_server_side:
                server_calls.append(
                    ServerToolCall(b.id, b.type, b.name, b.arguments, b.results or [], index)
                )
            else:
                call_id = b.id or fallback_tool_call_id(response_id, index)
                calls.append(ToolCall(call_id, b.name, b.arguments, index))
        return Choice(
            index=self.index,
            content="".join(self.content),
            reasoning="".join(self.reasoning),
            tool_calls=calls,
            server_tool_calls=server_calls,
            finish_reason=self.finish_reason,
        )


class StreamAccumulator:
    """Keeps the message so far: text, reasoning, tool calls by index, finish reason, usage.

    Usage is cumulative on every StepFun chunk (stepfun-wire §1.7): the last one wins.
    """

    __slots__ = ("_choices", "created", "id", "model", "usage")

    def __init__(self) -> None:
        self._choices: dict[int, ChoiceBuilder] = {}
        self.id = ""
        self.model = ""
        self.created = 0
        self.usage: Usage | None = None

    def add(self, chunk: Chunk) -> None:
        """Merge one chunk."""
        if chunk.id and not self.id:
            self.id = chunk.id
        if chunk.model:
            self.model = chunk.model
        # The legacy first chunk says created:0 (stepfun-wire §1.4).
        if chunk.created:
            self.created = chunk.created
        if chunk.usage is not None:
            self.usage = chunk.usage
        for delta in chunk.choices:
            builder = self._choices.get(delta.index)
            if builder is None:
                builder = self._choices[delta.index] = ChoiceBuilder(delta.index)
            builder.add(delta)

    @property
    def finished(self) -> bool:
        """True once every choice seen so far has a finish reason."""
        return bool(self._choices) and all(c.finish_reason for c in self._choices.values())

    def choice(self, index: int = 0) -> Choice:
        """Return one choice as received so far."""
        builder = self._choices.get(index)
        return builder.build(self.id) if builder else Choice(index=index)

    def result(self) -> Completion:
        """Return the completion as received so far."""
        return Completion(
            id=self.id,
            model=self.model,
            created=self.created,
            choices=[self._choices[i].build(self.id) for i in sorted(self._choices)],
            usage=self.usage,
        )
