"""StepFun's own conversions of what the core read from a hostile reply.

Tool-call arguments the core keeps as unparseable text stay as that text on the
``ToolCallBlock`` while ``get_tool_calls_from_response`` reads them as a keyword no tool takes
(in a reply and in a stream), and ``stream_complete`` joins a split surrogate pair. What both
adapters hand on alike is in tests/adapters/; what the core decides is in
tests/core/test_hardening_*.py.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from llama_index.core.base.llms.types import ChatMessage, ChatResponse, ToolCallBlock

import stepfun_core as core
from llama_index_stepfun import StepFun
from llama_index_stepfun.responses import StreamResponder, chat_response
from llama_index_stepfun.tools import INVALID_ARGUMENTS
from stepfun_core.parse import UNREADABLE_ARGUMENTS, parse_chunk, parse_completion
from tests.hostile import (
    BAD_ARGUMENTS,
    OK,
    SPLIT_EMOJI,
    STREAM_SHAPES,
    chunk,
    completion_body,
    deep_call,
    each,
    sse_reply,
    two_calls,
)
from tests.llama_index.conftest import Driver, MockAPI, json_reply, user


def tool_blocks(response: ChatResponse) -> list[tuple[str, object]]:
    blocks = [b for b in response.message.blocks if isinstance(b, ToolCallBlock)]
    return [(b.tool_name, b.tool_kwargs) for b in blocks]


# --- tool-call arguments that do not parse ---------------------------------------------------


def assert_kept_as_text(llm: StepFun, response: ChatResponse, arguments: str) -> None:
    assert tool_blocks(response) == [("get_weather", arguments), ("get_time", {"tz": "UTC"})]
    selections = llm.get_tool_calls_from_response(response, error_on_no_tool_call=False)
    read = [(s.tool_name, s.tool_kwargs) for s in selections]
    # Hostile round 9b: read as no arguments ({}), the call ran the tool with its defaults (a
    # destructive one for real) and an agent reported success. A keyword no tool takes makes
    # the call fail, so the agent hands the model an error result instead.
    bad = {INVALID_ARGUMENTS: arguments}
    expected = [("get_weather", bad), ("get_time", {"tz": "UTC"})]
    assert read == expected, f"selections: {read!r:.200}"


def test_unparseable_arguments_in_a_reply_are_kept_as_text(driver: Driver) -> None:
    def check(arguments: str) -> None:
        llm = MockAPI(json_reply(two_calls(arguments))).llm()
        assert_kept_as_text(llm, driver.chat(llm, user("weather?")), arguments)

    each(BAD_ARGUMENTS, check)


@STREAM_SHAPES
def test_unparseable_arguments_in_a_stream_are_kept_as_text(
    driver: Driver, shape: Callable[[str], bytes]
) -> None:
    def check(arguments: str) -> None:
        llm = MockAPI(sse_reply(shape(arguments))).llm()
        assert_kept_as_text(llm, driver.stream_chat(llm, user("weather?"))[-1], arguments)

    each(BAD_ARGUMENTS, check)


def test_arguments_too_deep_to_write_back_are_unreadable_text_in_a_reply() -> None:
    data = completion_body({"role": "assistant", "content": "", "tool_calls": [deep_call()]})
    response = chat_response(parse_completion(data))
    assert tool_blocks(response) == [("get_weather", UNREADABLE_ARGUMENTS)]


def test_arguments_too_deep_to_write_back_are_unreadable_text_in_a_stream() -> None:
    accumulator = core.StreamAccumulator()
    responder = StreamResponder(accumulator)
    response = None
    for data in (chunk(tool_calls=[deep_call(index=0)]), chunk(finish="tool_calls")):
        parsed = parse_chunk(data)
        accumulator.add(parsed)
        response = responder.response(parsed)
    assert response is not None
    assert tool_blocks(response) == [("get_weather", UNREADABLE_ARGUMENTS)]


# --- stream_complete -------------------------------------------------------------------------


def test_split_surrogate_pair_in_stream_complete(driver: Driver) -> None:
    responses = driver.stream_complete(MockAPI(sse_reply(SPLIT_EMOJI)).llm(), "hi")
    assert responses[-1].text == "a\U0001f600b"


LEGACY_CALLS_NOT_CALLS = {
    "none": ([None], "additional_kwargs['tool_calls'][0]: not an OpenAI-style tool call"),
    "int": ([5], "additional_kwargs['tool_calls'][0]: not an OpenAI-style tool call"),
    "function-int": ([{"function": 5}], "[0]: not an OpenAI-style tool call"),
    "text": ("abc", "additional_kwargs['tool_calls']: must be a list of tool calls"),
    "dict": ({"a": 1}, "additional_kwargs['tool_calls']: must be a list of tool calls"),
}


def test_legacy_tool_calls_that_are_not_calls_are_refused(driver: Driver) -> None:
    # They raised AttributeError ('NoneType' object has no attribute 'model_dump').
    api = MockAPI(json_reply(OK))

    def check(case: tuple[object, str]) -> None:
        calls, expected = case
        turn = ChatMessage(role="assistant", content="", additional_kwargs={"tool_calls": calls})
        with pytest.raises(core.InvalidParameterError) as caught:
            driver.chat(api.llm(), [*user("hi"), turn])
        assert expected in str(caught.value)

    each(LEGACY_CALLS_NOT_CALLS, check)
    with pytest.raises(core.InvalidParameterError, match="tools: a int is not a LlamaIndex tool"):
        api.llm().chat_with_tools([5], user_msg="hi")  # type: ignore[list-item]
    assert api.requests == []


def test_empty_media_bytes_are_refused_as_an_empty_file_is(driver: Driver) -> None:
    # Round 16: LlamaIndex's own resolve_image/resolve_audio refused b"" with a plain ValueError;
    # the same image given as an empty file was already our typed error.
    from llama_index.core.base.llms.types import AudioBlock, ImageBlock, TextBlock

    api = MockAPI(json_reply(OK))
    for block, kind in [
        (ImageBlock(image=b""), "image"),
        (AudioBlock(audio=b"", format="mp3"), "audio"),
    ]:
        message = ChatMessage(role="user", blocks=[TextBlock(text="what is this?"), block])
        with pytest.raises(core.InvalidParameterError, match=f"{kind}: the data is empty"):
            driver.chat(api.llm(), [message])
    assert api.requests == []
