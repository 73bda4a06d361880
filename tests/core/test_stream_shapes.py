"""Both real stream shapes and the tool-call quirks fold into the right completion."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from stepfun_core import build_chat_request
from stepfun_core.accumulator import StreamAccumulator
from stepfun_core.parse import (
    MAX_TOOL_CALLS,
    fallback_tool_call_id,
    parse_chunk,
    parse_completion,
)
from tests.core.conftest import Driver, reply
from tests.core.wire_samples import (
    CURRENT_STREAM,
    LEGACY_STREAM,
    LEGACY_TOOL_STREAM,
    PARALLEL_TOOL_STREAM,
    REFUSAL,
    REFUSAL_STREAM,
    current_chunk,
    legacy_tool_chunk,
    sse,
)
from tests.core.wire_samples import legacy_call as _legacy

PAYLOAD = build_chat_request("step-3.7-flash", [{"role": "user", "content": "介绍阶跃星辰"}])


def test_legacy_shape(driver: Driver) -> None:
    chunks, completion = driver.stream(reply(LEGACY_STREAM), PAYLOAD)
    assert [c.choices[0].finish_reason for c in chunks] == [None, None, None, None, "stop"]
    assert completion.first.content == "阶跃星辰"
    assert completion.first.finish_reason == "stop"
    # The first chunk's created:0 and zero usage are overwritten; usage is the last, not a sum.
    assert completion.created == 1710146871
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (90, 24)
    assert completion.usage.total_tokens == 114


def test_current_shape_with_reasoning_and_text_on_the_final_chunk(driver: Driver) -> None:
    chunks, completion = driver.stream(reply(CURRENT_STREAM), PAYLOAD)
    assert [c.choices[0].reasoning for c in chunks] == ["", "用户", "想知道。", "", ""]
    assert chunks[-1].choices[0].content == " 😊"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(c.choices[0].finish_reason is None for c in chunks[:-1])
    assert completion.first.reasoning == "用户想知道。"
    assert completion.first.content == "人工智能公司。 😊"
    usage = completion.usage
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (85, 616, 701)
    assert usage.cached_tokens == 64
    assert usage.reasoning_tokens == 2


def test_final_stop_chunk_with_empty_delta() -> None:
    body = sse(current_chunk({"content": "a"}, 1), current_chunk({"content": ""}, 1, finish="stop"))
    acc = StreamAccumulator()
    for line in body.decode().split("\n\n"):
        if line.startswith("data: {"):
            acc.add(parse_chunk(json.loads(line[6:])))
    assert acc.finished
    assert acc.result().first.content == "a"


def test_reasoning_content_is_read_like_reasoning() -> None:
    chunk = parse_chunk({"choices": [{"delta": {"reasoning_content": "x", "reasoning": "x"}}]})
    assert chunk.choices[0].reasoning == "x"


def test_legacy_tool_calls_without_index_or_ids(driver: Driver) -> None:
    chunks, completion = driver.stream(reply(LEGACY_TOOL_STREAM), PAYLOAD)
    deltas = [d for c in chunks for d in c.choices[0].tool_calls]
    assert all(d.index == 0 and d.id is None and d.type is None for d in deltas)
    [call] = completion.first.tool_calls
    assert call.name == "get_weather"
    assert json.loads(call.arguments) == {"city": "上海"}
    assert call.id == fallback_tool_call_id(completion.id, 0)
    assert call.id.startswith("call_a828956f")
    assert completion.first.finish_reason == "tool_calls"
    assert completion.usage is not None and completion.usage.cached_tokens == 96


def test_parallel_tool_calls_several_in_one_chunk(driver: Driver) -> None:
    chunks, completion = driver.stream(reply(PARALLEL_TOOL_STREAM), PAYLOAD)
    assert len(chunks[0].choices[0].tool_calls) == 2
    calls = completion.first.tool_calls
    assert [(c.id, c.name, json.loads(c.arguments)) for c in calls] == [
        ("call_aaaaaaaaaaaaaaaaaaaaaa", "get_weather", {"city": "Paris"}),
        ("call_bbbbbbbbbbbbbbbbbbbbbb", "get_time", {"tz": "UTC"}),
    ]


def test_name_repeated_on_every_delta_is_not_doubled() -> None:
    acc = StreamAccumulator()
    for args in ('{"a"', ": 1}"):
        acc.add(
            parse_chunk(
                {
                    "choices": [
                        {
                            "delta": {
                                "tool_calls": [
                                    {
                                        "index": 0,
                                        "id": "c1",
                                        "function": {"name": "f", "arguments": args},
                                    }
                                ]
                            }
                        }
                    ]
                }
            )
        )
    [call] = acc.result().first.tool_calls
    assert (call.name, call.arguments) == ("f", '{"a": 1}')


def test_several_choices_stay_apart() -> None:
    acc = StreamAccumulator()
    acc.add(
        parse_chunk(
            {
                "choices": [
                    {"index": 0, "delta": {"content": "a"}},
                    {"index": 1, "delta": {"content": "b"}},
                ]
            }
        )
    )
    acc.add(
        parse_chunk({"choices": [{"index": 1, "delta": {"content": "c"}, "finish_reason": "stop"}]})
    )
    assert not acc.finished
    acc.add(parse_chunk({"choices": [{"index": 0, "delta": {}, "finish_reason": "length"}]}))
    assert acc.finished
    result = acc.result()
    assert [(c.content, c.finish_reason) for c in result.choices] == [
        ("a", "length"),
        ("bc", "stop"),
    ]


def test_trailing_usage_only_chunk() -> None:
    acc = StreamAccumulator()
    acc.add(parse_chunk(current_chunk({"content": "x"}, 1, finish="stop")))
    acc.add(parse_chunk({"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 2}}))
    usage = acc.result().usage
    assert usage is not None and (usage.prompt_tokens, usage.total_tokens) == (5, 7)


def test_legacy_parallel_calls_without_index_are_told_apart_by_name(driver: Driver) -> None:
    body = sse(
        legacy_tool_chunk(_legacy("", ""), 1),
        legacy_tool_chunk(_legacy("get_weather", ""), 2),
        legacy_tool_chunk(_legacy("", '{"city": "Paris"}'), 3),
        legacy_tool_chunk(_legacy("get_weather", ""), 4),
        legacy_tool_chunk(_legacy("", '{"city": "Rome"}'), 5),
        legacy_tool_chunk(_legacy("get_time", '{"tz": "UTC"}'), 6),
    )
    chunks, completion = driver.stream(reply(body), PAYLOAD)
    calls = completion.first.tool_calls
    assert [(c.index, c.name, json.loads(c.arguments)) for c in calls] == [
        (0, "get_weather", {"city": "Paris"}),
        (1, "get_weather", {"city": "Rome"}),
        (2, "get_time", {"tz": "UTC"}),
    ]
    assert len({c.id for c in calls}) == 3
    # The chunks handed to the caller carry the same indexes the accumulator assigned.
    seen = [d.index for c in chunks for d in c.choices[0].tool_calls if d.name or d.arguments]
    assert seen == [0, 0, 1, 1, 2]


def test_the_accumulator_never_runs_ahead_of_the_consumer(driver: Driver) -> None:
    # The whole body arrives in one read; each chunk must see only what came before it.
    handler = reply(CURRENT_STREAM)
    views: list[str] = []
    if driver.mode == "sync":
        client = driver._clients(handler)[0]
        with client.stream(PAYLOAD) as stream:
            for _ in stream:
                choice = stream.accumulator.choice(0)
                views.append(choice.reasoning + "|" + choice.content)
    else:
        import asyncio

        async def run() -> None:
            client = driver._clients(handler)[1]
            stream = await client.stream(PAYLOAD)
            async with stream:
                async for _ in stream:
                    choice = stream.accumulator.choice(0)
                    views.append(choice.reasoning + "|" + choice.content)

        asyncio.run(run())
    assert views == [
        "|",
        "用户|",
        "用户想知道。|",
        "用户想知道。|人工智能公司。",
        "用户想知道。|人工智能公司。 😊",
    ]


def test_index_less_deltas_repeating_the_name_stay_one_call() -> None:
    acc = StreamAccumulator()
    for args in ('{"a"', ": 1", "}"):
        acc.add(
            parse_chunk(
                {
                    "choices": [
                        {
                            "delta": {
                                "tool_calls": [
                                    {"id": "", "function": {"name": "f", "arguments": args}}
                                ]
                            }
                        }
                    ]
                }
            )
        )
    [call] = acc.result().first.tool_calls
    assert (call.name, json.loads(call.arguments)) == ("f", {"a": 1})


def test_index_less_deltas_with_new_ids_are_new_calls() -> None:
    acc = StreamAccumulator()
    for call_id, args in (("c1", '{"a": 1}'), ("c2", '{"a": 2}')):
        acc.add(
            parse_chunk(
                {
                    "choices": [
                        {
                            "delta": {
                                "tool_calls": [
                                    {"id": call_id, "function": {"name": "f", "arguments": args}}
                                ]
                            }
                        }
                    ]
                }
            )
        )
    assert [(c.id, c.arguments) for c in acc.result().first.tool_calls] == [
        ("c1", '{"a": 1}'),
        ("c2", '{"a": 2}'),
    ]


def test_a_streamed_refusal_is_folded_like_a_stated_one(driver: Driver) -> None:
    chunks, completion = driver.stream(reply(REFUSAL_STREAM), PAYLOAD)
    assert [c.choices[0].refusal for c in chunks] == ["", "I can't ", "help with that.", ""]
    assert completion.first.refusal == REFUSAL
    assert completion.first.content == ""
    assert completion.to_dict()["choices"][0]["message"]["refusal"] == REFUSAL
    assert "23 characters of refusal" in completion.describe()


def test_refusal_pieces_listed_twice_in_one_chunk_are_joined() -> None:
    chunk = parse_chunk(
        {
            "id": "r",
            "choices": [
                {"index": 0, "delta": {"refusal": "No"}},
                {"index": 0, "delta": {"refusal": ", sorry."}},
            ],
        }
    )
    merged = chunk.delta(0)
    assert merged is not None and merged.refusal == "No, sorry."
    acc = StreamAccumulator()
    acc.add(chunk)
    assert acc.choice(0).refusal == "No, sorry."


def test_a_refusal_that_is_not_text_reads_as_none() -> None:
    for value in (None, 5, ["no"], {"text": "no"}):
        chunk = parse_chunk({"id": "r", "choices": [{"index": 0, "delta": {"refusal": value}}]})
        assert chunk.choices[0].refusal == ""


def test_fallback_ids_cost_no_more_than_a_prefix_of_the_response_id() -> None:
    # Once computed from the whole id for each call: 20,000 id-less calls under a 1 MB id took
    # 12 s; from a prefix, 0.06 s (a complexity guard, not a measurement). A reply is now read
    # as far as MAX_TOOL_CALLS calls.
    count = MAX_TOOL_CALLS
    calls = [{"index": i, "function": {"name": "f", "arguments": "{}"}} for i in range(count)]
    body = {"id": "x" * 1_000_000 + ".y", "choices": [{"message": {"tool_calls": calls}}]}
    started = time.monotonic()
    completion = parse_completion(body)
    assert time.monotonic() - started < 5
    ids = [c.id for c in completion.first.tool_calls]
    assert ids[0] == fallback_tool_call_id(body["id"], 0) == "call_" + "x" * 24 + "_0"
    assert len(set(ids)) == count


SEARCH = {
    "id": "ws",
    "type": "web_search",
    "function": {"name": "step_websearch", "arguments": '{"keyword": "k"}', "results": []},
}


def _fn(index: int, call_id: str, name: str) -> dict[str, Any]:
    return {"index": index, "id": call_id, "type": "function", "function": {"name": name}}


def _args(index: int, text: str) -> dict[str, Any]:
    return {"index": index, "function": {"arguments": text}}


F, X = _fn(0, "a", "f"), _args(0, '{"x":1}')
G, Y = _fn(1, "b", "g"), _args(1, '{"y":2}')


@pytest.mark.parametrize(
    "deltas",
    [
        # Round 12: an index-less search took slot 0, and the call at index 0 merged into it.
        [SEARCH, F, X, G, Y],
        # Its review: two calls' pieces interleaved after a search went to the wrong calls.
        [F, SEARCH, G, X, Y],
        [SEARCH, F, {**SEARCH, "id": "ws2"}, G, X, Y],
        # A search at index 0, as OpenAI-style streams give one, then a call at index 0 too.
        [{"index": 0, **SEARCH}, F, X, G, Y],
    ],
    ids=["search-then-calls", "interleaved", "two-searches", "search-at-0"],
)
def test_calls_after_a_web_search_keep_their_own_pieces(deltas: list[dict[str, Any]]) -> None:
    acc = StreamAccumulator()
    for delta in deltas:
        acc.add(parse_chunk({"choices": [{"index": 0, "delta": {"tool_calls": [delta]}}]}))
    choice = acc.result().first
    assert [(c.id, c.name, c.arguments) for c in choice.tool_calls] == [
        ("a", "f", '{"x":1}'),
        ("b", "g", '{"y":2}'),
    ]
    assert {(s.name, s.arguments) for s in choice.server_tool_calls} == {
        ("step_websearch", '{"keyword": "k"}')
    }


def _fn_late(index: int, call_id: str, name: str) -> list[dict[str, Any]]:
    """A call whose first delta has its name only, and its id (maybe "") with the next one."""
    return [{"index": index, "function": {"name": name}}, {"index": index, "id": call_id}]


@pytest.mark.parametrize(
    "deltas",
    [
        # Review of the fix: a call moved off the search's slot took the next index's, where
        # that index's call (ids "" or sent late) was merged into it ("fg").
        [SEARCH, *_fn_late(0, "", "f"), *_fn_late(1, "", "g"), X, Y],
        [SEARCH, F, *_fn_late(1, "b", "g"), X, Y],
        # A function's first delta without its type where a search without an id is held.
        [{**SEARCH, "id": ""}, {"index": 0, "id": "a", "function": {"name": "f"}}, X, G, Y],
    ],
    ids=["ids-empty", "id-late", "no-type"],
)
def test_calls_after_a_web_search_stay_apart_whenever_their_ids_come(
    deltas: list[dict[str, Any]],
) -> None:
    acc = StreamAccumulator()
    for delta in deltas:
        acc.add(parse_chunk({"choices": [{"index": 0, "delta": {"tool_calls": [delta]}}]}))
    choice = acc.result().first
    assert [(c.name, c.arguments) for c in choice.tool_calls] == [
        ("f", '{"x":1}'),
        ("g", '{"y":2}'),
    ]
    assert [(s.name, s.arguments) for s in choice.server_tool_calls] == [
        ("step_websearch", '{"keyword": "k"}')
    ]


def test_a_web_search_whose_id_comes_later_stays_one_call() -> None:
    # Review of round 12: an id sent after the search's first delta made it another call, a
    # client call with no name (with parallel_tool_calls=False, the one LangChain kept).
    first = {"index": 0, "id": "", "type": "web_search", "function": {"name": "step_websearch"}}
    acc = StreamAccumulator()
    for delta in (first, {"index": 0, "id": "ws", **_args(0, '{"keyword": "k"}')}):
        acc.add(parse_chunk({"choices": [{"index": 0, "delta": {"tool_calls": [delta]}}]}))
    choice = acc.result().first
    assert choice.tool_calls == []
    assert [(s.id, s.arguments) for s in choice.server_tool_calls] == [("ws", '{"keyword": "k"}')]
