"""Lenient parsing of API JSON into the types: extra fields, ``""`` for null and missing keys."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

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

FUNCTION = "function"


def fallback_tool_call_id(response_id: str, index: int) -> str:
    """An id for a call sent without one (step-1-era streams send "", stepfun-wire §1.6)."""
    stem = (response_id or "stepfun").split(".")[0].replace("-", "")[:24]
    return f"call_{stem}_{index}"


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _optional_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def finish_reason_of(value: Any) -> str | None:
    """Normalize a finish reason: ``""``, null and absent all mean "not finished yet"."""
    return value if isinstance(value, str) and value else None


def reasoning_of(obj: Mapping[str, Any]) -> str:
    """Read reasoning from ``reasoning_content`` or ``reasoning``; they carry the same text."""
    return _text(obj.get("reasoning_content")) or _text(obj.get("reasoning"))


def parse_usage(data: Any) -> Usage | None:
    """Parse usage; cached tokens may sit at the top level (2024) or in the details (docs)."""
    return Usage.from_wire(data)


def _split_tool_calls(
    raw_calls: Any, response_id: str
) -> tuple[list[ToolCall], list[ServerToolCall]]:
    calls: list[ToolCall] = []
    server_calls: list[ServerToolCall] = []
    if not isinstance(raw_calls, list):
        return calls, server_calls
    for position, raw in enumerate(raw_calls):
        if not isinstance(raw, Mapping):
            continue
        function = raw.get("function") or {}
        index = _optional_int(raw.get("index"))
        index = position if index is None else index
        kind = _text(raw.get("type")) or FUNCTION
        name = _text(function.get("name"))
        arguments = function.get("arguments")
        if not isinstance(arguments, str):
            arguments = "" if arguments is None else _json_dumps(arguments)
        if kind != FUNCTION or "results" in function:
            results = function.get("results")
            server_calls.append(
                ServerToolCall(
                    id=_text(raw.get("id")),
                    type=kind,
                    name=name,
                    arguments=arguments,
                    results=list(results) if isinstance(results, list) else [],
                    index=index,
                )
            )
        else:
            call_id = _text(raw.get("id")) or fallback_tool_call_id(response_id, index)
            calls.append(ToolCall(call_id, name, arguments, index))
    return calls, server_calls


def _json_dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def parse_completion(data: Mapping[str, Any]) -> Completion:
    """Parse a non-streaming chat completion."""
    choices: list[Choice] = []
    for position, raw in enumerate(data.get("choices") or []):
        if not isinstance(raw, Mapping):
            continue
        message = raw.get("message") or {}
        calls, server_calls = _split_tool_calls(message.get("tool_calls"), _text(data.get("id")))
        index = _optional_int(raw.get("index"))
        choices.append(
            Choice(
                index=position if index is None else index,
                content=_text(message.get("content")),
                reasoning=reasoning_of(message),
                tool_calls=calls,
                server_tool_calls=server_calls,
                finish_reason=finish_reason_of(raw.get("finish_reason")),
            )
        )
    return Completion(
        id=_text(data.get("id")),
        model=_text(data.get("model")),
        created=_int(data.get("created")),
        choices=choices,
        usage=parse_usage(data.get("usage")),
    )


def _parse_tool_call_deltas(raw_calls: Any) -> list[ToolCallDelta]:
    deltas: list[ToolCallDelta] = []
    if not isinstance(raw_calls, list):
        return deltas
    for position, raw in enumerate(raw_calls):
        if not isinstance(raw, Mapping):
            continue
        function = raw.get("function") or {}
        index = _optional_int(raw.get("index"))
        results = function.get("results")
        arguments = function.get("arguments")
        if arguments is not None and not isinstance(arguments, str):
            arguments = _json_dumps(arguments)
        deltas.append(
            ToolCallDelta(
                index=position if index is None else index,
                # "" placeholders mean "not sent" (stepfun-wire §1.6).
                id=_text(raw.get("id")) or None,
                type=_text(raw.get("type")) or None,
                name=_text(function.get("name")) or None,
                arguments=arguments or None,
                results=list(results) if isinstance(results, list) else None,
                # Step-1-era deltas carry no index (stepfun-wire §1.6).
                positional=index is None,
            )
        )
    return deltas


_NO_DELTA: Mapping[str, Any] = {}


def parse_chunk(data: Mapping[str, Any]) -> Chunk:
    """Parse one stream chunk of either shape (legacy or current, stepfun-wire §1.4-1.5).

    This runs once per streamed token, so it avoids helper calls on the common path.
    """
    choices: list[ChoiceDelta] = []
    raw_choices = data.get("choices")
    for position, raw in enumerate(raw_choices if type(raw_choices) is list else ()):
        if type(raw) is not dict:
            continue
        delta = raw.get("delta")
        if type(delta) is not dict:
            delta = _NO_DELTA
        index = raw.get("index")
        content = delta.get("content")
        reasoning = delta.get("reasoning_content") or delta.get("reasoning")
        tool_calls = delta.get("tool_calls")
        finish = raw.get("finish_reason")
        choices.append(
            ChoiceDelta(
                index if type(index) is int else position,
                content if type(content) is str else "",
                reasoning if type(reasoning) is str else "",
                _parse_tool_call_deltas(tool_calls) if tool_calls else [],
                # "" (legacy) and an absent key (current) both mean "not finished".
                finish if finish and type(finish) is str else None,
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
