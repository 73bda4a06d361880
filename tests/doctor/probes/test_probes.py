"""Step 5: every probe says "as expected" against the replica, and "differs" (and "unsupported"
where the API could refuse) when the replica is told to deviate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from stepfun_core.catalog import get_model_info
from stepfun_core.doctor import Outcome
from stepfun_probes.assumptions import ASSUMPTIONS
from stepfun_probes.probes import PROBES, replies
from tests.doctor.conftest import KEY, Doctor
from tests.replica import Fault, Replica

Setup = Callable[[Replica], None]


def deviate(*names: str) -> Setup:
    return lambda replica: replica.deviate(*names)


def refuse(name: str, value: Any = None) -> Setup:
    return lambda replica: replica.refuse_param(name, value)


def serve(*models: str) -> Setup:
    return lambda replica: replica.serve_models(*models)


def as_is(replica: Replica) -> None:
    """The replica as it is: the documented wire shapes."""


# (probe, how the replica is set up, options, outcome, a phrase of the detail or observed shape)
CASES: list[tuple[str, Setup, dict[str, Any], Outcome, str]] = [
    ("stream-current-shape", as_is, {}, Outcome.AS_EXPECTED, "chunks in the current shape"),
    (
        "stream-current-shape",
        deviate("stream_finish_null"),
        {},
        Outcome.DIFFERS,
        "finish_reason sent before the last chunk (as None)",
    ),
    ("stream-current-shape", refuse("stream", True), {}, Outcome.UNSUPPORTED, "400"),
    (
        "stream-current-shape",
        serve("step-1-8k"),
        {"model": "step-1-8k"},
        Outcome.UNSUPPORTED,
        "no current model is served",
    ),
    ("stream-legacy-shape", as_is, {}, Outcome.AS_EXPECTED, "chunks in the legacy shape"),
    (
        "stream-legacy-shape",
        deviate("legacy_as_current"),
        {},
        Outcome.DIFFERS,
        'finish_reason is not "" before the last chunk',
    ),
    (
        "stream-legacy-shape",
        serve("step-3.5-flash"),
        {},
        Outcome.UNSUPPORTED,
        "no step-1/step-2 model is served",
    ),
    ("reasoning-general", as_is, {}, Outcome.AS_EXPECTED, "message.reasoning holds"),
    (
        "reasoning-general",
        deviate("reasoning_as_reasoning_content"),
        {},
        Outcome.DIFFERS,
        "no message.reasoning; it came as reasoning_content",
    ),
    (
        "reasoning-general",
        serve("step-1o-turbo-vision"),
        {"model": "step-1o-turbo-vision"},
        Outcome.UNSUPPORTED,
        "no reasoning model is served",
    ),
    (
        "reasoning-deepseek-style",
        as_is,
        {},
        Outcome.AS_EXPECTED,
        "message.reasoning_content holds the thinking (reasoning too)",
    ),
    (
        "reasoning-deepseek-style",
        deviate("ignore_reasoning_format"),
        {},
        Outcome.DIFFERS,
        "no message.reasoning_content; it came as reasoning",
    ),
    (
        "reasoning-deepseek-style",
        refuse("reasoning_format"),
        {},
        Outcome.UNSUPPORTED,
        "reasoning_format is invalid",
    ),
    ("reasoning-effort", as_is, {}, Outcome.AS_EXPECTED, "low, medium, high accepted"),
    ("reasoning-effort", refuse("reasoning_effort", "high"), {}, Outcome.DIFFERS, "refused: high"),
    ("reasoning-effort", refuse("reasoning_effort"), {}, Outcome.UNSUPPORTED, "every tier"),
    (
        "reasoning-effort",
        serve("step-3.5-flash"),
        {},
        Outcome.UNSUPPORTED,
        "no served model has effort tiers",
    ),
    ("tool-choice-auto", as_is, {}, Outcome.AS_EXPECTED, "get_weather called"),
    ("tool-choice-auto", deviate("no_tool_calls"), {}, Outcome.DIFFERS, "no tool call came back"),
    ("tool-choice-auto", refuse("tool_choice", "auto"), {}, Outcome.UNSUPPORTED, "tool_choice"),
    (
        "tool-choice-auto",
        serve("step-r1-v-mini"),
        {"model": "step-r1-v-mini"},
        Outcome.UNSUPPORTED,
        "no served model calls tools",
    ),
    ("tool-choice-none", as_is, {}, Outcome.AS_EXPECTED, "answered without a tool call"),
    (
        "tool-choice-none",
        deviate("tool_choice_ignored"),
        {},
        Outcome.DIFFERS,
        "get_weather called anyway",
    ),
    ("tool-choice-none", refuse("tool_choice", "none"), {}, Outcome.UNSUPPORTED, "tool_choice"),
    ("tool-choice-required", as_is, {}, Outcome.AS_EXPECTED, "a tool call came back"),
    (
        "tool-choice-required",
        deviate("no_tool_calls"),
        {},
        Outcome.DIFFERS,
        "no tool call came back",
    ),
    (
        "tool-choice-required",
        refuse("tool_choice", "required"),
        {},
        Outcome.UNSUPPORTED,
        "tool_choice",
    ),
    ("tool-choice-function", as_is, {}, Outcome.AS_EXPECTED, "only get_time called"),
    (
        "tool-choice-function",
        deviate("tool_choice_ignored"),
        {},
        Outcome.DIFFERS,
        "called ['get_weather']",
    ),
    (
        "tool-choice-function",
        refuse("tool_choice", "function"),
        {},
        Outcome.UNSUPPORTED,
        "tool_choice",
    ),
    ("parallel-tool-calls", as_is, {}, Outcome.AS_EXPECTED, "two calls in one reply"),
    (
        "parallel-tool-calls",
        deviate("single_tool_call"),
        {},
        Outcome.DIFFERS,
        "1 call(s) in the reply",
    ),
    (
        "parallel-tool-calls",
        refuse("parallel_tool_calls"),
        {},
        Outcome.UNSUPPORTED,
        "parallel_tool_calls is invalid",
    ),
    ("tool-call-stream-deltas", as_is, {}, Outcome.AS_EXPECTED, "2 calls in standard deltas"),
    (
        "tool-call-stream-deltas",
        deviate("legacy_tool_deltas"),
        {},
        Outcome.DIFFERS,
        "a delta has no integer index",
    ),
    (
        "tool-call-stream-deltas",
        deviate("no_tool_calls"),
        {},
        Outcome.DIFFERS,
        "no tool call was streamed",
    ),
    ("tool-call-stream-deltas", refuse("tools"), {}, Outcome.UNSUPPORTED, "tools is invalid"),
    (
        "tool-call-stream-deltas",
        serve("step-r1-v-mini"),
        {"model": "step-r1-v-mini"},
        Outcome.UNSUPPORTED,
        "no served model calls tools",
    ),
    ("json-object", as_is, {}, Outcome.AS_EXPECTED, "keys ['city', 'country']"),
    ("json-object", deviate("json_in_fence"), {}, Outcome.DIFFERS, "```json"),
    (
        "json-object",
        refuse("response_format", "json_object"),
        {},
        Outcome.UNSUPPORTED,
        "response_format",
    ),
    ("json-schema", as_is, {}, Outcome.AS_EXPECTED, "bare JSON matching the schema"),
    ("json-schema", deviate("json_in_fence"), {}, Outcome.DIFFERS, "```json"),
    (
        "json-schema",
        refuse("response_format", "json_schema"),
        {},
        Outcome.DIFFERS,
        "our catalog says step-3.5-flash takes json_schema, but: refused: 400",
    ),
    (
        "reasoning-echo",
        as_is,
        {},
        Outcome.AS_EXPECTED,
        "the echo is accepted under both fields; leaving it out is accepted too (the echo is "
        "optional)",
    ),
    (
        "reasoning-echo",
        deviate("require_reasoning_echo"),
        {},
        Outcome.AS_EXPECTED,
        "leaving it out is refused (the echo is required)",
    ),
    (
        "reasoning-echo",
        deviate("refuse_reasoning_echo"),
        {},
        Outcome.DIFFERS,
        "reasoning_content sent back is refused",
    ),
    (
        "reasoning-echo",
        deviate("refuse_reasoning_field_echo"),
        {},
        Outcome.DIFFERS,
        "reasoning sent back is refused (Unrecognized chat message.)",
    ),
    (
        "reasoning-echo",
        serve("step-router-v1"),  # a router: the catalog gives it no reasoning of its own
        {"model": "step-router-v1"},
        Outcome.UNSUPPORTED,
        "no served model both reasons and calls tools",
    ),
    ("reasoning-echo", deviate("no_tool_calls"), {}, Outcome.ERROR, "no tool call came back"),
    (
        "reasoning-echo",
        serve("step-r1-v-mini"),
        {"model": "step-r1-v-mini"},
        Outcome.UNSUPPORTED,
        "no served model both reasons and calls tools",
    ),
    (
        "cached-tokens",
        as_is,
        {},
        Outcome.AS_EXPECTED,
        "usage.prompt_tokens_details.cached_tokens=",
    ),
    (
        "cached-tokens",
        serve("step-1-8k"),
        {"model": "step-1-8k"},
        Outcome.AS_EXPECTED,
        "usage.cached_tokens=",
    ),
    ("cached-tokens", deviate("no_cached_tokens"), {}, Outcome.DIFFERS, "no cached tokens"),
    ("web-search", as_is, {}, Outcome.AS_EXPECTED, "1 web_search call(s), 2 results, 0 client"),
    (
        "web-search",
        deviate("web_search_as_function"),
        {},
        Outcome.DIFFERS,
        "search calls came back as type function",
    ),
    ("web-search", deviate("no_tool_calls"), {}, Outcome.DIFFERS, "no web_search call"),
    ("web-search", refuse("tools", "web_search"), {}, Outcome.UNSUPPORTED, "tools is invalid"),
    ("error-bad-model", as_is, {}, Outcome.AS_EXPECTED, "404 model_invalid"),
    (
        "error-bad-model",
        deviate("bad_model_400"),
        {},
        Outcome.DIFFERS,
        "status 400, not 404; type 'request_params_invalid', not 'model_invalid'",
    ),
    ("error-bad-parameter", as_is, {}, Outcome.AS_EXPECTED, "400 request_params_invalid"),
    (
        "error-bad-parameter",
        deviate("flat_error_bodies"),
        {},
        Outcome.DIFFERS,
        'no {"error": {...}} envelope',
    ),
]


def test_every_probe_has_both_variants() -> None:
    outcomes: dict[str, set[Outcome]] = {a.id: set() for a in ASSUMPTIONS}
    for probe, _, _, outcome, _ in CASES:
        outcomes[probe].add(outcome)
    for probe, seen in outcomes.items():
        assert {Outcome.AS_EXPECTED, Outcome.DIFFERS} <= seen, probe


@pytest.mark.parametrize(
    ("probe", "setup", "options", "outcome", "phrase"),
    CASES,
    ids=[f"{case[0]}-{case[3].value.replace(' ', '-')}-{i}" for i, case in enumerate(CASES)],
)
def test_probe_verdicts(
    doctor: Doctor,
    replica: Replica,
    probe: str,
    setup: Setup,
    options: dict[str, Any],
    outcome: Outcome,
    phrase: str,
) -> None:
    setup(replica)
    result = doctor.probe(probe, **options)
    assert result.outcome is outcome, (result.detail, result.observed)
    assert phrase in result.detail + (result.observed or ""), (result.detail, result.observed)
    assert (result.observed is not None) == (
        result.outcome is Outcome.DIFFERS and bool(result.observed)
    )


def test_json_schema_when_the_catalog_says_no(
    doctor: Doctor, replica: Replica, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_json_schema(name: str) -> Any:
        return replace(get_model_info(name), json_schema=False)

    monkeypatch.setattr(replies, "get_model_info", no_json_schema)
    accepted = doctor.probe("json-schema")
    assert accepted.outcome is Outcome.DIFFERS
    assert "accepted, though our catalog says step-3.5-flash takes no json_schema" in (
        accepted.detail
    )
    replica.refuse_param("response_format", "json_schema")
    refused = doctor.probe("json-schema")
    assert refused.outcome is Outcome.UNSUPPORTED and "(as our catalog says)" in refused.detail


def test_a_key_in_an_observed_body_is_masked_before_the_body_is_cut(
    doctor: Doctor, replica: Replica
) -> None:
    # Round 15: strings were cut to 60 characters, then masked: the key's first part showed.
    message = f"model step-3.5-flash is not served for key {KEY}"  # the cut falls in the key
    replica.enqueue(Fault.status(200, {"object": "list", "data": [{"id": "step-3.5-flash"}]}))
    replica.enqueue(Fault.status(404, error_type="not_found", message=message))
    observed = doctor.probe("error-bad-model").observed or ""
    assert "***" in observed and KEY[:10] not in observed, observed


def test_a_server_error_is_an_error(doctor: Doctor, replica: Replica) -> None:
    replica.enqueue(Fault.status(200, {"object": "list", "data": [{"id": "step-3.5-flash"}]}))
    replica.enqueue(Fault.status(503))
    result = doctor.probe("stream-current-shape")
    assert result.outcome is Outcome.ERROR and "503" in result.detail
    assert result.requests == 1  # no retry: a probe reports what one request got


def test_a_broken_probe_is_an_error_and_the_run_goes_on(
    doctor: Doctor, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(context: Any) -> Any:
        raise KeyError("surprise")

    monkeypatch.setitem(PROBES, "json-object", broken)
    report = doctor(probe=True, only=("json-object", "json-schema"))
    assert [p.outcome for p in report.probes] == [Outcome.ERROR, Outcome.AS_EXPECTED]
    assert "the probe broke: KeyError: 'surprise'" in report.probes[0].detail
    assert "Traceback" not in capsys.readouterr().err
    doctor(probe=True, only=("json-object",), show_traceback=True)
    assert "Traceback" in capsys.readouterr().err


def test_a_full_probe_run_counts_its_tokens(doctor: Doctor, replica: Replica) -> None:
    report = doctor(probe=True)
    assert [p.assumption for p in report.probes] == [a.id for a in ASSUMPTIONS]
    assert all(p.outcome is Outcome.AS_EXPECTED for p in report.probes), [
        (p.assumption, p.detail) for p in report.probes
    ]
    chat = [r for r in replica.requests if r.path.endswith("/chat/completions")]
    assert report.requests == len(chat)
    assert report.tokens.total == report.tokens.prompt + report.tokens.completion > 0
    assert report.probes[-1].tokens.total == 0  # an error costs nothing
    assert report.exit_code() == 0 and report.replica


def test_an_answer_cut_while_thinking_is_an_error_not_a_difference(
    doctor: Doctor, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(replies, "ANSWER_BUDGET", 3)  # the replica thinks for more than that
    result = doctor.probe("json-object")
    assert result.outcome is Outcome.ERROR and "cut at max_tokens" in result.detail
