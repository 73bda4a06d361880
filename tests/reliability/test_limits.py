"""Hostile bytes, size and time over a real socket: a server scripted byte by byte.

Every case runs through the three entry points (core client, ChatStepFun, LlamaIndex StepFun),
sync and async, and puts a row with its figure in the reliability report: what a stream does
after ``[DONE]``, a read timeout mid-stream, a deadline against a trickling server, a
decompression bomb, JSON too deep to read, wrong types, and ``Retry-After`` garbage.
"""

from __future__ import annotations

import json
import time
import tracemalloc
import zlib
from typing import Any

import pytest

import stepfun_core as core
from stepfun_core.sse import SSEDecoder
from tests.counting import Counted
from tests.reliability.bombs import compressed_zeros
from tests.reliability.conftest import Combo, Outcome, Row, combos
from tests.reliability.raw_server import (
    ANSWER,
    END,
    RawServer,
    Send,
    answer_events,
    chunk,
    completion,
    head,
    hold,
    sized_head,
    whole,
)

LIMIT = "limit"
STREAMS = combos(stream=(True,))
CALLS = combos(stream=(False,))
ALL = combos()


def describe(out: Outcome) -> str:
    if out.error is None:
        return (
            f"answer intact in {out.elapsed:.2f} s" if out.text == ANSWER else f"{out.text!r:.40}"
        )
    partial = getattr(out.error, "partial", None)
    kept = f" with partial ({len(partial.first.content)} chars)" if partial else ""
    return f"{type(out.error).__name__}{kept} in {out.elapsed:.2f} s"


def fill(row: Row, combo: Combo, case: str, expected: str, out: Outcome, server: RawServer) -> None:
    row.set(
        category=LIMIT,
        case=case,
        adapter=combo.target,
        mode=combo.label,
        expected=expected,
        observed=describe(out),
        requests=len(server.requests),
    )


# --- a stream is over at [DONE] -------------------------------------------------------------------
def after_done(tail: str) -> Any:
    def script(send: Send, request: Any) -> bool:
        answer = head() + b"".join(chunk(e) for e in answer_events()) + chunk(b"data: [DONE]\n\n")
        if tail == "clean":  # the end of the body in the same write as [DONE], as servers send it
            send(answer + END)
            return True
        send(answer)
        if tail == "hang":
            hold(10)
        elif tail == "keep-alives":
            for _ in range(500):
                send(chunk(b": keep-alive\n\n"))
                time.sleep(0.02)
        elif tail == "garbage":
            send(chunk(b"data: {not json at all\n\n\xff\xfe") + END)
        elif tail == "late end":
            hold(4)
            send(END)
        return False  # "cut": close right after [DONE]

    return script


TAILS = {
    "hang": "the connection held open for 10 s",
    "keep-alives": "keep-alive comments every 20 ms for 10 s",
    "cut": "the connection cut",
    "garbage": "garbage that is not an event",
    "late end": "the end of the body 4 s later (not waited for)",
}


def whole_then_cut(send: Send, request: Any) -> bool:
    """A whole completion in a chunked body, then the connection closed before its end."""
    send(head(content_type="application/json") + chunk(completion()))
    return False


def not_utf8(send: Send, request: Any) -> bool:
    """A whole answer holding a byte that is not UTF-8 (a Latin-1 "é")."""
    send(whole(200, completion("cafe").replace(b'"cafe"', b'"caf\xe9"')))
    return True


WHOLE_ANSWERS = {
    # Hostile round 9: the answer was whole, yet the cut before the chunked body's end made it a
    # connection error, and the (billed) answer was asked for again.
    "a whole answer, then the connection cut": (whole_then_cut, ANSWER),
    # Round 11: a MalformedResponseError ("not a JSON object"), never retried.
    "a whole answer with a byte that is not UTF-8": (not_utf8, "caf\ufffd"),
}


@pytest.mark.parametrize("case", list(WHOLE_ANSWERS))
@pytest.mark.parametrize("combo", CALLS)
def test_a_whole_answer_is_kept(combo: Combo, case: str, row: Row) -> None:
    script, text = WHOLE_ANSWERS[case]
    with RawServer(script) as server:
        out = combo.call(combo.build(server.base_url), "hi")
    fill(row, combo, case, "the answer, asked once", out, server)
    assert out.error is None, repr(out.error)
    assert out.text == text and len(server.requests) == 1


BLOCKED = "The content you provided or machine outputted is blocked."


def blocked_through_openrouter(send: Send, request: Any) -> bool:
    """StepFun's moderation block as OpenRouter passes it on (docs/wire.md §7.1)."""
    raw = json.dumps({"error": {"message": BLOCKED, "type": "censorship_blocked"}})
    error = {"message": "Provider returned error", "code": 451, "metadata": {"raw": raw}}
    send(whole(451, json.dumps({"error": error}).encode()))
    return True


@pytest.mark.parametrize("combo", ALL)
def test_stepfun_s_error_inside_openrouter_s_is_its_type(combo: Combo, row: Row) -> None:
    # Round 11: OpenRouter's "Provider returned error" hid StepFun's type and message.
    with RawServer(blocked_through_openrouter) as server:
        out = combo.call(combo.build(server.base_url), "hi")
    case = "a moderation block inside OpenRouter's error (metadata.raw)"
    fill(row, combo, case, "ContentModerationError with StepFun's words, asked once", out, server)
    assert isinstance(out.error, core.ContentModerationError), repr(out.error)
    assert BLOCKED in str(out.error) and len(server.requests) == 1


@pytest.mark.parametrize("tail", sorted(TAILS))
@pytest.mark.parametrize("combo", STREAMS)
def test_a_stream_is_over_at_done(combo: Combo, tail: str, row: Row) -> None:
    with RawServer(after_done(tail)) as server:
        out = combo.call(combo.build(server.base_url, max_retries=0), "hi")
    fill(row, combo, f"[DONE], then {TAILS[tail]}", "the whole answer at once", out, server)
    assert out.error is None, repr(out.error)
    assert out.text == ANSWER
    assert out.elapsed < 3.0, out.elapsed  # not the 10 s the server holds


@pytest.mark.parametrize("combo", STREAMS)
def test_a_finished_stream_gives_its_connection_back(combo: Combo, row: Row) -> None:
    with RawServer(after_done("clean")) as server:
        inst = combo.build(server.base_url, max_retries=0)
        outs = [combo.call(inst, "hi") for _ in range(3)] if combo.mode == "sync" else []
        if combo.mode == "async":
            outs = [combo.call(inst, "hi")]  # each async call runs in a new loop: a new pool
    row.set(
        category=LIMIT,
        case="[DONE], then the end of the body: the connection is reused",
        adapter=combo.target,
        mode=combo.label,
        expected="sync: 3 answers over 1 connection",
        observed=f"{sum(o.text == ANSWER for o in outs)} answers, {server.connections} connection",
        requests=len(server.requests),
    )
    assert all(o.text == ANSWER for o in outs)
    assert server.connections == 1


def sized_stream(send: Send, request: Any) -> bool:
    """The answer and [DONE] in a body sized by Content-Length, as a buffering proxy sends it."""
    body = b"".join(answer_events()) + b"data: [DONE]\n\n"
    send(sized_head(200, len(body), "text/event-stream") + body)
    return True


@pytest.mark.parametrize("combo", STREAMS)
def test_a_sized_stream_gives_its_connection_back(combo: Combo, row: Row) -> None:
    # Found by review: with no chunked terminator to see, the sync drain waited out its grace
    # period on a silent socket after every such stream, then closed a reusable connection.
    with RawServer(sized_stream) as server:
        inst = combo.build(server.base_url, max_retries=0)
        outs = [combo.call(inst, "hi") for _ in range(3 if combo.mode == "sync" else 1)]
    row.set(
        category=LIMIT,
        case="[DONE] at the end of a body sized by Content-Length: the connection is reused",
        adapter=combo.target,
        mode=combo.label,
        expected="sync: 3 answers over 1 connection",
        observed=f"{sum(o.text == ANSWER for o in outs)} answers, {server.connections} connection",
        requests=len(server.requests),
    )
    assert all(o.text == ANSWER for o in outs)
    assert server.connections == 1


def ends_without_done(send: Send, request: Any) -> bool:
    send(head() + b"".join(chunk(e) for e in answer_events()) + END)
    return True


@pytest.mark.parametrize("combo", STREAMS)
def test_a_stream_ended_by_its_body_is_not_drained(combo: Combo, row: Row) -> None:
    # Found by review: a stream that ends with its body (a finish reason, no [DONE]) was
    # "drained" too, waiting out a grace period on the pooled socket.
    with RawServer(ends_without_done) as server:
        inst = combo.build(server.base_url, max_retries=0)
        outs = [combo.call(inst, "hi") for _ in range(2 if combo.mode == "sync" else 1)]
    fill(
        row,
        combo,
        "a finish reason, no [DONE], the body's end",
        "no wait after it",
        outs[-1],
        server,
    )
    assert all(o.error is None and o.text == ANSWER for o in outs), [o.error for o in outs]
    assert all(o.elapsed < 3.0 for o in outs), [o.elapsed for o in outs]
    assert server.connections == 1


# --- time -----------------------------------------------------------------------------------------
def stalls_mid_stream(send: Send, request: Any) -> bool:
    send(head() + b"".join(chunk(e) for e in answer_events()[:2]))
    hold(5)
    return False


@pytest.mark.parametrize("combo", STREAMS)
def test_a_read_timeout_mid_stream_is_a_timeout_with_the_text(combo: Combo, row: Row) -> None:
    with RawServer(stalls_mid_stream) as server:
        out = combo.call(combo.build(server.base_url, max_retries=0, timeout=0.3), "hi")
    fill(
        row,
        combo,
        "stream stalls for 5 s (read timeout 0.3 s)",
        "StreamTimeoutError with the text so far",
        out,
        server,
    )
    assert isinstance(out.error, core.StreamTimeoutError), repr(out.error)
    assert out.error.partial is not None and out.error.partial.first.content == "Hello from"
    if combo.target == "langchain":
        from langchain_core.exceptions import ModelTimeoutError

        assert isinstance(out.error, ModelTimeoutError)
    assert len(server.requests) == 1


def trickles(send: Send, request: Any) -> bool:
    body = completion()
    send(sized_head(200, len(body)))
    for byte in body:
        send(bytes([byte]))
        time.sleep(0.1)  # 20 s for the whole body, each read well within the read timeout
    return False


def silent_then_server_error(send: Send, request: Any) -> bool:
    send(whole(503, b'{"error":{"message":"busy","type":"server_busy"}}'))
    return True


@pytest.mark.parametrize("combo", CALLS)
def test_retries_stop_at_the_deadline(
    combo: Combo, row: Row, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("stepfun_core.client_base.RetryPolicy", core.RetryPolicy)  # real backoff
    with RawServer(silent_then_server_error) as server:
        inst = combo.build(server.base_url, max_retries=50, total_timeout=1.5)
        out = combo.call(inst, "hi")
    fill(
        row,
        combo,
        "503 for ever, max_retries=50 (total_timeout=1.5 s)",
        "the error by the deadline",
        out,
        server,
    )
    assert isinstance(out.error, (core.InternalServerError, core.TotalTimeoutError)), repr(
        out.error
    )
    assert out.elapsed < 3.0, out.elapsed
    assert 1 < len(server.requests) < 50


# --- size -----------------------------------------------------------------------------------------
def gzip_bomb(inflated: int) -> bytes:
    """``inflated`` bytes of zeros, gzip-compressed (about 1,000 to 1)."""
    return compressed_zeros("gzip", inflated)


BOMB = gzip_bomb(512 << 20)  # 512 MiB of zeros in about 500 KB


def bomb(stream: bool) -> Any:
    def script(send: Send, request: Any) -> bool:
        kind = "text/event-stream" if stream else "application/json"
        send(whole(200, BOMB, kind, Content_Encoding="gzip"))
        return False

    return script


def peak_during(run: Any) -> tuple[Any, float]:
    tracemalloc.start()
    try:
        result = run()
        return result, tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("combo", ALL)
def test_a_decompression_bomb_is_refused_without_the_memory(combo: Combo, row: Row) -> None:
    with RawServer(bomb(combo.stream)) as server:
        inst = combo.build(server.base_url, max_retries=0)
        out, peak = peak_during(lambda: combo.call(inst, "hi"))
    row.set(
        category=LIMIT,
        case=f"{len(BOMB) // 1024} KB of gzip inflating to 512 MiB (max_response_bytes 32 MiB)",
        adapter=combo.target,
        mode=combo.label,
        expected="ResponseTooLargeError (or a too-large event), memory bounded",
        observed=f"{type(out.error).__name__}; peak {peak:.0f} MB traced",
        requests=len(server.requests),
    )
    assert isinstance(out.error, (core.ResponseTooLargeError, core.MalformedResponseError)), repr(
        out.error
    )
    assert peak < 200, peak


# --- hostile bytes --------------------------------------------------------------------------------
def replies(status: int, body: bytes, **headers: str) -> Any:
    def script(send: Send, request: Any) -> bool:
        send(whole(status, body, **headers))
        return True

    return script


DEEP = b'{"choices":' + b"[" * 50_000 + b"]" * 50_000 + b"}"
HOSTILE = {
    "a reply nested 50,000 levels deep": (replies(200, DEEP), core.MalformedResponseError, 1),
    '"choices": 5': (replies(200, b'{"id":"x","choices":5}'), None, 1),
    '"message": "text", "usage": []': (
        replies(200, b'{"id":"x","choices":[{"index":0,"message":"text"}],"usage":[]}'),
        None,
        1,
    ),
    "429 with Retry-After: Mon, 01 Jan 99999 00:00:00 GMT": (
        replies(
            429,
            b'{"error":{"message":"slow","type":"rate_limit_exceeded"}}',
            Retry_After="Mon, 01 Jan 99999 00:00:00 GMT",
        ),
        core.RateLimitError,
        1,
    ),
    "429 with Retry-After: -5 (normal backoff)": (
        replies(
            429, b'{"error":{"message":"slow","type":"rate_limit_exceeded"}}', Retry_After="-5"
        ),
        core.RateLimitError,
        3,
    ),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
@pytest.mark.parametrize("combo", CALLS)
def test_hostile_replies_end_as_typed_errors_or_are_read_leniently(
    combo: Combo, case: str, row: Row
) -> None:
    script, error, requests = HOSTILE[case]
    with RawServer(script) as server:
        out = combo.call(combo.build(server.base_url, max_retries=2), "hi")
    observed = type(out.error).__name__ if out.error else f"read leniently: {out.text!r}"
    row.set(
        category=LIMIT,
        case=case,
        adapter=combo.target,
        mode=combo.label,
        expected=error.__name__ if error else "read leniently (no choice, no usage)",
        observed=observed,
        requests=len(server.requests),
    )
    if error is None:
        assert out.error is None, repr(out.error)
        assert not out.text
    else:
        assert isinstance(out.error, error), repr(out.error)
    assert len(server.requests) == requests


def trickles_one_event(send: Send, request: Any) -> bool:
    send(head() + chunk(answer_events()[0]) + chunk(b'data: {"id": "raw-1", "choices": ['))
    for _ in range(100):  # bytes keep coming, but never a whole event
        send(chunk(b" "))
        time.sleep(0.05)
    return False


IDLE_SETTING = {
    "core": "stream_idle_timeout",
    "langchain": "stream_chunk_timeout",
    "llamaindex": "stream_idle_timeout",
}


@pytest.mark.parametrize("combo", STREAMS)
def test_the_idle_watchdog_counts_only_whole_events(combo: Combo, row: Row) -> None:
    with RawServer(trickles_one_event) as server:
        setting = {IDLE_SETTING[combo.target]: 0.5}
        out = combo.call(combo.build(server.base_url, max_retries=0, **setting), "hi")
    fill(
        row,
        combo,
        "an event trickled a byte per 50 ms, never finished (idle timeout 0.5 s)",
        "StreamIdleTimeoutError with the text so far",
        out,
        server,
    )
    assert isinstance(out.error, core.StreamIdleTimeoutError), repr(out.error)
    assert out.error.partial is not None and out.error.partial.first.content == "Hello"
    assert out.elapsed < 3.0, out.elapsed


def trickles_its_headers(send: Send, request: Any) -> bool:
    body = completion()
    for byte in sized_head(200, len(body)) + b"X-Padding: " + b"p" * 400 + b"\r\n":
        send(bytes([byte]))
        time.sleep(0.05)  # each header byte well within the read timeout
    return False


TRICKLES = {
    "reply": (trickles, 2, "a reply trickled 1 byte per 100 ms (total_timeout=1 s)"),
    "headers": (trickles_its_headers, 0, "headers trickled 1 byte per 50 ms (total_timeout=1 s)"),
}


@pytest.mark.parametrize("what", sorted(TRICKLES))
@pytest.mark.parametrize("combo", CALLS)
def test_total_timeout_ends_a_trickle(combo: Combo, what: str, row: Row) -> None:
    script, retries, case = TRICKLES[what]
    with RawServer(script) as server:
        inst = combo.build(server.base_url, max_retries=retries, timeout=5.0, total_timeout=1.0)
        out = combo.call(inst, "hi")
    fill(row, combo, case, "TotalTimeoutError by the deadline", out, server)
    assert isinstance(out.error, core.TotalTimeoutError), repr(out.error)
    assert out.elapsed < 2.5, out.elapsed
    assert len(server.requests) == 1  # a spent budget is not retried


def gzip_twice(inflated: int) -> bytes:
    return gzip_bomb_of(gzip_bomb(inflated))


def gzip_bomb_of(data: bytes) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    return packer.compress(data) + packer.flush()


NESTED_BOMB = gzip_twice(1 << 30)  # 1 GiB of zeros, gzipped twice: under 2 KB


def nested_bomb(send: Send, request: Any) -> bool:
    send(whole(200, NESTED_BOMB, Content_Encoding="gzip, gzip"))
    return False


@pytest.mark.parametrize("combo", ALL)
def test_a_reply_compressed_twice_is_refused_unread(combo: Combo, row: Row) -> None:
    with RawServer(nested_bomb) as server:
        inst = combo.build(server.base_url, max_retries=0)
        out, peak = peak_during(lambda: combo.call(inst, "hi"))
    row.set(
        category=LIMIT,
        case=f"{len(NESTED_BOMB)} bytes of gzip inside gzip inflating to 1 GiB",
        adapter=combo.target,
        mode=combo.label,
        expected="MalformedResponseError before inflating",
        observed=f"{type(out.error).__name__}; peak {peak:.1f} MB traced",
        requests=len(server.requests),
    )
    assert isinstance(out.error, core.MalformedResponseError), repr(out.error)
    assert peak < 20, peak


def half_a_chunk_after_done(send: Send, request: Any) -> bool:
    send(head() + b"".join(chunk(e) for e in answer_events()) + chunk(b"data: [DONE]\n\n"))
    send(b"5\r\n")  # the size line of a chunk that never comes
    hold(10)
    return False


@pytest.mark.parametrize("combo", STREAMS)
def test_half_a_chunk_after_done_does_not_hold_the_answer(combo: Combo, row: Row) -> None:
    with RawServer(half_a_chunk_after_done) as server:
        out = combo.call(combo.build(server.base_url, max_retries=0, timeout=8.0), "hi")
    fill(
        row, combo, "[DONE], then half a chunk and silence", "the whole answer at once", out, server
    )
    assert out.error is None, repr(out.error)
    assert out.text == ANSWER
    assert out.elapsed < 3.0, out.elapsed


def decode_in_pieces(body: bytes, piece: int) -> tuple[int, float]:
    """Events decoded and the CPU seconds it took (a figure for the report, not asserted)."""
    decoder = SSEDecoder(max_event_size=64 << 20)
    start = time.process_time()
    events = sum(
        len(decoder.feed(Counted(body[i : i + piece]))) for i in range(0, len(body), piece)
    )
    return events, time.process_time() - start


def test_decoding_is_linear_however_the_bytes_are_split(row: Row) -> None:
    size = 16 << 20
    line = b"data: " + b"x" * (size - 8) + b"\n\n"
    Counted.copied = 0
    events, line_seconds = decode_in_pieces(line, 1024)
    copied = Counted.copied
    lines = (b"data: " + b"x" * 1016 + b"\n\n") * (size // 1024)
    _, lines_seconds = decode_in_pieces(lines, 1024)
    row.set(
        category=LIMIT,
        case="a 16 MiB line in 1 KiB pieces (SSE decoder)",
        adapter="core",
        expected="linear: no growing buffer copied per piece",
        observed=(
            f"{copied / len(line):.1f}x the input copied by concatenation; "
            f"{line_seconds * 1000:.0f} ms CPU against {lines_seconds * 1000:.0f} ms for the "
            "same bytes as 1 KiB events (python -m benchmarks.decoding compares the peers)"
        ),
    )
    assert events == 1
    assert copied <= 2 * len(line), copied  # a buffer joined per piece would copy ~128 GiB
