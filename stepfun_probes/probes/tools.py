"""Probes of tool calling: each ``tool_choice`` value we send, parallel calls, ``web_search``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from stepfun_probes.probes.kit import (
    ANSWER_BUDGET,
    ASK_BOTH,
    ASK_WEATHER,
    TIME,
    WEATHER,
    Finding,
    ProbeContext,
    Sent,
    as_expected,
    cut_short,
    differs,
    refusal,
    unsupported,
)

WEB_SEARCH = {"type": "web_search", "function": {"description": "Search the web."}}
ASK_SEARCH = "Search the web: which is the tallest building in Shanghai?"
NO_TOOL_NEEDED = "Say hello."


def _names(sent: Sent) -> list[str]:
    return [call.name for call in sent.completion.first.tool_calls] if sent.completion else []


def _tool_probe(
    ctx: ProbeContext,
    prompt: str,
    params: dict[str, Any],
    judge: Callable[[list[str]], str | None],
    success: str,
) -> Finding:
    """Send one tool request; ``judge`` returns what is wrong with the called names, or None."""
    model = ctx.pick_model(lambda info: info.tool_calling)
    if model is None:
        return unsupported("no served model calls tools")
    sent = ctx.create(ctx.request(model, prompt, max_tokens=ANSWER_BUDGET, **params))
    refused = refusal(sent, model)
    if refused is not None:
        return refused
    names = _names(sent)
    problem = judge(names)
    if problem is not None:
        return cut_short(sent, model) or differs(f"accepted, but {problem}", model, sent.message())
    finish = sent.completion.first.finish_reason if sent.completion else None
    return as_expected(f"{success}; finish_reason {finish!r}", model)


def probe_tool_choice_auto(ctx: ProbeContext) -> Finding:
    """``auto`` with a request that asks for the tool."""
    return _tool_probe(
        ctx,
        ASK_WEATHER,
        {"tools": [WEATHER], "tool_choice": "auto"},
        lambda names: None if "get_weather" in names else "no tool call came back",
        "get_weather called",
    )


def probe_tool_choice_none(ctx: ProbeContext) -> Finding:
    """``none`` with a request that asks for the tool."""
    return _tool_probe(
        ctx,
        ASK_WEATHER,
        {"tools": [WEATHER], "tool_choice": "none"},
        lambda names: f"{', '.join(names)} called anyway" if names else None,
        "answered without a tool call",
    )


def probe_tool_choice_required(ctx: ProbeContext) -> Finding:
    """``required`` with a request that needs no tool."""
    return _tool_probe(
        ctx,
        NO_TOOL_NEEDED,
        {"tools": [WEATHER], "tool_choice": "required"},
        lambda names: None if names else "no tool call came back",
        "a tool call came back",
    )


def probe_tool_choice_function(ctx: ProbeContext) -> Finding:
    """A named function while the text asks for the other one."""
    named = {"type": "function", "function": {"name": "get_time"}}
    return _tool_probe(
        ctx,
        ASK_WEATHER,
        {"tools": [WEATHER, TIME], "tool_choice": named},
        lambda names: None if names and set(names) == {"get_time"} else f"called {names or 'none'}",
        "only get_time called",
    )


def probe_parallel_tool_calls(ctx: ProbeContext) -> Finding:
    """``parallel_tool_calls: true`` with a request for two calls."""
    return _tool_probe(
        ctx,
        ASK_BOTH,
        {"tools": [WEATHER, TIME], "parallel_tool_calls": True},
        lambda names: None if len(names) >= 2 else f"{len(names)} call(s) in the reply",
        "two calls in one reply",
    )


def probe_web_search(ctx: ProbeContext) -> Finding:
    """The server-side search tool: its calls must never look like client calls (§1.3)."""
    model = ctx.model
    sent = ctx.create(ctx.request(model, ASK_SEARCH, tools=[WEB_SEARCH], max_tokens=ANSWER_BUDGET))
    refused = refusal(sent, model)
    if refused is not None:
        return refused
    message = sent.message()
    calls = [c for c in message.get("tool_calls") or [] if isinstance(c, dict)]
    searches = [c for c in calls if c.get("type") == "web_search"]
    others = sorted({str(c.get("type")) for c in calls if c.get("type") != "web_search"})
    if others:
        return differs(f"search calls came back as type {', '.join(others)}", model, message)
    if not searches:
        return cut_short(sent, model) or differs("no web_search call came back", model, message)
    if any(not isinstance((c.get("function") or {}).get("results"), list) for c in searches):
        return differs("a web_search call has no function.results", model, message)
    results = sum(len(c["function"]["results"]) for c in searches)
    client_calls = len(sent.completion.first.tool_calls) if sent.completion else 0
    detail = f"{len(searches)} web_search call(s), {results} results, {client_calls} client calls"
    return as_expected(detail, model)
