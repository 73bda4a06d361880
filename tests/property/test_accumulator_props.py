"""StreamAccumulator: any sequence of parsed chunks folds without raising, nothing lost."""

from __future__ import annotations

import json
import time
from collections import defaultdict
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from stepfun_core import StreamAccumulator, Usage, load_json, parse_chunk
from stepfun_core.accumulator import ToolCallBuilder
from stepfun_core.surrogates import join_surrogates
from stepfun_core.types import ToolCallDelta
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
@given(st.lists(chunk_objects(client_only=True, positional=False, surrogates=False), max_size=8))
def test_indexed_arguments_are_appended_in_order(objs: list[dict[str, Any]]) -> None:
    # Function calls only: one index is one call (OpenAI's rule). A call streamed at a web
    # search's index is another (the property below).
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


# --- whether the arguments so far are whole, told piece by piece --------------------------------
JSON_VALUES = st.recursive(
    st.none() | st.integers() | st.text(alphabet='"\\{}[]a \n', max_size=4),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=8,
)


@st.composite
def argument_pieces(draw: st.DrawFn) -> list[str]:
    """Arguments cut anywhere: an object (maybe followed by more), or text made of JSON's marks."""
    if draw(st.booleans()):
        value = draw(st.dictionaries(st.text(max_size=3), JSON_VALUES, max_size=3))
        text = json.dumps(value) + draw(st.sampled_from(["", " ", "\n ", "}", ' {"b": 1}']))
    else:
        text = "".join(draw(st.lists(st.text(alphabet='{}[]"\\:,a1 ', max_size=6), max_size=12)))
    cuts = sorted(draw(st.lists(st.integers(0, len(text)), max_size=8)))
    return [text[start:end] for start, end in zip([0, *cuts], [*cuts, len(text)], strict=True)]


def whole_json_object(text: str) -> bool:
    """What "whole arguments" means: JSON text ending in a brace (an object)."""
    try:
        load_json(text)
    except ValueError:
        return False
    return text.rstrip().endswith("}")


@given(argument_pieces(), st.integers(0, 12))
# Asked first at a brace inside a string, then an escaped quote cut from its backslash, or an
# escaped backslash before the string's end.
@example(['{"a": "}', "\\", '"}"}'], 0)
@example(['{"a": "}', "\\", "\\", '"}'], 0)
def test_whole_arguments_are_told_piece_by_piece_as_from_the_whole_text(
    pieces: list[str], first_asked: int
) -> None:
    # Asked after each piece from the ``first_asked``-th on (index-less calls ask only then).
    builder = ToolCallBuilder(0)
    text = ""
    for number, piece in enumerate(pieces):
        builder.add(ToolCallDelta(0, arguments=piece))
        text += piece
        if number >= first_asked:
            assert builder.has_whole_arguments() is whole_json_object(text), text


def test_index_less_arguments_are_read_once_however_often_asked() -> None:
    # A complexity guard, not a measurement: each delta repeating the name, over arguments ending
    # in a brace inside a string, was parsed whole: 40,000 pieces (400 kB) took 12 s.
    accumulator = StreamAccumulator()
    pieces = ['{"a":"', *["xxxxxxxxx}"] * 40_000, '"}']
    started = time.monotonic()
    for piece in pieces:
        call = {"id": "c", "function": {"name": "f", "arguments": piece}}
        accumulator.add(parse_chunk({"choices": [{"index": 0, "delta": {"tool_calls": [call]}}]}))
    assert time.monotonic() - started < 5
    [call] = accumulator.tool_calls(0)[0]
    assert call.arguments == "".join(pieces)


@st.composite
def calls_beside_a_search(draw: Any) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    """Function calls streamed at indices 0.. (id, type and name first, or the id one delta
    late, or never), their argument pieces interleaved in any order, and a web search sent
    without an index (as captured) anywhere among them; with the calls expected, in order."""
    count = draw(st.integers(1, 3))
    pieces: list[list[dict[str, Any]]] = []
    expected = []
    for index in range(count):
        name, args = (
            f"f{index}",
            draw(st.lists(st.sampled_from(['{"a":', "1", "}", " "]), max_size=3)),
        )
        call_id = draw(st.sampled_from([f"call_{index}", ""]))
        start: dict[str, Any] = {"index": index, "type": "function", "function": {"name": name}}
        late = draw(st.booleans())
        if not late:
            start["id"] = call_id
        own = [start] + ([{"index": index, "id": call_id}] if late else [])
        own += [{"index": index, "function": {"arguments": piece}} for piece in args]
        pieces.append(own)
        expected.append((name, "".join(args)))
    order = draw(st.permutations([i for i, own in enumerate(pieces) for _ in own]))
    deltas, taken = [], [0] * count
    for i in order:  # each call's pieces stay in their order; calls interleave
        deltas.append(pieces[i][taken[i]])
        taken[i] += 1
    search = {
        "id": draw(st.sampled_from(["ws", ""])),
        "type": "web_search",
        "function": {"name": "step_websearch", "arguments": '{"keyword": "k"}', "results": []},
    }
    deltas.insert(draw(st.integers(0, len(deltas))), search)
    return deltas, expected


@heavy()
@given(calls_beside_a_search())
def test_calls_beside_a_web_search_keep_their_pieces(
    case: tuple[list[dict[str, Any]], list[tuple[str, str]]],
) -> None:
    # Round 12 and its reviews: a call at the slot an index-less search took was merged into
    # it, and pieces after a moved call went to the wrong calls.
    deltas, expected = case
    accumulator = StreamAccumulator()
    for delta in deltas:
        accumulator.add(parse_chunk({"choices": [{"delta": {"tool_calls": [delta]}}]}))
    choice = accumulator.result().first
    # In index order, except a call moved off the search's slot, which comes after those then
    # started (a slot is kept once given: the stream's readers saw it).
    assert sorted((c.name, c.arguments) for c in choice.tool_calls) == expected
    assert [(s.name, s.arguments) for s in choice.server_tool_calls] == [
        ("step_websearch", '{"keyword": "k"}')
    ]
