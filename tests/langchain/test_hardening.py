"""ChatStepFun's own conversions of what the core read from a hostile reply or refused.

Tool-call arguments the core keeps as unparseable text become ``invalid_tool_calls`` (in a reply,
in a stream, and in a streamed ``invoke``); a stream that ends badly after ``[DONE]`` still ends
with LangChain's last chunk; a LangChain content block holding a value that is not JSON is
refused naming its message. What both adapters hand on alike is in tests/adapters/; what the core
decides is in tests/core/test_hardening_*.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage

import stepfun_core as core
from langchain_stepfun import ChatStepFun, StepFunInvalidParameterError
from langchain_stepfun.outputs import chat_result
from langchain_stepfun.streaming import ChunkConverter
from stepfun_core.parse import UNREADABLE_ARGUMENTS, parse_chunk, parse_completion
from tests.hostile import (
    ANSWER,
    BAD_ARGUMENTS,
    OK,
    STREAM_SHAPES,
    RecordingAPI,
    chunk,
    completion_body,
    deep_call,
    each,
    indexed_stream,
    json_reply,
    sse_reply,
    two_calls,
)
from tests.langchain.conftest import Driver, aggregate


def over(api: RecordingAPI, **options: Any) -> ChatStepFun:
    """A model whose caller's clients ``api`` answers."""
    return ChatStepFun(**api.options("http_async_client", **options))


# --- tool-call arguments that do not parse ---------------------------------------------------


def assert_one_invalid(message: AIMessage, arguments: str) -> None:
    seen = f"tool_calls={message.tool_calls!r:.200} invalid={message.invalid_tool_calls!r:.200}"
    invalid = [(c["name"], c["args"]) for c in message.invalid_tool_calls]
    assert invalid == [("get_weather", arguments)], seen
    assert [(c["name"], c["args"]) for c in message.tool_calls] == [("get_time", {"tz": "UTC"})]


def test_unparseable_arguments_in_a_reply_are_invalid_tool_calls(driver: Driver) -> None:
    def check(arguments: str) -> None:
        message = driver.invoke(over(RecordingAPI(json_reply(two_calls(arguments)))), "weather?")
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


@pytest.mark.usefixtures("no_collections")  # LangChain parses deep arguments
@STREAM_SHAPES
def test_unparseable_arguments_in_a_stream_are_invalid_tool_calls(
    driver: Driver, shape: Callable[[str], bytes]
) -> None:
    def check(arguments: str) -> None:
        chunks = driver.stream(over(RecordingAPI(sse_reply(shape(arguments)))), "weather?")
        assert_one_invalid(aggregate(chunks), arguments)

    each(STREAM_UNPARSEABLE, check)


@STREAM_SHAPES
def test_blank_arguments_in_a_stream_are_no_arguments_as_in_a_reply(
    driver: Driver, shape: Callable[[str], bytes]
) -> None:
    # Hostile round 12: invoke read " " as {} (stepfun_core.parse.arguments_object), while
    # LangChain's merge of the streamed pieces made it an invalid call, named nowhere.
    def check(arguments: str) -> None:
        replies = {
            "invoke": driver.invoke(over(RecordingAPI(json_reply(two_calls(arguments)))), "?"),
            "stream": aggregate(
                driver.stream(over(RecordingAPI(sse_reply(shape(arguments)))), "weather?")
            ),
        }
        for how, message in replies.items():
            calls = [(c["name"], c["args"]) for c in message.tool_calls]
            assert calls == [("get_weather", {}), ("get_time", {"tz": "UTC"})], how
            assert message.invalid_tool_calls == [], how

    each({"spaces": "  ", "newline": "\n", "empty": ""}, check)


@STREAM_SHAPES
def test_cut_off_arguments_in_a_stream_keep_their_raw_text(
    driver: Driver, shape: Callable[[str], bytes]
) -> None:
    arguments = BAD_ARGUMENTS["truncated"]
    message = aggregate(driver.stream(over(RecordingAPI(sse_reply(shape(arguments)))), "weather?"))
    assert isinstance(message, AIMessageChunk)
    raw = {c["name"]: c["args"] for c in message.tool_call_chunks}
    assert raw["get_weather"] == arguments
    assert message.response_metadata["finish_reason"] == "tool_calls"


@pytest.mark.usefixtures("no_collections")  # LangChain parses deep arguments
def test_unparseable_arguments_through_streaming_invoke(driver: Driver) -> None:
    def check(arguments: str) -> None:
        model = over(RecordingAPI(sse_reply(indexed_stream(arguments))), streaming=True)
        assert_one_invalid(driver.invoke(model, "weather?"), arguments)

    each(STREAM_UNPARSEABLE, check)


def assert_one_unreadable(message: AIMessage) -> None:
    assert message.tool_calls == []
    assert [(c["name"], c["args"]) for c in message.invalid_tool_calls] == [
        ("get_weather", UNREADABLE_ARGUMENTS)
    ]


def test_arguments_too_deep_to_write_back_are_an_invalid_call_in_a_reply() -> None:
    data = completion_body({"role": "assistant", "content": "", "tool_calls": [deep_call()]})
    message = chat_result(parse_completion(data)).generations[0].message
    assert isinstance(message, AIMessage)
    assert_one_unreadable(message)


def test_arguments_too_deep_to_write_back_are_an_invalid_call_in_a_stream() -> None:
    converter = ChunkConverter()
    accumulator = core.StreamAccumulator()
    chunks: list[AIMessageChunk] = []
    for data in (chunk(tool_calls=[deep_call(index=0)]), chunk(finish="tool_calls")):
        parsed = parse_chunk(data)
        accumulator.add(parsed)
        generation = converter.convert(parsed)
        if generation is not None:
            assert isinstance(generation.message, AIMessageChunk)
            chunks.append(generation.message)
    last = converter.last(accumulator).message
    assert isinstance(last, AIMessageChunk)
    assert_one_unreadable(aggregate([*chunks, last]))


# --- the end of a stream ---------------------------------------------------------------------


def test_transport_error_after_done_still_ends_with_the_last_chunk(driver: Driver) -> None:
    api = RecordingAPI(
        sse_reply(ANSWER, b"data: {garbage\n\n", error=lambda: httpx.ReadError("reset by peer"))
    )
    last = driver.stream(over(api), "hi")[-1]
    assert last.chunk_position == "last"
    assert last.response_metadata["finish_reason"] == "stop"
    assert last.usage_metadata is not None
    assert last.usage_metadata["total_tokens"] == 5


# --- LangChain content blocks ----------------------------------------------------------------


def test_a_message_holding_a_value_that_is_not_json_is_refused(driver: Driver) -> None:
    api = RecordingAPI(json_reply(OK))
    message = HumanMessage(content=[{"type": "text", "text": float("nan")}])
    with pytest.raises(StepFunInvalidParameterError) as caught:
        driver.invoke(over(api), [message])
    assert "messages[0]" in str(caught.value)
    assert api.requests == []


CALL_VALUES_OF_THE_WRONG_KIND = {
    "stop-int": ({"stop": 5}, "stop"),
    "stop-dict": ({"stop": {"a": 1}}, "stop"),
    "echo-unknown": ({"echo_reasoning": "bogus"}, "echo_reasoning: must be one of"),
    "echo-list": ({"echo_reasoning": ["always"]}, "echo_reasoning: must be one of"),
}


def test_a_calls_values_of_the_wrong_kind_are_typed_errors(driver: Driver) -> None:
    # stop=5 raised TypeError while naming the run for tracing; an unknown echo_reasoning was
    # taken silently (no reasoning echoed).
    api = RecordingAPI(json_reply(OK))

    def check(case: tuple[dict[str, Any], str]) -> None:
        call, expected = case
        with pytest.raises(StepFunInvalidParameterError, match=expected):
            driver.invoke(over(api), "hi", **call)

    each(CALL_VALUES_OF_THE_WRONG_KIND, check)
    assert api.requests == []


def test_an_agent_run_goes_on_after_the_model_names_an_unknown_tool() -> None:
    # Hostile round 13: create_agent answers a call to "functions.get_weather" with an error
    # result for the model to read; the next request was refused for the name the model wrote.
    from langchain.agents import create_agent

    call = {"id": "c1", "type": "function", "function": {"name": "functions.get_weather"}}
    call["function"]["arguments"] = '{"city": "Paris"}'
    replies = [completion_body({"role": "assistant", "content": "", "tool_calls": [call]}), OK]

    def answer(request: httpx.Request) -> httpx.Response:
        return json_reply(replies[len(api.requests) - 1])(request)

    api = RecordingAPI(answer)

    def get_weather(city: str) -> str:
        """The weather of a city."""
        return "sunny"

    agent = create_agent(over(api), tools=[get_weather])
    state = agent.invoke({"messages": [HumanMessage("Weather in Paris?")]})
    assert state["messages"][-1].content == "ok"
    sent = api.bodies[1]["messages"]
    assert sent[1]["tool_calls"][0]["function"]["name"] == "functions.get_weather"
    assert sent[2]["role"] == "tool" and "not a valid tool" in sent[2]["content"]
