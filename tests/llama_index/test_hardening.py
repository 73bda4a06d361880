"""StepFun (LlamaIndex) after the hardening of commit fb28167, sync and async, over MockAPI.

What the server sends ends as a core typed error or is read leniently; unparseable tool
arguments stay as text on the ToolCallBlock; bad input, keys, headers and URLs are refused
before anything is sent, without echoing secrets.
"""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from llama_index.core.base.llms.types import (
    AudioBlock,
    ChatMessage,
    ChatResponse,
    ImageBlock,
    TextBlock,
    ToolCallBlock,
)

import stepfun_core as core
from llama_index_stepfun import StepFun
from llama_index_stepfun.responses import StreamResponder, chat_response
from stepfun_core import (
    InvalidParameterError,
    MalformedAPIKeyError,
    MalformedResponseError,
    ResponseTooLargeError,
    StreamInterruptedError,
    StreamTimeoutError,
    TotalTimeoutError,
)
from stepfun_core.parse import UNREADABLE_ARGUMENTS, parse_chunk, parse_completion
from tests.core.wire_samples import sse
from tests.hostile import (
    BAD_ARGUMENTS,
    BAD_VALUES,
    DEEP,
    GIF,
    MEDIA,
    OK,
    PNG,
    STREAM_SHAPES,
    USAGE,
    WAV,
    Body,
    Handler,
    assert_not_shown,
    chain,
    chunk,
    completion_body,
    each,
    raw_reply,
    self_referencing,
    sse_reply,
    tool,
    two_calls,
)
from tests.llama_index.conftest import Driver, MockAPI, json_reply, user


def tool_blocks(response: ChatResponse) -> list[ToolCallBlock]:
    return [b for b in response.message.blocks if isinstance(b, ToolCallBlock)]


# --- deep JSON -------------------------------------------------------------------------------


def test_deep_json_reply_is_a_malformed_response(driver: Driver) -> None:
    api = MockAPI(raw_reply(DEEP.encode()))
    with pytest.raises(MalformedResponseError):
        driver.chat(api.llm(), user("hi"))
    assert len(api.requests) == 1


def test_deep_json_stream_event_is_malformed_with_partial(driver: Driver) -> None:
    body = sse(chunk("Hel"), chunk("lo"), done=False) + b"data: " + DEEP.encode() + b"\n\n"
    api = MockAPI(sse_reply(body))
    with pytest.raises(MalformedResponseError) as caught:
        driver.stream_chat(api.llm(), user("hi"))
    assert caught.value.partial is not None
    assert caught.value.partial.first.content == "Hello"


# --- tool-call arguments that do not parse ---------------------------------------------------


def assert_kept_as_text(llm: StepFun, response: ChatResponse, arguments: str) -> None:
    blocks = tool_blocks(response)
    assert [(b.tool_name, b.tool_kwargs) for b in blocks] == [
        ("get_weather", arguments),
        ("get_time", {"tz": "UTC"}),
    ]
    selections = llm.get_tool_calls_from_response(response, error_on_no_tool_call=False)
    read = [(s.tool_name, s.tool_kwargs) for s in selections]
    assert read == [("get_weather", {}), ("get_time", {"tz": "UTC"})], f"selections: {read!r:.200}"


def test_unparseable_arguments_in_a_reply_are_kept_as_text(driver: Driver) -> None:
    def check(arguments: str) -> None:
        llm = MockAPI(json_reply(two_calls(arguments))).llm()
        response = driver.chat(llm, user("weather?"))
        assert_kept_as_text(llm, response, arguments)

    each(BAD_ARGUMENTS, check)


@STREAM_SHAPES
def test_unparseable_arguments_in_a_stream_are_kept_as_text(
    driver: Driver, shape: Callable[[str], bytes]
) -> None:
    def check(arguments: str) -> None:
        llm = MockAPI(sse_reply(shape(arguments))).llm()
        responses = driver.stream_chat(llm, user("weather?"))
        assert_kept_as_text(llm, responses[-1], arguments)

    each(BAD_ARGUMENTS, check)


def _nested_list(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


def _deep_call(**extra: Any) -> dict[str, Any]:
    function = {"name": "get_weather", "arguments": _nested_list(5000)}
    return {"id": "call_deep", "type": "function", "function": function, **extra}


def test_arguments_too_deep_to_write_back_are_unreadable_text_in_a_reply() -> None:
    data = completion_body({"role": "assistant", "content": "", "tool_calls": [_deep_call()]})
    response = chat_response(parse_completion(data))
    assert [(b.tool_name, b.tool_kwargs) for b in tool_blocks(response)] == [
        ("get_weather", UNREADABLE_ARGUMENTS)
    ]


def test_arguments_too_deep_to_write_back_are_unreadable_text_in_a_stream() -> None:
    accumulator = core.StreamAccumulator()
    responder = StreamResponder(accumulator)
    response = None
    for data in (chunk(tool_calls=[_deep_call(index=0)]), chunk(finish="tool_calls")):
        parsed = parse_chunk(data)
        accumulator.add(parsed)
        response = responder.response(parsed)
    assert response is not None
    assert [(b.tool_name, b.tool_kwargs) for b in tool_blocks(response)] == [
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
        response = driver.chat(MockAPI(json_reply(body)).llm(), user("hi"))
        assert response.message.content == ""
        assert tool_blocks(response) == []
        assert "total_tokens" not in response.additional_kwargs or body.get("usage") == USAGE

    each(WRONG_TYPES, check)


def test_function_of_the_wrong_type_is_a_call_with_an_empty_name(driver: Driver) -> None:
    body = completion_body({"role": "assistant", "tool_calls": [{"id": "c1", "function": "x"}]})
    response = driver.chat(MockAPI(json_reply(body)).llm(), user("hi"))
    assert [(b.tool_call_id, b.tool_name) for b in tool_blocks(response)] == [("c1", "")]


def test_wrong_types_in_stream_chunks_read_leniently(driver: Driver) -> None:
    body = sse(
        {"id": "r1", "choices": [{"index": 0, "delta": "x"}]},
        {"id": "r1", "choices": 5},
        {"id": "r1", "choices": [5]},
        chunk("Hi", tool_calls={}),
        {**chunk(" there"), "usage": []},
        chunk("!", finish="stop"),
    )
    responses = driver.stream_chat(MockAPI(sse_reply(body)).llm(), user("hi"))
    assert responses[-1].message.content == "Hi there!"
    assert "".join(r.delta or "" for r in responses) == "Hi there!"


# --- surrogate halves ------------------------------------------------------------------------

SPLIT_EMOJI = (
    b'data: {"id":"r1","choices":[{"index":0,"delta":{"content":"a\\ud83d"}}]}\n\n'
    b'data: {"id":"r1","choices":[{"index":0,"delta":{"content":"\\ude00b"},'
    b'"finish_reason":"stop"}]}\n\n'
    b"data: [DONE]\n\n"
)


def test_split_surrogate_pair_arrives_whole_and_can_be_sent_back(driver: Driver) -> None:
    responses = driver.stream_chat(MockAPI(sse_reply(SPLIT_EMOJI)).llm(), user("hi"))
    assert [r.delta for r in responses if r.delta] == ["a", "\U0001f600b"]
    final = responses[-1].message
    assert final.content == "a\U0001f600b"

    api = MockAPI(json_reply(OK))
    driver.chat(api.llm(), [*user("hi"), final, *user("again")])
    sent = api.requests[0].content
    assert json.loads(sent.decode("utf-8"))["messages"][1]["content"] == "a\U0001f600b"
    assert "\U0001f600".encode() in sent


def test_split_surrogate_pair_in_stream_complete(driver: Driver) -> None:
    responses = driver.stream_complete(MockAPI(sse_reply(SPLIT_EMOJI)).llm(), "hi")
    assert responses[-1].text == "a\U0001f600b"


def test_lone_surrogate_in_a_reply_reads_as_replacement(driver: Driver) -> None:
    body = (
        b'{"id":"r1","choices":[{"index":0,"message":{"role":"assistant",'
        b'"content":"x\\udc00y"},"finish_reason":"stop"}]}'
    )
    response = driver.chat(MockAPI(raw_reply(body)).llm(), user("hi"))
    assert response.message.content == "x\ufffdy"


# --- [DONE] ends the stream; cuts and timeouts -----------------------------------------------

ANSWER = sse(chunk("Hello"), {**chunk(" world", finish="stop"), "usage": USAGE})


def test_transport_error_after_done_keeps_the_final_response(driver: Driver) -> None:
    api = MockAPI(
        sse_reply(ANSWER, b"data: {garbage\n\n", error=lambda: httpx.ReadError("reset by peer"))
    )
    responses = driver.stream_chat(api.llm(), user("hi"))
    final = responses[-1]
    assert final.message.content == "Hello world"
    assert final.additional_kwargs["total_tokens"] == 5
    assert final.additional_kwargs["prompt_tokens"] == 3
    assert final.additional_kwargs["finish_reason"] == "stop"


def test_read_timeout_mid_stream_is_a_stream_timeout(driver: Driver) -> None:
    body = sse(chunk("Hel"), chunk("lo"), done=False)
    api = MockAPI(sse_reply(body, error=lambda: httpx.ReadTimeout("timed out")))
    with pytest.raises(StreamTimeoutError) as caught:
        driver.stream_chat(api.llm(), user("hi"))
    assert isinstance(caught.value, StreamInterruptedError)
    assert isinstance(caught.value, core.APITimeoutError)
    assert caught.value.partial is not None
    assert caught.value.partial.first.content == "Hello"


# --- byte caps -------------------------------------------------------------------------------


def _gzip(body: bytes, content_type: str) -> Handler:
    packed = gzip.compress(body)
    headers = {"content-type": content_type, "content-encoding": "gzip"}
    return lambda request: httpx.Response(200, content=packed, headers=headers)


def test_gzip_reply_over_the_cap_is_too_large(driver: Driver) -> None:
    body = json.dumps(completion_body({"role": "assistant", "content": "a" * 200_000}))
    api = MockAPI(_gzip(body.encode(), "application/json"))
    with pytest.raises(ResponseTooLargeError):
        driver.chat(api.llm(max_response_bytes=50_000), user("hi"))


def test_gzip_stream_over_the_cap_is_too_large(driver: Driver) -> None:
    body = sse(chunk("x"), chunk("a" * 200_000), chunk("", finish="stop"))
    api = MockAPI(_gzip(body, "text/event-stream"))
    with pytest.raises(ResponseTooLargeError):
        driver.stream_chat(api.llm(max_response_bytes=50_000), user("hi"))


# --- values that are not JSON ----------------------------------------------------------------


PLACES = ("additional_kwargs", "extra_body", "kwarg")


def test_values_that_are_not_json_are_refused_naming_the_field(driver: Driver) -> None:
    def check(case: tuple[str, Any, str]) -> None:
        where, value, field_name = case
        api = MockAPI(json_reply(OK))
        options: dict[str, Any] = {}
        call: dict[str, Any] = {}
        if where == "additional_kwargs":
            options[where] = {"foo": value}
        elif where == "extra_body":
            call["extra_body"] = {"foo": value}
        else:
            call["foo"] = value
        with pytest.raises(InvalidParameterError) as caught:
            driver.chat(api.llm(**options), user("hi"), **call)
        assert field_name in str(caught.value)
        assert api.requests == []

    each({f"{w}-{n}": (w, *v) for w in PLACES for n, v in BAD_VALUES.items()}, check)


def test_nan_temperature_in_additional_kwargs_is_refused(driver: Driver) -> None:
    api = MockAPI(json_reply(OK))
    with pytest.raises(InvalidParameterError, match="temperature"):
        driver.chat(api.llm(additional_kwargs={"temperature": float("nan")}), user("hi"))
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
        api = MockAPI(json_reply(OK))
        with pytest.raises(InvalidParameterError) as caught:
            driver.chat_with_tools(api.llm(), [tool], user_msg="weather?")
        assert field_name in str(caught.value)
        assert api.requests == []

    each(BAD_TOOLS, check)


# --- reserved keys and extra_body ------------------------------------------------------------


def test_reserved_keys_are_refused_naming_them(driver: Driver) -> None:
    def check(case: tuple[str, str]) -> None:
        where, key = case
        api = MockAPI(json_reply(OK))
        extra = {key: "x"}
        with pytest.raises(InvalidParameterError) as caught:
            if where == "extra_body":
                driver.chat(api.llm(), user("hi"), extra_body=extra)
            else:
                driver.chat(api.llm(additional_kwargs=extra), user("hi"))
        assert repr(key) in str(caught.value)
        assert api.requests == []

    places = ("additional_kwargs", "extra_body")
    keys = ("model", "messages", "stream")
    each({f"{w}-{k}": (w, k) for w in places for k in keys}, check)


def test_reserved_keys_in_stream_calls_are_refused(driver: Driver) -> None:
    api = MockAPI(sse_reply(ANSWER))
    with pytest.raises(InvalidParameterError, match="'stream'"):
        driver.stream_chat(api.llm(), user("hi"), extra_body={"stream": False})
    assert api.requests == []


@pytest.mark.parametrize("stream", [False, True], ids=["chat", "stream_chat"])
def test_call_extra_body_goes_to_the_top_of_the_body(driver: Driver, stream: bool) -> None:
    api = MockAPI(sse_reply(ANSWER) if stream else json_reply(OK))
    llm = api.llm(additional_kwargs={"bar": 2})
    if stream:
        driver.stream_chat(llm, user("hi"), extra_body={"foo": 1})
    else:
        driver.chat(llm, user("hi"), extra_body={"foo": 1})
    (body,) = api.bodies
    assert body["foo"] == 1
    assert body["bar"] == 2
    assert "extra_body" not in body


# --- media -----------------------------------------------------------------------------------


def _with(block: Any) -> list[ChatMessage]:
    return [ChatMessage(role="user", blocks=[TextBlock(text="look"), block])]


BAD_MEDIA: dict[str, Callable[[], Any]] = {
    "image-empty": lambda: ImageBlock(url="data:image/png;base64,"),
    "image-bad-base64": lambda: ImageBlock(url="data:image/png;base64,!!!not-base64!!!"),
    "gif-as-png": lambda: ImageBlock(image=GIF, image_mimetype="image/png"),
    "wav-as-mp3": lambda: AudioBlock(audio=WAV, format="mp3"),
    "audio-empty": lambda: AudioBlock(url="data:audio/mpeg;base64,"),
    "audio-bad-base64": lambda: AudioBlock(url="data:audio/wav;base64,%%%"),
}


def test_bad_media_is_refused_before_sending(driver: Driver) -> None:
    def check(make: Callable[[], Any]) -> None:
        api = MockAPI(json_reply(OK))
        with pytest.raises(InvalidParameterError):
            driver.chat(api.llm(), _with(make()))
        assert api.requests == []

    each(BAD_MEDIA, check)


def test_real_media_passes(driver: Driver) -> None:
    def check(make: Callable[[], Any]) -> None:
        api = MockAPI(json_reply(OK))
        driver.chat(api.llm(), _with(make()))
        assert len(api.requests) == 1

    cases: dict[str, Callable[[], Any]] = {
        "png-bytes": lambda: ImageBlock(image=PNG, image_mimetype="image/png"),
        "png-file": lambda: ImageBlock(path=MEDIA / "tiny.png"),
        "wav-bytes": lambda: AudioBlock(audio=WAV, format="wav"),
    }
    each(cases, check)


def test_lone_surrogate_in_the_callers_message_is_refused(driver: Driver) -> None:
    api = MockAPI(json_reply(OK))
    with pytest.raises(InvalidParameterError) as caught:
        driver.chat(api.llm(), user("half \ud83d"))
    assert "messages[0]" in str(caught.value)
    assert api.requests == []


# --- keys, headers, URLs ---------------------------------------------------------------------

BAD_KEY_CHARS = {"space": " ", "control": "\x07", "zwsp": "\u200b", "en-dash": "\u2013"}


def test_malformed_key_is_refused_at_construction() -> None:
    def check(char: str) -> None:
        key = f"sk-SECRETSECRET{char}XYZ"
        with pytest.raises(MalformedAPIKeyError) as caught:
            StepFun(api_key=key)
        assert f"U+{ord(char):04X}" in str(caught.value)
        assert "character 16" in str(caught.value)
        assert_not_shown(caught.value, "SECRET", "XYZ")

    each(BAD_KEY_CHARS, check)


def test_malformed_key_from_the_environment_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STEPFUN_API_KEY", raising=False)

    def check(char: str) -> None:
        monkeypatch.setenv("STEP_API_KEY", f"sk-SECRETSECRET{char}XYZ")
        with pytest.raises(MalformedAPIKeyError) as caught:
            StepFun()
        assert "STEP_API_KEY" in str(caught.value)
        assert_not_shown(caught.value, "SECRET", "XYZ")

    each({"zwsp": "\u200b", "en-dash": "\u2013"}, check)


def test_bad_header_value_is_refused_at_construction() -> None:
    def check(value: str) -> None:
        with pytest.raises(InvalidParameterError) as caught:
            StepFun(api_key="sk-test", default_headers={"X-Proxy-Auth": value})
        assert "X-Proxy-Auth" in str(caught.value)
        assert_not_shown(caught.value, "SECRET")

    each({"nl": "Bearer proxy-SECRET\nX-Evil: 1", "utf": "Bearer proxy-SECRET\u00e9"}, check)


def test_header_httpx_refuses_is_a_parameter_error_never_retried(driver: Driver) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.LocalProtocolError("Illegal header value b'Bearer sk-SECRET'")

    api = MockAPI(refuse)
    with pytest.raises(InvalidParameterError) as caught:
        driver.chat(api.llm(max_retries=2), user("hi"))
    assert len(api.requests) == 1
    assert caught.value.__cause__ is None
    assert not any(isinstance(e, httpx.HTTPError) for e in chain(caught.value))
    assert_not_shown(caught.value, "SECRET")


def test_api_base_with_credentials_is_refused() -> None:
    url = "https://user:p4ss@api.example.com/v1"
    with pytest.raises(InvalidParameterError) as caught:
        StepFun(api_key="sk-test", api_base=url)
    assert "credentials" in str(caught.value)
    assert_not_shown(caught.value, "p4ss")


def test_unusable_api_bases_are_refused() -> None:
    def check(url: str) -> None:
        with pytest.raises(InvalidParameterError, match="base_url"):
            StepFun(api_key="sk-test", api_base=url)

    each({"fragment": "https://api.example.com/v1#frag", "no-scheme": "api.stepfun.ai/v1"}, check)


def test_api_base_query_is_kept_after_the_path(driver: Driver) -> None:
    api = MockAPI(json_reply(OK))
    driver.chat(api.llm(api_base="https://api.example.com/v1?tenant=a"), user("hi"))
    (request,) = api.requests
    assert request.url.path == "/v1/chat/completions"
    assert request.url.params["tenant"] == "a"


# --- total_timeout ---------------------------------------------------------------------------


def _trickle(request: httpx.Request) -> httpx.Response:
    body = json.dumps(OK).encode()
    pieces = [body[i : i + 1] for i in range(len(body))]
    headers = {"content-type": "application/json"}
    return httpx.Response(200, stream=Body(pieces, pause=0.05), headers=headers)


def test_total_timeout_ends_a_trickling_reply(driver: Driver) -> None:
    started = time.monotonic()
    with pytest.raises(TotalTimeoutError):
        driver.chat(MockAPI(_trickle).llm(total_timeout=0.2), user("hi"))
    assert time.monotonic() - started < 1.0


def test_total_timeout_must_be_positive() -> None:
    def check(value: float) -> None:
        with pytest.raises(InvalidParameterError, match="total_timeout"):
            StepFun(api_key="sk-test", total_timeout=value)

    each({"zero": 0, "negative": -1}, check)
