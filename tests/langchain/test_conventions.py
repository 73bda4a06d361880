"""Conventions of the newest LangChain releases: versions in traces, model_name, refusals,
the serialization round trip and what init_chat_model can and cannot do."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from langchain_core import exceptions as lc
from langchain_core.exceptions import OutputParserException
from langchain_core.load import dumps, loads
from langchain_core.messages import HumanMessage
from pydantic import BaseModel

import stepfun_core as core
from langchain_stepfun import (
    ChatStepFun,
    StepFunContentModerationError,
    StepFunCutOffError,
    StepFunRefusalError,
)
from tests.core.wire_samples import sse
from tests.hostile import RecordingAPI, by_mode, chunk

KEY = "sk-conventions-SECRET-0123456789"


class City(BaseModel):
    """A city."""

    name: str


def completion(content: str, finish_reason: str, **message: Any) -> dict[str, Any]:
    return {
        "id": "r1",
        "model": "step-3.5-flash",
        "created": 1,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, **message},
                "finish_reason": finish_reason,
            }
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 0, "total_tokens": 3},
    }


def sse_body(content: str, finish_reason: str) -> bytes:
    chunk = {
        "id": "r1",
        "model": "step-3.5-flash",
        "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": finish_reason}],
    }
    return f"data: {json.dumps(chunk)}\n\ndata: [DONE]\n\n".encode()


def model_answering(body: dict[str, Any] | None = None, *, status: int = 200) -> ChatStepFun:
    def handler(request: httpx.Request) -> httpx.Response:
        if json.loads(request.content).get("stream"):
            text = body["choices"][0]["message"]["content"] if body else ""
            reason = body["choices"][0]["finish_reason"] if body else "stop"
            headers = {"content-type": "text/event-stream"}
            return httpx.Response(status, content=sse_body(text, reason), headers=headers)
        return httpx.Response(status, json=body)

    return ChatStepFun(**RecordingAPI(handler).options("http_async_client", api_key=KEY))


# --- versions in traces ---------------------------------------------------------------------------
def test_our_version_is_recorded_beside_langchain_cores() -> None:
    model = ChatStepFun(api_key=KEY)
    versions = (model.metadata or {})["lc_versions"]
    assert versions["stepfun-integrations"] == core.__version__
    assert "langchain-core" in versions  # the parent's entry is kept, not replaced
    copied = model.model_copy(update={"temperature": 0.1})
    assert copied.metadata is not None
    assert copied.metadata["lc_versions"]["stepfun-integrations"] == core.__version__


def test_the_version_validator_has_a_name_of_its_own() -> None:
    # Pydantic replaces a parent's validator of the same name instead of chaining it.
    validators = ChatStepFun.__pydantic_decorators__.model_validators
    assert "_set_stepfun_version" in validators


# --- model_name -----------------------------------------------------------------------------------
def test_model_name_reads_the_model() -> None:
    assert ChatStepFun(api_key=KEY, model="step-3.7-flash").model_name == "step-3.7-flash"
    assert ChatStepFun(api_key=KEY, model_name="step-5-preview").model_name == "step-5-preview"
    model = ChatStepFun(api_key=KEY)
    model.model = "step-1-8k"
    assert model.model_name == "step-1-8k"


# --- generate's llm_output -----------------------------------------------------------------------
def test_generate_sums_token_usage_across_prompts() -> None:
    reply = completion("ok", "stop")
    reply["usage"] = {
        "prompt_tokens": 5,
        "completion_tokens": 3,
        "total_tokens": 8,
        "completion_tokens_details": {"reasoning_tokens": 2},
    }
    model = model_answering(reply)
    prompts = [[HumanMessage("hi")], [HumanMessage("yo")]]
    for result in (model.generate(prompts), asyncio.run(model.agenerate(prompts))):
        assert result.llm_output == {
            "token_usage": {
                "prompt_tokens": 10,
                "completion_tokens": 6,
                "total_tokens": 16,
                "completion_tokens_details": {"reasoning_tokens": 4},
            },
            "model_name": "step-3.5-flash",
        }


def test_combined_llm_output_skips_missing_outputs_and_counts() -> None:
    model = ChatStepFun(api_key=KEY, model="step-3.7-flash")
    usage = {"prompt_tokens": 1, "cached_tokens": None, "prompt_tokens_details": None}
    outputs = [None, {"model_name": "step-3.5-flash", "token_usage": usage}, {"id": "r2"}]
    assert model._combine_llm_outputs(outputs) == {
        "token_usage": {"prompt_tokens": 1},
        "model_name": "step-3.5-flash",
    }
    # Nothing reported (a streamed generation): the configured model, no usage counted.
    assert model._combine_llm_outputs([None]) == {"token_usage": {}, "model_name": "step-3.7-flash"}


# --- refusals -------------------------------------------------------------------------------------
REFUSED = [
    pytest.param(completion("", "content_filter"), id="content-filter"),
    pytest.param(completion("", "stop", refusal="I cannot help with that."), id="refusal-field"),
]


@pytest.mark.parametrize("reply", REFUSED)
@pytest.mark.parametrize("method", ["function_calling", "json_mode", "json_schema"])
def test_structured_output_raises_a_refusal(reply: dict[str, Any], method: Any) -> None:
    structured = model_answering(reply).with_structured_output(City, method=method)
    with pytest.raises(StepFunRefusalError) as caught:
        structured.invoke("Describe Paris.")
    # A ModelRefusalError where langchain-core has it (1.7.5 and newer), else a ModelError.
    assert isinstance(caught.value, getattr(lc, "ModelRefusalError", lc.ModelError))
    assert caught.value.raw_message is not None


@pytest.mark.parametrize("reply", REFUSED)
def test_a_refusal_is_the_parsing_error_with_include_raw(reply: dict[str, Any]) -> None:
    structured = model_answering(reply).with_structured_output(City, include_raw=True)
    result = asyncio.run(structured.ainvoke("Describe Paris."))
    assert isinstance(result["parsing_error"], StepFunRefusalError)
    assert result["parsed"] is None
    assert result["raw"].response_metadata["finish_reason"] == reply["choices"][0]["finish_reason"]


def test_a_streamed_content_filter_is_a_refusal() -> None:
    structured = model_answering(completion("", "content_filter")).with_structured_output(
        City, method="json_mode"
    )
    with pytest.raises(StepFunRefusalError):
        list(structured.stream("Describe Paris."))


# Hostile round 9: LangChain's parsers complete cut JSON, so a reply cut at max_tokens came back
# as a whole object ({"name": "Par"} -> City(name="Par")). ChatOpenAI raises
# LengthFinishReasonError; the LlamaIndex adapter raises its StepFunCutOffError.
CUT_JSON = '{"name": "Par'


def cut_replies(method: str) -> Any:
    if method != "function_calling":
        return model_answering(completion(CUT_JSON, "length"))
    call = {"id": "call_1", "type": "function", "function": {"name": "City", "arguments": CUT_JSON}}
    whole = completion("", "length", tool_calls=[call])
    streamed = sse(chunk(tool_calls=[{"index": 0, **call}], finish="length"))
    return ChatStepFun(**RecordingAPI(by_mode(whole, streamed)).options("http_async_client"))


@pytest.mark.parametrize("stream", [False, True], ids=["invoke", "stream"])
@pytest.mark.parametrize("method", ["function_calling", "json_mode", "json_schema"])
def test_structured_output_cut_at_max_tokens_raises(method: Any, stream: bool) -> None:
    structured = cut_replies(method).with_structured_output(City, method=method)
    with pytest.raises(StepFunCutOffError) as caught:
        list(structured.stream("Paris?")) if stream else structured.invoke("Paris?")
    assert isinstance(caught.value, OutputParserException)
    assert caught.value.raw_message.response_metadata["finish_reason"] == "length"
    with_raw = cut_replies(method).with_structured_output(City, method=method, include_raw=True)
    result = asyncio.run(with_raw.ainvoke("Paris?"))
    assert isinstance(result["parsing_error"], StepFunCutOffError)
    assert result["parsed"] is None


def test_an_answer_is_not_a_refusal() -> None:
    structured = model_answering(completion('{"name": "Paris"}', "stop")).with_structured_output(
        City, method="json_mode"
    )
    assert structured.invoke("Describe Paris.") == City(name="Paris")


def test_451_stays_a_moderation_error() -> None:
    body = {"error": {"message": "blocked", "type": "censorship_blocked"}}
    structured = model_answering(body, status=451).with_structured_output(City)
    with pytest.raises(StepFunContentModerationError) as caught:
        structured.invoke("Describe Paris.")
    assert not isinstance(caught.value, StepFunRefusalError)


# --- serialization round trip (as the README shows it) --------------------------------------------
def test_the_documented_round_trip_works(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STEP_API_KEY", KEY)
    model = ChatStepFun(model="step-3.7-flash", temperature=0.2)
    text = dumps(model)
    assert KEY not in text
    revived = loads(
        text,
        allowed_objects=[ChatStepFun],
        valid_namespaces=["langchain_stepfun"],
        secrets_from_env=True,
    )
    assert isinstance(revived, ChatStepFun)
    assert revived.model == "step-3.7-flash" and revived.temperature == 0.2
    assert revived.api_key is not None and revived.api_key.get_secret_value() == KEY


def test_without_valid_namespaces_the_round_trip_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    # The README warns about this form: langchain-core refuses the namespace, and with
    # secrets_from_env=True its message would quote the resolved key.
    monkeypatch.setenv("STEP_API_KEY", KEY)
    with pytest.raises(ValueError, match="Invalid namespace"):
        loads(dumps(ChatStepFun()), allowed_objects=[ChatStepFun])


def test_an_unresolved_secret_falls_back_to_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STEP_API_KEY", KEY)
    revived = loads(
        dumps(ChatStepFun()), allowed_objects=[ChatStepFun], valid_namespaces=["langchain_stepfun"]
    )
    assert revived.api_key is not None and revived.api_key.get_secret_value() == KEY


# --- init_chat_model ------------------------------------------------------------------------------
def test_init_chat_model_does_not_know_stepfun() -> None:
    # Its provider list is fixed inside langchain; the README shows the one-line alternative.
    from langchain.chat_models import init_chat_model

    with pytest.raises(ValueError, match="stepfun"):
        init_chat_model("step-3.5-flash", model_provider="stepfun")
    assert ChatStepFun(api_key=KEY, model="step-3.5-flash").model == "step-3.5-flash"


def test_json_schema_refused_by_the_server_still_gives_the_object(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # create_agent picks the provider's json_schema from the profile (the catalog lists it for
    # step-3.5-flash); a server refusing it (docs/wire.md#disputed) ended the agent's run.
    from stepfun_core import json_mode
    from tests.hostile import refusing_json_schema

    monkeypatch.setattr(json_mode, "_refused", set())
    api = RecordingAPI(refusing_json_schema)
    model = ChatStepFun(**api.options("http_async_client", api_key=KEY))
    structured = model.with_structured_output(City, method="json_schema")
    assert structured.invoke("Describe Paris.") == City(name="Paris")
    assert [b["response_format"]["type"] for b in api.bodies] == ["json_schema", "json_object"]


# Round 10: LangChain merges streamed tool-call chunks leniently, and its JSON parsers complete
# cut JSON or take the first of two values, so wrong objects came back without an error where
# invoke (and ChatOpenAI's json_schema) raise.
def streamed_call(arguments: str) -> ChatStepFun:
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "City", "arguments": arguments},
    }
    whole = completion("", "tool_calls", tool_calls=[call])
    streamed = sse(chunk(tool_calls=[{"index": 0, **call}], finish="tool_calls"))
    return ChatStepFun(**RecordingAPI(by_mode(whole, streamed)).options("http_async_client"))


@pytest.mark.parametrize("arguments", [CUT_JSON, "null", "not json"])
def test_streamed_tool_arguments_that_are_not_an_object_raise(arguments: str) -> None:
    structured = streamed_call(arguments).with_structured_output(City)
    with pytest.raises(OutputParserException, match="not"):
        list(structured.stream("Paris?"))
    streaming = streamed_call(arguments).model_copy(update={"streaming": True})
    with pytest.raises(OutputParserException):  # invoke under a streaming callback, too
        streaming.with_structured_output(City).invoke("Paris?")
    raw = streamed_call(arguments).with_structured_output(City, include_raw=True)
    *_, last = raw.stream("Paris?")
    assert last["parsed"] is None and isinstance(last["parsing_error"], OutputParserException)


@pytest.mark.parametrize(
    "reply", [CUT_JSON, '{"name": "Paris"} {"name": "Rome"}', '{"name": "Paris"} and more']
)
def test_json_schema_takes_one_whole_json_value_only(reply: str) -> None:
    model = model_answering(completion(reply, "stop"))
    structured = model.with_structured_output(City, method="json_schema")
    with pytest.raises(OutputParserException, match="whole JSON"):
        structured.invoke("Paris?")
    with pytest.raises(OutputParserException, match="whole JSON"):
        list(structured.stream("Paris?"))
    lenient = model.with_structured_output(City, method="json_mode")  # as ChatOpenAI's json_mode
    assert lenient.invoke("Paris?").name.startswith("Par")


def test_a_bad_second_call_does_not_spoil_the_first_in_a_stream() -> None:
    # Review of round 10: structured output reads the first call only; a cut second one made the
    # stream raise where invoke returned the first.
    calls = [
        {"id": f"call_{i}", "type": "function", "function": {"name": "City", "arguments": args}}
        for i, args in enumerate(['{"name": "Paris"}', '{"name": "Ro'])
    ]
    whole = completion("", "tool_calls", tool_calls=calls)
    streamed = sse(
        *(chunk(tool_calls=[{"index": i, **c}]) for i, c in enumerate(calls)),
        chunk(finish="tool_calls"),
    )
    model = ChatStepFun(**RecordingAPI(by_mode(whole, streamed)).options("http_async_client"))
    structured = model.with_structured_output(City)
    assert structured.invoke("Paris?") == City(name="Paris")
    assert list(structured.stream("Paris?"))[-1] == City(name="Paris")


@pytest.mark.parametrize("schema", [City, City.model_json_schema()])
def test_json_schema_takes_a_fenced_value(schema: Any) -> None:
    # Review of round 10: a fence is no part of the JSON (a JSON-mode answer after the fallback
    # may come in one; ChatOpenAI's parser for a dict schema takes it too).
    model = model_answering(completion('```json\n{"name": "Paris"}\n```', "stop"))
    structured = model.with_structured_output(schema, method="json_schema")
    assert structured.invoke("Paris?") in (City(name="Paris"), {"name": "Paris"})
    assert list(structured.stream("Paris?"))[-1] in (City(name="Paris"), {"name": "Paris"})
