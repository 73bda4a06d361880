"""ChatStepFun's fields, metadata, serialization, tool binding and structured-output binding."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from langchain_core import exceptions as lc
from langchain_core.load import dumpd, dumps, load
from langchain_core.messages import HumanMessage
from langchain_core.runnables import RunnableBinding, RunnableSequence
from pydantic import BaseModel, Field
from typing_extensions import TypedDict

import stepfun_core as core
from langchain_stepfun import ChatStepFun
from langchain_stepfun.errors import to_langchain_error


class Weather(BaseModel):
    """Weather in a city."""

    city: str = Field(description="the city")


class WeatherDict(TypedDict):
    """Weather in a city."""

    city: str


def get_weather(city: str) -> str:
    """Get the weather for a city."""
    return "sunny"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("STEP_API_KEY", "STEPFUN_API_KEY", "STEP_BASE_URL", "STEPFUN_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


def make(**kwargs: Any) -> ChatStepFun:
    return ChatStepFun(**{"api_key": "sk-test-secret-value-123456", **kwargs})


# -- fields ------------------------------------------------------------------------------------


def test_defaults_and_aliases() -> None:
    model = ChatStepFun(stepfun_api_key="k", model_name="step-3.7-flash", stop_sequences=["x"])
    assert model.model == "step-3.7-flash"
    assert model.api_key is not None and model.api_key.get_secret_value() == "k"
    assert model.stop == ["x"]
    # Round 13 (langchain-openai's test_openai_model_param): OpenAI's newer name is the field,
    # not an unknown argument sent as it is (StepFun documents max_tokens only).
    assert make(max_completion_tokens=10).max_tokens == 10
    assert make(max_completion_tokens=10).model_kwargs == {}
    assert make().model == "step-3.5-flash"
    assert make().base_url == core.DEFAULT_BASE_URL
    assert make().echo_reasoning == "tool_calls"
    assert make().stream_usage is True


def test_unknown_arguments_go_to_model_kwargs() -> None:
    with pytest.warns(UserWarning, match="transferred to model_kwargs"):
        model = make(presence_penalty=0.5)
    assert model.model_kwargs == {"presence_penalty": 0.5}


def test_the_warnings_about_arguments_point_at_the_callers_line() -> None:
    # Found in review: they pointed one frame above the caller (LangChain's and pydantic's own
    # frames lie between the validator and the caller's line, more of them for model_validate).
    for kwargs, words in (
        ({"presence_penalty": 0.5}, "transferred"),
        ({"model_kwargs": {"temperature": 0.5}}, "explicitly"),
    ):
        with pytest.warns(UserWarning, match=words) as caught:
            ChatStepFun(api_key="k", **kwargs)
        with pytest.warns(UserWarning, match=words) as validated:
            ChatStepFun.model_validate({"api_key": "k", **kwargs})
        assert [w.filename for w in [*caught, *validated]] == [__file__, __file__]


def test_an_argument_given_twice_is_refused_without_quoting_the_key() -> None:
    # LangChain refuses it in a before-validator, whose ValidationError quotes every argument,
    # the key among them.
    with pytest.raises(core.InvalidParameterError, match="given both") as caught:
        make(foo=1, model_kwargs={"foo": 2})
    assert isinstance(caught.value, lc.ModelInvalidRequestError)
    assert "secret" not in f"{caught.value!s} {caught.value.args!r}"


def test_a_field_also_in_model_kwargs_takes_that_value_with_a_warning() -> None:
    # As ChatOpenAI does (langchain-core's _build_model_kwargs), under any of the field's names;
    # so configurable model_kwargs and a dumped model with both still load.
    for kwargs in (
        {"temperature": 0.1, "model_kwargs": {"temperature": 0.5}},
        {"stop_sequences": ["a"], "model_kwargs": {"stop": ["b"]}},
    ):
        with pytest.warns(UserWarning, match="should be specified explicitly"):
            model = make(**kwargs)
        assert (model.temperature, model.stop) in ((0.5, None), (None, ["b"]))
        assert model.model_kwargs == {}


def test_a_dual_error_is_not_its_own_cause() -> None:
    # A dual error met inside LangChainErrors (a bad content block) is raised as it is.
    with pytest.raises(core.InvalidParameterError) as caught:
        make()._payload([HumanMessage(content=[{"type": "no-such-block"}])], None, {})
    assert caught.value.__cause__ is not caught.value


def test_a_bad_setting_changed_after_construction_raises_the_dual_error() -> None:
    model = make()
    model.max_retries = -3  # assignment is not validated; the core checks on the next call
    with pytest.raises(core.InvalidParameterError, match="max_retries") as caught:
        model.invoke("hi")
    assert isinstance(caught.value, lc.ModelInvalidRequestError)
    with pytest.raises(lc.ModelInvalidRequestError, match="timeout"):
        make().invoke("hi", timeout=-1)


def test_clients_are_created_once() -> None:
    model = make()
    assert model.client is model.client
    assert model.async_client is model.async_client


def test_own_http_clients_are_used() -> None:
    sync, aio = httpx.Client(), httpx.AsyncClient()
    model = make(http_client=sync, http_async_client=aio)
    assert model.client.http is sync
    assert model.async_client._http_client is aio


# -- metadata ----------------------------------------------------------------------------------


def test_ls_params_honour_call_overrides() -> None:
    model = make(temperature=0.3, max_tokens=50, stop="END")
    params = model._get_ls_params()
    assert params == {
        "ls_provider": "stepfun",
        "ls_model_name": "step-3.5-flash",
        "ls_model_type": "chat",
        "ls_temperature": 0.3,
        "ls_max_tokens": 50,
        "ls_stop": ["END"],
    }
    assert model._get_ls_params(model="step-3.7-flash")["ls_model_name"] == "step-3.7-flash"
    assert model._get_ls_params(stop=["a", "b"])["ls_stop"] == ["a", "b"]


def test_identity() -> None:
    model = make(temperature=0.1)
    assert model._llm_type == "stepfun-chat"
    assert model._identifying_params["model"] == "step-3.5-flash"
    assert model._identifying_params["temperature"] == 0.1
    assert model.lc_secrets == {"api_key": "STEP_API_KEY"}


def test_profile_from_the_catalog() -> None:
    vision = make(model="step-3.7-flash").profile
    assert vision is not None
    assert vision["max_input_tokens"] == 256_000
    assert vision["image_inputs"] is True and vision["video_inputs"] is True
    assert vision["reasoning_output"] is True
    assert vision["reasoning_effort_levels"] == ["low", "medium", "high"]
    text = make(model="step-3.5-flash").profile
    assert text is not None and text["image_inputs"] is False
    unknown = make(model="step-99").profile
    assert unknown is not None and unknown["tool_calling"] is True


@pytest.mark.filterwarnings("ignore::langchain_core._api.beta_decorator.LangChainBetaWarning")
def test_serialization_never_writes_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    model = make(model="step-3.7-flash", temperature=0.2)
    text = dumps(model)
    assert "sk-test-secret-value-123456" not in text
    assert dumpd(model)["kwargs"]["api_key"] == {"lc": 1, "type": "secret", "id": ["STEP_API_KEY"]}
    monkeypatch.setenv("STEP_API_KEY", "restored")
    restored = load(
        json.loads(text),
        allowed_objects=[ChatStepFun],
        valid_namespaces=["langchain_stepfun"],
        secrets_from_env=True,
    )
    assert isinstance(restored, ChatStepFun)
    assert restored.model == "step-3.7-flash" and restored.temperature == 0.2
    assert restored.api_key is not None and restored.api_key.get_secret_value() == "restored"
    assert "sk-test" not in repr(model)


@pytest.mark.filterwarnings("ignore::langchain_core._api.beta_decorator.LangChainBetaWarning")
@pytest.mark.parametrize("library", ["httpx", "httpx2"])
def test_a_timeout_object_is_kept_as_its_phases(library: str) -> None:
    # Round 13: an httpx2 Timeout was refused by pydantic (an untyped ValidationError), and an
    # httpx one made the model unloadable (dumps wrote it as "not_implemented").
    timeout = pytest.importorskip(library).Timeout(30, connect=2)
    model = make(timeout=timeout)
    assert model.timeout == (2.0, 30.0, 30.0, 30.0)
    assert model.settings().timeout == (2.0, 30.0, 30.0, 30.0)
    restored = load(
        json.loads(dumps(model)),
        allowed_objects=[ChatStepFun],
        valid_namespaces=["langchain_stepfun"],
        secrets_map={"STEP_API_KEY": "k"},
    )
    assert restored.timeout == model.timeout
    model.timeout = timeout
    assert model.timeout == (2.0, 30.0, 30.0, 30.0)
    assert model.model_copy(update={"timeout": timeout}).timeout == (2.0, 30.0, 30.0, 30.0)


def _mock_http(sent: list[httpx.Request]) -> httpx.Client:
    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        message = {"role": "assistant", "content": "hi"}
        choice = {"index": 0, "message": message, "finish_reason": "stop"}
        return httpx.Response(200, json={"id": "x", "model": "m", "choices": [choice]})

    return httpx.Client(transport=httpx.MockTransport(answer))


def test_chat_openai_and_chat_deepseek_client_names_are_ours() -> None:
    # Round 14: ChatOpenAI's openai_api_key / openai_api_base / request_timeout and
    # ChatDeepSeek's api_base went into model_kwargs: the key was sent in the body and kept in
    # dumps and traces, and the call went to the default URL with another key.
    sent: list[httpx.Request] = []
    model = ChatStepFun(
        openai_api_key="sk-pasted-key",
        openai_api_base="https://api.stepfun.com/v1",
        request_timeout=5,
        http_client=_mock_http(sent),
    )
    assert model.model_kwargs == {}
    assert model.settings().timeout == (5.0, 5.0, 5.0, 5.0)
    assert "sk-pasted-key" not in dumps(model) + repr(model)
    model.invoke("hi")
    model.invoke("hi", openai_api_base="https://other.example/v1", request_timeout=3)
    assert [str(r.url) for r in sent] == [
        "https://api.stepfun.com/v1/chat/completions",
        "https://other.example/v1/chat/completions",
    ]
    assert all(r.headers["authorization"] == "Bearer sk-pasted-key" for r in sent)
    assert all(json.loads(r.content).keys() == {"model", "messages", "stream"} for r in sent)
    assert ChatStepFun(api_key="k", api_base="https://api.stepfun.com/v1").base_url.endswith(
        ".com/v1"
    )


@pytest.mark.parametrize(
    ("given", "hint"),
    [
        ({"openai_proxy": "http://alice:s3cret@proxy:3128"}, "HTTPS_PROXY"),
        ({"model_kwargs": {"default_query": {"v": "1"}}}, "query in base_url"),
        ({"organization": "org-1"}, "no organizations"),
        ({"extra_query": {"v": "1"}}, "query in base_url"),
        ({"model_kwargs": {"extra_query": {"v": "1"}}}, "query in base_url"),
    ],
)
def test_chat_openai_client_settings_are_refused_not_sent(given: dict[str, Any], hint: str) -> None:
    # Round 14: they were sent in the body (a proxy's password with them) and never applied.
    with pytest.raises(core.InvalidParameterError, match=hint) as caught:
        make(**given)
    assert "s3cret" not in str(caught.value)
    sent: list[httpx.Request] = []
    model = make(http_client=_mock_http(sent))
    name, value = next(iter(given.get("model_kwargs", given).items()))
    with pytest.raises(core.InvalidParameterError, match=hint):
        model.invoke("hi", **{name: value})
    assert sent == []


def test_a_subclass_serializes_under_its_own_module() -> None:
    # LangChain's namespace is the class's module: a fixed one made an id no loader can find.
    assert dumpd(make())["id"] == ["langchain_stepfun", "chat_models", "ChatStepFun"]
    assert dumpd(MyChat(api_key="k"))["id"] == [*__name__.split("."), "MyChat"]


class MyChat(ChatStepFun):
    """A user's subclass."""


def test_default_headers_stay_out_of_repr_and_serialization() -> None:
    model = make(default_headers={"X-Proxy-Key": "proxy-secret"})
    assert "proxy-secret" not in repr(model)
    assert "proxy-secret" not in dumps(model)
    assert model.client.settings.default_headers == (("X-Proxy-Key", "proxy-secret"),)


# -- tools -------------------------------------------------------------------------------------


def bound(runnable: Any) -> dict[str, Any]:
    assert isinstance(runnable, RunnableBinding)
    return dict(runnable.kwargs)


@pytest.mark.parametrize(
    ("choice", "wire"),
    [
        (None, None),
        ("auto", "auto"),
        ("none", "none"),
        ("required", "required"),
        ("any", "required"),
        (True, "required"),
        ("get_weather", {"type": "function", "function": {"name": "get_weather"}}),
        (
            {"type": "function", "function": {"name": "get_weather"}},
            {"type": "function", "function": {"name": "get_weather"}},
        ),
    ],
)
def test_tool_choice_mapping(choice: Any, wire: Any) -> None:
    kwargs = bound(make().bind_tools([get_weather], tool_choice=choice))
    assert kwargs.get("tool_choice") == wire
    assert kwargs["tools"][0]["function"]["name"] == "get_weather"


def test_unknown_tool_choice_is_refused() -> None:
    with pytest.raises(ValueError, match="nope"):
        make().bind_tools([get_weather], tool_choice="nope")


def test_bind_tools_options_and_web_search_passthrough() -> None:
    web = {"type": "web_search", "function": {"description": "search the web"}}
    kwargs = bound(
        make().bind_tools(
            [get_weather, Weather, web],
            strict=True,
            parallel_tool_calls=False,
            response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": {}}},
            user="abc",
        )
    )
    assert kwargs["tools"][0]["function"]["strict"] is True
    assert kwargs["tools"][1]["function"]["name"] == "Weather"
    assert kwargs["tools"][2] == web
    assert kwargs["parallel_tool_calls"] is False
    assert kwargs["response_format"]["type"] == "json_schema"
    assert kwargs["user"] == "abc"


# -- structured output -------------------------------------------------------------------------


def first_binding(runnable: Any) -> dict[str, Any]:
    assert isinstance(runnable, RunnableSequence)
    return bound(runnable.first)


@pytest.mark.parametrize("schema", [Weather, WeatherDict, Weather.model_json_schema()])
def test_function_calling_binding(schema: Any) -> None:
    reasoning = first_binding(make(model="step-3.7-flash").with_structured_output(schema))
    assert reasoning["tools"][0]["function"]["name"] in ("Weather", "WeatherDict")
    # Thinking models may refuse a forced choice: they are left to choose.
    assert "tool_choice" not in reasoning
    assert reasoning["ls_structured_output_format"]["kwargs"]["method"] == "function_calling"
    forced = first_binding(make(model="step-1-8k").with_structured_output(schema))
    assert forced["tool_choice"]["type"] == "function"


def test_json_mode_and_json_schema_bindings() -> None:
    json_mode = first_binding(make().with_structured_output(Weather, method="json_mode"))
    assert json_mode["response_format"] == {"type": "json_object"}
    schema = first_binding(
        make().with_structured_output(WeatherDict, method="json_schema", strict=True)
    )
    spec = schema["response_format"]["json_schema"]
    assert schema["response_format"]["type"] == "json_schema"
    assert spec["name"] == "WeatherDict" and spec["strict"] is True
    assert spec["schema"]["properties"]["city"]["type"] == "string"
    with pytest.raises(ValueError, match="strict"):
        make().with_structured_output(Weather, method="json_mode", strict=True)


def test_openai_json_schema_specs_are_sent_as_given_and_strict_means_strict_form() -> None:
    # Hostile round 8: OpenAI's spec ({"name", "schema"}), which ChatOpenAI takes, was read as a
    # function without parameters and sent as an empty schema; and strict=True went out over a
    # schema not in strict form (an optional field neither required nor closed off).
    closed = {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    }
    spec = {"name": "person", "strict": True, "schema": closed}
    sent = first_binding(make().with_structured_output(spec, method="json_schema"))
    assert sent["response_format"] == {"type": "json_schema", "json_schema": spec}
    bound_spec = bound(make().bind_tools([], response_format=spec))["response_format"]
    assert bound_spec == {"type": "json_schema", "json_schema": spec}
    # Review: a spec's own schema is put in strict form too, and a tool call carries it.
    loose = {"name": "person", "schema": {**closed, "required": []}}
    made_strict = first_binding(
        make().with_structured_output(loose, method="json_schema", strict=True)
    )
    assert made_strict["response_format"]["json_schema"]["schema"]["required"] == ["city"]
    tool = first_binding(make().with_structured_output(spec))["tools"][0]["function"]
    assert (tool["name"], tool["parameters"]) == ("person", closed)

    class Place(BaseModel):
        city: str
        country: str | None = None

    strict = first_binding(make().with_structured_output(Place, method="json_schema", strict=True))
    schema = strict["response_format"]["json_schema"]["schema"]
    assert schema["required"] == ["city", "country"]
    assert schema["additionalProperties"] is False


def test_include_raw_shape() -> None:
    runnable = make().with_structured_output(Weather, include_raw=True)
    assert "raw" in runnable.first.steps__  # type: ignore[attr-defined]


# -- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("core_error", "lc_class", "retryable"),
    [
        (core.AuthenticationError("x", status_code=401), lc.ModelAuthenticationError, False),
        (core.NotFoundError("x", status_code=404), lc.ModelNotFoundError, False),
        (core.BadRequestError("x", status_code=400), lc.ModelInvalidRequestError, False),
        (core.ContextOverflowError("x", status_code=400), lc.ContextOverflowError, False),
        (core.RateLimitError("x", status_code=429), lc.ModelRateLimitError, True),
        (core.InternalServerError("x", status_code=503), lc.ModelAPIError, True),
        (core.APIConnectionError("x"), lc.ModelConnectionError, True),
        (core.APITimeoutError("x"), lc.ModelTimeoutError, True),
        (core.StreamInterruptedError("x"), lc.ModelConnectionError, True),
        (core.ContentModerationError("x", status_code=451), lc.ModelInvalidRequestError, False),
        (core.PaymentRequiredError("x", status_code=402), lc.ModelPermissionDeniedError, False),
        (core.InvalidParameterError("x"), lc.ModelInvalidRequestError, False),
    ],
)
def test_errors_are_core_and_langchain_errors(
    core_error: core.StepFunError, lc_class: type[Exception], retryable: bool
) -> None:
    error = to_langchain_error(core_error)
    assert isinstance(error, type(core_error))
    assert isinstance(error, lc_class)
    assert error.is_retryable is retryable  # type: ignore[attr-defined]
    assert error.status_code == core_error.status_code  # type: ignore[attr-defined]
