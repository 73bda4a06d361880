"""UTF-16 surrogate halves: joined when a stream cuts a character in two, refused when sent.

The API escapes characters outside the BMP as two ``\\uXXXX`` halves; a stream may put the
halves in two chunks. ``json.loads`` then gives each chunk a lone surrogate, which UTF-8 cannot
encode. What comes out (the accumulator, LangChain's summed chunks, LlamaIndex's text) must be
the real character.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

import httpx
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from llama_index.core.base.llms.types import ChatMessage

import stepfun_core
from langchain_stepfun import ChatStepFun
from llama_index_stepfun import StepFun
from stepfun_core import (
    AsyncStepFunClient,
    InvalidParameterError,
    StepFunClient,
    StreamAccumulator,
    parse_chunk,
)
from stepfun_core.stream import StreamState
from tests.property.strategies import pieces_of

EMOJI = "\U0001f600"
HALVES = ["\ud83d", "\ude00"]


def event(delta: dict[str, Any], finish: str | None = None) -> bytes:
    choice: dict[str, Any] = {"index": 0, "delta": delta}
    if finish:
        choice["finish_reason"] = finish
    # json.dumps escapes each half as "\udXXX", as the API does.
    return f"data: {json.dumps({'id': 'chatcmpl-1', 'choices': [choice]})}\n\n".encode()


def text_stream(field: str, pieces: list[str]) -> bytes:
    body = b"".join(event({field: piece}) for piece in pieces)
    return body + event({}, "stop") + b"data: [DONE]\n\n"


SPLIT_EMOJI = text_stream("content", ["Hi ", *HALVES, "!"])


def utf16_pieces(text: str, cuts: list[int]) -> list[str]:
    """The text cut at UTF-16 code-unit positions (so between the halves of a character)."""
    units = text.encode("utf-16-le", "surrogatepass")
    bounds = sorted({0, len(units) // 2, *(min(c, len(units) // 2) for c in cuts)})
    return [
        units[2 * a : 2 * b].decode("utf-16-le", "surrogatepass")
        for a, b in itertools.pairwise(bounds)
    ]


def feed_all(pieces: list[bytes]) -> tuple[list[Any], StreamState]:
    state = StreamState()
    chunks = []
    for piece in pieces:
        chunks.extend(state.feed(piece))
    state.finish()
    return chunks, state


# --- the core ------------------------------------------------------------------------------------
def test_split_emoji_through_the_stream_state() -> None:
    for cut in range(len(SPLIT_EMOJI) + 1):
        chunks, state = feed_all([SPLIT_EMOJI[:cut], SPLIT_EMOJI[cut:]])
        content = state.accumulator.result().first.content
        assert content == f"Hi {EMOJI}!", cut
        assert content.encode("utf-8")
        streamed = "".join(c.choices[0].content for c in chunks if c.choices)
        assert streamed == f"Hi {EMOJI}!", cut
        for chunk in chunks:
            for choice in chunk.choices:
                choice.content.encode("utf-8")  # no chunk hands out half a character


def test_split_emoji_through_the_accumulator() -> None:
    accumulator = StreamAccumulator()
    for half in HALVES:
        accumulator.add(parse_chunk(json.loads(event({"content": half})[len(b"data: ") :])))
    content = accumulator.result().first.content
    assert content == EMOJI
    assert content.encode("utf-8") == EMOJI.encode("utf-8")


# Real text (a lone half is not a character: UTF-8 cannot hold one), astral characters favoured.
ASTRAL_TEXT = st.text(
    st.one_of(
        st.characters(min_codepoint=0x1F300, max_codepoint=0x1FAFF), st.characters(codec="utf-8")
    ),
    max_size=12,
)


@given(
    ASTRAL_TEXT,
    st.lists(st.integers(0, 30), max_size=12),
    st.sampled_from(["content", "reasoning_content", "arguments", "transcript"]),
    st.data(),
)
@example(EMOJI, [1], "content", None)
@example(EMOJI, [1], "arguments", None)
@example(EMOJI, [1], "transcript", None)
def test_any_text_cut_anywhere_comes_out_whole(
    text: str, cuts: list[int], field: str, data: st.DataObject | None
) -> None:
    pieces = utf16_pieces(text, cuts)
    if field == "arguments":
        deltas = [
            {
                "tool_calls": [
                    {"index": 0, "id": "call_1", "function": {"name": "f", "arguments": p}}
                ]
            }
            for p in pieces
        ]
        body = b"".join(event(d) for d in deltas) + event({}, "tool_calls") + b"data: [DONE]\n\n"
    elif field == "transcript":  # an audio model's spoken answer (delta.audio pieces)
        audio = b"".join(event({"audio": {"id": "audio_1", "transcript": p}}) for p in pieces)
        body = audio + event({}, "stop") + b"data: [DONE]\n\n"
    else:
        body = text_stream(field, pieces)
    split = data.draw(pieces_of(body)) if data is not None else [body]
    chunks, state = feed_all(split)
    choice = state.accumulator.result().first
    got = {
        "content": choice.content,
        "reasoning_content": choice.reasoning,
        "arguments": choice.tool_calls[0].arguments if choice.tool_calls else "",
        "transcript": (choice.audio or {}).get("transcript", ""),
    }[field]
    assert got == text
    for chunk in chunks:
        for delta in chunk.choices:
            str((delta.audio or {}).get("transcript", "")).encode("utf-8")
            delta.content.encode("utf-8")
            delta.reasoning.encode("utf-8")
            for call in delta.tool_calls:
                (call.arguments or "").encode("utf-8")


def _handler(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, content=SPLIT_EMOJI, headers={"content-type": "text/event-stream"})


def test_split_emoji_through_the_clients() -> None:
    http = httpx.Client(transport=httpx.MockTransport(_handler))
    client = StepFunClient(api_key="k", base_url="http://test/v1", http_client=http)
    with client.stream(_payload()) as stream:
        streamed = "".join(c.choices[0].content for c in stream if c.choices)
    assert streamed == f"Hi {EMOJI}!"
    assert stream.completion().first.content == f"Hi {EMOJI}!"

    async def run() -> tuple[str, str]:
        ahttp = httpx.AsyncClient(transport=httpx.MockTransport(_handler))
        aclient = AsyncStepFunClient(api_key="k", base_url="http://test/v1", http_client=ahttp)
        astream = await aclient.stream(_payload())
        async with astream:
            text = "".join([c.choices[0].content async for c in astream if c.choices])
        return text, astream.completion().first.content

    assert asyncio.run(run()) == (f"Hi {EMOJI}!", f"Hi {EMOJI}!")


# --- the adapters --------------------------------------------------------------------------------
def test_split_emoji_through_langchain() -> None:
    model = ChatStepFun(
        api_key="k",
        base_url="http://test/v1",
        max_retries=0,
        http_client=httpx.Client(transport=httpx.MockTransport(_handler)),
    )
    summed: Any = None
    for piece in model.stream("hi"):
        assert isinstance(piece.content, str)
        piece.content.encode("utf-8")
        summed = piece if summed is None else summed + piece
    assert summed.content == f"Hi {EMOJI}!"
    assert summed.content.encode("utf-8")


def test_split_emoji_through_llama_index() -> None:
    llm = StepFun(
        api_key="k",
        api_base="http://test/v1",
        max_retries=0,
        http_client=httpx.Client(transport=httpx.MockTransport(_handler)),
    )
    responses = list(llm.stream_chat([ChatMessage(role="user", content="hi")]))
    deltas = "".join(r.delta or "" for r in responses)
    assert deltas == f"Hi {EMOJI}!"
    text = responses[-1].message.content
    assert text == f"Hi {EMOJI}!"
    assert text.encode("utf-8")


# --- sending -------------------------------------------------------------------------------------
def _payload() -> dict[str, Any]:
    return stepfun_core.build_chat_request("step-3.5-flash", [{"role": "user", "content": "hi"}])


def _send(messages: list[dict[str, Any]], sent: list[httpx.Request] | None = None) -> None:
    """Build and send through a client; the body is checked where it is encoded (once).

    Deliberate: ``build_chat_request`` checks parameters; JSON validity (lone surrogates
    included) is checked by the client as it serializes the body, before anything is sent.
    """
    sent = [] if sent is None else sent
    transport = httpx.MockTransport(lambda request: sent.append(request) or httpx.Response(500))
    client = stepfun_core.StepFunClient(
        api_key="k", max_retries=0, http_client=httpx.Client(transport=transport)
    )
    client.create(stepfun_core.build_chat_request("step-3.5-flash", messages))


@pytest.mark.parametrize("half", ["\ud83d", "\ude00", "\udfff", "\ud800"])
def test_lone_surrogate_is_refused_before_sending(half: str) -> None:
    sent: list[httpx.Request] = []
    with pytest.raises(InvalidParameterError, match=r"messages\[0\]"):
        _send([{"role": "user", "content": f"a{half}b"}], sent)
    assert sent == []


ROLES = st.sampled_from(["system", "user", "assistant"])
CLEAN = st.text(max_size=8)


@given(
    st.lists(st.tuples(ROLES, CLEAN), min_size=1, max_size=5),
    st.data(),
    st.integers(0xD800, 0xDFFF).map(chr),
    st.booleans(),
)
def test_a_lone_surrogate_anywhere_names_its_message(
    messages: list[tuple[str, str]], data: st.DataObject, half: str, as_part: bool
) -> None:
    wire: list[dict[str, Any]] = [{"role": role, "content": text} for role, text in messages]
    target = data.draw(st.integers(0, len(wire) - 1))
    text = wire[target]["content"]
    at = data.draw(st.integers(0, len(text)))
    poisoned = text[:at] + half + text[at:]
    if as_part and wire[target]["role"] == "user":
        wire[target]["content"] = [{"type": "text", "text": poisoned}]
    else:
        wire[target]["content"] = poisoned
    with pytest.raises(InvalidParameterError, match=rf"messages\[{target}\]"):
        _send(wire)
