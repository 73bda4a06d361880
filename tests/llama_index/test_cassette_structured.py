"""Structured prediction through function calling (default) and the opt-in JSON mode."""

from __future__ import annotations

import asyncio

import pytest
from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.prompts import PromptTemplate
from pydantic import BaseModel

from llama_index_stepfun import StepFun
from tests.core.wire_samples import sse
from tests.hostile import by_mode, chunk, completion_body
from tests.llama_index.conftest import Driver, MockAPI, cassette, user

PROMPT = PromptTemplate("Describe the city {city} with its 'name' and its 'population'.")


class City(BaseModel):
    """A city and its population."""

    name: str
    population: int


@cassette("structured_function_calling.yaml")
def test_structured_predict_through_a_forced_tool_call(driver: Driver) -> None:
    city = driver.structured_predict(StepFun(model="step-3.5-flash"), City, PROMPT, city="Paris")
    assert isinstance(city, City) and city.name


@cassette("structured_function_calling.yaml")
def test_the_tool_call_is_forced_on_the_wire(driver: Driver, vcr: object) -> None:
    driver.structured_predict(StepFun(model="step-3.5-flash"), City, PROMPT, city="Paris")
    [request] = vcr.requests  # type: ignore[attr-defined]
    import json

    body = json.loads(request.body)
    assert body["tool_choice"] == "required"
    assert [t["function"]["name"] for t in body["tools"]] == ["City"]


@cassette("structured_stream.yaml")
def test_stream_structured_predict(driver: Driver) -> None:
    llm = StepFun(model="step-3.5-flash")
    partials = driver.stream_structured_predict(llm, City, PROMPT, city="Paris")
    assert partials and isinstance(partials[-1], City) and partials[-1].name


@cassette("structured_llm.yaml")
def test_as_structured_llm(driver: Driver) -> None:
    structured = StepFun(model="step-3.5-flash").as_structured_llm(City)
    message = ChatMessage(role="user", content="Describe Paris with its 'name' and 'population'.")
    if driver.is_async:
        response = asyncio.run(structured.achat([message]))
    else:
        response = structured.chat([message])
    assert isinstance(response.raw, City)
    assert City.model_validate_json(response.message.content or "") == response.raw


@cassette("structured_json_mode.yaml")
def test_json_mode_opt_in(driver: Driver, vcr: object) -> None:
    llm = StepFun(model="step-3.5-flash", structured_output_mode="json_object")
    city = driver.structured_predict(
        llm, City, PROMPT, llm_kwargs={"tool_choice": "required"}, city="Paris"
    )
    assert isinstance(city, City)
    import json

    [request] = vcr.requests  # type: ignore[attr-defined]
    body = json.loads(request.body)
    assert body["response_format"] == {"type": "json_object"}
    assert "tool_choice" not in body and "tools" not in body
    assert (
        body["messages"][0]["role"] == "system" and "population" in body["messages"][0]["content"]
    )


@cassette("structured_json_mode_stream.yaml")
def test_json_mode_stream(driver: Driver) -> None:
    llm = StepFun(model="step-3.5-flash", structured_output_mode="json_object")
    partials = driver.stream_structured_predict(llm, City, PROMPT, city="Paris")
    assert isinstance(partials[-1], City)


@pytest.mark.parametrize("tag", ["json", "JSON", ""])
def test_json_mode_reads_a_reply_in_a_code_fence(driver: Driver, tag: str) -> None:
    # Models wrap JSON-mode replies in a Markdown fence now and then, whole or streamed.
    reply = f'```{tag}\n{{"name": "Paris", "population": 2100000}}\n```'
    # In pieces of six characters, the closing fence in two more.
    pieces = [chunk(reply[i : i + 6]) for i in range(0, len(reply) - 3, 6)]
    pieces += [chunk("`"), chunk("``")]
    whole = completion_body({"role": "assistant", "content": reply})
    api = MockAPI(by_mode(whole, sse(*pieces, chunk(finish="stop"))))
    llm = api.llm(structured_output_mode="json_object")
    paris = City(name="Paris", population=2100000)
    assert driver.structured_predict(llm, City, PROMPT, city="Paris") == paris
    partials = driver.stream_structured_predict(llm, City, PROMPT, city="Paris")
    # Whole at the end, and already while the closing fence arrives.
    assert partials[-3:] == [paris] * 3
    responses = driver.stream_chat(llm.as_structured_llm(City), user("Describe Paris."))
    assert responses[-1].raw == paris
