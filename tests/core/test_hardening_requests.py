"""What the caller sends and how a client is configured (commit fb28167).

Bad input gets a clear error naming the field before anything is sent (the transport sees no
request); keys, headers and URLs are checked when a client is made, without echoing secrets;
``total_timeout`` bounds a whole call, retries included. Sync and async.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import json
import logging
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

import stepfun_core as core
from stepfun_core import (
    AsyncStepFunClient,
    InternalServerError,
    InvalidParameterError,
    MalformedAPIKeyError,
    RetryPolicy,
    StepFunClient,
    TotalTimeoutError,
    history,
    json_mode,
)
from tests.core.conftest import Driver, Handler, reply
from tests.hostile import (
    BAD_TOOLS,
    BAD_VALUES,
    CITY,
    GIF,
    JSON_SCHEMA_REFUSAL,
    MEDIA,
    PNG,
    WAV,
    Body,
    Opaque,
    assert_not_shown,
    chunk,
    each,
    refusing_json_schema,
    sse,
    through_openrouter,
    tool,
    trickle,
)

MODEL = "step-3.5-flash"
USER = [{"role": "user", "content": "hi"}]
OK = {
    "id": "r1",
    "model": MODEL,
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}
    ],
}
CLIENTS = [StepFunClient, AsyncStepFunClient]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def send(driver: Driver, messages: Any = None, **params: Any) -> core.Completion:
    """Build the request as a caller would, then send it (the build must refuse bad input)."""
    payload = core.build_chat_request(MODEL, USER if messages is None else messages, **params)
    return driver.create(reply(OK), payload)


def refused(driver: Driver, field: str, messages: Any = None, **params: Any) -> None:
    """Sending this must raise InvalidParameterError naming ``field``, with nothing sent."""
    driver.requests.clear()
    with pytest.raises(InvalidParameterError) as caught:
        send(driver, messages, **params)
    assert field in str(caught.value)
    assert driver.requests == []


# --- values that are not JSON ----------------------------------------------------------------


def _tools(parameters: Any) -> list[dict[str, Any]]:
    return [tool(parameters)]


NOT_JSON_PARAMS: dict[str, tuple[dict[str, Any], str]] = {
    "nan-known": ({"temperature": float("nan")}, "temperature"),
    "inf-known": ({"top_p": float("inf")}, "top_p"),
    **{name: ({"foo": value}, path) for name, (value, path) in BAD_VALUES.items()},
    "schema-inf": (
        {"tools": _tools({"type": "object", "properties": {"n": {"maximum": float("inf")}}})},
        "tools[0].function.parameters.properties.n.maximum",
    ),
    **{f"schema-{name}": ({"tools": [bad]}, path) for name, (bad, path) in BAD_TOOLS.items()},
}


def test_values_that_are_not_json_are_refused_naming_the_field(driver: Driver) -> None:
    def check(case: tuple[dict[str, Any], str]) -> None:
        params, field = case
        refused(driver, field, **params)

    each(NOT_JSON_PARAMS, check)


HUGE = 10**5000  # its repr is past Python's limit on digits (sys.set_int_max_str_digits)
HUGE_VALUES: dict[str, tuple[dict[str, Any], Any, str]] = {
    "temperature": ({"temperature": HUGE}, None, "temperature"),
    "n": ({"n": -HUGE}, None, "n"),
    "tool_choice": ({"tool_choice": HUGE}, None, "tool_choice"),
    "tool name": ({"tools": [{"type": "function", "function": {"name": HUGE}}]}, None, "tools"),
    "role": ({}, [{"role": HUGE, "content": "hi"}], "messages[0].role"),
    "echo_reasoning": ({"echo_reasoning": HUGE}, None, "echo_reasoning"),
    # Review of round 9: these still quoted it with repr.
    "tool type": ({"tools": [{"type": HUGE}]}, None, "tools[0].type"),
    "part type": ({}, [{"role": "user", "content": [{"type": HUGE}]}], "content[0].type"),
    "extra key": ({"foo": {HUGE: 1}}, None, "foo"),
    "in a list": ({"tool_choice": [HUGE]}, None, "tool_choice"),
}


def test_a_huge_integer_is_refused_naming_the_field(driver: Driver) -> None:
    # Hostile round 9: quoting it in the message raised a plain ValueError instead.
    def check(case: tuple[dict[str, Any], Any, str]) -> None:
        params, messages, field = case
        refused(driver, field, messages, **params)

    each(HUGE_VALUES, check)
    with pytest.raises(InvalidParameterError, match="reasoning_echo_field"):
        StepFunClient(api_key="sk-test-key", reasoning_echo_field=HUGE)  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="detail"):
        core.image_part(b"\x89PNG\r\n\x1a\n" + bytes(16), detail=HUGE)  # type: ignore[arg-type]


NOT_JSON_MESSAGES: dict[str, tuple[dict[str, Any], str]] = {
    "nan": ({"meta": float("nan")}, "messages[0].meta"),
    "date": ({"meta": {"when": datetime.date(2026, 1, 1)}}, "messages[0].meta.when"),
    "bytes": ({"name": b"me"}, "messages[0].name"),
}


def test_a_message_holding_a_value_that_is_not_json_is_refused(driver: Driver) -> None:
    def check(case: tuple[dict[str, Any], str]) -> None:
        extra, field = case
        refused(driver, field, [{"role": "user", "content": "hi", **extra}])

    each(NOT_JSON_MESSAGES, check)


def test_the_client_refuses_a_payload_that_is_not_json(driver: Driver) -> None:
    looped: dict[str, Any] = {}
    looped["again"] = looped

    def check(value: Any) -> None:
        driver.requests.clear()
        payload = {"model": MODEL, "messages": USER, "weird": value}
        with pytest.raises(InvalidParameterError) as caught:
            driver.create(reply(OK), payload)
        assert "weird" in str(caught.value)
        assert driver.requests == []

    values = {"nan": float("nan"), "inf": float("inf"), "set": {1}, "object": Opaque()}
    each({**values, "self-reference": looped}, check)


# --- reserved fields -------------------------------------------------------------------------


def test_reserved_keys_in_extras_are_refused_naming_them() -> None:
    def check(case: tuple[str, str]) -> None:
        key, where = case
        params: dict[str, Any] = {"temperature": 0.5}
        with pytest.raises(InvalidParameterError) as caught:
            core.merge_extra(params, {key: "x", "foo": 1}, where)
        assert repr(key) in str(caught.value)
        assert where in str(caught.value)
        assert params == {"temperature": 0.5}

    places = ("extra_body", "model_kwargs", "additional_kwargs")
    keys = ("model", "messages", "stream")
    each({f"{w}-{k}": (k, w) for w in places for k in keys}, check)


def test_stream_as_a_build_parameter_is_refused(driver: Driver) -> None:
    refused(driver, "stream", stream=True)


def test_a_tool_name_the_model_wrote_goes_back_as_written(driver: Driver) -> None:
    # Hostile round 13: names the spec does not allow in `tools` ("functions.get_weather", a
    # space, "") were refused in earlier turns too, so an agent's error result for the unknown
    # tool never reached the model and the run ended. OpenAI's clients send them back as written.
    for name in ("functions.get_weather", "get weather", "", "x" * 100):
        call = {"id": "c1", "type": "function", "function": {"name": name, "arguments": "{}"}}
        history = [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "", "tool_calls": [call]},
            {"role": "tool", "content": "unknown tool", "tool_call_id": "c1"},
        ]
        send(driver, history)
        assert json.loads(driver.requests[-1].content)["messages"][1] == history[1]
    bad = {"id": "c1", "type": "function", "function": {"name": None, "arguments": "{}"}}
    refused(driver, "messages[0].tool_calls[0]", [{"role": "assistant", "tool_calls": [bad]}])
    spaced = tool({"type": "object"})
    spaced["function"]["name"] = "get weather"
    refused(driver, "tools[0].function.name", tools=[spaced])


def test_extras_merge_at_the_top_of_the_body(driver: Driver) -> None:
    params: dict[str, Any] = {}
    core.merge_extra(params, {"foo": 1, "nested": {"a": [1]}}, "extra_body")
    send(driver, **params)
    body = json.loads(driver.requests[0].content)
    assert body["foo"] == 1
    assert body["nested"] == {"a": [1]}
    assert "extra_body" not in body


# --- data URLs -------------------------------------------------------------------------------


def _image(url: str) -> list[dict[str, Any]]:
    part = {"type": "image_url", "image_url": {"url": url}}
    return [{"role": "user", "content": [{"type": "text", "text": "look"}, part]}]


def _audio(url: str) -> list[dict[str, Any]]:
    part = {"type": "input_audio", "input_audio": {"data": url}}
    return [{"role": "user", "content": [{"type": "text", "text": "listen"}, part]}]


IMAGE_FIELD = "messages[0].content[1].image_url.url"
AUDIO_FIELD = "messages[0].content[1].input_audio.data"
BAD_MEDIA: dict[str, tuple[list[dict[str, Any]], str]] = {
    "image-empty": (_image("data:image/png;base64,"), IMAGE_FIELD),
    "image-bad-base64": (_image("data:image/png;base64,!!!not-base64!!!"), IMAGE_FIELD),
    "gif-as-png": (_image(f"data:image/png;base64,{b64(GIF)}"), IMAGE_FIELD),
    "text-as-png": (_image(f"data:image/png;base64,{b64(b'plain text')}"), IMAGE_FIELD),
    "audio-empty": (_audio("data:audio/mpeg;base64,"), AUDIO_FIELD),
    "audio-bad-base64": (_audio("data:audio/wav;base64,%%%"), AUDIO_FIELD),
    "wav-as-mpeg": (_audio(f"data:audio/mpeg;base64,{b64(WAV)}"), AUDIO_FIELD),
}


def test_bad_data_urls_are_refused_before_sending(driver: Driver) -> None:
    def check(case: tuple[list[dict[str, Any]], str]) -> None:
        messages, field = case
        refused(driver, field, messages)

    each(BAD_MEDIA, check)


def test_real_media_passes(driver: Driver) -> None:
    def check(messages: list[dict[str, Any]]) -> None:
        driver.requests.clear()
        send(driver, messages)
        assert len(driver.requests) == 1

    parts = [core.image_part(PNG), core.audio_part(WAV), core.image_part(MEDIA / "tiny.png")]
    cases = {
        "png": _image(f"data:image/png;base64,{b64(PNG)}"),
        "wav": _audio(f"data:audio/wav;base64,{b64(WAV)}"),
        "parts": [{"role": "user", "content": parts}],
    }
    each(cases, check)


def test_media_parts_refuse_bytes_of_another_type() -> None:
    def check(case: tuple[Any, bytes, str | None]) -> None:
        make, data, mime = case
        with pytest.raises(InvalidParameterError):
            make(data, mime_type=mime)

    cases = {
        "gif-as-png": (core.image_part, GIF, "image/png"),
        "empty-image": (core.image_part, b"", "image/png"),
        "wav-as-mpeg": (core.audio_part, WAV, "audio/mpeg"),
        "png-as-audio": (core.audio_part, PNG, None),
    }
    each(cases, check)


# --- lone surrogates from the caller ---------------------------------------------------------

LONE_SURROGATES: dict[str, tuple[list[dict[str, Any]], str]] = {
    "string": ([{"role": "user", "content": "half \ud83d"}], "messages[0].content"),
    "text-part": (
        [{"role": "user", "content": [{"type": "text", "text": "\ude00"}]}],
        "messages[0].content[0].text",
    ),
    "history": (
        [
            {"role": "user", "content": "fine"},
            {"role": "assistant", "content": "x\udc00"},
            {"role": "user", "content": "again"},
        ],
        "messages[1].content",
    ),
}


def test_lone_surrogate_in_a_message_is_refused_naming_it(driver: Driver) -> None:
    def check(case: tuple[list[dict[str, Any]], str]) -> None:
        messages, field = case
        refused(driver, field, messages)

    each(LONE_SURROGATES, check)


def test_a_joined_surrogate_pair_is_sent_as_its_character(driver: Driver) -> None:
    send(driver, [{"role": "user", "content": "a\ud83d\ude00b"}])
    body = driver.requests[0].content.decode("utf-8")
    assert json.loads(body)["messages"][0]["content"] == "a\U0001f600b"


# --- API keys --------------------------------------------------------------------------------

BAD_KEY_CHARS = {
    "space": " ",
    "tab": "\t",
    "newline": "\n",
    "control": "\x07",
    "zero-width-space": "\u200b",
    "en-dash": "\u2013",
}


def _key(char: str) -> str:
    return f"sk-SECRETSECRET{char}XYZ"


@pytest.mark.parametrize("cls", CLIENTS)
def test_malformed_key_is_refused_at_construction(cls: Any) -> None:
    def check(char: str) -> None:
        key = _key(char)
        with pytest.raises(MalformedAPIKeyError) as caught:
            cls(api_key=key)
        message = str(caught.value)
        assert f"U+{ord(char):04X}" in message
        assert "character 16 of 19" in message
        assert_not_shown(caught.value, "SECRET", "XYZ", key)

    each(BAD_KEY_CHARS, check)


@pytest.mark.parametrize("cls", CLIENTS)
def test_malformed_key_from_the_environment_is_refused(
    monkeypatch: pytest.MonkeyPatch, cls: Any
) -> None:
    monkeypatch.delenv("STEPFUN_API_KEY", raising=False)

    def check(char: str) -> None:
        monkeypatch.setenv("STEP_API_KEY", _key(char))
        with pytest.raises(MalformedAPIKeyError) as caught:
            cls()
        assert "STEP_API_KEY" in str(caught.value)
        assert_not_shown(caught.value, "SECRET", "XYZ")

    each({"zwsp": "\u200b", "en-dash": "\u2013", "space": " "}, check)


def test_malformed_key_is_refused_by_check_api_key() -> None:
    with pytest.raises(MalformedAPIKeyError) as caught:
        core.check_api_key(_key("\u200b"))
    assert "ZERO WIDTH SPACE" in str(caught.value)
    assert_not_shown(caught.value, "SECRET", "XYZ")


# --- headers ---------------------------------------------------------------------------------

HEADER_SECRET = "proxy-SECRET-token"
TWO_RETRIES = RetryPolicy(max_retries=2, initial_delay=0.001, max_delay=0.002)
BAD_HEADER_VALUES = {
    "newline": f"Bearer {HEADER_SECRET}\nX-Evil: 1",
    "non-ascii": f"Bearer {HEADER_SECRET}\u00e9",
    "carriage-return": f"{HEADER_SECRET}\r",
}


@pytest.mark.parametrize("cls", CLIENTS)
def test_bad_header_value_is_refused_at_construction(cls: Any) -> None:
    def check(value: str) -> None:
        with pytest.raises(InvalidParameterError) as caught:
            cls(api_key="sk-test", default_headers={"X-Proxy-Auth": value})
        assert "X-Proxy-Auth" in str(caught.value)
        assert_not_shown(caught.value, "SECRET")

    each(BAD_HEADER_VALUES, check)


def test_header_httpx_refuses_is_a_parameter_error_never_retried(driver: Driver) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.LocalProtocolError("Illegal header value b'Bearer sk-SECRET'")

    with pytest.raises(InvalidParameterError) as caught:
        driver.create(refuse, core.build_chat_request(MODEL, USER), retry_policy=TWO_RETRIES)
    assert len(driver.requests) == 1
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None or caught.value.__suppress_context__
    assert_not_shown(caught.value, "SECRET")


def test_a_header_of_ours_given_in_any_case_replaces_ours(driver: Driver) -> None:
    # Hostile round 8: a lower-case "authorization" (a gateway's token) went out beside ours,
    # so the StepFun key travelled with it; names are compared regardless of case everywhere.
    # Of one name given twice in one mapping, the last is sent (both went out).
    mine = {
        "authorization": "Bearer GATEWAY",
        "accept": "application/json",
        "USER-AGENT": "me",
        "X-A": "1",
        "x-a": "2",
    }
    driver.create(reply(OK), core.build_chat_request(MODEL, USER), default_headers=mine)
    headers = driver.requests[0].headers
    assert headers.get_list("authorization") == ["Bearer GATEWAY"]
    assert headers.get_list("accept") == ["application/json"]
    assert headers.get_list("user-agent") == ["me"]
    assert headers.get_list("x-a") == ["2"]
    # A stream is read as events: their Accept (meant for JSON replies) made every stream a
    # MalformedResponseError once a server honoured it.
    stream = core.build_chat_request(MODEL, USER)
    _, completion = driver.stream(
        reply(sse(chunk("ok", finish="stop"))), stream, default_headers=mine
    )
    assert completion.first.content == "ok"
    assert driver.requests[-1].headers.get_list("accept") == ["text/event-stream"]


# --- base URLs -------------------------------------------------------------------------------

URL_WITH_PASSWORD = "https://user:p4ss@api.example.com/v1"


@pytest.mark.parametrize("cls", CLIENTS)
def test_base_url_with_credentials_is_refused(cls: Any) -> None:
    url = URL_WITH_PASSWORD
    with pytest.raises(InvalidParameterError) as caught:
        cls(api_key="sk-test", base_url=url)
    assert "credentials" in str(caught.value)
    assert_not_shown(caught.value, "p4ss")


@pytest.mark.parametrize("cls", CLIENTS)
def test_base_url_with_credentials_from_the_environment_is_refused(
    monkeypatch: pytest.MonkeyPatch, cls: Any
) -> None:
    monkeypatch.delenv("STEPFUN_BASE_URL", raising=False)
    monkeypatch.setenv("STEP_BASE_URL", URL_WITH_PASSWORD)
    with pytest.raises(InvalidParameterError) as caught:
        cls(api_key="sk-test")
    assert "STEP_BASE_URL" in str(caught.value)
    assert_not_shown(caught.value, "p4ss")


@pytest.mark.parametrize("cls", CLIENTS)
def test_unusable_base_urls_are_refused(cls: Any) -> None:
    def check(url: str) -> None:
        with pytest.raises(InvalidParameterError, match="base_url"):
            cls(api_key="sk-test", base_url=url)

    cases = {
        "fragment": "https://api.example.com/v1#frag",
        "no-scheme": "api.stepfun.ai/v1",
        "ftp": "ftp://api.example.com/v1",
    }
    each(cases, check)


def test_base_url_query_is_kept_after_the_path(driver: Driver) -> None:
    payload = core.build_chat_request(MODEL, USER)
    driver.create(reply(OK), payload, base_url="https://api.example.com/v1?tenant=a")
    (request,) = driver.requests
    assert request.url.path == "/v1/chat/completions"
    assert request.url.params["tenant"] == "a"
    assert request.url.host == "api.example.com"


# --- total_timeout ---------------------------------------------------------------------------


def test_total_timeout_ends_a_trickling_reply(driver: Driver) -> None:
    started = time.monotonic()
    with pytest.raises(TotalTimeoutError):
        payload = core.build_chat_request(MODEL, USER)
        driver.create(trickle(json.dumps(OK).encode()), payload, total_timeout=0.2)
    elapsed = time.monotonic() - started
    assert 0.15 <= elapsed < 1.0


def test_retries_never_run_past_the_deadline(driver: Driver) -> None:
    failing = reply({"error": {"message": "boom", "type": "server_error"}}, status=500)

    def check(policy: RetryPolicy) -> None:
        driver.requests.clear()
        started = time.monotonic()
        with pytest.raises((InternalServerError, TotalTimeoutError)):
            payload = core.build_chat_request(MODEL, USER)
            driver.create(failing, payload, total_timeout=0.2, retry_policy=policy)
        assert time.monotonic() - started < 1.5  # without the deadline: about 2.5 s or 50 s
        assert 1 <= len(driver.requests) < 6

    cases = {
        "short-waits": RetryPolicy(max_retries=5, initial_delay=0.5, max_delay=0.5),
        "long-waits": RetryPolicy(max_retries=5, initial_delay=10.0, max_delay=10.0),
    }
    each(cases, check)


def refusing_any_echo(pause: float = 0.0) -> Callable[[httpx.Request], httpx.Response]:
    """A server that refuses a request echoing reasoning under any field, after ``pause`` s."""
    refusal = {"error": {"message": "Unrecognized chat message.", "type": "request_params_invalid"}}

    def answer(request: httpx.Request) -> httpx.Response:
        messages = json.loads(request.content)["messages"]
        echoed = any(f in m for m in messages for f in history.ECHO_FIELDS)
        body = json.dumps(refusal if echoed else OK).encode()
        return httpx.Response(400 if echoed else 200, stream=Body([body], pause=pause))

    return answer


THOUGHT = {"role": "assistant", "content": "", "reasoning": "thought"}
ECHOING = {**core.build_chat_request(MODEL, USER), "messages": [*USER, THOUGHT, *USER]}


def test_total_timeout_covers_the_reasoning_echo_fallbacks(
    driver: Driver, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each payload tried for the echoed reasoning (three here) once had its own deadline: with
    # every reply taking 0.5 s, a call with total_timeout=1.2 succeeded after 1.5 s. (Seconds:
    # a pause of the test process, such as a full garbage collection, must not decide it.)
    monkeypatch.setattr(history, "_learnt", {})
    started = time.monotonic()
    with pytest.raises(TotalTimeoutError):
        driver.create(refusing_any_echo(pause=0.5), ECHOING, total_timeout=1.2)
    assert time.monotonic() - started < 2.5
    assert 1 <= len(driver.requests) <= 3


def test_each_refused_echo_is_logged_at_debug(
    driver: Driver, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # A server refusing the echo under every field: each payload given up is said at DEBUG,
    # with the one tried next; the warning comes once, when a payload is taken.
    monkeypatch.setattr(history, "_learnt", {})
    with caplog.at_level(logging.DEBUG, logger="stepfun_core"):
        driver.create(refusing_any_echo(), ECHOING)
    said = [(r.levelname, r.getMessage()) for r in caplog.records if "echoed as" in r.getMessage()]
    refused = "the API refused the reasoning echoed as"
    assert said == [
        ("DEBUG", f"{refused} 'reasoning'; echoing it as 'reasoning_content'"),
        ("DEBUG", f"{refused} 'reasoning_content'; not echoing it"),
        (
            "WARNING",
            f"the API refused earlier reasoning echoed as reasoning or reasoning_content; "
            f"not echoing it for {MODEL} from now on",
        ),
    ]
    assert len(driver.requests) == 3


@pytest.mark.parametrize(
    "words",
    [
        "The input exceeds the maximum context length of the model.",
        "prompt is too long: 300000 tokens > 256000 maximum",
        "输入长度超过模型最大限制",
        "输入内容过长",
    ],
)
def test_a_prompt_over_the_window_is_raised_not_taken_for_a_refused_echo(
    driver: Driver, monkeypatch: pytest.MonkeyPatch, words: str
) -> None:
    # Hostile round 8: an overflow shares the echo refusal's error type, so a history that fit
    # only without its echoed reasoning was sent three times, the overflow never reached the
    # caller (SummarizationMiddleware waits for it), and "never echo" was learnt for the model.
    # StepFun's own wording is not captured (docs/wire.md): the usual ones in both languages.
    monkeypatch.setattr(history, "_learnt", {})
    overflow = {"error": {"message": words, "type": "request_params_invalid"}}

    def answer(request: httpx.Request) -> httpx.Response:
        messages = json.loads(request.content)["messages"]
        echoed = any(f in m for m in messages for f in history.ECHO_FIELDS)
        return httpx.Response(400 if echoed else 200, json=overflow if echoed else OK)

    with pytest.raises(core.ContextOverflowError):
        driver.create(answer, ECHOING)
    assert len(driver.requests) == 1
    assert history._learnt == {}


def test_total_timeout_must_be_positive() -> None:
    def check(case: tuple[Any, float]) -> None:
        make, value = case
        with pytest.raises(InvalidParameterError, match="total_timeout"):
            make(api_key="sk-test", total_timeout=value)

    makers = {"StepFunClient": StepFunClient, "AsyncStepFunClient": AsyncStepFunClient}
    makers["Settings.make"] = core.Settings.make
    values = (0, 0.0, -1, -0.5)
    each({f"{n}-{v}": (m, v) for n, m in makers.items() for v in values}, check)


# --- a refused json_schema -------------------------------------------------------------------
CITY_FORMAT = {"type": "json_schema", "json_schema": {"name": "City", "schema": CITY}}


@pytest.fixture
def nothing_learnt(monkeypatch: pytest.MonkeyPatch) -> None:
    """Which servers refused json_schema, and which echo field each took: nothing yet."""
    monkeypatch.setattr(json_mode, "_refused", set())
    monkeypatch.setattr(history, "_learnt", {})


def test_a_refused_json_schema_is_sent_again_in_json_mode(
    driver: Driver, nothing_learnt: None
) -> None:
    # The disputed fact of docs/wire.md: the 2026-06 reference lists json_schema for
    # step-3.5-flash, a capture has it refused. The docs promised this fallback; none was made.
    spec = CITY_FORMAT
    payload = core.build_chat_request(MODEL, USER, response_format=spec)
    assert driver.create(refusing_json_schema, payload).first.content == '{"name": "Paris"}'
    first, second = (json.loads(r.content) for r in driver.requests)
    assert first["response_format"] == spec
    assert second["response_format"] == {"type": "json_object"}
    instruction = second["messages"][0]
    assert instruction["role"] == "system" and json.dumps(CITY) in instruction["content"]
    assert second["messages"][1:] == USER
    driver.requests.clear()  # learnt for the process: JSON mode from the start
    driver.create(refusing_json_schema, payload)
    assert [json.loads(r.content)["response_format"] for r in driver.requests] == [
        {"type": "json_object"}
    ]


def test_other_input_errors_are_not_taken_for_a_refused_json_schema(
    driver: Driver, nothing_learnt: None
) -> None:
    spec = CITY_FORMAT
    payload = core.build_chat_request(MODEL, USER, response_format=spec)
    # Review: a schema the server takes but finds fault with is no refusal of json_schema (it
    # was sent again in JSON mode, and json_schema never tried again in the process).
    for message in (
        "messages[0] is invalid",
        "response_format.json_schema.schema is invalid: $ref is not supported",
    ):
        other = {"error": {"message": message, "type": "input_invalid"}}
        with pytest.raises(core.BadRequestError):
            driver.create(reply(other, status=400), payload)
    strict = {**CITY_FORMAT, "json_schema": {**CITY_FORMAT["json_schema"], "strict": True}}
    with pytest.raises(core.BadRequestError):  # strict: a guarantee JSON mode cannot give
        driver.create(refusing_json_schema, {**payload, "response_format": strict})
    with pytest.raises(core.BadRequestError):  # no schema to move into the prompt
        driver.create(reply(JSON_SCHEMA_REFUSAL, status=400), core.build_chat_request(MODEL, USER))
    assert len(driver.requests) == 4 and json_mode._refused == set()


def test_a_refused_json_schema_beside_echoed_reasoning_is_no_refused_echo(
    driver: Driver, nothing_learnt: None, caplog: pytest.LogCaptureFixture
) -> None:
    # The JSON-mode payload takes the refused one's place in the echo plan: the echo is tried
    # as before, and the server taking it is not said to have refused it.
    with caplog.at_level(logging.DEBUG, logger="stepfun_core"):
        driver.create(refusing_json_schema, {**ECHOING, "response_format": CITY_FORMAT})
    sent = [json.loads(r.content) for r in driver.requests]
    assert [b["response_format"]["type"] for b in sent] == ["json_schema", "json_object"]
    assert all("reasoning" in b["messages"][-2] for b in sent)  # echoed under the first field
    assert not [r for r in caplog.records if "echoed as" in r.getMessage()]
    assert list(history._learnt.values()) == ["reasoning"]


def test_json_mode_goes_on_from_the_echo_field_the_plan_had_reached(
    driver: Driver, nothing_learnt: None
) -> None:
    # Review: a server taking only reasoning_content, which checks the echo before the schema.
    # The plan started again at "reasoning" in JSON mode (a refused field sent again), and
    # reasoning_content was said to be refused.
    refusal = {"error": {"message": "Unrecognized chat message.", "type": "request_params_invalid"}}

    def answer(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if any("reasoning" in m for m in body["messages"]):
            return httpx.Response(400, json=refusal)
        return refusing_json_schema(request)

    driver.create(answer, {**ECHOING, "response_format": CITY_FORMAT})
    sent = [json.loads(r.content) for r in driver.requests]
    fields = [next(f for f in history.ECHO_FIELDS if f in b["messages"][-2]) for b in sent]
    assert fields == ["reasoning", "reasoning_content", "reasoning_content"]
    assert [b["response_format"]["type"] for b in sent] == [
        "json_schema",
        "json_schema",
        "json_object",
    ]
    assert list(history._learnt.values()) == ["reasoning_content"]


def test_json_mode_adds_to_the_system_message_the_history_has() -> None:
    # Review: a second system message (whether StepFun takes two is not on record), and the
    # schema's name and description were left out.
    spec = {
        "type": "json_schema",
        "json_schema": {"name": "City", "description": "A city.", "schema": CITY},
    }
    messages = [{"role": "system", "content": "Be brief."}, *USER]
    payload = json_mode.in_json_mode(
        {**core.build_chat_request(MODEL, messages), "response_format": spec}
    )
    assert payload is not None
    system, *rest = payload["messages"]
    assert rest == USER and system["role"] == "system"
    assert system["content"].startswith("Be brief.\n\n") and "(City: A city.)" in system["content"]


# --- a refusal sent as a 200 stream's first event ----------------------------------------------
ECHO_REFUSAL = {
    "error": {"message": "Unrecognized chat message.", "type": "request_params_invalid"}
}


def refusing_in_the_stream(refused: Callable[[dict[str, Any]], dict[str, Any] | None]) -> Handler:
    """A gateway that answers 200 and refuses a payload in the stream's first event (with
    ``refused``'s error body), else streams an answer."""

    def answer(request: httpx.Request) -> httpx.Response:
        error = refused(json.loads(request.content))
        body = sse(error) if error else sse(chunk('{"name": "Paris"}', finish="stop"))
        return httpx.Response(200, content=body, headers={"content-type": "text/event-stream"})

    return answer


def echoes(body: dict[str, Any]) -> str | None:
    return next((f for m in body["messages"] for f in history.ECHO_FIELDS if f in m), None)


def test_a_refused_echo_in_a_stream_s_first_event_sends_the_next_payload(
    driver: Driver, nothing_learnt: None
) -> None:
    # Hostile round 11: a refusal in a 200 stream (as gateways send errors) raised at once, and
    # the field it refused was learnt as taken for the process: every agent turn then failed.
    def refused(body: dict[str, Any]) -> dict[str, Any] | None:
        return ECHO_REFUSAL if echoes(body) == "reasoning" else None

    _, completion = driver.stream(refusing_in_the_stream(refused), ECHOING)
    assert completion.first.content == '{"name": "Paris"}'
    sent = [echoes(json.loads(r.content)) for r in driver.requests]
    assert sent == ["reasoning", "reasoning_content"]
    assert history._learnt == {("https://api.stepfun.ai/v1", MODEL): "reasoning_content"}


def test_a_refused_json_schema_in_a_stream_s_first_event_goes_to_json_mode(
    driver: Driver, nothing_learnt: None
) -> None:
    def refused(body: dict[str, Any]) -> dict[str, Any] | None:
        return JSON_SCHEMA_REFUSAL if body["response_format"]["type"] == "json_schema" else None

    payload = core.build_chat_request(MODEL, USER, response_format=CITY_FORMAT)
    _, completion = driver.stream(refusing_in_the_stream(refused), payload)
    assert completion.first.content == '{"name": "Paris"}'
    sent = [json.loads(r.content)["response_format"]["type"] for r in driver.requests]
    assert sent == ["json_schema", "json_object"]
    assert json_mode._refused == {("https://api.stepfun.ai/v1", MODEL)}


def test_no_echo_field_is_learnt_while_a_stream_refuses_every_one(
    driver: Driver, nothing_learnt: None
) -> None:
    # Every field refused in the stream: the last payload's refusal is raised, nothing learnt.
    with pytest.raises(core.BadRequestError, match="Unrecognized chat message"):
        driver.stream(refusing_in_the_stream(lambda body: ECHO_REFUSAL), ECHOING)
    assert len(driver.requests) == 3
    assert history._learnt == {}


def test_refusals_passed_on_by_openrouter_move_the_plan_on(
    driver: Driver, nothing_learnt: None
) -> None:
    # Both captures of these refusals came through OpenRouter, which wraps StepFun's body in
    # metadata.raw (docs/wire.md §7.1): neither fallback fired there.
    def answer(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if echoes(body) == "reasoning":
            return httpx.Response(400, json=through_openrouter(400, ECHO_REFUSAL["error"]))
        if body["response_format"]["type"] == "json_schema":
            wrapped = through_openrouter(400, JSON_SCHEMA_REFUSAL["error"])
            return httpx.Response(400, json=wrapped)
        return refusing_json_schema(request)

    driver.create(answer, {**ECHOING, "response_format": CITY_FORMAT})
    sent = [json.loads(r.content) for r in driver.requests]
    assert [(echoes(b), b["response_format"]["type"]) for b in sent] == [
        ("reasoning", "json_schema"),
        ("reasoning_content", "json_schema"),
        ("reasoning_content", "json_object"),
    ]


def test_a_stream_s_echo_field_is_learnt_once_content_comes_even_if_not_read_to_the_end(
    driver: Driver, nothing_learnt: None
) -> None:
    # Review of round 11: learning only at a stream's whole end lost it for a stream the caller
    # stopped (a chat UI's Stop button), so every later turn paid a refused request again.
    answer = refusing_any_echo_but("reasoning_content")
    sync, concurrent = driver._clients(answer)
    for _ in range(2):
        if driver.mode == "sync":
            with sync.stream(ECHOING) as stream:
                next(c for c in stream if c.choices and c.choices[0].content)
        else:

            async def first() -> None:
                async with await concurrent.stream(ECHOING) as stream:
                    async for c in stream:
                        if c.choices and c.choices[0].content:
                            return

            asyncio.run(first())
    sent = [echoes(json.loads(r.content)) for r in driver.requests]
    assert sent == ["reasoning", "reasoning_content", "reasoning_content"]


def refusing_any_echo_but(field: str) -> Handler:
    """A server taking the echo under ``field`` only (a 400 for another), streaming an answer."""

    def answer(request: httpx.Request) -> httpx.Response:
        echoed = echoes(json.loads(request.content))
        if echoed not in (None, field):
            return httpx.Response(400, json=ECHO_REFUSAL)
        body = sse(chunk("Hello"), chunk(" there", finish="stop"))
        return httpx.Response(200, content=body, headers={"content-type": "text/event-stream"})

    return answer
