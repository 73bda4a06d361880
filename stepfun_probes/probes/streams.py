"""Probes of the streamed shapes: the current and legacy chunk shapes, and tool-call deltas.

The core tolerates every variant (a finish reason of ``""``, null or absent; deltas with or
without an index), so these probes compare with the shapes the wire notes captured and the
replica imitates: a difference means our cassettes no longer look like the API.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from stepfun_probes.probes.kit import (
    ANSWER_BUDGET,
    ASK_BOTH,
    SHAPE_BUDGET,
    TIME,
    WEATHER,
    Finding,
    ProbeContext,
    as_expected,
    delta_of,
    differs,
    first_choice,
    refusal,
    unsupported,
)

# Step-1-era models stream the legacy shape (docs/wire.md#legacy-stream); they were retired on
# 2026-07-08, so a key may no longer be served any of them.
LEGACY_MODELS = (
    "step-1-8k",
    "step-1-32k",
    "step-1-128k",
    "step-1-256k",
    "step-1-flash",
    "step-1v-8k",
    "step-1v-32k",
    "step-2-mini",
    "step-2-16k",
    "step-2-16k-exp",
)
HELLO = "Say hello in five words."
DONE = "[DONE]"


def _ends(chunks: Sequence[Any]) -> list[Any]:
    """The first and last chunks: enough to see a shape."""
    return [*chunks[:1], *chunks[-1:]] if len(chunks) > 1 else list(chunks)


def _common_problems(events: Sequence[Any], chunks: Sequence[dict[str, Any]]) -> list[str]:
    if not chunks:
        return ["no chunks"]
    problems = [] if events[-1] == DONE else ["no data: [DONE] at the end"]
    usages = [c.get("usage") for c in chunks]
    missing = sum(not isinstance(u, dict) for u in usages)
    if missing:
        problems.append(f"usage missing on {missing} of {len(chunks)} chunks")
    totals = [u.get("completion_tokens", 0) for u in usages if isinstance(u, dict)]
    if totals != sorted(totals):
        problems.append("usage is not cumulative")
    return problems


def current_shape_problems(events: Sequence[Any]) -> list[str]:
    """How a stream differs from the current shape (docs/wire.md#current-stream)."""
    chunks = [e for e in events if isinstance(e, dict)]
    problems = _common_problems(events, chunks)
    if not chunks:
        return problems
    early = [first_choice(c) for c in chunks[:-1] if "finish_reason" in first_choice(c)]
    if early:
        problems.append(
            f"finish_reason sent before the last chunk (as {early[0]['finish_reason']!r})"
        )
    if not first_choice(chunks[-1]).get("finish_reason"):
        problems.append("the last chunk has no finish_reason")
    if any(delta_of(c).get("role") != "assistant" for c in chunks):
        problems.append('delta.role is not "assistant" on every chunk')
    if any("agent" not in c for c in chunks):
        problems.append("no top-level agent field")
    return problems


def legacy_shape_problems(events: Sequence[Any]) -> list[str]:
    """How a stream differs from the legacy shape (docs/wire.md#legacy-stream)."""
    chunks = [e for e in events if isinstance(e, dict)]
    problems = _common_problems(events, chunks)
    if not chunks:
        return problems
    first_usage = chunks[0].get("usage") or {}
    if chunks[0].get("created") != 0 or any(first_usage.get(k) for k in first_usage):
        problems.append("the first chunk is not created:0 with zero usage")
    if any(first_choice(c).get("finish_reason", None) != "" for c in chunks[:-1]):
        problems.append('finish_reason is not "" before the last chunk')
    if any(delta_of(c).get("role") != "" for c in chunks[1:]):
        problems.append('delta.role is not "" after the first chunk')
    if not first_choice(chunks[-1]).get("finish_reason"):
        problems.append("the last chunk has no finish_reason")
    return problems


def _shape_probe(
    ctx: ProbeContext,
    model: str,
    problems_of: Callable[[Sequence[Any]], list[str]],
    shape: str,
) -> Finding:
    """Stream a short answer from ``model`` and judge its events with ``problems_of``."""
    sent = ctx.stream(ctx.request(model, HELLO, max_tokens=SHAPE_BUDGET))
    refused = refusal(sent, model)
    if refused is not None:
        return refused
    problems = problems_of(sent.events())
    if problems:
        return differs("; ".join(problems), model, _ends(sent.chunks()))
    return as_expected(f"{len(sent.chunks())} chunks in the {shape} shape", model)


def probe_current_shape(ctx: ProbeContext) -> Finding:
    """A short streamed answer from a current model."""
    model = ctx.pick_model(lambda info: info.name not in LEGACY_MODELS)
    if model is None:
        return unsupported("no current model is served to this key")
    return _shape_probe(ctx, model, current_shape_problems, "current")


def probe_legacy_shape(ctx: ProbeContext) -> Finding:
    """A short streamed answer from a step-1/step-2 model, if the key is served one."""
    model = next((m for m in ctx.served if m in LEGACY_MODELS), None)
    if model is None:
        return unsupported("no step-1/step-2 model is served (retired 2026-07-08, §3.1)")
    return _shape_probe(ctx, model, legacy_shape_problems, "legacy")


def tool_delta_problems(chunks: Sequence[dict[str, Any]]) -> tuple[list[str], dict[int, str]]:
    """How streamed tool-call deltas differ from OpenAI's, and the joined arguments per index."""
    problems: list[str] = []
    arguments: dict[int, str] = {}
    for chunk in chunks:
        for delta in delta_of(chunk).get("tool_calls") or []:
            index = delta.get("index")
            if not isinstance(index, int):
                problems.append('a delta has no integer index ("" ids, the step-1 quirk, §1.6)')
                return problems, arguments
            function = delta.get("function") or {}
            if index not in arguments and not (delta.get("id") and function.get("name")):
                problems.append(f"the first delta of call {index} lacks its id or name")
            arguments[index] = arguments.get(index, "") + (function.get("arguments") or "")
    for index, text in arguments.items():
        try:
            json.loads(text)
        except ValueError:
            problems.append(f"the arguments of call {index} do not join into JSON")
    finish = first_choice(chunks[-1]).get("finish_reason") if chunks else None
    if arguments and finish not in ("tool_calls", "stop"):
        problems.append(f"the stream ends with finish_reason {finish!r}")
    return problems, arguments


def probe_tool_deltas(ctx: ProbeContext) -> Finding:
    """Two tool calls asked for in a streamed request."""
    model = ctx.pick_model(lambda info: info.tool_calling and info.name not in LEGACY_MODELS)
    if model is None:
        return unsupported("no served model calls tools")
    payload = ctx.request(model, ASK_BOTH, tools=[WEATHER, TIME], max_tokens=ANSWER_BUDGET)
    sent = ctx.stream(payload)
    refused = refusal(sent, model)
    if refused is not None:
        return refused
    chunks = sent.chunks()
    problems, calls = tool_delta_problems(chunks)
    with_calls = [c for c in chunks if delta_of(c).get("tool_calls")]
    if not problems and not calls:
        problems.append("no tool call was streamed")
    if problems:
        return differs("; ".join(problems), model, with_calls[:3] or _ends(chunks))
    finish = first_choice(chunks[-1]).get("finish_reason")
    detail = f"{len(calls)} calls in standard deltas, finish_reason {finish!r}"
    return as_expected(detail, model)
