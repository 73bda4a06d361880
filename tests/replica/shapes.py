"""Render a `Reply` in StepFun's wire shapes: a non-streaming body and the two SSE stream shapes.

Legacy shape (step-1/step-2 models): docs/wire.md#legacy-stream and §1.6.
Current shape (every other model): docs/wire.md#current-stream; tool deltas follow OpenAI (§1.6).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

from tests.replica.brain import Choice, Reply, ToolCall, tokenize

DONE = b"data: [DONE]\n\n"


def encode_event(payload: Any) -> bytes:
    """One SSE event; compact JSON with raw UTF-8 like the real API (CJK unescaped, §1.4)."""
    return b"data: " + dumps(payload).encode() + b"\n\n"


def dumps(payload: Any) -> str:
    """Compact JSON, non-ASCII kept as-is."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


def completion_id(reply: Reply) -> str:
    """UUID for legacy models, ``<32hex>.<32hex>`` for current ones (docs/wire.md#ids)."""
    d = reply.digest
    if reply.legacy:
        return f"{d[:8]}-{d[8:12]}-4{d[13:16]}-a{d[17:20]}-{d[20:32]}"
    return f"{d[:32]}.{hashlib.sha256(d.encode()).hexdigest()[:32]}"


def usage(reply: Reply, completion: int, reasoning: int, *, zero: bool = False) -> dict[str, Any]:
    """Cumulative usage; legacy puts ``cached_tokens`` first at the top level (§1.6, §1.7)."""
    prompt = 0 if zero else reply.prompt_tokens
    base = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    if reply.legacy:
        return (
            {"cached_tokens": reply.cached_tokens, **base}
            if reply.cached_tokens and not zero
            else base
        )
    return {
        **base,
        "prompt_tokens_details": {"cached_tokens": reply.cached_tokens},
        "completion_tokens_details": {"reasoning_tokens": reasoning},
    }


def completion_body(reply: Reply) -> dict[str, Any]:
    """The non-streaming ``chat.completion`` body."""
    return {
        "id": completion_id(reply),
        "object": "chat.completion",
        "created": reply.created,
        "model": reply.model,
        "choices": [
            {"index": c.index, "message": _message(c, reply), "finish_reason": c.finish_reason}
            for c in reply.choices
        ],
        "usage": usage(reply, reply.completion_tokens, reply.reasoning_tokens),
    }


def _message(choice: Choice, reply: Reply) -> dict[str, Any]:
    # Key order role, content, reasoning (§1.1); tool-call replies carry content "" (§1.2).
    message: dict[str, Any] = {"role": "assistant", "content": "".join(choice.content)}
    if choice.reasoning:
        message.update(_reasoning_fields("".join(choice.reasoning), reply))
    if choice.tool_calls:
        message["tool_calls"] = [_full_call(c) for c in choice.tool_calls]
    if choice.refusal:
        message["refusal"] = "".join(choice.refusal)
    return message


def _reasoning_fields(text: str, reply: Reply) -> dict[str, str]:
    # deepseek-style returns reasoning_content together with reasoning, identical (§0 item 2).
    return (
        {"reasoning_content": text, "reasoning": text}
        if reply.deepseek_style
        else {"reasoning": text}
    )


def _full_call(call: ToolCall) -> dict[str, Any]:
    function: dict[str, Any] = {"name": call.name, "arguments": call.arguments}
    if call.results is not None:
        function["results"] = call.results
    return {"id": call.id, "type": call.kind, "function": function}


class _Counter:
    """Cumulative usage over a whole stream (usage is cumulative on every chunk, §1.4/§1.5)."""

    def __init__(self) -> None:
        self.completion = 0
        self.reasoning = 0


def stream_chunks(reply: Reply) -> Iterator[dict[str, Any]]:
    """Every ``chat.completion.chunk`` payload of the stream, lazily, without ``[DONE]``."""
    counter = _Counter()
    render = _legacy_choice if reply.legacy else _current_choice
    for choice in reply.choices:
        yield from render(reply, choice, counter)


def _chunk(reply: Reply, delta: dict[str, Any], index: int, **extra: Any) -> dict[str, Any]:
    choice: dict[str, Any] = {"index": index, "delta": delta}
    if "finish_reason" in extra:
        choice["finish_reason"] = extra["finish_reason"]
    return {
        "id": completion_id(reply),
        "object": "chat.completion.chunk",
        "created": extra.get("created", reply.created),
        "model": reply.model,
        "choices": [choice],
    }


def _legacy_choice(reply: Reply, choice: Choice, n: _Counter) -> Iterator[dict[str, Any]]:
    i = choice.index

    def chunk(delta: dict[str, Any], finish: str | None = "") -> dict[str, Any]:
        extra = {} if finish is None else {"finish_reason": finish}
        body = _chunk(reply, delta, i, **extra)
        return {**body, "usage": usage(reply, n.completion, n.reasoning)}

    # First chunk: created 0, zero usage, role "assistant" (§1.4).
    first = _chunk(reply, {"role": "assistant", "content": ""}, i, finish_reason="", created=0)
    _add_search(first["choices"][0]["delta"], choice)
    yield {**first, "usage": usage(reply, 0, 0, zero=True)}
    for token in choice.reasoning:
        n.completion, n.reasoning = n.completion + 1, n.reasoning + 1
        yield chunk({"role": "", "content": "", **_reasoning_fields(token, reply)})
    calls = [c for c in choice.tool_calls if c.kind == "function"]
    if calls:
        yield from (chunk({"role": "", "content": ""}) for _ in range(3))  # §1.6: 3 empty chunks
    for call in calls:
        # No index, "" id/type, name and arguments in separate chunks, no finish key (§1.6).
        for name, arguments in [
            ("", ""),
            (call.name, ""),
            *[("", p) for p in tokenize(call.arguments)],
        ]:
            n.completion += 1 if name or arguments else 0
            function = {"name": name, "arguments": arguments}
            delta = {
                "role": "",
                "content": "",
                "tool_calls": [{"id": "", "type": "", "function": function}],
            }
            yield chunk(delta, finish=None)
    for token in choice.content:
        n.completion += 1
        yield chunk({"role": "", "content": token})
    yield chunk({"role": "", "content": ""})  # the empty chunk before "stop" (§1.4)
    yield chunk({"role": "", "content": ""}, finish=choice.finish_reason)


def _current_choice(reply: Reply, choice: Choice, n: _Counter) -> Iterator[dict[str, Any]]:
    i = choice.index

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        # finish_reason key absent until the final chunk; extra top-level "agent" (§1.5).
        extra = {} if finish is None else {"finish_reason": finish}
        body = _chunk(reply, delta, i, **extra)
        return {**body, "usage": usage(reply, n.completion, n.reasoning), "agent": ""}

    first_delta: dict[str, Any] = {"role": "assistant", "content": ""}
    _add_search(first_delta, choice)
    yield chunk(first_delta)
    for token in choice.reasoning:
        n.completion, n.reasoning = n.completion + 1, n.reasoning + 1
        yield chunk({"role": "assistant", "content": "", **_reasoning_fields(token, reply)})
    content = iter(choice.content)
    last = next(content, None)
    for token in content:
        n.completion += 1
        yield chunk({"role": "assistant", "content": last})
        last = token
    yield from _current_tool_deltas(choice, n, chunk)
    for token in choice.refusal:
        n.completion += 1
        yield chunk({"role": "assistant", "content": "", "refusal": token})
    n.completion += 1 if last is not None else 0
    calls = any(c.kind == "function" for c in choice.tool_calls)
    finish = "tool_calls" if calls and choice.finish_reason == "stop" else choice.finish_reason
    # The final chunk carries the last content token together with finish_reason (§1.5).
    yield chunk({"role": "assistant", "content": last or ""}, finish)


def _current_tool_deltas(choice: Choice, n: _Counter, chunk: Any) -> Iterator[dict[str, Any]]:
    calls = [c for c in choice.tool_calls if c.kind == "function"]
    if not calls:
        return
    # All first deltas (index, id, name) in ONE chunk, then arguments split over later chunks.
    n.completion += len(calls)
    firsts = [
        {"index": k, "id": c.id, "type": "function", "function": {"name": c.name, "arguments": ""}}
        for k, c in enumerate(calls)
    ]
    yield chunk({"role": "assistant", "content": "", "tool_calls": firsts})
    for k, call in enumerate(calls):
        for piece in tokenize(call.arguments):
            n.completion += 1
            delta = {"index": k, "function": {"arguments": piece}}
            yield chunk({"role": "assistant", "content": "", "tool_calls": [delta]})


def _add_search(delta: dict[str, Any], choice: Choice) -> None:
    """Server-side web_search results arrive in the first chunk (§1.3)."""
    searches = [c for c in choice.tool_calls if c.kind == "web_search"]
    if searches:
        delta["tool_calls"] = [{"index": k, **_full_call(c)} for k, c in enumerate(searches)]
