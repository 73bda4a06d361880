"""What the caller hands the framework reaches the core's checks, from every place it can go.

The core's own tests (tests/core/test_hardening_requests.py) decide what is refused and what
the error names; here each adapter routes its own places for a parameter (its fields for extra
parameters, a call's ``extra_body`` and keyword arguments), its tools and its messages and content
blocks into those checks: refused with the adapter's error class, before anything is sent.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import stepfun_core as core
from tests.adapters.drivers import Adapter, raised
from tests.hostile import (
    ANSWER,
    BAD_TOOLS,
    BAD_VALUES,
    OK,
    RecordingAPI,
    each,
    json_reply,
    nested_list,
    sse_reply,
)

CALL_PLACES = ("call-extra_body", "call-kwarg")


def placed(where: str, extra: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The settings and the call's arguments putting ``extra`` in the body from ``where``."""
    if where == "call-extra_body":
        return {}, {"extra_body": extra}
    if where == "call-kwarg":
        return {}, extra
    return {where: extra}, {}


def refused(
    adapter: Adapter, where: str, extra: dict[str, Any], *, stream: bool = False
) -> pytest.ExceptionInfo[Any]:
    """Sending ``extra`` from ``where`` is refused as the adapter's error; nothing is sent."""
    api = RecordingAPI(sse_reply(ANSWER) if stream else json_reply(OK))
    settings, call = placed(where, extra)
    with raised(adapter, core.InvalidParameterError) as caught:
        (adapter.stream if stream else adapter.invoke)(adapter.over(api, **settings), "hi", **call)
    assert api.requests == []
    return caught  # type: ignore[no-any-return]


def test_values_that_are_not_json_are_refused_naming_the_field(adapter: Adapter) -> None:
    def check(case: tuple[str, Any, str]) -> None:
        where, value, field = case
        assert field in str(refused(adapter, where, {"foo": value}).value)

    cases = {f"{w}-{n}": (w, *v) for w in adapter.places for n, v in BAD_VALUES.items()}
    each(cases, check)


# LangChain warns that a known parameter in model_kwargs belongs in its own field; it still goes.
@pytest.mark.filterwarnings("ignore:Parameters {'temperature'} should be specified:UserWarning")
def test_nan_temperature_is_refused_naming_it(adapter: Adapter) -> None:
    def check(where: str) -> None:
        assert "temperature" in str(refused(adapter, where, {"temperature": float("nan")}).value)

    each({where: where for where in adapter.places}, check)


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_reserved_keys_are_refused_naming_them(adapter: Adapter, stream: bool) -> None:
    def check(case: tuple[str, str]) -> None:
        where, key = case
        assert repr(key) in str(refused(adapter, where, {key: "x"}, stream=stream).value)

    places = [where for where in adapter.places if where != "call-kwarg"]
    keys = ("model", "messages", "stream")
    each({f"{w}-{k}": (w, k) for w in places for k in keys}, check)


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_extras_go_to_the_top_of_the_body(adapter: Adapter, stream: bool) -> None:
    fields = [where for where in adapter.places if where not in CALL_PLACES]
    settings = {where: {f"from_{where}": 2} for where in fields}
    api = RecordingAPI(sse_reply(ANSWER) if stream else json_reply(OK))
    (adapter.stream if stream else adapter.invoke)(
        adapter.over(api, **settings), "hi", extra_body={"foo": 1}
    )
    (body,) = api.bodies
    assert body["foo"] == 1
    assert all(body[f"from_{where}"] == 2 for where in fields)
    assert "extra_body" not in body


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_tool_schema_that_is_not_json_is_refused(adapter: Adapter, stream: bool) -> None:
    def check(case: tuple[dict[str, Any], str]) -> None:
        tool, field = case
        api = RecordingAPI(json_reply(OK))
        with raised(adapter, core.InvalidParameterError) as caught:
            adapter.with_tools(adapter.over(api), [tool], "weather?", stream=stream)
        assert field in str(caught.value)
        assert api.requests == []

    each(BAD_TOOLS, check)


def test_lone_surrogate_in_the_callers_message_is_refused(adapter: Adapter) -> None:
    api = RecordingAPI(json_reply(OK))
    with raised(adapter, core.InvalidParameterError) as caught:
        adapter.invoke(adapter.over(api), "half \ud83d")
    assert "messages[0]" in str(caught.value)
    assert api.requests == []


def test_bad_media_in_the_frameworks_blocks_is_refused_before_sending(adapter: Adapter) -> None:
    def check(case: tuple[Callable[[], Any], str]) -> None:
        make, named = case
        api = RecordingAPI(json_reply(OK))
        with raised(adapter, core.InvalidParameterError) as caught:
            adapter.invoke(adapter.over(api), adapter.looking_at(make()))
        assert named in str(caught.value)
        assert api.requests == []

    each(adapter.bad_media, check)


def test_real_media_in_the_frameworks_blocks_passes(adapter: Adapter) -> None:
    def check(make: Callable[[], Any]) -> None:
        api = RecordingAPI(json_reply(OK))
        adapter.invoke(adapter.over(api), adapter.looking_at(make()))
        assert len(api.requests) == 1

    each(adapter.good_media, check)


def test_extra_headers_are_headers_over_the_defaults(adapter: Adapter) -> None:
    """OpenAI's name for a call's headers, sent as headers (as ChatOpenAI and LlamaIndex's
    OpenAI send them), never in the body: from the model's extra parameters, then the call's."""
    replies = {False: RecordingAPI(json_reply(OK)), True: RecordingAPI(sse_reply(ANSWER))}
    defaults = {"X-Team": "a", "X-Trace": "default"}

    def sent(stream: bool, extras: dict[str, Any] | None = None, **call: Any) -> Any:
        api = replies[stream]
        model = adapter.over(api, default_headers=defaults, extras=extras or {})
        (adapter.stream if stream else adapter.invoke)(model, "hi", **call)
        return api.requests[-1]

    for stream in (False, True):
        by_call = sent(stream, extra_headers={"x-trace": "call"})
        assert by_call.headers["X-Team"] == "a" and by_call.headers.get_list("X-Trace") == ["call"]
        assert sent(stream).headers["X-Trace"] == "default"
        on_model = sent(stream, {"extra_headers": {"X-Kept": "k", "X-Trace": "model"}})
        assert on_model.headers["X-Kept"] == "k" and on_model.headers["X-Trace"] == "model"
        both = sent(stream, {"extra_headers": {"X-Trace": "model"}}, extra_headers={"X-Trace": "c"})
        assert both.headers["X-Trace"] == "c"
        assert all("extra_headers" not in body for body in replies[stream].bodies)
    # Checked as default_headers are, before anything is sent.
    with raised(adapter, core.InvalidParameterError) as caught:
        sent(False, extra_headers={"X-Trace": "caf\u00e9"})
    assert str(caught.value).startswith("extra_headers['X-Trace']")
    assert len(replies[False].requests) == 4


def _circular() -> dict[str, Any]:
    cycle: dict[str, Any] = {}
    cycle["a"] = cycle
    return cycle


HISTORY_ARGUMENTS_NOT_JSON: dict[str, tuple[Callable[[], Any], str]] = {
    "set": (lambda: {"a": {1}}, "arguments.a: a set is not a JSON value"),
    "bytes": (lambda: {"a": b"x"}, "arguments.a: a bytes is not a JSON value"),
    "deep": (lambda: {"a": nested_list(3000)}, "is nested more than"),
    "circular": (_circular, "arguments.a.a: refers to itself"),
}


def test_tool_call_arguments_in_the_history_that_are_not_json_are_refused(
    adapter: Adapter,
) -> None:
    # They escaped as TypeError, ValueError or RecursionError. (NaN and Infinity go back as
    # written: test_replies.py::test_a_models_nan_arguments_go_back_as_it_wrote_them.)
    def check(case: tuple[Callable[[], Any], str]) -> None:
        arguments, expected = case
        api = RecordingAPI(json_reply(OK))
        history = adapter.called("call_1", "get_weather", arguments())
        with raised(adapter, core.InvalidParameterError) as caught:
            adapter.invoke(adapter.over(api), "weather?", *history)
        assert "tool call 'call_1' " in str(caught.value) and expected in str(caught.value)
        assert api.requests == []

    each(HISTORY_ARGUMENTS_NOT_JSON, check)


def test_either_name_of_a_renamed_setting_is_the_setting_never_a_body_field(
    adapter: Adapter,
) -> None:
    """LangChain's ``stream_chunk_timeout`` and LlamaIndex's ``api_base`` are the core's
    ``stream_idle_timeout`` and ``base_url``: a caller moving between the two writes the other
    name, which went into the request body (or, for LlamaIndex's constructor, nowhere)."""
    values = {"base_url": "http://other.example/v1", "stream_idle_timeout": 7.0}
    renames = adapter.model_class()._RENAMES
    assert renames
    for core_name, field in renames.items():
        api = RecordingAPI(json_reply(OK))
        settings = api.options(adapter.fields.get("async_http_client", "async_http_client"))
        model = adapter.model_class()(**settings, **{core_name: values[core_name]})
        assert getattr(model, field) == values[core_name]
        adapter.invoke(model, "hi")
        call_model = adapter.model_class()(**settings)
        adapter.invoke(call_model, "hi", **{core_name: values[core_name]})
        assert all(core_name not in body for body in api.bodies)
        if core_name == "base_url":
            assert [r.url.host for r in api.requests] == ["other.example", "other.example"]
        with raised(adapter, core.InvalidParameterError) as caught:
            adapter.model_class()(**settings, **{core_name: values[core_name], field: 1.0})
        assert f"{core_name} and {field}" in str(caught.value)
        # None is the field's "unset"; one call naming both with two values is refused too (the
        # winner was the first of a set, which changes with the hash seed).
        unset = adapter.model_class()(**settings, **{core_name: values[core_name], field: None})
        assert getattr(unset, field) == values[core_name]
        with raised(adapter, core.InvalidParameterError) as caught:
            adapter.invoke(call_model, "hi", **{core_name: values[core_name], field: 1.0})
        assert f"{core_name} and {field}" in str(caught.value)
        assert len(api.requests) == 2


def test_an_empty_model_for_one_call_is_refused_not_taken_as_unset(adapter: Adapter) -> None:
    # It fell back to the model's own, silently: a caller's empty setting is a mistake.
    api = RecordingAPI(json_reply(OK))
    with raised(adapter, core.InvalidParameterError) as caught:
        adapter.invoke(adapter.over(api), "hi", model="")
    assert "model" in str(caught.value)
    assert api.requests == []
