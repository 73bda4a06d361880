"""StreamAccumulator: any sequence of parsed chunks folds without raising, nothing lost."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from stepfun_core import StreamAccumulator, Usage, parse_chunk
from stepfun_core.surrogates import join_surrogates
from tests.property.strategies import chunk_objects, heavy


def fold(objs: list[dict[str, Any]]) -> StreamAccumulator:
    """Add each chunk, reading everything a consumer reads after each one."""
    accumulator = StreamAccumulator()
    for obj in objs:
        chunk = parse_chunk(obj)
        accumulator.add(chunk)
        for delta in chunk.choices:
            accumulator.tool_calls(delta.index)
            accumulator.choice(delta.index)
        accumulator.finished  # noqa: B018 - a property: it must not raise
        accumulator.usage  # noqa: B018
    completion = accumulator.result()
    completion.describe()
    completion.to_dict()
    return accumulator


def positional_call(name: str | None, arguments: str | None, call_id: str = "") -> dict[str, Any]:
    function: dict[str, Any] = {}
    if name is not None:
        function["name"] = name
    if arguments is not None:
        function["arguments"] = arguments
    return {
        "choices": [{"index": 0, "delta": {"tool_calls": [{"id": call_id, "function": function}]}}]
    }


DEEP_POSITIONAL = [
    positional_call("f", "[" * 5000),
    positional_call("f", None),
    positional_call("g", '{"a":' * 3000),
    positional_call("g", "]"),
]


@heavy()
@given(st.lists(chunk_objects(), max_size=8))
@example(DEEP_POSITIONAL)
@example([positional_call("f", "[" * 5000 + "]" * 5000), positional_call("f", "{}")])
def test_any_chunk_sequence_folds_without_raising(objs: list[dict[str, Any]]) -> None:
    fold(objs)


@heavy()
@given(st.lists(chunk_objects(positional=True), min_size=1, max_size=8))
@example(DEEP_POSITIONAL)
def test_positional_deltas_fold_without_raising(objs: list[dict[str, Any]]) -> None:
    fold(objs)


@heavy()
@given(st.lists(chunk_objects(surrogates=False), max_size=8))
def test_text_is_the_concatenation_of_the_deltas(objs: list[dict[str, Any]]) -> None:
    content: dict[int, str] = defaultdict(str)
    reasoning: dict[int, str] = defaultdict(str)
    refusal: dict[int, str] = defaultdict(str)
    for obj in objs:
        for delta in parse_chunk(obj).choices:
            content[delta.index] += delta.content
            reasoning[delta.index] += delta.reasoning
            refusal[delta.index] += delta.refusal
    completion = fold(objs).result()
    # Deliberate: the accumulator joins UTF-16 halves and turns a lone half into U+FFFD, so
    # its text is the concatenation as it can be encoded (join_surrogates of it).
    assert {c.index: c.content for c in completion.choices} == {
        i: join_surrogates(content[i]) for i in content
    }
    assert {c.index: c.reasoning for c in completion.choices} == {
        i: join_surrogates(reasoning[i]) for i in reasoning
    }
    assert {c.index: c.refusal for c in completion.choices} == {
        i: join_surrogates(refusal[i]) for i in refusal
    }


@heavy()
@given(st.lists(chunk_objects(), max_size=8))
def test_usage_is_last_wins(objs: list[dict[str, Any]]) -> None:
    last = None
    for obj in objs:
        if isinstance(obj.get("usage"), dict):
            last = obj["usage"]
    accumulator = fold(objs)
    expected = Usage.from_wire(last)
    assert accumulator.usage == expected
    assert accumulator.result().usage == expected


@heavy()
@given(st.lists(chunk_objects(positional=False, surrogates=False), max_size=8))
def test_indexed_arguments_are_appended_in_order(objs: list[dict[str, Any]]) -> None:
    expected: dict[tuple[int, int], str] = defaultdict(str)
    for obj in objs:
        for delta in parse_chunk(obj).choices:
            for call in delta.tool_calls:
                expected[delta.index, call.index] += call.arguments or ""
    got: dict[tuple[int, int], str] = {}
    for choice in fold(objs).result().choices:
        for call in [*choice.tool_calls, *choice.server_tool_calls]:
            got[choice.index, call.index] = call.arguments
    assert got == dict(expected)


@heavy()
@given(st.lists(chunk_objects(positional=True, surrogates=False), min_size=1, max_size=8))
def test_positional_arguments_are_neither_lost_nor_reordered(objs: list[dict[str, Any]]) -> None:
    # Index-less deltas go to the latest call or open the next one, so reading the calls in
    # index order gives back every argument fragment in the order it arrived.
    expected: dict[int, str] = defaultdict(str)
    for obj in objs:
        for delta in parse_chunk(obj).choices:
            for call in delta.tool_calls:
                expected[delta.index] += call.arguments or ""
    got: dict[int, str] = {}
    for choice in fold(objs).result().choices:
        calls = sorted([*choice.tool_calls, *choice.server_tool_calls], key=lambda c: c.index)
        got[choice.index] = "".join(c.arguments for c in calls)
    assert {i: text for i, text in got.items() if text} == {
        i: text for i, text in expected.items() if text
    }
