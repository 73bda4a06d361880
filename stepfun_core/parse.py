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
    if not isinstance(data, Mapping):
        return None
    prompt_details = data.get("prompt_tokens_details")
    completion_details = data.get("completion_tokens_details")
    cached = _optional_int(data.get("cached_tokens"))
    if cached is None and isinstance(prompt_details, Mapping):
        cached = _optional_int(prompt_details.get("cached_tokens"))
    reasoning = None
    if isinstance(completion_details, Mapping):
        reasoning = _optional_int(completion_details.get("reasoning_tokens"))
    prompt = _int(data.get("prompt_tokens"))
    completion = _int(data.get("completion_tokens"))
    total = _optional_int(data.get("total_tokens"))
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=prompt + completion if total is None else total,
        cached_tokens=cached,
        reasoning_tokens=reasoning,
    )


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
                # Step-1-era deltas carry no index (stepfun-wire §1.6): use the list position,
                # which is 0 for the usual one call per chunk.
                index=position if index is None else index,
                # "" placeholders mean "not sent" (stepfun-wire §1.6).
                id=_text(raw.get("id")) or None,
                type=_text(raw.get("type")) or None,
                name=_text(function.get("name")) or None,
                arguments=arguments or None,
                results=list(results) if isinstance(results, list) else None,
            )
        )
    return deltas


def parse_chunk(data: Mapping[str, Any]) -> Chunk:
    """Parse one stream chunk of either shape (legacy or current, stepfun-wire §1.4-1.5)."""
    choices: list[ChoiceDelta] = []
    for position, raw in enumerate(data.get("choices") or ()):
        delta = raw.get("delta") or {}
        index = raw.get("index")
        tool_calls = delta.get("tool_calls")
        choices.append(
            ChoiceDelta(
                index=index if type(index) is int else position,
                content=_text(delta.get("content")),
                reasoning=reasoning_of(delta),
                tool_calls=_parse_tool_call_deltas(tool_calls) if tool_calls else [],
                finish_reason=finish_reason_of(raw.get("finish_reason")),
            )
        )
    return Chunk(
        id=_text(data.get("id")),
        model=_text(data.get("model")),
        created=_int(data.get("created")),
        choices=choices,
        usage=parse_usage(data.get("usage")),
    )
