"""Lenient parsing of API JSON into the types: extra fields, ``""`` for null and missing keys."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from stepfun_core.jsonio import MAX_DEPTH, deeper_than, load_json
from stepfun_core.surrogates import join_surrogates
from stepfun_core.types import (
    Choice,
    ChoiceDelta,
    Chunk,
    Completion,
    ServerToolCall,
    ToolCall,
    ToolCallDelta,
    Usage,
    _count,
)

FUNCTION = "function"
# More tool calls in one message than any model makes; a reply (or a stream opening a new one
# per event) holding more is read no further, so memory stays near the reply's bytes.
MAX_TOOL_CALLS = 1024
_EMPTY: Mapping[str, Any] = {}


def fallback_tool_call_id(response_id: str, index: int) -> str:
    """An id for a call sent without one (step-1-era streams: docs/wire.md#stream-tool-calls)."""
    # From a prefix: ids are short, and a server's megabyte id must not cost that much per call.
    stem = (response_id or "stepfun")[:128].partition(".")[0].replace("-", "")[:24]
    return f"call_{stem}_{index}"


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _mapping(value: Any) -> Mapping[str, Any]:
    """The value if it is an object; anything else (a string, a number, null) reads as empty."""
    return value if isinstance(value, Mapping) else _EMPTY


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


# What tool-call arguments read as when the server sent a JSON value too deep to write back
# as text: not JSON, so the call is reported as invalid, never run with empty arguments.
UNREADABLE_ARGUMENTS = "<arguments nested too deeply to read>"


def arguments_text(value: Any) -> str:
    """Tool-call arguments as JSON text: a string as sent, any other JSON value written out."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if deeper_than(value, MAX_DEPTH):
        return UNREADABLE_ARGUMENTS
    try:
        return json.dumps(value, ensure_ascii=False)
    except (RecursionError, ValueError, TypeError):
        return UNREADABLE_ARGUMENTS


def arguments_object(text: str) -> dict[str, Any]:
    """Tool-call arguments as a dict (blank text is ``{}``); ValueError if not a JSON object."""
    if not text.strip():
        return {}
    value = load_json(text)
    if not isinstance(value, dict):
        raise ValueError("the arguments are not a JSON object")
    return value


def parse_usage(data: Any) -> Usage | None:
    """Parse usage; cached tokens may sit at the top level (2024) or in the details (docs)."""
    return Usage.from_wire(data)


def _split_tool_calls(
    raw_calls: Any, response_id: str
) -> tuple[list[ToolCall], list[ServerToolCall]]:
    calls: list[ToolCall] = []
    server_calls: list[ServerToolCall] = []
    for position, raw in enumerate(_list(raw_calls)[:MAX_TOOL_CALLS]):
        if not isinstance(raw, Mapping):
            continue
        function = _mapping(raw.get("function"))
        index = _count(raw.get("index"))
        index = position if index is None else index
        kind = _text(raw.get("type")) or FUNCTION
        call_id = _text(raw.get("id"))
        name = _text(function.get("name"))
        arguments = arguments_text(function.get("arguments"))
        if kind != FUNCTION or "results" in function:
            results = function.get("results")
            results = list(results) if isinstance(results, list) else []
            server_calls.append(ServerToolCall(call_id, kind, name, arguments, results, index))
        else:
            call_id = call_id or fallback_tool_call_id(response_id, index)
            calls.append(ToolCall(call_id, name, arguments, index))
    return calls, server_calls


def parse_completion(data: Mapping[str, Any], *, surrogates: bool = True) -> Completion:
    r"""Parse a non-streaming chat completion.

    ``surrogates``: join or replace UTF-16 halves (JSON ``\uD8xx`` escapes) in its strings; the
    client passes False when the body holds no such escape, saving a scan of the text.
    """
    choices: list[Choice] = []
    for position, raw in enumerate(_list(data.get("choices"))):
        if not isinstance(raw, Mapping):
            continue
        message = _mapping(raw.get("message"))
        # ``reasoning_content`` or ``reasoning``: they carry the same text.
        reasoning = _text(message.get("reasoning_content")) or _text(message.get("reasoning"))
        calls, server_calls = _split_tool_calls(message.get("tool_calls"), _text(data.get("id")))
        index = _count(raw.get("index"))
        audio = message.get("audio")
        choices.append(
            Choice(
                index=position if index is None else index,
                content=_text(message.get("content")),
                reasoning=reasoning,
                tool_calls=calls,
                server_tool_calls=server_calls,
                # "" (legacy), null and absent all mean "not finished yet".
                finish_reason=_text(raw.get("finish_reason")) or None,
                refusal=_text(message.get("refusal")),
                audio=dict(audio) if isinstance(audio, Mapping) else None,
            )
        )
    completion = Completion(
        id=_text(data.get("id")),
        model=_text(data.get("model")),
        created=_count(data.get("created")) or 0,
        choices=choices,
        usage=parse_usage(data.get("usage")),
    )
    if surrogates:
        completion.id = join_surrogates(completion.id)
        completion.model = join_surrogates(completion.model)
        for choice in completion.choices:
            choice.content = join_surrogates(choice.content)
            choice.reasoning = join_surrogates(choice.reasoning)
            choice.refusal = join_surrogates(choice.refusal)
            if choice.finish_reason:
                choice.finish_reason = join_surrogates(choice.finish_reason)
            for call in choice.tool_calls + choice.server_tool_calls:
                call.id = join_surrogates(call.id)
                call.name = join_surrogates(call.name)
                call.arguments = join_surrogates(call.arguments)
    return completion


def _parse_tool_call_deltas(raw_calls: Any) -> list[ToolCallDelta]:
    deltas: list[ToolCallDelta] = []
    for position, raw in enumerate(_list(raw_calls)):
        if not isinstance(raw, Mapping):
            continue
        function = _mapping(raw.get("function"))
        index = _count(raw.get("index"))
        results = function.get("results")
        deltas.append(
            ToolCallDelta(
                index=position if index is None else index,
                # "" placeholders mean "not sent" (docs/wire.md#stream-tool-calls).
                id=_text(raw.get("id")) or None,
                type=_text(raw.get("type")) or None,
                name=_text(function.get("name")) or None,
                arguments=arguments_text(function.get("arguments")) or None,
                results=list(results) if isinstance(results, list) else None,
                # Step-1-era deltas carry no index (docs/wire.md#stream-tool-calls).
                positional=index is None,
            )
        )
    return deltas


def parse_chunk(data: Mapping[str, Any]) -> Chunk:
    """Parse one stream chunk of either shape (docs/wire.md#stream-shapes).

    This runs once per streamed token, so it avoids helper calls on the common path.
    """
    choices: list[ChoiceDelta] = []
    raw_choices = data.get("choices")
    for position, raw in enumerate(raw_choices if type(raw_choices) is list else ()):
        if type(raw) is not dict:
            continue
        delta = raw.get("delta")
        if type(delta) is not dict:
            delta = _EMPTY
        index = raw.get("index")
        content = delta.get("content")
        reasoning = delta.get("reasoning_content") or delta.get("reasoning")
        tool_calls = delta.get("tool_calls")
        finish = raw.get("finish_reason")
        refusal = delta.get("refusal")
        audio = delta.get("audio")
        choices.append(
            ChoiceDelta(
                index if type(index) is int else position,
                content if type(content) is str else "",
                reasoning if type(reasoning) is str else "",
                _parse_tool_call_deltas(tool_calls) if tool_calls else [],
                # "" (legacy) and an absent key (current) both mean "not finished".
                finish if finish and type(finish) is str else None,
                # OpenAI's field for a stated refusal; null on every other chunk.
                refusal if type(refusal) is str else "",
                audio if type(audio) is dict else None,
            )
        )
    ident = data.get("id")
    model = data.get("model")
    created = data.get("created")
    usage = data.get("usage")
    return Chunk(
        ident if type(ident) is str else "",
        model if type(model) is str else "",
        created if type(created) is int else 0,
        choices,
        usage if type(usage) is dict else None,
    )
