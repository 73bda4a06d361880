"""The adapters' response converters on any completion or chunk sequence.

A tool call whose arguments do not parse (too deep, truncated, not JSON) is never thrown away:
LangChain reports it in ``invalid_tool_calls`` with the raw text, LlamaIndex keeps the raw text
as ``tool_kwargs``.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from langchain_core.messages import AIMessageChunk, BaseMessageChunk
from langchain_core.utils.json import parse_partial_json
from llama_index.core.base.llms.types import ChatMessage, ToolCallBlock

import stepfun_core
from langchain_stepfun import ChatStepFun
from langchain_stepfun.outputs import chat_result
from langchain_stepfun.streaming import ChunkConverter
from llama_index_stepfun import StepFun
from llama_index_stepfun.responses import StreamResponder, chat_response
from stepfun_core import (
    Choice,
    Completion,
    ServerToolCall,
    StreamAccumulator,
    ToolCall,
    Usage,
    parse_chunk,
    parse_completion,
)
from stepfun_core.parse import arguments_object
from tests.hostile import collections_paused
from tests.property.strategies import (
    ARGUMENTS,
    CALL_IDS,
    FINISH,
    JSON_VALUES,
    TOOL_NAMES,
    chunk_objects,
    completion_objects,
    heavy,
    texts,
)

UNPARSEABLE = [
    "[" * 5000,
    "[" * 5000 + "]" * 5000,
    '{"a": ' + "[" * 5000 + "]" * 5000 + "}",
    '{"city": "Par',
    "not json",
]
UNPARSEABLE_IDS = ["open-5000", "closed-5000", "object-holding-5000", "truncated", "not-json"]

COUNTS = st.integers(0, 10**6)
COMPLETIONS = st.builds(
    Completion,
    id=st.sampled_from(["", "chatcmpl-1"]),
    model=st.sampled_from(["", "step-3.5-flash"]),
    created=st.integers(0, 2**31),
    choices=st.lists(
        st.builds(
            Choice,
            index=st.integers(0, 3),
            content=texts(),
            reasoning=texts(),
            tool_calls=st.lists(
                st.builds(
                    ToolCall,
                    id=CALL_IDS,
                    name=TOOL_NAMES,
                    arguments=ARGUMENTS,
                    index=st.integers(0, 3),
                ),
                max_size=3,
            ),
            server_tool_calls=st.lists(
                st.builds(
                    ServerToolCall,
                    id=CALL_IDS,
                    type=st.just("web_search"),
                    name=TOOL_NAMES,
                    arguments=ARGUMENTS,
                    results=st.lists(JSON_VALUES, max_size=2),
                ),
                max_size=1,
            ),
            finish_reason=FINISH,
        ),
        max_size=2,
    ),
    usage=st.one_of(st.none(), st.builds(Usage, COUNTS, COUNTS, COUNTS)),
)


def loads(text: str) -> Any:
    """The JSON value of the text, or a sentinel when it does not parse (or is too deep).

    Deliberate: "too deep" is the library's limit (``stepfun_core.jsonio.MAX_DEPTH`` levels),
    the same on every Python; 3.13's json module alone reads far deeper than 3.11's.
    """
    try:
        return stepfun_core.load_json(text)
    except ValueError:
        return UNPARSED


UNPARSED = object()


def same_json(a: Any, b: Any) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def one_call_completion(arguments: str) -> Completion:
    call = ToolCall("call_1", "get_weather", arguments, 0)
    return Completion(
        id="chatcmpl-1", choices=[Choice(tool_calls=[call], finish_reason="tool_calls")]
    )


# --- LangChain -----------------------------------------------------------------------------------
@given(ARGUMENTS)
@example("  ")
def test_both_adapters_read_arguments_by_one_rule(text: str) -> None:
    # The core's reader is the one rule: blank is {}, a JSON object is itself, anything else
    # is the ValueError that makes the call an invalid one (never another exception).
    try:
        value = arguments_object(text)
    except ValueError:
        value = None
    if not text.strip():
        assert value == {}
    elif value is not None:
        assert isinstance(value, dict) and value == json.loads(text)


@given(st.one_of(COMPLETIONS, completion_objects().map(parse_completion)))
@example(one_call_completion("[" * 5000))
@example(one_call_completion('{"a": ' + "[" * 5000 + "]" * 5000 + "}"))
def test_langchain_chat_result_keeps_every_tool_call(completion: Completion) -> None:
    result = chat_result(completion)
    choices = completion.choices or [completion.first]
    assert len(result.generations) == len(choices)
    for generation, choice in zip(result.generations, choices, strict=True):
        message = generation.message
        assert message.content == choice.content
        valid = list(message.tool_calls)
        invalid = list(message.invalid_tool_calls)
        assert len(valid) + len(invalid) == len(choice.tool_calls)
        for call in choice.tool_calls:
            parsed = {} if not call.arguments.strip() else loads(call.arguments)
            if isinstance(parsed, dict):
                got = valid.pop(0)
                assert same_json(got["args"], parsed)
            else:
                got = invalid.pop(0)
                assert got["args"] == call.arguments
            assert got["id"] == call.id
            assert got["name"] == call.name


def stream_through_converter(
    objs: list[dict[str, Any]], *, one_call: bool = False
) -> tuple[BaseMessageChunk, StreamAccumulator]:
    accumulator = StreamAccumulator()
    converter = ChunkConverter(one_call=one_call)
    message: BaseMessageChunk | None = None
    with collections_paused():  # LangChain parses the (maybe deep) arguments of each chunk
        for obj in objs:
            chunk = parse_chunk(obj)
            accumulator.add(chunk)
            generation = converter.convert(chunk)
            if generation is not None:
                message = generation.message if message is None else message + generation.message
        for closing in converter.closing(accumulator):  # as ChatStepFun ends a stream
            message = closing.message if message is None else message + closing.message
        assert message is not None
        return message, accumulator


def deep_call_chunks(arguments: str, *, positional: bool) -> list[dict[str, Any]]:
    call: dict[str, Any] = {"id": "call_1", "function": {"name": "f", "arguments": arguments}}
    if not positional:
        call["index"] = 0
    return [{"id": "chatcmpl-1", "choices": [{"index": 0, "delta": {"tool_calls": [call]}}]}]


@heavy()
@given(st.lists(chunk_objects(), max_size=6))
@example(deep_call_chunks("[" * 5000, positional=False))
@example(deep_call_chunks('{"a":' * 3000, positional=True))
def test_langchain_chunk_converter_takes_any_chunks(objs: list[dict[str, Any]]) -> None:
    message, _ = stream_through_converter(objs)
    assert isinstance(message, AIMessageChunk)
    message.tool_calls  # noqa: B018 - parsed by LangChain from the chunks: must not raise
    message.invalid_tool_calls  # noqa: B018


@heavy()
@given(st.lists(chunk_objects(client_only=True, surrogates=False), max_size=6))
def test_langchain_streamed_calls_match_the_accumulator(objs: list[dict[str, Any]]) -> None:
    message, accumulator = stream_through_converter(objs)
    assert isinstance(message, AIMessageChunk)
    calls, _ = accumulator.tool_calls(0)
    # LangChain merges tool-call chunks by index across chunks, not within one: one chunk per
    # index, or the summed message shows one call as several.
    indexes = [c["index"] for c in message.tool_call_chunks]
    assert sorted(indexes) == sorted({c.index for c in calls})
    streamed = {c["index"]: c.get("args") or "" for c in message.tool_call_chunks}
    assert streamed == {c.index: c.arguments for c in calls}
    # Whatever LangChain could not parse is kept, raw, in invalid_tool_calls.
    raw = {c.arguments for c in calls}
    for bad in message.invalid_tool_calls:
        assert (bad["args"] or "") in raw


@heavy()
@given(st.lists(chunk_objects(client_only=True, surrogates=False), max_size=6))
def test_langchain_one_call_is_one_of_the_accumulators(objs: list[dict[str, Any]]) -> None:
    # parallel_tool_calls=False: at most one call comes out, whole, and only if any was made.
    message, accumulator = stream_through_converter(objs, one_call=True)
    assert isinstance(message, AIMessageChunk)
    calls = {c.index: c.arguments for c in accumulator.tool_calls(0)[0]}
    indexes = {c["index"] for c in message.tool_call_chunks}
    assert len(indexes) == (1 if calls else 0)
    for piece in message.tool_call_chunks:
        assert piece["index"] in calls and (piece.get("args") or "") == calls[piece["index"]]


# --- LlamaIndex ----------------------------------------------------------------------------------
def tool_blocks(message: ChatMessage) -> list[ToolCallBlock]:
    return [b for b in message.blocks if isinstance(b, ToolCallBlock)]


def expected_kwargs(arguments: str) -> Any:
    if not arguments:
        return {}
    parsed = loads(arguments)
    return parsed if isinstance(parsed, dict) else arguments


@given(st.one_of(COMPLETIONS, completion_objects().map(parse_completion)))
@example(one_call_completion("[" * 5000))
@example(one_call_completion("[" * 5000 + "]" * 5000))
def test_llama_index_chat_response_keeps_every_tool_call(completion: Completion) -> None:
    response = chat_response(completion)
    blocks = tool_blocks(response.message)
    calls = completion.first.tool_calls
    assert len(blocks) == len(calls)
    for block, call in zip(blocks, calls, strict=True):
        expected = expected_kwargs(call.arguments)
        if isinstance(expected, str):
            assert block.tool_kwargs == expected
        else:
            assert same_json(block.tool_kwargs, expected)
        assert block.tool_call_id == call.id


def whole_call_chunk(arguments: str, *, finish: str | None = None) -> list[dict[str, Any]]:
    call = {"index": 0, "id": "call_1", "function": {"name": "f", "arguments": arguments}}
    choice: dict[str, Any] = {"index": 0, "delta": {"tool_calls": [call]}}
    if finish:
        choice["finish_reason"] = finish
    return [{"id": "chatcmpl-1", "choices": [choice]}]


@heavy()
@given(st.lists(chunk_objects(), max_size=6))
@example(deep_call_chunks("[" * 5000, positional=False))
@example(deep_call_chunks('{"a":' * 3000, positional=True))
@example(whole_call_chunk('{"city": "Paris"}'))
@example(whole_call_chunk('{"city": "Paris"}', finish="tool_calls"))
def test_llama_index_stream_responder_takes_any_chunks(objs: list[dict[str, Any]]) -> None:
    accumulator = StreamAccumulator()
    responder = StreamResponder(accumulator)
    response = None
    for obj in objs:
        chunk = parse_chunk(obj)
        accumulator.add(chunk)
        response = responder.response(chunk)
    if response is None:
        return
    # A stream that ended without a finish reason gets one more response, as one ending on it.
    closing = responder.closing()
    response = closing or response
    calls, _ = accumulator.tool_calls(0)
    blocks = tool_blocks(response.message)
    finished = closing is not None or "finish_reason" in response.additional_kwargs
    if any(delta.index == 0 and delta.tool_calls for o in objs for delta in parse_chunk(o).choices):
        assert len(blocks) == len(calls)
        for block, call in zip(blocks, calls, strict=True):
            if not finished:  # the text so far, parsed only once the stream has finished
                assert block.tool_kwargs == (call.arguments or {})
                continue
            expected = expected_kwargs(call.arguments)
            if isinstance(expected, str):
                assert block.tool_kwargs == expected
            else:
                assert same_json(block.tool_kwargs, expected)
    refusal = accumulator.choice(0).refusal
    assert response.message.additional_kwargs.get("refusal", "") == refusal


# --- the adapters end to end, arguments that do not parse ----------------------------------------
def tool_call_stream(arguments: str) -> bytes:
    """A streamed call whose arguments arrive in three pieces, then [DONE]."""
    cut1, cut2 = len(arguments) // 3, 2 * len(arguments) // 3
    pieces = [arguments[:cut1], arguments[cut1:cut2], arguments[cut2:]]
    events = []
    for n, piece in enumerate(pieces):
        call: dict[str, Any] = {"index": 0, "function": {"arguments": piece}}
        if n == 0:
            call.update(
                id="call_1", type="function", function={"name": "get_weather", "arguments": piece}
            )
        events.append(
            {"id": "chatcmpl-1", "choices": [{"index": 0, "delta": {"tool_calls": [call]}}]}
        )
    events.append(
        {"id": "chatcmpl-1", "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}
    )
    body = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
    return body.encode()


def transport(arguments: str, *, stream: bool) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        if stream:
            body = tool_call_stream(arguments)
            return httpx.Response(200, content=body, headers={"content-type": "text/event-stream"})
        return httpx.Response(200, json=one_call_completion(arguments).to_dict())

    return httpx.MockTransport(handle)


def langchain_reads(arguments: str) -> bool:
    """True if LangChain's own chunk merging reads these arguments as an object."""
    try:
        with collections_paused():
            return isinstance(parse_partial_json(arguments), dict)
    except Exception:
        return False


@pytest.mark.usefixtures("no_collections")  # LangChain parses deep arguments
@pytest.mark.parametrize("stream", [False, True], ids=["invoke", "stream"])
@pytest.mark.parametrize("arguments", UNPARSEABLE, ids=UNPARSEABLE_IDS)
def test_langchain_model_keeps_unparseable_arguments(arguments: str, stream: bool) -> None:
    model = ChatStepFun(
        api_key="k",
        base_url="http://test/v1",
        max_retries=0,
        http_client=httpx.Client(transport=transport(arguments, stream=stream)),
    )
    if stream:
        message: Any = None
        for piece in model.stream("weather?"):
            message = piece if message is None else message + piece
    else:
        message = model.invoke("weather?")
    kept = [c for c in message.invalid_tool_calls if c["args"] == arguments]
    if stream and langchain_reads(arguments):
        # Summed chunks are LangChain's: it repairs a truncated object itself, and on Python
        # 3.13 its parser reads a 5,000-deep object that 3.11 cannot; the call must survive.
        assert len(message.tool_calls) + len(message.invalid_tool_calls) == 1
    else:
        assert len(kept) == 1, message.invalid_tool_calls
        assert message.tool_calls == []


@pytest.mark.parametrize("stream", [False, True], ids=["chat", "stream_chat"])
@pytest.mark.parametrize("arguments", UNPARSEABLE, ids=UNPARSEABLE_IDS)
def test_llama_index_model_keeps_unparseable_arguments(arguments: str, stream: bool) -> None:
    llm = StepFun(
        api_key="k",
        api_base="http://test/v1",
        max_retries=0,
        http_client=httpx.Client(transport=transport(arguments, stream=stream)),
    )
    messages = [ChatMessage(role="user", content="weather?")]
    if stream:
        response = None
        for response in llm.stream_chat(messages):  # noqa: B007 - the last one holds the whole
            pass
        assert response is not None
    else:
        response = llm.chat(messages)
    blocks = tool_blocks(response.message)
    assert [b.tool_kwargs for b in blocks] == [arguments]


AUDIO_PIECE = st.dictionaries(
    st.sampled_from(["id", "data", "transcript", "format", "expires_at"]), JSON_VALUES, max_size=5
)


@heavy()
@given(st.lists(AUDIO_PIECE, max_size=6))
def test_langchain_streamed_audio_matches_the_accumulator(pieces: list[dict[str, Any]]) -> None:
    # Any pieces of a spoken answer (any JSON in any key): LangChain's merge of the chunks says
    # what the core's accumulator says (data and transcript added up, other keys the latest).
    objs = [{"choices": [{"index": 0, "delta": {"audio": piece}}]} for piece in pieces]
    message, accumulator = stream_through_converter(objs)
    assert (message.additional_kwargs.get("audio") or {}) == (accumulator.choice(0).audio or {})
