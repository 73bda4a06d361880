"""ChatStepFun after the hardening of commit fb28167, sync and async, over httpx.MockTransport.

What the server sends ends as a dual (core and LangChain) error or is read leniently;
unparseable tool arguments become ``invalid_tool_calls``; bad input, keys, headers and URLs
are refused before anything is sent, without echoing secrets.
"""

from __future__ import annotations

import base64
import gzip
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from langchain_core import exceptions as lc
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage

import stepfun_core as core
from langchain_stepfun import ChatStepFun
from langchain_stepfun.errors import (
    StepFunInvalidParameterError,
    StepFunMalformedAPIKeyError,
    StepFunMalformedResponseError,
    StepFunResponseTooLargeError,
    StepFunStreamTimeoutError,
)
from langchain_stepfun.outputs import chat_result
from langchain_stepfun.streaming import ChunkConverter
from stepfun_core.parse import UNREADABLE_ARGUMENTS, parse_chunk, parse_completion
from tests.core.wire_samples import sse
from tests.hostile import (
    BAD_ARGUMENTS,
    BAD_VALUES,
    DEEP,
    GIF,
    OK,
    PNG,
    STREAM_SHAPES,
    USAGE,
    WAV,
    Body,
    Handler,
    RecordingAPI,
    assert_not_shown,
    chain,
    chunk,
    completion_body,
    each,
    indexed_stream,
    self_referencing,
    sse_reply,
    tool,
    two_calls,
)
from tests.langchain.conftest import Driver, aggregate


class API(RecordingAPI):
    """The mock API, and a ChatStepFun whose caller's clients it answers."""

    def model(self, **options: Any) -> ChatStepFun:
        sync, concurrent = self.http_clients()
        options.setdefault("api_key", "sk-test-key")
        options.setdefault("max_retries", 0)
        return ChatStepFun(http_client=sync, http_async_client=concurrent, **options)


def json_reply(body: dict[str, Any] | bytes, status: int = 200) -> Handler:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"content-type": "application/json"}
    return lambda request: httpx.Response(status, content=content, headers=headers)


# --- deep JSON -------------------------------------------------------------------------------


def test_deep_json_reply_is_a_malformed_response(driver: Driver) -> None:
    api = API(json_reply(DEEP.encode()))
    with pytest.raises(StepFunMalformedResponseError) as caught:
        driver.invoke(api.model(), "hi")
    assert isinstance(caught.value, core.MalformedResponseError)
    assert isinstance(caught.value, lc.ModelAPIError)


def test_deep_json_stream_event_is_malformed_with_partial(driver: Driver) -> None:
    body = sse(chunk("Hel"), chunk("lo"), done=False) + b"data: " + DEEP.encode() + b"\n\n"
    api = API(sse_reply(body))
    with pytest.raises(StepFunMalformedResponseError) as caught:
        driver.stream(api.model(), "hi")
    assert caught.value.partial is not None
    assert caught.value.partial.first.content == "Hello"


# --- tool-call arguments that do not parse ---------------------------------------------------


def assert_one_invalid(message: AIMessage, arguments: str) -> None:
    seen = f"tool_calls={message.tool_calls!r:.200} invalid={message.invalid_tool_calls!r:.200}"
    invalid = [(c["name"], c["args"]) for c in message.invalid_tool_calls]
    assert invalid == [("get_weather", arguments)], seen
    assert [(c["name"], c["args"]) for c in message.tool_calls] == [("get_time", {"tz": "UTC"})]


def test_unparseable_arguments_in_a_reply_are_invalid_tool_calls(driver: Driver) -> None:
    def check(arguments: str) -> None:
        api = API(json_reply(two_calls(arguments)))
        message = driver.invoke(api.model(), "weather?")
        assert_one_invalid(message, arguments)
        assert message.invalid_tool_calls[0]["id"] == "call_bad"

    each(BAD_ARGUMENTS, check)


# In a stream, LangChain itself turns the summed tool-call chunks into calls
# (langchain_core.messages.ai.AIMessageChunk.init_tool_calls), reading unfinished JSON as far as
# it goes with parse_partial_json. So a call cut short ('{"city": "Par') is a valid call in the
# summed message, as with every LangChain chat model; what is not JSON at all, or too deep to
# read, is an invalid call. Deliberate difference from the reply case, checked below: the raw
# text always stays in tool_call_chunks, and the stream's finish_reason says why it stopped.
STREAM_UNPARSEABLE = {k: v for k, v in BAD_ARGUMENTS.items() if k != "truncated"}


@STREAM_SHAPES
def test_unparseable_arguments_in_a_stream_are_invalid_tool_calls(
    driver: Driver, shape: Callable[[str], bytes]
) -> None:
    def check(arguments: str) -> None:
        api = API(sse_reply(shape(arguments)))
        message = aggregate(driver.stream(api.model(), "weather?"))
        assert_one_invalid(message, arguments)

    each(STREAM_UNPARSEABLE, check)


@STREAM_SHAPES
def test_cut_off_arguments_in_a_stream_keep_their_raw_text(
    driver: Driver, shape: Callable[[str], bytes]
) -> None:
    arguments = BAD_ARGUMENTS["truncated"]
    message = aggregate(driver.stream(API(sse_reply(shape(arguments))).model(), "weather?"))
    assert isinstance(message, AIMessageChunk)
    raw = {c["name"]: c["args"] for c in message.tool_call_chunks}
    assert raw["get_weather"] == arguments
    assert message.response_metadata["finish_reason"] == "tool_calls"


def test_unparseable_arguments_through_streaming_invoke(driver: Driver) -> None:
    def check(arguments: str) -> None:
        api = API(sse_reply(indexed_stream(arguments)))
        message = driver.invoke(api.model(streaming=True), "weather?")
        assert_one_invalid(message, arguments)

    each(STREAM_UNPARSEABLE, check)


def _nested_list(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


def _deep_call(**extra: Any) -> dict[str, Any]:
    function = {"name": "get_weather", "arguments": _nested_list(5000)}
    return {"id": "call_deep", "type": "function", "function": function, **extra}


def test_arguments_too_deep_to_write_back_are_an_invalid_call_in_a_reply() -> None:
    data = completion_body({"role": "assistant", "content": "", "tool_calls": [_deep_call()]})
    message = chat_result(parse_completion(data)).generations[0].message
    assert isinstance(message, AIMessage)
    assert message.tool_calls == []
    assert [(c["name"], c["args"]) for c in message.invalid_tool_calls] == [
        ("get_weather", UNREADABLE_ARGUMENTS)
    ]


def test_arguments_too_deep_to_write_back_are_an_invalid_call_in_a_stream() -> None:
    converter = ChunkConverter()
    accumulator = core.StreamAccumulator()
    chunks: list[AIMessageChunk] = []
    for data in (chunk(tool_calls=[_deep_call(index=0)]), chunk(finish="tool_calls")):
        parsed = parse_chunk(data)
        accumulator.add(parsed)
        generation = converter.convert(parsed)
        if generation is not None:
            assert isinstance(generation.message, AIMessageChunk)
            chunks.append(generation.message)
    last = converter.last(accumulator).message
    assert isinstance(last, AIMessageChunk)
    message = aggregate([*chunks, last])
    assert message.tool_calls == []
    assert [(c["name"], c["args"]) for c in message.invalid_tool_calls] == [
        ("get_weather", UNREADABLE_ARGUMENTS)
    ]


# --- wrong types -----------------------------------------------------------------------------


WRONG_TYPES: dict[str, dict[str, Any]] = {
    "choices-5": {"id": "r", "choices": 5},
    "choices-[5]": {"id": "r", "choices": [5]},
    "message-str": {"id": "r", "choices": [{"index": 0, "message": "text"}]},
    "tool_calls-{}": completion_body({"role": "assistant", "tool_calls": {}}),
    "usage-[]": {**completion_body({"role": "assistant", "content": ""}), "usage": []},
}


def test_wrong_types_read_as_an_empty_message(driver: Driver) -> None:
    def check(body: dict[str, Any]) -> None:
        message = driver.invoke(API(json_reply(body)).model(), "hi")
        assert message.content == ""
        assert message.tool_calls == []
        assert message.invalid_tool_calls == []

    each(WRONG_TYPES, check)


def test_usage_of_the_wrong_type_is_no_usage(driver: Driver) -> None:
    body = {**completion_body({"role": "assistant", "content": "ok"}), "usage": []}
    message = driver.invoke(API(json_reply(body)).model(), "hi")
    assert message.content == "ok"
    assert message.usage_metadata is None


def test_function_of_the_wrong_type_is_a_call_with_an_empty_name(driver: Driver) -> None:
    body = completion_body({"role": "assistant", "tool_calls": [{"id": "c1", "function": "x"}]})
    message = driver.invoke(API(json_reply(body)).model(), "hi")
    calls = [*message.tool_calls, *message.invalid_tool_calls]
    assert [(c["id"], c["name"]) for c in calls] == [("c1", "")]


def test_wrong_types_in_stream_chunks_read_leniently(driver: Driver) -> None:
    body = sse(
        {"id": "r1", "choices": [{"index": 0, "delta": "x"}]},
        {"id": "r1", "choices": 5},
        {"id": "r1", "choices": [5]},
        chunk("Hi", tool_calls={}),
        {**chunk(" there"), "usage": []},
        chunk("!", finish="stop"),
    )
    message = aggregate(driver.stream(API(sse_reply(body)).model(), "hi"))
    assert message.text == "Hi there!"
    assert message.usage_metadata is None
    assert message.response_metadata["finish_reason"] == "stop"


# --- surrogate halves ------------------------------------------------------------------------

SPLIT_EMOJI = (
    b'data: {"id":"r1","choices":[{"index":0,"delta":{"content":"a\\ud83d"}}]}\n\n'
    b'data: {"id":"r1","choices":[{"index":0,"delta":{"content":"\\ude00b"},'
    b'"finish_reason":"stop"}]}\n\n'
    b"data: [DONE]\n\n"
)


def test_split_surrogate_pair_arrives_whole_and_can_be_sent_back(driver: Driver) -> None:
    stream_api = API(sse_reply(SPLIT_EMOJI))
    chunks = driver.stream(stream_api.model(), "hi")
    assert [c.text for c in chunks if c.text] == ["a", "\U0001f600b"]
    message = aggregate(chunks)
    assert message.text == "a\U0001f600b"

    api = API(json_reply(OK))
    driver.invoke(api.model(), [HumanMessage("hi"), message, HumanMessage("again")])
    sent = api.requests[0].content
    assert json.loads(sent.decode("utf-8"))["messages"][1]["content"] == "a\U0001f600b"
    assert "\U0001f600".encode() in sent


def test_lone_surrogate_in_a_reply_reads_as_replacement(driver: Driver) -> None:
    body = (
        b'{"id":"r1","choices":[{"index":0,"message":{"role":"assistant",'
        b'"content":"x\\udc00y"},"finish_reason":"stop"}]}'
    )
    message = driver.invoke(API(json_reply(body)).model(), "hi")
    assert message.content == "x\ufffdy"


# --- [DONE] ends the stream ------------------------------------------------------------------

ANSWER = sse(chunk("Hello"), {**chunk(" world", finish="stop"), "usage": USAGE})


def test_transport_error_after_done_keeps_the_last_chunk(driver: Driver) -> None:
    api = API(
        sse_reply(ANSWER, b"data: {garbage\n\n", error=lambda: httpx.ReadError("reset by peer"))
    )
    chunks = driver.stream(api.model(), "hi")
    last = chunks[-1]
    assert last.chunk_position == "last"
    assert last.response_metadata["finish_reason"] == "stop"
    assert last.usage_metadata is not None
    assert last.usage_metadata["total_tokens"] == 5
    assert aggregate(chunks).text == "Hello world"


def test_read_timeout_mid_stream_is_a_langchain_timeout(driver: Driver) -> None:
    body = sse(chunk("Hel"), chunk("lo"), done=False)
    api = API(sse_reply(body, error=lambda: httpx.ReadTimeout("timed out")))
    with pytest.raises(StepFunStreamTimeoutError) as caught:
        driver.stream(api.model(), "hi")
    error = caught.value
    assert isinstance(error, lc.ModelTimeoutError)
    assert isinstance(error, core.StreamTimeoutError)
    assert isinstance(error, core.StreamInterruptedError)
    assert error.partial is not None
    assert error.partial.first.content == "Hello"


# --- byte caps -------------------------------------------------------------------------------


def _gzip(body: bytes, content_type: str) -> Handler:
    packed = gzip.compress(body)
    headers = {"content-type": content_type, "content-encoding": "gzip"}
    return lambda request: httpx.Response(200, content=packed, headers=headers)


def test_gzip_reply_over_the_cap_is_too_large(driver: Driver) -> None:
    body = json.dumps(completion_body({"role": "assistant", "content": "a" * 200_000}))
    api = API(_gzip(body.encode(), "application/json"))
    with pytest.raises(StepFunResponseTooLargeError) as caught:
        driver.invoke(api.model(max_response_bytes=50_000), "hi")
    assert isinstance(caught.value, lc.ModelAPIError)


def test_gzip_stream_over_the_cap_is_too_large(driver: Driver) -> None:
    body = sse(chunk("x"), chunk("a" * 200_000), chunk("", finish="stop"))
    api = API(_gzip(body, "text/event-stream"))
    with pytest.raises(StepFunResponseTooLargeError):
        driver.stream(api.model(max_response_bytes=50_000), "hi")


# --- values that are not JSON ----------------------------------------------------------------


PLACES = ("model_kwargs", "extra_body", "call-extra_body", "call-kwarg")


def test_values_that_are_not_json_are_refused_naming_the_field(driver: Driver) -> None:
    def check(case: tuple[str, Any, str]) -> None:
        where, value, field_name = case
        api = API(json_reply(OK))
        options: dict[str, Any] = {}
        call: dict[str, Any] = {}
        if where in ("model_kwargs", "extra_body"):
            options[where] = {"foo": value}
        elif where == "call-extra_body":
            call["extra_body"] = {"foo": value}
        else:
            call["foo"] = value
        with pytest.raises(StepFunInvalidParameterError) as caught:
            driver.invoke(api.model(**options), "hi", **call)
        assert field_name in str(caught.value)
        assert isinstance(caught.value, lc.ModelInvalidRequestError)
        assert api.requests == []

    each({f"{w}-{n}": (w, *v) for w in PLACES for n, v in BAD_VALUES.items()}, check)


def test_nan_temperature_is_refused_naming_it(driver: Driver) -> None:
    api = API(json_reply(OK))
    with pytest.raises(StepFunInvalidParameterError, match="temperature"):
        driver.invoke(api.model(), "hi", temperature=float("nan"))
    assert api.requests == []


BAD_TOOLS: dict[str, tuple[dict[str, Any], str]] = {
    "nan": (
        tool({"type": "object", "properties": {"n": {"maximum": float("nan")}}}),
        "tools[0].function.parameters.properties.n.maximum",
    ),
    "set": (tool({"type": "object", "default": {1, 2}}), "tools[0].function.parameters.default"),
    "self-ref": (tool(self_referencing()), "tools[0].function.parameters"),
}


def test_tool_schema_that_is_not_json_is_refused(driver: Driver) -> None:
    def check(case: tuple[dict[str, Any], str]) -> None:
        tool, field_name = case
        api = API(json_reply(OK))
        with pytest.raises(StepFunInvalidParameterError) as caught:
            driver.run(api.model().bind_tools([tool]), "hi")
        assert field_name in str(caught.value)
        assert api.requests == []

    each(BAD_TOOLS, check)


def test_a_message_holding_a_value_that_is_not_json_is_refused(driver: Driver) -> None:
    api = API(json_reply(OK))
    message = HumanMessage(content=[{"type": "text", "text": float("nan")}])
    with pytest.raises(StepFunInvalidParameterError) as caught:
        driver.invoke(api.model(), [message])
    assert "messages[0]" in str(caught.value)
    assert api.requests == []


# --- reserved keys and extra_body ------------------------------------------------------------


def test_reserved_keys_are_refused_naming_them(driver: Driver) -> None:
    def check(case: tuple[str, str]) -> None:
        where, key = case
        api = API(json_reply(OK))
        extra = {key: "x"}
        with pytest.raises(StepFunInvalidParameterError) as caught:
            if where == "call-extra_body":
                driver.invoke(api.model(), "hi", extra_body=extra)
            else:
                driver.invoke(api.model(**{where: extra}), "hi")
        assert repr(key) in str(caught.value)
        assert api.requests == []

    places = ("model_kwargs", "extra_body", "call-extra_body")
    keys = ("model", "messages", "stream")
    each({f"{w}-{k}": (w, k) for w in places for k in keys}, check)


def test_call_extra_body_goes_to_the_top_of_the_body(driver: Driver) -> None:
    api = API(json_reply(OK))
    driver.invoke(api.model(extra_body={"bar": 2}), "hi", extra_body={"foo": 1})
    (body,) = api.bodies
    assert body["foo"] == 1
    assert body["bar"] == 2
    assert "extra_body" not in body


def test_call_extra_body_goes_to_the_top_of_a_stream_body(driver: Driver) -> None:
    api = API(sse_reply(ANSWER))
    driver.stream(api.model(), "hi", extra_body={"foo": 1})
    (body,) = api.bodies
    assert body["foo"] == 1
    assert "extra_body" not in body


# --- media -----------------------------------------------------------------------------------


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _image_url(url: str) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": url}}


BAD_MEDIA: dict[str, dict[str, Any]] = {
    "empty": _image_url("data:image/png;base64,"),
    "bad-base64": _image_url("data:image/png;base64,!!!not-base64!!!"),
    "gif-as-png": _image_url(f"data:image/png;base64,{b64(GIF)}"),
    "gif-as-png-block": {"type": "image", "base64": b64(GIF), "mime_type": "image/png"},
    "empty-audio": {"type": "input_audio", "input_audio": {"data": "data:audio/mpeg;base64,"}},
    "bad-audio-base64": {"type": "input_audio", "input_audio": {"data": "%%%", "format": "wav"}},
    "wav-as-mpeg": {"type": "audio", "base64": b64(WAV), "mime_type": "audio/mpeg"},
}


def test_bad_media_is_refused_before_sending(driver: Driver) -> None:
    def check(block: dict[str, Any]) -> None:
        api = API(json_reply(OK))
        message = HumanMessage(content=[{"type": "text", "text": "look"}, block])
        with pytest.raises(StepFunInvalidParameterError) as caught:
            driver.invoke(api.model(), [message])
        assert "messages[0].content[1]" in str(caught.value)
        assert api.requests == []

    each(BAD_MEDIA, check)


def test_real_media_passes(driver: Driver) -> None:
    def check(block: dict[str, Any]) -> None:
        api = API(json_reply(OK))
        driver.invoke(api.model(), [HumanMessage(content=[{"type": "text", "text": "x"}, block])])
        assert len(api.requests) == 1

    cases = {
        "png-url": _image_url(f"data:image/png;base64,{b64(PNG)}"),
        "png-block": {"type": "image", "base64": b64(PNG), "mime_type": "image/png"},
        "wav-block": {"type": "audio", "base64": b64(WAV), "mime_type": "audio/wav"},
    }
    each(cases, check)


def test_lone_surrogate_in_the_callers_message_is_refused(driver: Driver) -> None:
    api = API(json_reply(OK))
    with pytest.raises(StepFunInvalidParameterError) as caught:
        driver.invoke(api.model(), [HumanMessage("half \ud83d")])
    assert "messages[0]" in str(caught.value)
    assert api.requests == []


# --- keys, headers, URLs ---------------------------------------------------------------------

BAD_KEY_CHARS = {"space": " ", "control": "\x07", "zwsp": "\u200b", "en-dash": "\u2013"}


def test_malformed_key_is_refused_at_construction() -> None:
    def check(char: str) -> None:
        key = f"sk-SECRETSECRET{char}XYZ"
        with pytest.raises(StepFunMalformedAPIKeyError) as caught:
            ChatStepFun(api_key=key)
        assert isinstance(caught.value, core.MalformedAPIKeyError)
        assert isinstance(caught.value, lc.ModelAuthenticationError)
        assert f"U+{ord(char):04X}" in str(caught.value)
        assert "character 16" in str(caught.value)
        assert_not_shown(caught.value, "SECRET", "XYZ")

    each(BAD_KEY_CHARS, check)


def test_malformed_key_from_the_environment_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STEPFUN_API_KEY", raising=False)

    def check(char: str) -> None:
        monkeypatch.setenv("STEP_API_KEY", f"sk-SECRETSECRET{char}XYZ")
        with pytest.raises(StepFunMalformedAPIKeyError) as caught:
            ChatStepFun()
        assert isinstance(caught.value, lc.ModelAuthenticationError)
        assert_not_shown(caught.value, "SECRET", "XYZ")

    each({"zwsp": "\u200b", "en-dash": "\u2013"}, check)


def test_bad_header_value_is_refused_at_construction() -> None:
    def check(value: str) -> None:
        with pytest.raises(StepFunInvalidParameterError) as caught:
            ChatStepFun(api_key="sk-test", default_headers={"X-Proxy-Auth": value})
        assert "X-Proxy-Auth" in str(caught.value)
        assert_not_shown(caught.value, "SECRET")

    each({"nl": "Bearer proxy-SECRET\nX-Evil: 1", "utf": "Bearer proxy-SECRET\u00e9"}, check)


def test_header_httpx_refuses_is_a_parameter_error_never_retried(driver: Driver) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.LocalProtocolError("Illegal header value b'Bearer sk-SECRET'")

    api = API(refuse)
    with pytest.raises(StepFunInvalidParameterError) as caught:
        driver.invoke(api.model(max_retries=2), "hi")
    assert len(api.requests) == 1
    assert not any(isinstance(e, httpx.HTTPError) for e in chain(caught.value))
    assert_not_shown(caught.value, "SECRET")


def test_base_url_with_credentials_is_refused() -> None:
    url = "https://user:p4ss@api.example.com/v1"
    with pytest.raises(StepFunInvalidParameterError) as caught:
        ChatStepFun(api_key="sk-test", base_url=url)
    assert "credentials" in str(caught.value)
    assert_not_shown(caught.value, "p4ss")


def test_unusable_base_urls_are_refused() -> None:
    def check(url: str) -> None:
        with pytest.raises(StepFunInvalidParameterError, match="base_url"):
            ChatStepFun(api_key="sk-test", base_url=url)

    each({"fragment": "https://api.example.com/v1#frag", "no-scheme": "api.stepfun.ai/v1"}, check)


def test_base_url_query_is_kept_after_the_path(driver: Driver) -> None:
    api = API(json_reply(OK))
    driver.invoke(api.model(base_url="https://api.example.com/v1?tenant=a"), "hi")
    (request,) = api.requests
    assert request.url.path == "/v1/chat/completions"
    assert request.url.params["tenant"] == "a"


# --- total_timeout ---------------------------------------------------------------------------


def _trickle(request: httpx.Request) -> httpx.Response:
    body = json.dumps(OK).encode()
    pieces = [body[i : i + 1] for i in range(len(body))]
    headers = {"content-type": "application/json"}
    return httpx.Response(200, stream=Body(pieces, pause=0.05), headers=headers)


def test_total_timeout_is_a_langchain_timeout(driver: Driver) -> None:
    started = time.monotonic()
    with pytest.raises(lc.ModelTimeoutError) as caught:
        driver.invoke(API(_trickle).model(total_timeout=0.2), "hi")
    assert isinstance(caught.value, core.TotalTimeoutError)
    assert time.monotonic() - started < 1.0


def test_total_timeout_must_be_positive() -> None:
    def check(value: float) -> None:
        with pytest.raises(core.InvalidParameterError, match="total_timeout"):
            ChatStepFun(api_key="sk-test", total_timeout=value)

    each({"zero": 0, "negative": -1}, check)
