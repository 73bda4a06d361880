"""Probes of reasoning: the field under each ``reasoning_format``, the effort tiers, the echo."""

from __future__ import annotations

from typing import Any

from stepfun_core.catalog import get_model_info
from stepfun_core.errors import BadRequestError
from stepfun_core.history import ECHO_FIELDS, EchoReasoning, assistant_message
from stepfun_core.types import Choice
from stepfun_probes.probes.kit import (
    ANSWER_BUDGET,
    ASK_WEATHER,
    SHAPE_BUDGET,
    WEATHER,
    Finding,
    ProbeContext,
    as_expected,
    differs,
    failed,
    refusal,
    unsupported,
)

QUESTION = "Is 1001 a prime number? Answer yes or no."
TOOL_RESULT = "Sunny, 21 C"


def _reasoning_field(ctx: ProbeContext, field: str, **params: Any) -> Finding:
    model = ctx.pick_model(lambda info: info.reasoning)
    if model is None:
        return unsupported("no reasoning model is served to this key")
    sent = ctx.create(ctx.request(model, QUESTION, max_tokens=SHAPE_BUDGET, **params))
    refused = refusal(sent, model)
    if refused is not None:
        return refused
    message = sent.message()
    others = [k for k in ("reasoning", "reasoning_content") if k != field and message.get(k)]
    also = f" ({others[0]} too)" if others else ""
    if isinstance(message.get(field), str) and message[field]:
        return as_expected(f"message.{field} holds the thinking{also}", model)
    instead = f"; it came as {others[0]}" if others else ""
    return differs(f"no message.{field}{instead}", model, message)


def probe_reasoning_general(ctx: ProbeContext) -> Finding:
    """The default format puts the thinking in ``reasoning`` (§0 item 2)."""
    return _reasoning_field(ctx, "reasoning")


def probe_reasoning_deepseek(ctx: ProbeContext) -> Finding:
    """``deepseek-style`` puts it in ``reasoning_content`` (§3.2)."""
    return _reasoning_field(ctx, "reasoning_content", reasoning_format="deepseek-style")


def probe_reasoning_effort(ctx: ProbeContext) -> Finding:
    """Each effort tier of the catalog, one small request each."""
    model = ctx.pick_model(lambda info: bool(info.reasoning_efforts))
    if model is None:
        return unsupported("no served model has effort tiers in our catalog")
    tiers = get_model_info(model).reasoning_efforts
    refused: dict[str, str] = {}
    for tier in tiers:
        payload = ctx.request(model, QUESTION, reasoning_effort=tier, max_tokens=SHAPE_BUDGET)
        sent = ctx.create(payload)
        if isinstance(sent.error, BadRequestError):
            refused[tier] = sent.error.message
        elif sent.error is not None:
            return failed(str(sent.error), model)
    if len(refused) == len(tiers):
        return unsupported(f"every tier refused: {next(iter(refused.values()))}", model)
    if refused:
        return differs(f"refused: {', '.join(refused)}", model, refused)
    return as_expected(f"{', '.join(tiers)} accepted", model)


def _tool_turn(choice: Choice, echo: EchoReasoning) -> list[dict[str, Any]]:
    """The question, the assistant's tool-call turn (its reasoning echoed or not), the results."""
    calls = [call.to_dict() for call in choice.tool_calls]
    results = [
        {"role": "tool", "tool_call_id": call.id, "content": TOOL_RESULT}
        for call in choice.tool_calls
    ]
    assistant = assistant_message("", calls, choice.reasoning, echo)
    return [{"role": "user", "content": ASK_WEATHER}, assistant, *results]


def probe_reasoning_echo(ctx: ProbeContext) -> Finding:
    """A real tool-call turn sent back with its reasoning, then without (§5 item 6)."""
    model = ctx.pick_model(lambda info: info.reasoning and info.tool_calling)
    if model is None:
        return unsupported("no served model both reasons and calls tools")
    first = ctx.create(ctx.request(model, ASK_WEATHER, tools=[WEATHER], max_tokens=ANSWER_BUDGET))
    if first.completion is None:
        return refusal(first, model) or failed("no reply", model)
    choice = first.completion.first
    if not choice.tool_calls:
        return failed("no tool call came back to echo; run the probe again", model)
    if not choice.reasoning:
        return differs("the tool-call turn carries no reasoning to echo", model, first.message())
    return _send_back(ctx, model, choice)


def _send_back(ctx: ProbeContext, model: str, choice: Choice) -> Finding:
    """The follow-up with the reasoning echoed under each field, then without it.

    Each field is pinned: left to adapt, the client would quietly try the other one.
    """
    budget = {"tools": [WEATHER], "max_tokens": ANSWER_BUDGET}
    echoed = ctx.request(model, _tool_turn(choice, "tool_calls"), **budget)
    refused = []
    for field in ECHO_FIELDS:
        pinned = ctx.client.with_settings(reasoning_echo_field=field)
        sent = ctx.create(echoed, pinned)
        if isinstance(sent.error, BadRequestError):
            refused.append(f"{field} sent back is refused ({sent.error.message})")
        elif sent.error is not None:
            return failed(str(sent.error), model)
    bare = ctx.create(ctx.request(model, _tool_turn(choice, "never"), **budget))
    if isinstance(bare.error, BadRequestError):
        without = "leaving it out is refused (the echo is required)"
    elif bare.error is not None:
        return failed(str(bare.error), model)
    else:
        without = "leaving it out is accepted too (the echo is optional)"
    if refused:
        return differs(f"{'; '.join(refused)}; {without}", model)
    return as_expected(f"the echo is accepted under both fields; {without}", model)
