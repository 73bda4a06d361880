"""Streaming a long tool call costs work linear in its arguments (counted, never timed).

Each streamed ChatResponse holds the whole message so far (LlamaIndex's contract), so the block
of the call that grew is new on every chunk. What must not happen per chunk: parsing the
arguments (they are parsed once, when the stream finishes) and rebuilding the calls that did
not change. Timings: ``python -m benchmarks.tool_arguments``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from llama_index.core.base.llms.types import ChatResponse, ToolCallBlock
from llama_index.core.callbacks.token_counting import get_tokens_from_response

import llama_index_stepfun.responses as responses
from llama_index_stepfun import StepFun, StepFunRefusalError
from llama_index_stepfun.responses import StreamResponder
from llama_index_stepfun.tools import INVALID_ARGUMENTS
from stepfun_core import StreamAccumulator, parse_chunk
from tests.core.conftest import sequence
from tests.core.wire_samples import sse
from tests.hostile import race
from tests.llama_index.conftest import Driver, MockAPI, sse_reply, user

PIECES = 2000


def code_arguments(pieces: int) -> list[str]:
    """A write_file call's arguments in pieces that each end in a brace (whole JSON or not)."""
    body = "".join(f"if x: {{y({i})}}" for i in range(pieces))
    text = json.dumps({"path": "main.py", "content": body})
    cuts = [i + 1 for i, char in enumerate(text) if char == "}"]
    starts = [0, *cuts[:-1]]
    return [text[a:b] for a, b in zip(starts, cuts, strict=True)]


def call_chunk(index: int, arguments: str, **head: Any) -> dict[str, Any]:
    function: dict[str, Any] = {"arguments": arguments}
    if "name" in head:
        function["name"] = head.pop("name")
    call = {"index": index, "function": function, **head}
    return {
        "id": "r1",
        "model": "step-3.7-flash",
        "choices": [{"index": 0, "delta": {"tool_calls": [call]}}],
    }


def two_call_stream(pieces: list[str]) -> list[dict[str, Any]]:
    """Call 0 whole in one chunk, then call 1 in ``pieces``, then the finish reason."""
    chunks = [
        call_chunk(0, '{"city": "Paris"}', id="call_0", type="function", name="get_weather"),
        call_chunk(1, pieces[0], id="call_1", type="function", name="write_file"),
    ]
    chunks += [call_chunk(1, piece) for piece in pieces[1:]]
    finish = {"id": "r1", "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}
    return [*chunks, finish]


def respond(objs: list[dict[str, Any]]) -> list[ChatResponse]:
    accumulator = StreamAccumulator()
    responder = StreamResponder(accumulator)
    out = []
    for obj in objs:
        chunk = parse_chunk(obj)
        accumulator.add(chunk)
        out.append(responder.response(chunk))
    return out


def tool_blocks(response: ChatResponse) -> list[ToolCallBlock]:
    return [b for b in response.message.blocks if isinstance(b, ToolCallBlock)]


def test_arguments_are_parsed_once_not_per_chunk(monkeypatch: pytest.MonkeyPatch) -> None:
    parsed: list[int] = []
    real = responses.arguments_object

    def counting(text: str) -> Any:
        parsed.append(len(text))
        return real(text)

    monkeypatch.setattr(responses, "arguments_object", counting)
    pieces = code_arguments(PIECES)
    out = respond(two_call_stream(pieces))
    total = sum(map(len, pieces)) + len('{"city": "Paris"}')
    # Each call's arguments parsed once, for the response that finishes the stream. (Parsing
    # them on every chunk read about PIECES / 2 times the text: 1,000 times, here.)
    assert sum(parsed) <= total
    last = tool_blocks(out[-1])
    assert [b.tool_kwargs for b in last] == [{"city": "Paris"}, json.loads("".join(pieces))]


def test_a_call_that_did_not_change_is_not_rebuilt(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[str | None] = []

    class CountedBlock(ToolCallBlock):
        def __init__(self, **data: Any) -> None:
            super().__init__(**data)
            built.append(self.tool_call_id)

    monkeypatch.setattr(responses, "ToolCallBlock", CountedBlock)
    out = respond(two_call_stream(code_arguments(200)))
    running = out[1:-1]
    # Call 0's block and wire dict are the same objects on every response while call 1 streams.
    assert len({id(tool_blocks(r)[0]) for r in running}) == 1
    assert len({id(r.message.additional_kwargs["tool_calls"][0]) for r in running}) == 1
    # The growing call is shown again each time its text grew by a quarter (not per chunk),
    # and every call once more, whole, at the finish.
    assert built.count("call_0") == 2
    assert 3 <= built.count("call_1") <= len(running) // 4


FINISH = {"id": "r1", "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}


def parallel_calls(count: int) -> list[dict[str, Any]]:
    """``count`` parallel calls, each opened by one chunk and given its arguments by another."""
    chunks = []
    for index in range(count):
        chunks.append(call_chunk(index, "", id=f"call_{index}", type="function", name="f"))
        chunks.append(call_chunk(index, f'{{"n": {index}}}'))
    return [*chunks, FINISH]


def test_parallel_calls_are_compared_only_when_a_chunk_names_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Each chunk opening a call once rebuilt and compared every call so far: 10,000 parallel
    # calls took 249 s.
    compared: list[int] = []
    real = responses._same_call

    def counting(seen: Any, now: Any) -> bool:
        compared.append(now.index)
        return real(seen, now)

    monkeypatch.setattr(responses, "_same_call", counting)
    count = 400
    out = respond(parallel_calls(count))
    assert len(compared) <= 3 * count  # was about count ** 2 / 2
    assert [b.tool_kwargs for b in tool_blocks(out[-1])] == [{"n": i} for i in range(count)]
    # Every running response holds every call opened so far.
    assert [len(tool_blocks(r)) for r in out[:-1]] == [i // 2 + 1 for i in range(2 * count)]


def test_calls_opened_out_of_order_are_shown_in_index_order() -> None:
    chunks = [
        call_chunk(1, '{"n": 1}', id="call_1", type="function", name="f"),
        call_chunk(0, '{"n": 0}', id="call_0", type="function", name="f"),
    ]
    out = respond([*chunks, FINISH])
    for response in out:
        assert [b.tool_call_id for b in tool_blocks(response)] == sorted(
            b.tool_call_id for b in tool_blocks(response)
        )
    running = out[1].message.additional_kwargs["tool_calls"]
    assert [c["id"] for c in running] == ["call_0", "call_1"]


def test_a_running_call_is_read_as_far_as_it_goes() -> None:
    llm = StepFun(api_key="sk-test")
    pieces = ['{"path": "main.py", ', '"content": "print(1)"', "}"]
    out = respond(two_call_stream(pieces))
    # While the stream runs, the block holds the text so far; LlamaIndex reads it partially.
    running = tool_blocks(out[2])[1]
    assert running.tool_kwargs == '{"path": "main.py", "content": "print(1)"'
    selections = llm.get_tool_calls_from_response(out[2], error_on_no_tool_call=False)
    assert [s.tool_kwargs for s in selections] == [
        {"city": "Paris"},
        {"path": "main.py", "content": "print(1)"},
    ]
    mirrored = out[2].message.additional_kwargs["tool_calls"][1]["function"]["arguments"]
    assert mirrored is running.tool_kwargs  # one string, shared by the block and the dict
    final = llm.get_tool_calls_from_response(out[-1])
    assert final[1].tool_kwargs == {"path": "main.py", "content": "print(1)"}


def test_stream_chat_ends_with_parsed_arguments() -> None:
    pieces = code_arguments(50)
    api = MockAPI(sse_reply(sse(*two_call_stream(pieces))))
    out = list(api.llm().stream_chat(user("write it")))
    assert [b.tool_kwargs for b in tool_blocks(out[-1])] == [
        {"city": "Paris"},
        json.loads("".join(pieces)),
    ]
    assert out[-1].additional_kwargs["finish_reason"] == "tool_calls"


def test_an_agent_reading_every_streamed_response_does_linear_work(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # FunctionAgent reads the tool calls of every streamed response (to stream them to its
    # caller): the partial arguments are read again only once they have doubled.
    import llama_index_stepfun.tools as tools

    # Both readers are counted: an attempt at whole JSON once came first, on every response.
    parsed: list[int] = []

    def counted(real: Any) -> Any:
        def counting(text: str) -> Any:
            parsed.append(len(text))
            return real(text)

        return counting

    monkeypatch.setattr(tools, "parse_partial_json", counted(tools.parse_partial_json))
    monkeypatch.setattr(tools, "arguments_object", counted(tools.arguments_object))
    llm = StepFun(api_key="k")
    work = {}
    for pieces in (PIECES, 4 * PIECES):
        parsed.clear()
        responses_ = respond(two_call_stream(code_arguments(pieces)))
        for response in responses_[:-1]:
            calls = llm.get_tool_calls_from_response(response, error_on_no_tool_call=False)
            assert [c.tool_name for c in calls][:1] == ["get_weather"]
        work[pieces] = sum(parsed)
        final = llm.get_tool_calls_from_response(responses_[-1])
        assert final[1].tool_kwargs["content"].startswith("if x: {y(0)}")
    assert work[4 * PIECES] <= 5 * work[PIECES], work  # quadratic work would be 16 times


def test_partial_arguments_are_cached_safely_across_threads() -> None:
    # The cache of partial arguments is process-wide and evicts its oldest entry; streams read
    # in other threads evict at the same time ("dictionary changed size during iteration").
    from llama_index_stepfun import tools

    def read_partial_calls(worker: int) -> None:
        for i in range(3000):
            tools._partial('{"a": "' + "x" * (i % 7), f"call-{worker}-{i}")

    for _ in range(3):
        assert race(read_partial_calls) == []


def cut_mid_character(finish_reason: str) -> bytes:
    """A reply whose text ends in the first half of an emoji (cut by a limit or a filter)."""
    text = {
        "id": "r1",
        "model": "step-3.5-flash",
        "choices": [{"index": 0, "delta": {"content": "ok \ud83d"}}],
    }
    usage = {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8}
    last = {"id": "r1", "choices": [{"index": 0, "delta": {}, "finish_reason": finish_reason}]}
    events = [text, {**last, "usage": usage}]  # escaped as the API does: \ud83d
    return b"".join(b"data: %s\n\n" % json.dumps(e).encode() for e in events) + b"data: [DONE]\n\n"


def test_a_stream_cut_mid_character_still_ends_on_its_finish_reason() -> None:
    # The held half comes out as U+FFFD in the chunk that finishes the choice, so the last
    # response keeps the finish reason and the usage (token counters read them there) ...
    api = MockAPI(sse_reply(cut_mid_character("length")))
    last = list(api.llm().stream_chat(user("hi")))[-1]
    assert last.message.content == "ok \ufffd"
    assert last.additional_kwargs["finish_reason"] == "length"
    assert get_tokens_from_response(last) == (3, 5)
    # ... and a refusal still raises where a tool call was required.
    api = MockAPI(sse_reply(cut_mid_character("content_filter")))
    with pytest.raises(StepFunRefusalError):
        list(api.llm().stream_chat_with_tools([], user_msg="hi", tool_required=True))


def test_a_stream_ending_in_done_alone_ends_on_the_whole_completion(driver: Driver) -> None:
    # Step-1-era tool-call streams send no finish reason, only [DONE]
    # (docs/wire.md#stream-tool-calls): the last response still holds the parsed arguments
    # (the last pieces grew them by less than a quarter, so no running block showed them) and
    # the usage, as after a finish reason.
    usage = {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}
    pieces = ['{"query": "weather in Paris to', "morrow mor", 'ning"}']
    chunks = [call_chunk(0, "", id="call_a", type="function", name="search")]
    chunks += [{**call_chunk(0, piece), "usage": usage} for piece in pieces]
    api = MockAPI(sse_reply(sse(*chunks)))
    out = driver.stream_chat(api.llm(), user("search"))
    assert len(out) == len(chunks) + 1  # one more response, after the last chunk
    last = out[-1]
    expected = {"query": "weather in Paris tomorrow morning"}
    assert [b.tool_kwargs for b in tool_blocks(last)] == [expected]
    assert api.llm().get_tool_calls_from_response(last)[0].tool_kwargs == expected
    assert get_tokens_from_response(last) == (11, 7)
    assert "finish_reason" not in last.additional_kwargs
    assert last.raw is not None and last.raw["usage"] == usage
    assert last.delta == ""


def test_a_stream_sent_again_before_its_first_chunk_ends_on_its_tool_calls(driver: Driver) -> None:
    # The first answer is an empty event stream (sent again, as nothing was yielded): the
    # responses once read the first attempt's accumulator, so the last one held no tool call,
    # no usage, and an agent stopped there.
    usage = {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}
    chunks = [
        call_chunk(0, '{"city": "Paris"}', id="call_1", type="function", name="get_weather"),
        {"id": "r1", "choices": [{"index": 0, "finish_reason": "tool_calls"}], "usage": usage},
    ]
    api = MockAPI(sequence(sse_reply(b""), sse_reply(sse(*chunks))))
    out = driver.stream_chat(api.llm(max_retries=1), user("weather?"))
    assert len(api.requests) == 2
    [selection] = api.llm().get_tool_calls_from_response(out[-1])
    assert selection.tool_kwargs == {"city": "Paris"} and selection.tool_id == "call_1"
    assert get_tokens_from_response(out[-1]) == (5, 7)


def test_arguments_cut_off_in_a_stream_ending_in_done_alone_are_never_guessed(
    driver: Driver,
) -> None:
    # The closing response holds the whole stream, as one with a finish reason does: arguments
    # cut off there are unparseable (a keyword no tool takes), not read as far as they go
    # ({"query": None}).
    chunks = [call_chunk(0, '{"query": "weath', id="call_a", type="function", name="search")]
    api = MockAPI(sse_reply(sse(*chunks)))
    out = driver.stream_chat(api.llm(), user("search"))
    [selection] = api.llm().get_tool_calls_from_response(out[-1])
    assert selection.tool_id == "call_a"
    assert selection.tool_kwargs == {INVALID_ARGUMENTS: '{"query": "weath'}


def test_a_stream_ending_on_its_finish_reason_gets_no_extra_response(driver: Driver) -> None:
    pieces = code_arguments(5)
    api = MockAPI(sse_reply(sse(*two_call_stream(pieces))))
    out = driver.stream_chat(api.llm(), user("write it"))
    assert len(out) == len(two_call_stream(pieces))
    assert out[-1].additional_kwargs["finish_reason"] == "tool_calls"
