"""Errors: typed by status and error.type, carrying trace id and what was received."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from stepfun_core import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ContentModerationError,
    ContextOverflowError,
    InternalServerError,
    MalformedResponseError,
    NotFoundError,
    PaymentRequiredError,
    RateLimitError,
    StepFunError,
    StreamError,
    StreamIdleTimeoutError,
    StreamInterruptedError,
    build_chat_request,
)
from tests.core.conftest import Driver, reply, sequence
from tests.core.wire_samples import current_chunk, sse
from tests.hostile import through_openrouter

PAYLOAD = build_chat_request("step-3.7-flash", [{"role": "user", "content": "hi"}])
NO_RETRY = {"max_retries": 0}

CASES = [
    (400, "request_params_invalid", "invalid msg role: function", BadRequestError),
    (401, "invalid_api_key", "Incorrect API key provided", AuthenticationError),
    (402, "quota_exceeded", "insufficient balance", PaymentRequiredError),
    (
        404,
        "model_invalid",
        'The model "x" does not exist or you do not have access to it.',
        NotFoundError,
    ),
    (429, None, "requests too frequent", RateLimitError),
    (
        451,
        "censorship_blocked",
        "The content you provided or machine outputted is blocked.",
        ContentModerationError,
    ),
    (500, None, "internal error", InternalServerError),
    (503, None, "request ran over 10 minutes", InternalServerError),
]


@pytest.mark.parametrize(("status", "kind", "message", "cls"), CASES)
@pytest.mark.parametrize("streaming", [False, True])
def test_status_errors(
    driver: Driver,
    streaming: bool,
    status: int,
    kind: str | None,
    message: str,
    cls: type[StepFunError],
) -> None:
    error = {"message": message, **({"type": kind} if kind else {})}
    handler = reply({"error": error}, status=status, headers={"X-Trace-Id": "trace-123"})
    call = driver.stream if streaming else driver.create
    with pytest.raises(cls) as caught:
        call(handler, PAYLOAD, retry_policy=None, **NO_RETRY)
    exc = caught.value
    assert (exc.status_code, exc.error_type, exc.message, exc.trace_id) == (
        status,
        kind,
        message,
        "trace-123",
    )
    assert message in str(exc) and "trace-123" in str(exc)
    assert "sk-test-key" not in str(exc)


def test_type_wins_over_status(driver: Driver) -> None:
    handler = reply({"error": {"message": "bad key", "type": "invalid_api_key"}}, status=400)
    with pytest.raises(AuthenticationError):
        driver.create(handler, PAYLOAD, retry_policy=None, **NO_RETRY)


def test_context_overflow_is_recognized(driver: Driver) -> None:
    body = {
        "error": {
            "message": "input exceeds the context length of the model",
            "type": "request_params_invalid",
        }
    }
    with pytest.raises(ContextOverflowError):
        driver.create(reply(body, status=400), PAYLOAD, retry_policy=None, **NO_RETRY)


def test_stepfun_s_error_inside_openrouter_s_is_what_is_read(driver: Driver) -> None:
    # Round 11: OpenRouter's "Provider returned error" (code 400) hid StepFun's type, so a
    # moderation block, an overflow or a refused echo read as a plain 400 (docs/wire.md §7.1).
    cases = [
        (451, "The content you provided or machine outputted is blocked.", "censorship_blocked"),
        (400, "input exceeds the context length of the model", "request_params_invalid"),
    ]
    classes = (ContentModerationError, ContextOverflowError)
    for (status, message, kind), cls in zip(cases, classes, strict=True):
        body = through_openrouter(status, {"message": message, "type": kind})
        with pytest.raises(cls) as caught:
            driver.create(reply(body, status=status), PAYLOAD, retry_policy=None, **NO_RETRY)
        assert (caught.value.message, caught.value.error_type) == (message, kind)
        assert caught.value.status_code == status and caught.value.body == body
    odd = {"error": {"message": "Provider returned error", "metadata": {"raw": "<html>"}}}
    with pytest.raises(BadRequestError, match="Provider returned error"):
        driver.create(reply(odd, status=400), PAYLOAD, retry_policy=None, **NO_RETRY)


def test_non_json_error_body(driver: Driver) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(502, text="<html>Bad gateway</html>")

    with pytest.raises(InternalServerError, match="Bad gateway"):
        driver.create(handler, PAYLOAD, retry_policy=None, **NO_RETRY)


def test_mid_stream_error_event_carries_partial(driver: Driver) -> None:
    body = sse(
        current_chunk({"content": "Hello"}, 1),
        {
            "error": {
                "message": "The content you provided or machine outputted is blocked.",
                "type": "censorship_blocked",
            }
        },
        done=False,
    )
    with pytest.raises(ContentModerationError) as caught:
        driver.stream(reply(body), PAYLOAD)
    assert caught.value.partial is not None
    assert caught.value.partial.first.content == "Hello"


def test_a_server_error_event_is_a_server_error(driver: Driver) -> None:
    # Round 9b: OpenAI's "server_error" type (which gateways pass on) was a StreamError, not
    # retryable: sent once, and LangChain's ModelRetryMiddleware gave up on it too.
    overloaded = {"error": {"message": "server overloaded, retry later", "type": "server_error"}}
    answer = sse(current_chunk({"content": "ok"}, 1, finish="stop"))
    _, completion = driver.stream(
        sequence(reply(sse(overloaded, done=False)), reply(answer)), PAYLOAD
    )
    assert completion.first.content == "ok" and len(driver.requests) == 2  # nothing yielded yet
    after = sse(current_chunk({"content": "Hel"}, 1), overloaded, done=False)
    with pytest.raises(InternalServerError) as caught:
        driver.stream(reply(after), PAYLOAD)
    assert caught.value.is_retryable and caught.value.partial is not None


def test_mid_stream_error_of_unknown_type(driver: Driver) -> None:
    body = sse(current_chunk({"content": "Hel"}, 1), {"error": {"message": "quota"}}, done=False)
    with pytest.raises(StreamError, match="quota") as caught:
        driver.stream(reply(body), PAYLOAD)
    assert caught.value.partial is not None and caught.value.partial.first.content == "Hel"


def test_stream_without_done_or_finish_reason(driver: Driver) -> None:
    body = sse(
        current_chunk({"content": "Hel"}, 1), current_chunk({"content": "lo"}, 2), done=False
    )
    with pytest.raises(StreamInterruptedError, match="before \\[DONE\\]") as caught:
        driver.stream(reply(body), PAYLOAD)
    assert isinstance(caught.value, APIConnectionError)
    assert caught.value.partial is not None and caught.value.partial.first.content == "Hello"


def test_stream_with_finish_reason_but_no_done_is_complete(driver: Driver) -> None:
    body = sse(current_chunk({"content": "Hi"}, 1, finish="stop"), done=False)
    _, completion = driver.stream(reply(body), PAYLOAD)
    assert completion.first.content == "Hi"


def test_malformed_chunk(driver: Driver) -> None:
    body = sse(current_chunk({"content": "ok"}, 1), done=False) + b"data: {not json\n\n"
    with pytest.raises(MalformedResponseError, match="not JSON") as caught:
        driver.stream(reply(body), PAYLOAD)
    assert caught.value.partial is not None and caught.value.partial.first.content == "ok"


def test_json_reply_to_a_stream_request(driver: Driver) -> None:
    completion = {
        "id": "x",
        "choices": [{"message": {"content": "whole answer"}, "finish_reason": "stop"}],
    }
    with pytest.raises(MalformedResponseError, match="JSON document") as caught:
        driver.stream(reply(completion), PAYLOAD)
    assert caught.value.partial is not None and caught.value.partial.first.content == "whole answer"


def test_json_error_envelope_with_status_200(driver: Driver) -> None:
    body = {"error": {"message": "quota exhausted", "type": "quota_exceeded"}}
    with pytest.raises(PaymentRequiredError, match="quota exhausted"):
        driver.stream(reply(body), PAYLOAD)
    with pytest.raises(PaymentRequiredError):
        driver.create(reply(body), PAYLOAD)


def test_wrong_content_type(driver: Driver) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text="<html>login</html>", headers={"content-type": "text/html"})

    with pytest.raises(MalformedResponseError, match="text/html"):
        driver.stream(handler, PAYLOAD)
    with pytest.raises(MalformedResponseError, match="not a JSON object"):
        driver.create(handler, PAYLOAD)


def test_connection_and_timeout_errors(driver: Driver) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    def stall(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out")

    with pytest.raises(APIConnectionError, match="refused"):
        driver.create(refuse, PAYLOAD, retry_policy=None, **NO_RETRY)
    with pytest.raises(APITimeoutError):
        driver.stream(stall, PAYLOAD, retry_policy=None, **NO_RETRY)


def test_an_error_body_cut_short_is_a_connection_error_and_is_retried(driver: Driver) -> None:
    def cut_error(request: httpx.Request) -> httpx.Response:
        def body():  # type: ignore[no-untyped-def]
            yield b'{"error": {"mess'
            raise httpx.ReadError("connection reset")

        async def abody():  # type: ignore[no-untyped-def]
            yield b'{"error": {"mess'
            raise httpx.ReadError("connection reset")

        stream = body() if driver.mode == "sync" else abody()
        return httpx.Response(500, content=stream)

    for call in (driver.create, driver.stream):
        driver.requests.clear()
        with pytest.raises(APIConnectionError, match="ReadError"):
            call(cut_error, PAYLOAD)
        assert len(driver.requests) == 3


def test_context_overflow_under_status_200_and_mid_stream(driver: Driver) -> None:
    body = {
        "error": {"message": "prompt exceeds the context length", "type": "request_params_invalid"}
    }
    with pytest.raises(ContextOverflowError) as caught:
        driver.create(reply(body), PAYLOAD)
    assert caught.value.status_code == 200
    events = sse(current_chunk({"content": "a"}, 1), body, done=False)
    with pytest.raises(ContextOverflowError) as caught:
        driver.stream(reply(events), PAYLOAD)
    assert caught.value.partial is not None and caught.value.partial.first.content == "a"
    assert "error event in the stream" in str(caught.value)


def test_odd_chunk_shapes_are_skipped(driver: Driver) -> None:
    body = sse(
        {"choices": ["junk", {"delta": "junk"}]},
        {"choices": {"not": "a list"}},
        current_chunk({"content": "ok"}, 1, finish="stop"),
    )
    _, completion = driver.stream(reply(body), PAYLOAD)
    assert completion.first.content == "ok"


def test_stream_idle_timeout_is_not_reset_by_keep_alives(driver: Driver) -> None:
    first = sse(current_chunk({"content": "Hel"}, 1), done=False)

    def keep_alive_forever(request: httpx.Request) -> httpx.Response:
        def body():  # type: ignore[no-untyped-def]
            yield first
            for _ in range(200):
                time.sleep(0.01)
                yield b": keep-alive\n\n"

        async def abody():  # type: ignore[no-untyped-def]
            yield first
            for _ in range(200):
                await asyncio.sleep(0.01)
                yield b": keep-alive\n\n"

        stream = body() if driver.mode == "sync" else abody()
        return httpx.Response(200, content=stream, headers={"content-type": "text/event-stream"})

    # Without the watchdog the body would end after 2 s of keep-alives, without [DONE].
    with pytest.raises(StreamIdleTimeoutError, match=r"no data for 0\.1 s") as caught:
        driver.stream(keep_alive_forever, PAYLOAD, stream_idle_timeout=0.1)
    assert caught.value.partial is not None and caught.value.partial.first.content == "Hel"
    assert isinstance(caught.value, StreamInterruptedError)


def test_stream_idle_timeout_caps_the_read_timeout_of_streams_only() -> None:
    from stepfun_core import StepFunClient

    client = StepFunClient(api_key="k", timeout=600, stream_idle_timeout=30)
    stream_request = client._build(client.http, PAYLOAD, stream=True)
    plain_request = client._build(client.http, PAYLOAD, stream=False)
    assert stream_request.extensions["timeout"]["read"] == 30
    assert plain_request.extensions["timeout"]["read"] == 600
