"""StreamState: only typed errors; a valid stream gives one completion, however split."""

from __future__ import annotations

import gzip
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from stepfun_core import Chunk, Completion, StepFunError
from stepfun_core.limits import Inflater
from stepfun_core.stream import StreamState
from tests.property.strategies import (
    JSON_VALUES,
    SSE_BYTES,
    bytewise,
    chunk_objects,
    dumps,
    heavy,
    mutated,
    pieces_of,
    sse_bodies,
)


def run(pieces: list[bytes]) -> tuple[list[Chunk], Completion]:
    state = StreamState()
    chunks: list[Chunk] = []
    for piece in pieces:
        chunks.extend(state.feed(piece))
    chunks.extend(state.finish())  # a held half's U+FFFD, if any
    return chunks, state.accumulator.result()


def run_typed(pieces: list[bytes]) -> None:
    try:
        run(pieces)
    except StepFunError as exc:
        str(exc)  # the message, with its partial reply, must render too


@given(SSE_BYTES, st.data())
@example(b"data: [DONE]\n\n\xff" * 3, None)
@example(b'data: {"error": {"message": {"m": [1]}}}\n\n', None)
def test_any_bytes_raise_only_typed_errors(body: bytes, data: st.DataObject | None) -> None:
    run_typed([body])
    if data is not None:
        run_typed(data.draw(pieces_of(body)))


EVENT_DATA = st.one_of(
    JSON_VALUES.map(dumps),
    mutated(chunk_objects()).map(dumps),
    st.builds(lambda v: dumps({"error": v}), JSON_VALUES),
    st.sampled_from(["", "[DONE]", "[DONE] trailing", "null", "{", "NaN", "1e999", "1" * 5000]),
)


@heavy()
@given(st.lists(EVENT_DATA, max_size=6), st.data())
def test_any_event_data_raises_only_typed_errors(datas: list[str], data: st.DataObject) -> None:
    body = data.draw(sse_bodies(datas, done=data.draw(st.booleans())))
    run_typed([body])


@heavy()
@given(st.lists(chunk_objects(), max_size=6), st.booleans(), st.data())
def test_a_valid_stream_gives_one_completion_however_split(
    objs: list[dict[str, Any]], done: bool, data: st.DataObject
) -> None:
    if not done:
        # Without [DONE] the stream must end on a finish reason to count as complete.
        closing = [{"index": i, "delta": {}, "finish_reason": "stop"} for i in range(3)]
        objs = [*objs, {"choices": closing}]
    body = data.draw(sse_bodies([dumps(o) for o in objs], done=done))
    whole = run([body])
    chunks, completion = whole
    # One chunk per event, and one more when a half-character is held at the end (its U+FFFD).
    assert len(objs) <= len(chunks) <= len(objs) + 1
    for choice in completion.choices:  # what was yielded adds up to the completion
        texts = [d.content for c in chunks for d in c.choices if d.index == choice.index]
        assert "".join(texts) == choice.content
    assert run(data.draw(pieces_of(body))) == whole
    if len(body) < 2000:
        assert run(bytewise(body)) == whole


@heavy()
@given(st.lists(chunk_objects(), max_size=3), SSE_BYTES, st.data())
def test_nothing_after_done_is_parsed(
    objs: list[dict[str, Any]], tail: bytes, data: st.DataObject
) -> None:
    body = data.draw(sse_bodies([dumps(o) for o in objs], done=True))
    expected = run([body])
    assert run(data.draw(pieces_of(body + tail))) == expected


@given(st.lists(st.binary(max_size=300), min_size=1, max_size=4), st.data())
def test_a_gzip_body_of_several_members_inflates_whole_however_split(
    members: list[bytes], data: st.DataObject
) -> None:
    body = b"".join(gzip.compress(member) for member in members)
    inflater = Inflater("gzip", 1 << 20)
    inflated = b"".join(inflater.feed(piece) for piece in data.draw(pieces_of(body)))
    assert inflated == b"".join(members)


@given(st.binary(max_size=400), st.sampled_from(["gzip", "deflate"]), st.data())
@example(gzip.compress(b"a") + b"\x1f", "gzip", None)  # half a next member's magic bytes
def test_a_compressed_body_of_any_bytes_raises_only_typed_errors(
    body: bytes, coding: str, data: st.DataObject | None
) -> None:
    pieces = [body] if data is None else data.draw(pieces_of(body))
    try:
        inflater = Inflater(coding, 1 << 20)
        for piece in pieces:
            inflater.feed(piece)
    except StepFunError as exc:
        str(exc)
