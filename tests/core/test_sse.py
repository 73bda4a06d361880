"""The SSE decoder gives the same events wherever the byte stream is split."""

from __future__ import annotations

import pytest

from stepfun_core.sse import ServerSentEvent, SSEDecodeError, SSEDecoder
from tests.core.wire_samples import CURRENT_STREAM, LEGACY_STREAM, PARALLEL_TOOL_STREAM


def decode(*pieces: bytes) -> list[ServerSentEvent]:
    decoder = SSEDecoder()
    events: list[ServerSentEvent] = []
    for piece in pieces:
        events.extend(decoder.feed(piece))
    return events


def crlf(body: bytes) -> bytes:
    return body.replace(b"\n", b"\r\n")


def cr(body: bytes) -> bytes:
    return body.replace(b"\n", b"\r")


RECORDED = {
    "legacy-lf": LEGACY_STREAM,
    "current-crlf": crlf(CURRENT_STREAM),
    "tools-cr": cr(PARALLEL_TOOL_STREAM),
    "multiline-crlf": crlf(b"event: note\ndata: a\ndata: b\n\n" + LEGACY_STREAM),
    "bom-comments": b"\xef\xbb\xbf: keep-alive\n\n"
    + CURRENT_STREAM.replace(b"\n\n", b"\n: ping\n\n"),
}


@pytest.mark.parametrize("name", sorted(RECORDED))
def test_every_split_point_gives_the_same_events(name: str) -> None:
    body = RECORDED[name]
    whole = decode(body)
    assert whole[-1].data == "[DONE]"
    assert len(whole) > 3
    for offset in range(len(body) + 1):
        assert decode(body[:offset], body[offset:]) == whole, offset


def test_byte_at_a_time() -> None:
    body = crlf(CURRENT_STREAM)
    assert decode(*(body[i : i + 1] for i in range(len(body)))) == decode(body)


def test_split_utf8_character_is_rebuilt() -> None:
    body = 'data: {"c":"阶跃"}\n\n'.encode()
    cut = body.index("跃".encode()) + 1
    assert decode(body[:cut], body[cut:])[0].data == '{"c":"阶跃"}'


def test_line_separators_inside_json_are_not_line_breaks() -> None:
    text = 'data: {"c":"a\u2028b\u0085c\x0cd"}\n\n'
    assert decode(text.encode())[0].data == '{"c":"a\u2028b\u0085c\x0cd"}'


def test_multiline_data_event_name_and_one_leading_space() -> None:
    events = decode(b"event: error\ndata: x\ndata:  y\nid: 7\n\n")
    assert events == [ServerSentEvent("x\n y", "error", "7")]


def test_comments_are_skipped() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b": keep-alive\n\n: again\n\ndata: 1\n\n") == [ServerSentEvent("1")]


def test_leading_bom_is_dropped_even_when_split() -> None:
    body = b"\xef\xbb\xbfdata: 1\n\n"
    assert decode(body[:1], body[1:2], body[2:]) == [ServerSentEvent("1")]


def test_invalid_utf8_is_replaced_not_raised() -> None:
    assert decode(b"data: \xff\n\n")[0].data == "\ufffd"


def test_unterminated_last_event_is_not_dispatched() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: 1\n\ndata: 2") == [ServerSentEvent("1")]
    assert decoder.has_partial_event


def test_oversized_event_is_an_error() -> None:
    decoder = SSEDecoder(max_event_size=100)
    with pytest.raises(SSEDecodeError, match="larger than 100 bytes"):
        decoder.feed(b"data: " + b"x" * 200)
