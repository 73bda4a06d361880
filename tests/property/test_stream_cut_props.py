"""A stream cut at any byte: whole once every choice asked for has finished, else an error.

The body of an answer (one or two choices, ``n``) is cut at an arbitrary byte by a transport
error. If every choice's finish reason had fully arrived, the answer is whole: no error, and
the completion is the full answer (only ``[DONE]`` was lost). Otherwise the stream raises a
``StreamInterruptedError`` whose ``partial`` holds a prefix of each choice's text. Either way,
the text yielded adds up to what the completion or the partial holds.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

import stepfun_core as core
from tests.hostile import Body
from tests.property.strategies import heavy

PIECES = st.lists(st.text(min_size=1, max_size=6), min_size=1, max_size=4)


@st.composite
def cut_answers(draw: st.DrawFn) -> tuple[int, list[list[str]], bytes, list[int], int]:
    """(n, each choice's pieces, the body, where each finish event ends, the cut)."""
    n = draw(st.sampled_from([1, 2]))
    texts = [draw(PIECES) for _ in range(n)]
    events: list[tuple[int, dict[str, Any]]] = []
    for step in range(max(len(t) for t in texts) + 1):  # the choices' events interleaved
        for index, pieces in enumerate(texts):
            if step < len(pieces):
                delta: dict[str, Any] = {"index": index, "delta": {"content": pieces[step]}}
                events.append((index, {"id": "r", "model": "m", "choices": [delta]}))
            elif step == len(pieces):
                finish = {"index": index, "delta": {}, "finish_reason": "stop"}
                events.append((-1, {"id": "r", "choices": [finish]}))
    body, finish_ends = b"", []
    for kind, event in events:
        body += b"data: " + json.dumps(event).encode() + b"\n\n"
        if kind == -1:
            finish_ends.append(len(body))
    body += b"data: [DONE]\n\n"
    return n, texts, body, finish_ends, draw(st.integers(0, len(body)))


def read(mode: str, n: int, body: bytes) -> tuple[list[core.Chunk], Any]:
    """The chunks yielded, and the completion (or the error raised)."""
    cut = body if body.endswith(b"[DONE]\n\n") else None

    def answer(request: httpx.Request) -> httpx.Response:
        error = None if cut is not None else (lambda: httpx.ReadError("cut"))
        headers = {"content-type": "text/event-stream"}
        return httpx.Response(200, stream=Body([body], error=error), headers=headers)

    transport = httpx.MockTransport(answer)
    payload = core.build_chat_request("step-3.5-flash", [{"role": "user", "content": "hi"}], n=n)
    options: dict[str, Any] = {"api_key": "k", "max_retries": 0}
    chunks: list[core.Chunk] = []
    if mode == "sync":
        client = core.StepFunClient(http_client=httpx.Client(transport=transport), **options)
        try:
            with client.stream(payload) as stream:
                chunks.extend(stream)
        except core.StreamInterruptedError as exc:
            return chunks, exc
        return chunks, stream.completion()

    async def run() -> Any:
        http = httpx.AsyncClient(transport=transport)
        stream = await core.AsyncStepFunClient(http_client=http, **options).stream(payload)
        try:
            async with stream:
                async for chunk in stream:
                    chunks.append(chunk)
        except core.StreamInterruptedError as exc:
            return exc
        return stream.completion()

    return chunks, asyncio.run(run())


@pytest.mark.parametrize("mode", ["sync", "async"])
@heavy()
@given(cut_answers())
def test_a_cut_stream_is_whole_only_once_every_choice_has_finished(
    mode: str, answer: tuple[int, list[list[str]], bytes, list[int], int]
) -> None:
    n, texts, body, finish_ends, cut = answer
    chunks, outcome = read(mode, n, body[:cut] if cut < len(body) else body)
    whole = cut >= max(finish_ends)
    if whole:
        assert isinstance(outcome, core.Completion)
        assert [c.content for c in outcome.choices] == ["".join(t) for t in texts]
        received = outcome
    else:
        assert isinstance(outcome, core.StreamInterruptedError)
        received = outcome.partial
        assert received is not None
        for choice in received.choices:
            assert "".join(texts[choice.index]).startswith(choice.content)
    for choice in received.choices:  # what was yielded adds up to what was received
        yielded = "".join(d.content for c in chunks for d in c.choices if d.index == choice.index)
        assert yielded == choice.content
