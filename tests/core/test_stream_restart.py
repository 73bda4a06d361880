"""A stream that ends without a finish reason or ``[DONE]`` is sent again only while nothing has
been said: before its first chunk with content (StepFun's opening chunk is empty) a cut is like a
failed connection (retried, as StepFun's own client recovers), after it the error carries what
arrived and nothing is sent twice. Restarts spend the call's retries and deadline; a stream cut
after every choice has finished is whole."""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
from typing import Any

import pytest

import stepfun_core as core
from tests.reliability.raw_server import END, RawServer, Send, chunk, head
from tests.reliability.raw_server import whole as whole_reply

FAST = core.RetryPolicy(max_retries=2, initial_delay=0.001, max_delay=0.002)
PAYLOAD = core.build_chat_request("step-3.5-flash", [{"role": "user", "content": "Owls?"}])


def event(content: str, finish: str | None = None) -> bytes:
    delta = {"index": 0, "delta": {"content": content}, "finish_reason": finish}
    return chunk(b"data: " + json.dumps({"id": "r", "choices": [delta]}).encode() + b"\n\n")


HIGH_HALF = chunk(b'data: {"id":"cut","choices":[{"index":0,"delta":{"content":"\\ud83d"}}]}\n\n')


def opening() -> bytes:
    """StepFun's first chunk: an empty delta and the usage so far (docs/wire.md#current-stream)."""
    delta = {"index": 0, "delta": {"role": "assistant", "content": ""}}
    usage = {"prompt_tokens": 5, "completion_tokens": 0, "total_tokens": 5}
    body = {"id": "cut", "model": "step-3.5-flash", "choices": [delta], "usage": usage}
    return chunk(b"data: " + json.dumps(body).encode() + b"\n\n")


def whole(send: Send) -> bool:
    send(head() + event("Hoot.", "stop") + chunk(b"data: [DONE]\n\n") + END)
    return True


def failing_first(how: str) -> Any:
    """A script whose first answer fails as ``how`` says; later answers are whole."""
    calls = []

    def script(send: Send, request: Any) -> bool:
        calls.append(request)
        if len(calls) > 1:
            return whole(send)
        if how == "cut before any chunk":
            send(head())
        elif how == "ends before any chunk":
            send(head() + chunk(b": keep-alive\n\n") + END)
            return True
        elif how == "cut after the empty opening chunk":
            send(head() + opening())
        elif how == "ends on half a character":  # held back, so nothing with content came out
            send(head() + opening() + HIGH_HALF + END)
            return True
        elif how == "cut after a chunk":
            send(head() + opening() + event("Ho"))
        return False

    return script


def read(
    server: RawServer, mode: str, payload: dict[str, Any] = PAYLOAD, **more: Any
) -> tuple[str, Exception | None]:
    options: dict[str, Any] = {"api_key": "k", "base_url": server.base_url, "retry_policy": FAST}
    options.update(more)
    texts: list[str] = []
    try:
        if mode == "sync":
            with core.StepFunClient(**options).stream(payload) as stream:
                for c in stream:
                    texts.extend(d.content for d in c.choices)
        else:

            async def run() -> None:
                client = core.AsyncStepFunClient(**options)
                async with await client.stream(payload) as stream:
                    async for c in stream:
                        texts.extend(d.content for d in c.choices)

            asyncio.run(run())
    except core.StepFunError as exc:
        return "".join(texts), exc
    return "".join(texts), None


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize(
    "how",
    [
        "cut before any chunk",
        "ends before any chunk",
        "cut after the empty opening chunk",
        "ends on half a character",
    ],
)
def test_a_stream_failing_before_its_first_chunk_is_sent_again(mode: str, how: str) -> None:
    # Every StepFun stream opens with an empty chunk: one cut after it has yielded nothing to
    # repeat, and is sent again too (it once raised, with nothing received).
    with RawServer(failing_first(how)) as server:
        text, error = read(server, mode)
    assert error is None and text == "Hoot."
    assert len(server.requests) == 2


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_stream_cut_after_a_chunk_is_an_error_with_what_arrived(mode: str) -> None:
    with RawServer(failing_first("cut after a chunk")) as server:
        text, error = read(server, mode)
    assert isinstance(error, core.StreamInterruptedError)
    assert text == "Ho" and error.partial is not None and error.partial.first.content == "Ho"
    assert len(server.requests) == 1


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("busy", [False, True], ids=["cut", "503-then-cut"])
def test_restarts_stop_at_max_retries(mode: str, busy: bool) -> None:
    # max_retries=2 is three attempts in all (docs/configuration.md): a 503 and a stream cut
    # before its first chunk each spend one (each restart once began a budget of its own).
    def script(send: Send, request: Any) -> bool:
        if busy and len(server.requests) % 2:
            send(whole_reply(503, b"{}", Retry_After_Ms="1"))
            return True
        send(head())
        return False

    with RawServer(script) as server:
        _, error = read(server, mode)
    assert isinstance(error, core.StepFunError if busy else core.StreamInterruptedError)
    assert len(server.requests) == 1 + FAST.max_retries


def timed_read(server: RawServer, mode: str, **options: Any) -> tuple[float, Exception | None]:
    started = time.monotonic()
    _, error = read(server, mode, **options)
    return time.monotonic() - started, error


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_restarts_stay_within_the_total_timeout(mode: str) -> None:
    # Each answer's headers come 0.3 s late, then the stream is cut before any chunk: restarts
    # are sent again only within the call's one total_timeout (each once had its own).
    def late_then_cut(send: Send, request: Any) -> bool:
        time.sleep(0.3)
        send(head())
        return False

    many = core.RetryPolicy(max_retries=5, initial_delay=0.001, max_delay=0.002)
    with RawServer(late_then_cut) as server:
        elapsed, error = timed_read(server, mode, retry_policy=many, total_timeout=0.5)
    assert isinstance(error, (core.StreamInterruptedError, core.TotalTimeoutError))
    assert elapsed < 0.9
    assert len(server.requests) <= 2


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_total_timeout_ends_at_the_stream_headers(mode: str) -> None:
    # total_timeout bounds a stream until its headers (docs/configuration.md): a reasoning model
    # pausing longer than what is left of it mid-stream is still read to its end.
    def pausing(send: Send, request: Any) -> bool:
        send(head() + event("Ho"))
        time.sleep(1.5)
        send(event("ot.", "stop") + chunk(b"data: [DONE]\n\n") + END)
        return True

    # Seconds, not tenths: a pause of the test process (a full collection) must not decide it.
    with RawServer(pausing) as server:
        text, error = read(server, mode, total_timeout=1.0)
    assert error is None and text == "Hoot."


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("how", ["cut", "silent", "keep-alives"])
def test_a_stream_lost_after_its_finish_reason_keeps_its_answer(mode: str, how: str) -> None:
    # The finish reason came, then the connection broke (or went silent past the read timeout,
    # or sent only keep-alives past the idle timeout) before [DONE]: the answer is whole, and a
    # whole answer is never an error.
    def finished_then_lost(send: Send, request: Any) -> bool:
        send(head() + event("Hoot.", "stop"))
        if how == "silent":
            time.sleep(1.5)
        for _ in range(15 if how == "keep-alives" else 0):
            time.sleep(0.1)
            send(chunk(b": keep-alive\n\n"))
        return False

    with RawServer(finished_then_lost) as server:
        text, error = read(server, mode, timeout=1.0, stream_idle_timeout=1.0)
    assert error is None and text == "Hoot."
    assert len(server.requests) == 1


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_stream_cut_before_its_other_choices_is_not_whole(mode: str) -> None:
    # n=2: choice 0 finished, then the connection broke before choice 1 said anything. Only
    # every choice asked for makes the answer whole; this one once ended without an error.
    def one_of_two(send: Send, request: Any) -> bool:
        send(head() + event("Answer one.", "stop"))
        return False

    two = {**PAYLOAD, "n": 2}
    with RawServer(one_of_two) as server:
        text, error = read(server, mode, payload=two)
    assert isinstance(error, core.StreamInterruptedError) and text == "Answer one."
    assert error.partial is not None and [c.content for c in error.partial.choices] == [text]


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("how", ["ends before any chunk", "cut after the empty opening chunk"])
def test_a_stream_sent_again_fills_the_accumulator_held_from_the_start(mode: str, how: str) -> None:
    # ... and holds only what the answer sent again said (not the cut opening chunk's id).
    with RawServer(failing_first(how)) as server:
        options: dict[str, Any] = {"api_key": "k", "base_url": server.base_url}
        options["retry_policy"] = FAST
        if mode == "sync":
            with core.StepFunClient(**options).stream(PAYLOAD) as stream:
                held = stream.accumulator
                list(stream)
        else:

            async def run() -> core.StreamAccumulator:
                stream = await core.AsyncStepFunClient(**options).stream(PAYLOAD)
                async with stream:
                    accumulator = stream.accumulator
                    _ = [c async for c in stream]
                return accumulator

            held = asyncio.run(run())
    assert len(server.requests) == 2
    assert held.result().first.content == "Hoot." and held.result().id == "r"


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("when", ["waiting for the first chunk", "in the restart's backoff"])
def test_a_stream_closed_before_its_first_chunk_is_never_sent_again(mode: str, when: str) -> None:
    # close() from another thread or task ("stop generating"): the broken read once looked like
    # a cut before the first chunk, and the whole answer came from a second, billed request.
    def slow_or_cut(send: Send, request: Any) -> bool:
        send(head())
        if when == "waiting for the first chunk":
            time.sleep(1.0)
            return whole(send)
        return False  # cut: sent again after the backoff, unless closed meanwhile

    slow = core.RetryPolicy(max_retries=2, initial_delay=1.2, max_delay=1.2)
    options: dict[str, Any] = {"api_key": "k", "retry_policy": slow}
    got: list[core.Chunk] = []
    with RawServer(slow_or_cut) as server:
        options["base_url"] = server.base_url
        if mode == "sync":
            stream = core.StepFunClient(**options).stream(PAYLOAD)
            outcome: list[BaseException] = []

            def consume() -> None:
                try:
                    got.extend(stream)
                except core.StepFunError as exc:
                    outcome.append(exc)

            reader = threading.Thread(target=consume)
            reader.start()
            time.sleep(0.3)
            stream.close()
            reader.join(5)
            [error] = outcome
        else:

            async def run() -> BaseException | None:
                stream = await core.AsyncStepFunClient(**options).stream(PAYLOAD)

                async def consume() -> None:
                    async for chunk in stream:
                        got.append(chunk)

                reader = asyncio.create_task(consume())
                await asyncio.sleep(0.3)
                await stream.close()
                return (await asyncio.gather(reader, return_exceptions=True))[0]

            error = asyncio.run(run())
        time.sleep(1.2)  # a restart would have been sent by now
    assert isinstance(error, core.StreamInterruptedError) and got == []
    assert len(server.requests) == 1


def test_a_reader_in_another_thread_sees_restarts_without_error() -> None:
    # A UI thread polling stream.completion() while the stream is sent again (here 150 times,
    # twenty choices each): clearing the accumulator once raised KeyError in the reader.
    sys.setswitchinterval(1e-6)  # switch threads as often as possible (restored below)
    many = core.RetryPolicy(max_retries=150, initial_delay=0.0, max_delay=0.0)
    choices = [{"index": i, "delta": {"content": ""}} for i in range(20)]
    empty = chunk(b"data: " + json.dumps({"id": "c", "choices": choices}).encode() + b"\n\n")

    def cut_then_whole(send: Send, request: Any) -> bool:
        if len(server.requests) > 150:
            return whole(send)
        send(head() + empty)
        return False

    errors: list[BaseException] = []
    stop = threading.Event()
    try:
        with RawServer(cut_then_whole) as server:
            options = {"api_key": "k", "base_url": server.base_url, "retry_policy": many}
            stream = core.StepFunClient(**options).stream(PAYLOAD)

            def poll() -> None:
                while not stop.is_set():
                    try:
                        stream.completion()
                    except Exception as exc:  # any error at all is the failure
                        errors.append(exc)

            reader = threading.Thread(target=poll)
            reader.start()
            text = "".join(d.content for c in stream for d in c.choices)
            stop.set()
            reader.join()
    finally:
        sys.setswitchinterval(0.005)
    assert text == "Hoot." and len(server.requests) == 151
    assert errors == []
