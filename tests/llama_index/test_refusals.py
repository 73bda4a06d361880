"""Refusals in LlamaIndex: kept on the reply (whole and streamed), and a clear
``StepFunRefusalError`` from structured prediction (both modes, all four entry points, and
LlamaIndex's FunctionCallingProgram), never a pydantic ValidationError on empty text."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from llama_index.core.agent.workflow import FunctionAgent
from llama_index.core.program import FunctionCallingProgram
from llama_index.core.prompts import PromptTemplate
from llama_index.core.tools import FunctionTool
from pydantic import BaseModel, ValidationError

from llama_index_stepfun import StepFun
from llama_index_stepfun.refusals import (
    StepFunCutOffError,
    StepFunInvalidToolArgumentsError,
    StepFunRefusalError,
)
from stepfun_core import StepFunError
from tests.core.conftest import sequence
from tests.core.wire_samples import REFUSAL, REFUSAL_STREAM, refusal_completion, sse
from tests.hostile import by_mode, chunk, completion_body
from tests.llama_index.conftest import Driver, MockAPI, sse_reply, user

PROMPT = PromptTemplate("Describe the city of {city}.")
MODES = ["function_calling", "json_object"]


class City(BaseModel):
    """A city."""

    name: str


def refusing(**options: Any) -> StepFun:
    """A StepFun whose server refuses every request (whole, or streamed in pieces)."""
    handler = by_mode(refusal_completion(), REFUSAL_STREAM)
    return MockAPI(handler).llm(model="step-3.7-flash", **options)


def filtering(**options: Any) -> StepFun:
    """A StepFun whose server withholds the content (finish_reason content_filter)."""
    whole = completion_body({"role": "assistant", "content": ""})
    whole["choices"][0]["finish_reason"] = "content_filter"
    handler = by_mode(whole, sse(chunk("", "content_filter")))
    return MockAPI(handler).llm(model="step-3.7-flash", **options)


# --- the reply keeps the refusal -------------------------------------------------------------
def test_a_stated_refusal_is_kept_on_the_message(driver: Driver) -> None:
    response = driver.chat(refusing(), user("How do I pick a lock?"))
    assert response.message.additional_kwargs["refusal"] == REFUSAL
    assert response.message.content == ""
    assert response.raw["choices"][0]["message"]["refusal"] == REFUSAL


def test_a_streamed_refusal_is_kept_whole_so_far(driver: Driver) -> None:
    responses = driver.stream_chat(refusing(), user("How do I pick a lock?"))
    seen = [r.message.additional_kwargs.get("refusal") for r in responses]
    assert seen == [None, "I can't ", REFUSAL, REFUSAL]
    assert responses[-1].additional_kwargs["finish_reason"] == "stop"
    assert responses[-1].raw["choices"][0]["message"]["refusal"] == REFUSAL


def test_no_refusal_no_key(driver: Driver) -> None:
    api = MockAPI(lambda request: httpx.Response(200, json=completion_body({"content": "ok"})))
    response = driver.chat(api.llm(), user("hi"))
    assert "refusal" not in response.message.additional_kwargs


# --- structured prediction raises a clear error ---------------------------------------------
def check_refusal(caught: pytest.ExceptionInfo[StepFunRefusalError], stated: bool) -> None:
    error = caught.value
    assert isinstance(error, StepFunError) and isinstance(error, ValueError)
    assert not isinstance(error, ValidationError)
    assert error.response is not None
    if stated:
        assert error.refusal == REFUSAL
        assert REFUSAL in str(error)
    else:
        assert "content_filter" in str(error)


@pytest.mark.parametrize("stated", [True, False], ids=["refusal", "content-filter"])
@pytest.mark.parametrize("mode", MODES)
def test_structured_predict_raises_a_refusal(driver: Driver, mode: str, stated: bool) -> None:
    llm = (refusing if stated else filtering)(structured_output_mode=mode)
    with pytest.raises(StepFunRefusalError) as caught:
        driver.structured_predict(llm, City, PROMPT, city="Paris")
    check_refusal(caught, stated)


@pytest.mark.parametrize("stated", [True, False], ids=["refusal", "content-filter"])
@pytest.mark.parametrize("mode", MODES)
def test_stream_structured_predict_raises_a_refusal(
    driver: Driver, mode: str, stated: bool
) -> None:
    llm = (refusing if stated else filtering)(structured_output_mode=mode)
    with pytest.raises(StepFunRefusalError) as caught:
        driver.stream_structured_predict(llm, City, PROMPT, city="Paris")
    check_refusal(caught, stated)


@pytest.mark.parametrize("mode", MODES)
def test_a_structured_llm_raises_a_refusal(driver: Driver, mode: str) -> None:
    structured = refusing(structured_output_mode=mode).as_structured_llm(City)
    with pytest.raises(StepFunRefusalError):
        if driver.is_async:
            asyncio.run(structured.achat(user("Describe Paris.")))
        else:
            structured.chat(user("Describe Paris."))


def test_a_function_calling_program_raises_a_refusal(driver: Driver) -> None:
    program = FunctionCallingProgram.from_defaults(City, PROMPT.template, llm=refusing())
    with pytest.raises(StepFunRefusalError) as caught:
        if driver.is_async:
            asyncio.run(program.acall(city="Paris"))
        else:
            program(city="Paris")
    check_refusal(caught, stated=True)


# --- elsewhere a refusal stays a reply ------------------------------------------------------
def get_weather(city: str) -> str:
    """Get the weather in a city."""
    return f"Sunny in {city}."


def test_chat_with_tools_returns_a_refusal_unless_a_call_was_required(driver: Driver) -> None:
    tool = FunctionTool.from_defaults(get_weather)
    llm = refusing()
    response = driver.chat_with_tools(llm, [tool], user_msg="Weather in Paris?")
    assert response.message.additional_kwargs["refusal"] == REFUSAL
    streamed = driver.stream_chat_with_tools(llm, [tool], user_msg="Weather in Paris?")
    assert streamed[-1].message.additional_kwargs["refusal"] == REFUSAL
    with pytest.raises(StepFunRefusalError):
        driver.chat_with_tools(llm, [tool], user_msg="Weather in Paris?", tool_required=True)
    with pytest.raises(StepFunRefusalError):
        driver.stream_chat_with_tools(llm, [tool], user_msg="Weather in Paris?", tool_required=True)


@pytest.mark.parametrize("streaming", [True, False])
def test_an_agent_gets_the_refusal_as_its_answer(streaming: bool) -> None:
    agent = FunctionAgent(tools=[get_weather], llm=refusing(), streaming=streaming)

    async def run() -> Any:
        return await agent.run(user_msg="Weather in Paris?")

    result = asyncio.run(run())
    assert result.response.additional_kwargs["refusal"] == REFUSAL
    assert result.tool_calls == []


def city_call_stream() -> bytes:
    head = {"index": 0, "id": "call_1", "type": "function"}
    head["function"] = {"name": "City", "arguments": '{"name": '}
    rest = {"index": 0, "function": {"arguments": '"Paris"}'}}
    return sse(chunk(tool_calls=[head]), chunk(tool_calls=[rest]), chunk("", "tool_calls"))


def test_the_mark_does_not_leak_between_streamed_items() -> None:
    # While a caller consumes a structured stream, its own calls in between are not marked:
    # another model's refusal reaches the caller as a reply.
    api = MockAPI(sse_reply(city_call_stream()))
    other = refusing()
    tool = FunctionTool.from_defaults(get_weather)
    replies = []
    partials = []
    for partial in api.llm().stream_structured_predict(City, PROMPT, city="Paris"):
        partials.append(partial)
        replies.append(other.chat_with_tools([tool], user_msg="Weather?"))
    assert partials and partials[-1] == City(name="Paris")
    assert all(r.message.additional_kwargs["refusal"] == REFUSAL for r in replies)


def test_the_mark_does_not_leak_between_async_streamed_items() -> None:
    api = MockAPI(sse_reply(city_call_stream()))
    other = refusing()
    tool = FunctionTool.from_defaults(get_weather)

    async def run() -> list[Any]:
        replies = []
        stream = await api.llm().astream_structured_predict(City, PROMPT, city="Paris")
        async for _ in stream:
            replies.append(await other.achat_with_tools([tool], user_msg="Weather?"))
        return replies

    replies = asyncio.run(run())
    assert replies
    assert all(r.message.additional_kwargs["refusal"] == REFUSAL for r in replies)


# --- a reply cut at max_tokens ---------------------------------------------------------------
CUT = '{"name": "Par'


def cut_off(mode: str) -> StepFun:
    """A StepFun whose server stops at max_tokens inside the JSON (a call's or the text's)."""
    if mode == "function_calling":
        call = {"id": "c1", "type": "function", "function": {"name": "City", "arguments": CUT}}
        whole = completion_body({"role": "assistant", "content": "", "tool_calls": [call]})
        delta = {"tool_calls": [{"index": 0, **call}]}
        streamed = sse(chunk(**delta), chunk(finish="length"))
    else:
        whole = completion_body({"role": "assistant", "content": CUT})
        streamed = sse(chunk(CUT[:6]), chunk(CUT[6:]), chunk(finish="length"))
    whole["choices"][0]["finish_reason"] = "length"
    return MockAPI(by_mode(whole, streamed)).llm(structured_output_mode=mode)


@pytest.mark.parametrize("mode", MODES)
def test_structured_output_cut_at_max_tokens_says_so(driver: Driver, mode: str) -> None:
    # Streamed, the cut-off JSON made City(name="Par") without a word; whole, a validation
    # error about empty arguments ({}) or a pydantic error on half a document.
    for predict in (driver.structured_predict, driver.stream_structured_predict):
        with pytest.raises(StepFunCutOffError, match="cut at max_tokens") as caught:
            predict(cut_off(mode), City, PROMPT, city="Paris")
        assert caught.value.response is not None


# --- arguments that are not JSON -------------------------------------------------------------
class Defaults(BaseModel):
    """A city whose every field has a default."""

    name: str = "unknown"
    population: int = 0


MALFORMED = '{"name": "Paris", "population": 2e6x}'


def malformed_call(name: str, *, finish: str = "tool_calls") -> StepFun:
    """A StepFun whose server calls ``name`` with arguments that are not JSON, then says "Done"."""
    call = {"id": "c1", "type": "function", "function": {"name": name, "arguments": MALFORMED}}
    whole = completion_body({"role": "assistant", "content": "", "tool_calls": [call]})
    whole["choices"][0]["finish_reason"] = finish
    streamed = sse(chunk(tool_calls=[{"index": 0, **call}]), chunk(finish=finish))
    done = completion_body({"role": "assistant", "content": "Done."})
    return MockAPI(
        sequence(by_mode(whole, streamed), by_mode(done, sse(chunk("Done.", "stop"))))
    ).llm()


def test_structured_output_with_arguments_that_are_not_json_says_so(driver: Driver) -> None:
    # Hostile round 9b: read as no arguments, they made Defaults() without a word.
    for predict in (driver.structured_predict, driver.stream_structured_predict):
        with pytest.raises(StepFunInvalidToolArgumentsError, match="not a JSON object") as caught:
            predict(malformed_call("Defaults"), Defaults, PROMPT, city="Paris")
        assert isinstance(caught.value, ValueError) and caught.value.response is not None


@pytest.mark.parametrize("streaming", [False, True])
def test_an_agent_never_runs_a_tool_whose_arguments_are_not_json(streaming: bool) -> None:
    # Hostile round 9b: FunctionAgent ran purge() with its defaults (pattern="*") and told the
    # model it succeeded; the call now fails, and the model gets that as the tool's result.
    ran: list[dict[str, Any]] = []

    def purge(pattern: str = "*", dry_run: bool = False) -> str:
        """Delete the files matching the pattern (dry_run lists them only)."""
        ran.append({"pattern": pattern, "dry_run": dry_run})
        return f"deleted {pattern}"

    agent = FunctionAgent(tools=[purge], llm=malformed_call("purge"), streaming=streaming)

    async def run() -> Any:
        return await agent.run(user_msg="Dry-run a purge of tmp/*.")

    result = asyncio.run(run())
    assert ran == []
    [call] = result.tool_calls
    assert call.tool_output.is_error and "invalid_json_arguments" in str(call.tool_output.content)


@pytest.mark.parametrize("reply", ['{"name": "Par', "Paris is a city in France."])
def test_a_json_mode_stream_ends_on_the_whole_object_or_raises(driver: Driver, reply: str) -> None:
    # Round 10: partial objects let a cut reply end on City(name="Par") and prose on a
    # FlexibleCity of Nones, where the whole reply raises; the stream ends as the whole does.
    whole = completion_body({"role": "assistant", "content": reply})
    llm = MockAPI(by_mode(whole, sse(chunk(reply[:5]), chunk(reply[5:], "stop")))).llm(
        structured_output_mode="json_object"
    )
    with pytest.raises(ValidationError):
        driver.structured_predict(llm, City, PROMPT, city="Paris")
    with pytest.raises(ValidationError):
        driver.stream_structured_predict(llm, City, PROMPT, city="Paris")
    answer = '{"name": "Paris"}'
    done = MockAPI(sse_reply(sse(chunk(answer[:6]), chunk(answer[6:], "stop")))).llm(
        structured_output_mode="json_object"
    )
    assert driver.stream_structured_predict(done, City, PROMPT, city="Paris")[-1] == City(
        name="Paris"
    )
