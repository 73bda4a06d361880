"""Retries: which failures, how many attempts, Retry-After, and never after the first event."""

from __future__ import annotations

import email.utils
import math
import time

import httpx
import pytest

from stepfun_core import (
    AuthenticationError,
    InternalServerError,
    InvalidParameterError,
    RateLimitError,
    RetryPolicy,
    StepFunError,
    StreamInterruptedError,
    build_chat_request,
)
from stepfun_core.errors import APIConnectionError, BadRequestError
from stepfun_core.retry import parse_retry_after
from tests.core.conftest import Driver, reply, sequence
from tests.core.wire_samples import CURRENT_STREAM, REASONING_REPLY, current_chunk, sse

PAYLOAD = build_chat_request("step-3.7-flash", [{"role": "user", "content": "hi"}])


def error(status: int, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(
        status, json={"error": {"message": f"status {status}", "type": "x"}}, headers=headers
    )


@pytest.mark.parametrize("streaming", [False, True])
def test_429_with_retry_after_then_success(driver: Driver, streaming: bool) -> None:
    ok = reply(CURRENT_STREAM) if streaming else reply(REASONING_REPLY)
    handler = sequence(lambda r: error(429, {"Retry-After": "0.05"}), ok)
    started = time.monotonic()
    (driver.stream if streaming else driver.create)(handler, PAYLOAD)
    assert time.monotonic() - started >= 0.05
    assert len(driver.requests) == 2


@pytest.mark.parametrize("status", [500, 502, 503, 504, 408, 409])
def test_server_errors_twice_then_success(driver: Driver, status: int) -> None:
    handler = sequence(lambda r: error(status), lambda r: error(status), reply(REASONING_REPLY))
    assert driver.create(handler, PAYLOAD).first.content == "你好"
    assert len(driver.requests) == 3


def test_server_errors_past_max_retries(driver: Driver) -> None:
    with pytest.raises(InternalServerError):
        driver.create(lambda r: error(503), PAYLOAD)
    assert len(driver.requests) == 3


def test_max_retries_is_honoured(driver: Driver) -> None:
    with pytest.raises(InternalServerError):
        driver.create(lambda r: error(500), PAYLOAD, retry_policy=RetryPolicy(5, 0.001, 0.001))
    assert len(driver.requests) == 6


@pytest.mark.parametrize("status", [400, 401, 402, 403, 404, 422, 451])
def test_client_errors_are_not_retried(driver: Driver, status: int) -> None:
    with pytest.raises(StepFunError) as caught:
        driver.create(lambda r: error(status), PAYLOAD)
    assert caught.value.status_code == status
    assert len(driver.requests) == 1


def test_connection_errors_are_retried(driver: Driver) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    handler = sequence(refuse, reply(REASONING_REPLY))
    assert driver.create(handler, PAYLOAD).first.content == "你好"
    assert len(driver.requests) == 2


@pytest.mark.parametrize("streaming", [False, True])
def test_a_retryable_error_envelope_under_200_is_retried(driver: Driver, streaming: bool) -> None:
    # It was parsed after the retry loop: a gateway's 200 rate limit came out at once.
    limited = reply({"error": {"message": "slow down", "type": "rate_limit_exceeded"}})
    ok = reply(CURRENT_STREAM) if streaming else reply(REASONING_REPLY)
    (driver.stream if streaming else driver.create)(sequence(limited, ok), PAYLOAD)
    assert len(driver.requests) == 2


def test_retry_after_longer_than_the_cap_is_raised_at_once(driver: Driver) -> None:
    with pytest.raises(RateLimitError) as caught:
        driver.create(lambda r: error(429, {"Retry-After": "600"}), PAYLOAD)
    assert caught.value.retry_after == 600
    assert len(driver.requests) == 1


def test_a_stream_is_never_retried_after_the_first_event(driver: Driver) -> None:
    def cut(request: httpx.Request) -> httpx.Response:
        def body():  # type: ignore[no-untyped-def]
            yield sse(current_chunk({"content": "Hel"}, 1), done=False)
            raise httpx.RemoteProtocolError("peer closed connection")

        return httpx.Response(200, content=body(), headers={"content-type": "text/event-stream"})

    async_cut_handler = cut
    if driver.mode == "async":

        def async_cut_handler(request: httpx.Request) -> httpx.Response:  # type: ignore[misc]
            async def body():  # type: ignore[no-untyped-def]
                yield sse(current_chunk({"content": "Hel"}, 1), done=False)
                raise httpx.RemoteProtocolError("peer closed connection")

            return httpx.Response(
                200, content=body(), headers={"content-type": "text/event-stream"}
            )

    with pytest.raises(StreamInterruptedError, match="broke off") as caught:
        driver.stream(async_cut_handler, PAYLOAD)
    assert caught.value.partial is not None and caught.value.partial.first.content == "Hel"
    assert len(driver.requests) == 1


def test_backoff_grows_with_jitter_and_cap() -> None:
    policy = RetryPolicy(max_retries=10)
    server_error = InternalServerError("x", status_code=500)
    delays = [policy.delay_for(n, server_error) for n in range(6)]
    assert all(d is not None for d in delays)
    for n, delay in enumerate(delays):
        base = min(0.5 * 2**n, 8.0)
        assert delay is not None and 0.75 * base <= delay <= base
    assert policy.delay_for(10, server_error) is None
    assert policy.delay_for(0, BadRequestError("x")) is None
    assert policy.delay_for(0, AuthenticationError("x")) is None
    assert policy.delay_for(0, APIConnectionError("x")) is not None


@pytest.mark.parametrize(
    "options",
    [
        {"initial_delay": -1.0},
        {"initial_delay": math.nan},
        {"initial_delay": math.inf, "max_delay": math.inf},
        {"max_retry_after": math.inf},
        {"max_retries": -1},
        {"max_retries": None},  # a TypeError at the first failure
        {"initial_delay": None},
    ],
)
def test_a_policy_no_sleep_can_follow_is_refused_when_made(options: dict[str, float]) -> None:
    # Each once raised ValueError or OverflowError from the sleep after the first failure.
    with pytest.raises(InvalidParameterError, match="RetryPolicy"):
        RetryPolicy(**options)  # type: ignore[arg-type]


def test_backoff_after_a_thousand_retries_does_not_overflow() -> None:
    policy = RetryPolicy(max_retries=2000, initial_delay=0.0)
    assert policy.delay_for(1100, InternalServerError("x", status_code=500)) == 0.0


def test_parse_retry_after_forms() -> None:
    assert parse_retry_after({"retry-after-ms": "250"}) == 0.25
    assert parse_retry_after({"retry-after": "3"}) == 3.0
    now = time.time()
    date = email.utils.formatdate(now + 30, usegmt=True)
    value = parse_retry_after({"retry-after": date}, now=now)
    assert value is not None and 28 <= value <= 31
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({}) is None
    assert parse_retry_after({"retry-after": "1e999"}) == math.inf
