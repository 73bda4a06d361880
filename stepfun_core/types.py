"""Parsed responses: completions, stream chunks, tool calls and usage, in the API's own terms."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from stepfun_core.history import assistant_message, wire_tool_call


def _count(value: Any) -> int | None:
    return value if type(value) is int else None


@dataclass(slots=True)
class Usage:
    """Token counts; ``cached_tokens`` and ``reasoning_tokens`` are None when not reported."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cached_tokens: int | None = None
    reasoning_tokens: int | None = None

    @classmethod
    def from_wire(cls, data: Any) -> Usage | None:
        """Parse usage; cached tokens sit at the top (2024 captures) or in the details (docs)."""
        if not isinstance(data, Mapping):
            return None
        prompt_details = data.get("prompt_tokens_details")
        completion_details = data.get("completion_tokens_details")
        cached = _count(data.get("cached_tokens"))
        if cached is None and isinstance(prompt_details, Mapping):
            cached = _count(prompt_details.get("cached_tokens"))
        reasoning = None
        if isinstance(completion_details, Mapping):
            reasoning = _count(completion_details.get("reasoning_tokens"))
        prompt = _count(data.get("prompt_tokens")) or 0
        completion = _count(data.get("completion_tokens")) or 0
        total = _count(data.get("total_tokens"))
        return cls(
            prompt, completion, prompt + completion if total is None else total, cached, reasoning
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the usage in the API's current shape."""
        data: dict[str, Any] = {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
        }
        if self.cached_tokens is not None:
            data["cached_tokens"] = self.cached_tokens
            data["prompt_tokens_details"] = {"cached_tokens": self.cached_tokens}
        if self.reasoning_tokens is not None:
            data["completion_tokens_details"] = {"reasoning_tokens": self.reasoning_tokens}
        return data


@dataclass(slots=True)
class ToolCall:
    """A function call the client must run."""

    id: str
    name: str
    arguments: str
    index: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Return the call in the wire shape of an assistant message."""
        return wire_tool_call(self.id, self.name, self.arguments)


@dataclass(slots=True)
class ServerToolCall:
    """A call the server already ran, such as ``web_search`` (docs/wire.md#web-search)."""

    id: str
    type: str
    name: str
    arguments: str
    results: list[Any] = field(default_factory=list)
    index: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Return the call as the API sent it."""
        return {
            "id": self.id,
            "type": self.type,
            "function": {"name": self.name, "arguments": self.arguments, "results": self.results},
        }


# Finish reasons that mean the content was withheld: ``content_filter`` is in StepFun's
# exception guide (docs/wire.md#error-types); ``content_filtered`` is its image endpoints' spelling.
WITHHELD_FINISH_REASONS = frozenset({"content_filter", "content_filtered"})


# Structured output from a reply cut at max_tokens: what was parsed would look whole but is not.
CUT_OFF_PROBLEM = "the reply was cut at max_tokens (finish_reason='length'); raise max_tokens"


def refusal_problem(refusal: Any, finish_reason: Any) -> str | None:
    """Why a reply holds nothing to parse (a stated refusal, content withheld), or None."""
    if refusal:
        return f"the model refused: {refusal}"
    if finish_reason in WITHHELD_FINISH_REASONS:
        return f"StepFun withheld the content (finish_reason={finish_reason!r}); nothing to parse"
    return None


@dataclass(slots=True)
class Choice:
    """One generated message."""

    index: int = 0
    content: str = ""
    reasoning: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    server_tool_calls: list[ServerToolCall] = field(default_factory=list)
    finish_reason: str | None = None
    # Why the model declined, when the API says so in ``message.refusal`` (the OpenAI field).
    refusal: str = ""
    # An audio model's spoken answer (``message.audio``: base64 ``data``, its ``transcript``).
    audio: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the choice in the non-streaming wire shape."""
        calls = [call.to_dict() for call in self.tool_calls]
        calls += [call.to_dict() for call in self.server_tool_calls]
        message = assistant_message(self.content, calls, self.reasoning, "always")
        if self.refusal:
            message["refusal"] = self.refusal
        if self.audio is not None:
            message["audio"] = self.audio
        return {"index": self.index, "message": message, "finish_reason": self.finish_reason}


@dataclass(slots=True)
class Completion:
    """A whole chat completion, from a plain reply or folded from a stream."""

    id: str = ""
    model: str = ""
    created: int = 0
    choices: list[Choice] = field(default_factory=list)
    usage: Usage | None = None
    # The JSON as received, for a plain reply; None when folded from a stream.
    raw: dict[str, Any] | None = field(default=None, repr=False, compare=False)

    @property
    def first(self) -> Choice:
        """The first choice (an empty one if the API sent none)."""
        return self.choices[0] if self.choices else Choice()

    def to_dict(self) -> dict[str, Any]:
        """Return the completion as the API's non-streaming JSON."""
        if self.raw is not None:
            return self.raw
        data: dict[str, Any] = {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [c.to_dict() for c in self.choices],
        }
        if self.usage is not None:
            data["usage"] = self.usage.to_dict()
        return data

    def describe(self) -> str:
        """Summarize what was received, for error messages."""
        choice = self.first
        text = choice.content
        shown = text if len(text) <= 200 else text[:200] + "..."
        parts = [f"{len(text)} characters of text {shown!r}"]
        if choice.reasoning:
            parts.append(f"{len(choice.reasoning)} characters of reasoning")
        if choice.refusal:
            parts.append(f"{len(choice.refusal)} characters of refusal")
        if choice.tool_calls:
            parts.append(f"{len(choice.tool_calls)} tool call(s)")
        return ", ".join(parts)


@dataclass(slots=True)
class ToolCallDelta:
    """A fragment of a streamed tool call.

    ``positional``: the API sent no ``index`` (step-1-era streams); the position stands in
    until a stream's accumulator assigns the index, telling calls apart by their names.
    """

    index: int
    id: str | None = None
    type: str | None = None
    name: str | None = None
    arguments: str | None = None
    results: list[Any] | None = None
    positional: bool = False


@dataclass(slots=True)
class ChoiceDelta:
    """What one stream chunk adds to one choice."""

    index: int = 0
    content: str = ""
    reasoning: str = ""
    tool_calls: list[ToolCallDelta] = field(default_factory=list)
    finish_reason: str | None = None
    # A piece of the model's stated refusal (``delta.refusal``, the OpenAI field).
    refusal: str = ""
    # A piece of an audio model's spoken answer (``delta.audio``), as sent.
    audio: dict[str, Any] | None = None


# The parts of a spoken answer that a stream sends in pieces; its other keys (an id, a format)
# are sent whole, on every piece or once.
AUDIO_PIECES = ("data", "transcript")


def joined_audio(pieces: list[dict[str, Any]]) -> dict[str, Any]:
    """A spoken answer from its stream pieces: base64 ``data`` and ``transcript`` add up."""
    joined: dict[str, Any] = {}
    texts: dict[str, list[str]] = {key: [] for key in AUDIO_PIECES}
    for piece in pieces:
        for key, value in piece.items():
            if key not in texts:
                joined[key] = value  # an id, a format: the latest
            elif isinstance(value, str):  # anything else adds nothing to the text
                texts[key].append(value)
    joined.update((key, "".join(parts)) for key, parts in texts.items() if parts)
    return joined


@dataclass(slots=True)
class Chunk:
    """One parsed stream event; ``usage`` is parsed only when read (it is on every chunk)."""

    id: str = ""
    model: str = ""
    created: int = 0
    choices: list[ChoiceDelta] = field(default_factory=list)
    raw_usage: dict[str, Any] | None = None

    @property
    def usage(self) -> Usage | None:
        """The cumulative usage so far, if this chunk carries it."""
        return Usage.from_wire(self.raw_usage)

    def delta(self, index: int = 0) -> ChoiceDelta | None:
        """What this chunk adds to one choice (an odd chunk listing it twice: both, folded)."""
        choices = self.choices
        if len(choices) == 1:  # the usual chunk, once per token: no list to build
            return choices[0] if choices[0].index == index else None
        mine = [d for d in choices if d.index == index]
        if len(mine) <= 1:
            return mine[0] if mine else None
        return ChoiceDelta(
            index,
            "".join(d.content for d in mine),
            "".join(d.reasoning for d in mine),
            [call for d in mine for call in d.tool_calls],
            next((d.finish_reason for d in reversed(mine) if d.finish_reason), None),
            "".join(d.refusal for d in mine),
            joined_audio([d.audio for d in mine if d.audio]) or None,
        )
