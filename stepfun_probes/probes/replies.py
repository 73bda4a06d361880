"""Probes of reply contents: JSON modes, cached-token usage, and the two error bodies."""

from __future__ import annotations

from typing import Any

from stepfun_core.catalog import get_model_info
from stepfun_core.errors import BadRequestError, NotFoundError, StepFunError
from stepfun_core.jsonio import decode_json
from stepfun_probes.probes.kit import (
    ANSWER_BUDGET,
    SHAPE_BUDGET,
    Finding,
    ProbeContext,
    Sent,
    as_expected,
    cut_short,
    differs,
    refusal,
    unsupported,
)

# The replica and the live API both 404 a model that does not exist (docs/wire.md#error-types).
BAD_MODEL = "missing-model-doctor-probe"
CITY_SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "population": {"type": "integer"}},
    "required": ["name", "population"],
    "additionalProperties": False,
}
# Over 256 tokens, the API's minimum cache unit (docs/wire.md#usage), sent twice.
LONG_CONTEXT = " ".join(
    f"Rule {n}: answers from this assistant are short, plain and kind." for n in range(1, 41)
)


def probe_json_object(ctx: ProbeContext) -> Finding:
    """JSON mode: the content must be one bare JSON object."""
    model = ctx.model
    messages = [
        {"role": "system", "content": "Answer in JSON with the keys 'city' and 'country'."},
        {"role": "user", "content": "Where is the Eiffel Tower?"},
    ]
    payload = ctx.request(
        model, messages, response_format={"type": "json_object"}, max_tokens=ANSWER_BUDGET
    )
    sent = ctx.create(payload)
    refused = refusal(sent, model)
    if refused is not None:
        return refused
    content = sent.completion.first.content if sent.completion else ""
    value = decode_json(content)
    if isinstance(value, dict):
        return as_expected(f"a bare JSON object with keys {sorted(value)}", model)
    return cut_short(sent, model) or differs(
        "the content is not one bare JSON object", model, content
    )


def probe_json_schema(ctx: ProbeContext) -> Finding:
    """Native structured output, judged against what the catalog says of the model."""
    model = ctx.model
    believed = get_model_info(model).json_schema
    schema = {"name": "city", "strict": True, "schema": CITY_SCHEMA}
    payload = ctx.request(
        model,
        "Name the largest city in France and its population.",
        response_format={"type": "json_schema", "json_schema": schema},
        max_tokens=ANSWER_BUDGET,
    )
    sent = ctx.create(payload)
    refused = refusal(sent, model)
    if refused is not None and believed:
        return differs(f"our catalog says {model} takes json_schema, but: {refused.detail}", model)
    if refused is not None:
        return unsupported(f"{refused.detail} (as our catalog says)", model)
    content = sent.completion.first.content if sent.completion else ""
    value = decode_json(content)
    if not isinstance(value, dict) or not _fits_city(value):
        return cut_short(sent, model) or differs(
            "the content is not bare JSON matching the schema", model, content
        )
    if not believed:
        return differs(f"accepted, though our catalog says {model} takes no json_schema", model)
    return as_expected("bare JSON matching the schema", model)


def _fits_city(value: dict[str, Any]) -> bool:
    population = value.get("population")
    return isinstance(value.get("name"), str) and type(population) is int


def probe_cached_tokens(ctx: ProbeContext) -> Finding:
    """The same long prompt twice; the repeat's usage says where cached tokens are reported."""
    model = ctx.model
    messages = [
        {"role": "system", "content": LONG_CONTEXT},
        {"role": "user", "content": "Reply with OK."},
    ]
    payload = ctx.request(model, messages, max_tokens=SHAPE_BUDGET)
    for sent in (ctx.create(payload), ctx.create(payload)):
        refused = refusal(sent, model)
        if refused is not None:
            return refused
    body = sent.body()
    usage = body.get("usage") if isinstance(body, dict) else None
    usage = usage if isinstance(usage, dict) else {}
    details = usage.get("prompt_tokens_details")
    places = {
        "usage.cached_tokens": usage.get("cached_tokens"),
        "usage.prompt_tokens_details.cached_tokens": (
            details.get("cached_tokens") if isinstance(details, dict) else None
        ),
    }
    found = [f"{where}={count}" for where, count in places.items() if type(count) is int]
    if not found:
        return differs("usage reports no cached tokens (no cache hit, or elsewhere)", model, usage)
    prompt = usage.get("prompt_tokens")
    return as_expected(f"{' and '.join(found)} of {prompt} prompt tokens on the repeat", model)


def _error_shape(
    sent: Sent, status: int, error_type: str, expected: type[StepFunError], model: str
) -> Finding:
    """Compare an error reply with ``{"error": {"message", "type"}}`` under ``status``."""
    if sent.error is None:
        return differs(f"accepted ({sent.status}); expected {status} {error_type}", model)
    body = sent.body()
    envelope = body.get("error") if isinstance(body, dict) else None
    problems = [] if sent.status == status else [f"status {sent.status}, not {status}"]
    if not isinstance(envelope, dict):
        problems.append('no {"error": {...}} envelope')
    else:
        if envelope.get("type") != error_type:
            problems.append(f"type {envelope.get('type')!r}, not {error_type!r}")
        if not isinstance(envelope.get("message"), str):
            problems.append("no error.message")
    if not isinstance(sent.error, expected):
        problems.append(f"the client raised {type(sent.error).__name__}, not {expected.__name__}")
    if problems:
        return differs("; ".join(problems), model, body)
    extra = sorted(set(envelope or {}) - {"message", "type"})
    also = f" (also: {', '.join(extra)})" if extra else ""
    return as_expected(f"{status} {error_type}: {sent.error.message[:80]!r}{also}", model)


def probe_error_bad_model(ctx: ProbeContext) -> Finding:
    """A model that does not exist."""
    sent = ctx.create(ctx.request(BAD_MODEL, "Say hello.", max_tokens=SHAPE_BUDGET))
    return _error_shape(sent, 404, "model_invalid", NotFoundError, BAD_MODEL)


def probe_error_bad_parameter(ctx: ProbeContext) -> Finding:
    """A ``role: "function"`` message, refused with a captured body (docs/wire.md#messages).

    Sent as a raw body: the core's request builder would refuse it before sending.
    """
    payload = {
        "model": ctx.model,
        "messages": [
            {"role": "user", "content": "What is 2 + 2?"},
            {"role": "function", "name": "calculator", "content": "4"},
        ],
        "max_tokens": SHAPE_BUDGET,
    }
    sent = ctx.create(payload)
    return _error_shape(sent, 400, "request_params_invalid", BadRequestError, ctx.model)
