"""The fault matrix: every fault through every entry point, sync and async, streamed and not.

Each test asserts the outcome (answer or typed error), what the error carries, and how many
requests the server saw (so retries happen exactly when they should, never in a storm).
"""

from __future__ import annotations

import pytest

import stepfun_core as core
from tests.reliability.conftest import (
    EXPECTED,
    Combo,
    Outcome,
    Row,
    attempts_logged,
    closed_port,
    combos,
    debug_logs,
    first_content_event,
    trace_id_for,
    unaccepting_port,
)
from tests.replica import Fault, Replica

ALL = combos()
STREAMS = combos(stream=(True,))
CUT_AT = first_content_event() + 3  # a few content events in, so something was received


def observed(out: Outcome, seen: int | None = None) -> str:
    if out.error is None:
        text = "answer intact" if out.text == EXPECTED else f"answer {out.text!r:.40}"
    else:
        text = type(out.error).__name__
        partial = getattr(out.error, "partial", None)
        if partial is not None and partial.choices:
            text += f" with partial ({len(partial.first.content)} chars)"
    return text if seen is None else f"{text}; {seen} requests"


def record(row: Row, combo: Combo, case: str, expected: str, out: Outcome, server: Replica) -> int:
    seen = len(server.requests)
    row.set(
        category="fault",
        case=case,
        adapter=combo.target,
        mode=combo.label,
        expected=expected,
        observed=observed(out),
        requests=seen,
    )
    return seen


def assert_answer(out: Outcome) -> None:
    assert out.error is None, f"unexpected {out.error!r}"
    assert out.text == EXPECTED


def assert_partial_is_what_was_seen(out: Outcome, combo: Combo) -> None:
    """The error carries exactly the text the caller already received, a prefix of the answer."""
    partial = out.error.partial  # type: ignore[union-attr]
    assert partial is not None, "the error does not carry what was received"
    received = partial.first.content
    assert received, "nothing was received before the cut"
    assert EXPECTED.startswith(received)
    assert received != EXPECTED
    if combo.stream:
        assert out.seen_text == received


# --- retries that end in success -----------------------------------------------------------------
@pytest.mark.parametrize("combo", ALL)
def test_429_retry_after_then_success(combo: Combo, server: Replica, row: Row) -> None:
    server.enqueue(Fault.status(429, headers={"Retry-After": "0"}))
    out = combo.call(combo.build(server.base_url))
    seen = record(row, combo, "429 + Retry-After: 0, then 200", "retried once; answer", out, server)
    assert_answer(out)
    assert seen == 2


@pytest.mark.parametrize("combo", ALL)
def test_429_retry_after_ms_is_honoured(combo: Combo, server: Replica, row: Row) -> None:
    server.enqueue(Fault.status(429, headers={"retry-after-ms": "150"}))
    out = combo.call(combo.build(server.base_url))
    seen = record(
        row, combo, "429 + retry-after-ms: 150, then 200", "waits >= 150 ms; answer", out, server
    )
    row.observed += f" after {out.elapsed * 1000:.0f} ms"
    assert_answer(out)
    assert seen == 2
    assert out.elapsed >= 0.15


@pytest.mark.parametrize("combo", ALL)
def test_429_retry_after_too_long_is_not_retried(combo: Combo, server: Replica, row: Row) -> None:
    server.enqueue(Fault.status(429, headers={"Retry-After": "3600"}))
    out = combo.call(combo.build(server.base_url))
    seen = record(
        row, combo, "429 + Retry-After: 3600", "RateLimitError at once, no retry", out, server
    )
    assert isinstance(out.error, core.RateLimitError)
    assert out.error.retry_after == 3600
    assert out.elapsed < 5
    assert seen == 1


@pytest.mark.parametrize("combo", ALL)
def test_5xx_twice_then_success(combo: Combo, server: Replica, row: Row) -> None:
    server.enqueue(Fault.status(500), Fault.status(503))
    out = combo.call(combo.build(server.base_url, max_retries=2))
    seen = record(row, combo, "500, 503, then 200 (max_retries=2)", "answer", out, server)
    assert_answer(out)
    assert seen == 3


@pytest.mark.parametrize("combo", ALL)
def test_5xx_past_max_retries(combo: Combo, server: Replica, row: Row) -> None:
    server.enqueue(*[Fault.status(502)] * 4)
    out = combo.call(combo.build(server.base_url, max_retries=2))
    seen = record(
        row, combo, "502 x4 (max_retries=2)", "InternalServerError after 3 requests", out, server
    )
    assert isinstance(out.error, core.InternalServerError)
    assert out.error.status_code == 502
    assert seen == 3
    assert server.pending_faults == 1


# --- errors that must not be retried -------------------------------------------------------------
STATUSES = {
    400: core.BadRequestError,
    401: core.AuthenticationError,
    402: core.PaymentRequiredError,
    403: core.PermissionDeniedError,
    404: core.NotFoundError,
    422: core.UnprocessableEntityError,
    451: core.ContentModerationError,
}


@pytest.mark.parametrize("status", sorted(STATUSES))
@pytest.mark.parametrize("combo", ALL)
def test_client_errors_are_typed_and_not_retried(
    combo: Combo, status: int, server: Replica, row: Row, request: pytest.FixtureRequest
) -> None:
    message = f"the server says no ({status}) to this request"
    server.enqueue(Fault.status(status, message=message), Fault.status(500))
    out = combo.call(combo.build(server.base_url))
    seen = record(
        row,
        combo,
        f"{status}",
        f"{STATUSES[status].__name__}, 1 request, message + trace id",
        out,
        server,
    )
    error = out.error
    assert isinstance(error, STATUSES[status]), repr(error)
    assert seen == 1
    assert error.status_code == status
    assert message in str(error)
    trace_id = trace_id_for(server)
    assert error.trace_id == trace_id
    assert trace_id in str(error)


RETRIED_STATUSES = {408: core.RequestTimeoutError, 409: core.ConflictError}


@pytest.mark.parametrize("status", sorted(RETRIED_STATUSES))
@pytest.mark.parametrize("combo", ALL)
def test_retryable_statuses_past_max_retries(
    combo: Combo, status: int, server: Replica, row: Row, request: pytest.FixtureRequest
) -> None:
    server.enqueue(*[Fault.status(status)] * 3)
    out = combo.call(combo.build(server.base_url, max_retries=1))
    cls = RETRIED_STATUSES[status]
    seen = record(
        row, combo, f"{status} x3 (max_retries=1)", f"{cls.__name__} after 2 requests", out, server
    )
    assert seen == 2
    assert isinstance(out.error, cls), repr(out.error)
    assert out.error.is_retryable


# --- connection failures -------------------------------------------------------------------------
@pytest.mark.parametrize("combo", ALL)
def test_connection_refused(combo: Combo, row: Row) -> None:
    with closed_port() as port, debug_logs() as logs:
        inst = combo.build(f"http://127.0.0.1:{port}/v1", max_retries=1)
        out = combo.call(inst)
    attempts = attempts_logged(logs)
    row.set(
        category="fault",
        case="connection refused (closed loopback port, max_retries=1)",
        adapter=combo.target,
        mode=combo.label,
        expected="APIConnectionError after 2 attempts",
        observed=f"{observed(out)} after {attempts} attempts",
        requests=0,
    )
    assert isinstance(out.error, core.APIConnectionError)
    assert not isinstance(out.error, core.APITimeoutError)
    assert "ConnectError" in str(out.error)
    assert attempts == 2


@pytest.mark.parametrize("combo", ALL)
def test_connect_timeout(combo: Combo, row: Row) -> None:
    with unaccepting_port() as port, debug_logs() as logs:
        inst = combo.build(f"http://127.0.0.1:{port}/v1", max_retries=1, timeout=0.15)
        out = combo.call(inst)
    attempts = attempts_logged(logs)
    row.set(
        category="fault",
        case="connect timeout (listener never accepts, timeout=0.15, max_retries=1)",
        adapter=combo.target,
        mode=combo.label,
        expected="APITimeoutError after 2 attempts",
        observed=f"{observed(out)} after {attempts} attempts, {out.elapsed:.2f} s",
        requests=0,
    )
    assert isinstance(out.error, core.APITimeoutError), repr(out.error)
    assert "ConnectTimeout" in str(out.error)
    assert attempts == 2
    assert out.elapsed < 2.0


@pytest.mark.parametrize("combo", combos(stream=(False,)))
def test_read_timeout_before_the_answer(combo: Combo, server: Replica, row: Row) -> None:
    server.enqueue(Fault.delay(0.4), Fault.delay(0.4))
    out = combo.call(combo.build(server.base_url, max_retries=1, timeout=0.12))
    seen = record(
        row,
        combo,
        "response stalls before headers (timeout=0.12, max_retries=1)",
        "APITimeoutError after 2 requests",
        out,
        server,
    )
    assert isinstance(out.error, core.APITimeoutError), repr(out.error)
    assert seen == 2
    assert out.elapsed < 2.0


@pytest.mark.parametrize("combo", STREAMS)
def test_read_timeout_mid_stream(combo: Combo, server: Replica, row: Row) -> None:
    server.enqueue(Fault.stall(after=CUT_AT, seconds=0.4))
    out = combo.call(combo.build(server.base_url, max_retries=2, timeout=0.12))
    seen = record(
        row,
        combo,
        "stream stalls mid-way (timeout=0.12)",
        "StreamInterruptedError with the text so far; no retry",
        out,
        server,
    )
    assert isinstance(out.error, core.StreamInterruptedError), repr(out.error)
    assert_partial_is_what_was_seen(out, combo)
    assert seen == 1


# --- broken bodies -------------------------------------------------------------------------------
@pytest.mark.parametrize("combo", STREAMS)
def test_stream_cut_mid_way(combo: Combo, server: Replica, row: Row) -> None:
    server.enqueue(Fault.drop(after=CUT_AT))
    out = combo.call(combo.build(server.base_url))
    seen = record(
        row,
        combo,
        "stream cut mid-way (socket closed)",
        "StreamInterruptedError with the text so far; no retry",
        out,
        server,
    )
    assert isinstance(out.error, core.StreamInterruptedError), repr(out.error)
    assert_partial_is_what_was_seen(out, combo)
    assert seen == 1


@pytest.mark.parametrize("combo", combos(stream=(False,)))
def test_body_cut_mid_way_is_retried(combo: Combo, server: Replica, row: Row) -> None:
    server.enqueue(Fault.drop())
    out = combo.call(combo.build(server.base_url))
    seen = record(
        row,
        combo,
        "non-stream body cut mid-way (nothing delivered yet)",
        "retried once; answer",
        out,
        server,
    )
    assert_answer(out)
    assert seen == 2


@pytest.mark.parametrize("combo", STREAMS)
def test_malformed_json_chunk(
    combo: Combo, server: Replica, row: Row, request: pytest.FixtureRequest
) -> None:
    server.enqueue(Fault.malformed(after=CUT_AT))
    out = combo.call(combo.build(server.base_url))
    seen = record(
        row,
        combo,
        "malformed JSON chunk",
        "MalformedResponseError with the text so far; no retry",
        out,
        server,
    )
    assert isinstance(out.error, core.MalformedResponseError), repr(out.error)
    assert "not JSON" in str(out.error)
    assert_partial_is_what_was_seen(out, combo)
    assert seen == 1


@pytest.mark.parametrize("combo", combos(stream=(False,)))
def test_malformed_json_body(
    combo: Combo, server: Replica, row: Row, request: pytest.FixtureRequest
) -> None:
    server.enqueue(Fault.status(200, body=b'{"id": "broken", "choices": ['))
    out = combo.call(combo.build(server.base_url))
    seen = record(
        row, combo, "malformed JSON body (200)", "MalformedResponseError; no retry", out, server
    )
    assert isinstance(out.error, core.MalformedResponseError), repr(out.error)
    assert seen == 1


@pytest.mark.parametrize("combo", STREAMS)
def test_error_event_mid_stream(combo: Combo, server: Replica, row: Row) -> None:
    server.enqueue(Fault.error_event(after=CUT_AT, message="quota exceeded mid-way"))
    out = combo.call(combo.build(server.base_url))
    seen = record(
        row,
        combo,
        'mid-stream {"error": ...} event (quota_exceeded)',
        "PaymentRequiredError with the server's message and the text so far",
        out,
        server,
    )
    assert isinstance(out.error, core.PaymentRequiredError), repr(out.error)
    assert "quota exceeded mid-way" in str(out.error)
    assert out.error.trace_id == trace_id_for(server)
    assert_partial_is_what_was_seen(out, combo)
    assert seen == 1


@pytest.mark.parametrize("combo", ALL)
def test_200_json_error_envelope(combo: Combo, server: Replica, row: Row) -> None:
    server.enqueue(Fault.json_error("quota exceeded in a 200", "quota_exceeded"))
    out = combo.call(combo.build(server.base_url))
    seen = record(
        row,
        combo,
        '200 application/json {"error": ...} envelope',
        "PaymentRequiredError with the server's message; no retry",
        out,
        server,
    )
    assert isinstance(out.error, core.PaymentRequiredError), repr(out.error)
    assert "quota exceeded in a 200" in str(out.error)
    assert seen == 1


@pytest.mark.parametrize("combo", STREAMS)
def test_stream_without_done(combo: Combo, server: Replica, row: Row) -> None:
    server.enqueue(Fault.no_done(after=CUT_AT))
    out = combo.call(combo.build(server.base_url))
    seen = record(
        row,
        combo,
        "stream ends cleanly without [DONE] or finish reason",
        "StreamInterruptedError with the text so far; no retry",
        out,
        server,
    )
    assert isinstance(out.error, core.StreamInterruptedError), repr(out.error)
    assert_partial_is_what_was_seen(out, combo)
    assert seen == 1


@pytest.mark.parametrize("combo", STREAMS)
def test_json_body_for_a_stream_request(
    combo: Combo, server: Replica, row: Row, request: pytest.FixtureRequest
) -> None:
    server.enqueue(Fault.json_completion())
    out = combo.call(combo.build(server.base_url))
    seen = record(
        row,
        combo,
        "200 JSON completion to a stream request",
        "MalformedResponseError whose partial holds the whole answer; no retry",
        out,
        server,
    )
    assert isinstance(out.error, core.MalformedResponseError), repr(out.error)
    assert out.error.partial is not None
    assert out.error.partial.first.content == EXPECTED
    assert seen == 1


@pytest.mark.parametrize("combo", STREAMS)
def test_keepalive_comments(combo: Combo, server: Replica, row: Row) -> None:
    server.enqueue(Fault.keepalive(every=1))
    out = combo.call(combo.build(server.base_url))
    seen = record(row, combo, "SSE comment keep-alive after every event", "answer", out, server)
    assert_answer(out)
    assert out.seen_text == EXPECTED
    assert seen == 1


@pytest.mark.parametrize("combo", ALL)
def test_oversized_response(combo: Combo, server: Replica, row: Row) -> None:
    megabytes = 4
    server.enqueue(Fault.oversized(megabytes))
    out = combo.call(combo.build(server.base_url))
    size = megabytes * 1024 * 1024
    seen = record(
        row, combo, f"oversized answer ({megabytes} MB)", "whole answer, no truncation", out, server
    )
    row.observed = f"{len(out.text or '')} chars received" if out.error is None else observed(out)
    assert out.error is None, repr(out.error)
    assert out.text is not None
    assert len(out.text) == size
    assert out.text.endswith(" ")
    if combo.stream:
        assert out.seen_text == out.text
    assert seen == 1
