"""StepFun-shaped response fixtures, generated once and served byte for byte to every contestant.

Current stream shape (docs/wire.md#current-stream): ``role:"assistant"`` on every delta, no
``finish_reason`` key until the last chunk (which also carries the last token), ``content:""``
beside every reasoning token, cumulative ``usage`` on every chunk, a top-level ``"agent":""``,
``<32hex>.<32hex>`` ids, and ``data: [DONE]`` at the end. Tool-call deltas carry an ``index``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

MODEL = "step-3.7-flash"
CREATED = 1772615012
PROMPT_TOKENS = 85
CACHED_TOKENS = 64
DONE = b"data: [DONE]\n\n"

# A short deterministic vocabulary: English words with their trailing space and CJK characters,
# so the JSON carries both ASCII and (unescaped) UTF-8, as StepFun's does.
_WORDS = (
    "The ",
    "model ",
    "streams ",
    "tokens ",
    "one ",
    "by ",
    "one, ",
    "and ",
    "each ",
    "event ",
    "carries ",
    "usage. ",
    "阶",
    "跃",
    "星",
    "辰",
    "是",
    "一",
    "家",
    "公",
    "司",
    "。",
)

MESSAGES = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "Tell me about StepFun in a few sentences."},
]
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": name,
            "description": f"Look up the {name.split('_')[1]} of a city.",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
                "required": ["city"],
            },
        },
    }
    for name in ("get_weather", "get_time")
]


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _event(obj: Any) -> bytes:
    return b"data: " + _dumps(obj) + b"\n\n"


def response_id(seed: str) -> str:
    a = hashlib.sha256(seed.encode()).hexdigest()
    return f"{a[:32]}.{a[32:64]}"


def tokens(n: int, offset: int = 0) -> list[str]:
    return [_WORDS[(i * 7 + offset) % len(_WORDS)] for i in range(n)]


@dataclass
class Expected:
    """What a correct client reads from a fixture (used to check every contestant once)."""

    content: str = ""
    reasoning: str = ""
    tool_calls: list[tuple[str, str, str]] = field(default_factory=list)  # id, name, arguments
    finish_reason: str = "stop"
    content_tokens: list[str] = field(default_factory=list)
    reasoning_tokens: list[str] = field(default_factory=list)
    chunks: int = 0


@dataclass
class Fixture:
    """One canned answer: a JSON body, or the list of SSE events (one per transport chunk)."""

    name: str
    stream: bool
    body: bytes = b""
    events: tuple[bytes, ...] = ()
    expected: Expected = field(default_factory=Expected)

    @property
    def size(self) -> int:
        return len(self.body) + sum(len(e) for e in self.events)

    def digest(self) -> str:
        h = hashlib.sha256(self.body)
        for event in self.events:
            h.update(event)
        return h.hexdigest()[:16]


class _ChunkMaker:
    def __init__(self, seed: str) -> None:
        self.id = response_id(seed)
        self.completion_tokens = 0

    def __call__(self, delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice: dict[str, Any] = {"index": 0, "delta": {"role": "assistant", **delta}}
        if finish is not None:
            choice["finish_reason"] = finish
        usage = {
            "prompt_tokens": PROMPT_TOKENS,
            "completion_tokens": self.completion_tokens,
            "total_tokens": PROMPT_TOKENS + self.completion_tokens,
            "cached_tokens": CACHED_TOKENS,
        }
        self.completion_tokens += 1
        return _event(
            {
                "id": self.id,
                "object": "chat.completion.chunk",
                "created": CREATED,
                "model": MODEL,
                "choices": [choice],
                "usage": usage,
                "agent": "",
            }
        )


def text_stream(name: str, chunks: int) -> Fixture:
    """``chunks`` data events: an opening role chunk, tokens, the last token with ``stop``."""
    make = _ChunkMaker(name)
    toks = tokens(chunks - 1)
    events = [make({"content": ""})]
    events += [make({"content": t}) for t in toks[:-1]]
    events.append(make({"content": toks[-1]}, "stop"))
    events.append(DONE)
    expected = Expected(content="".join(toks), content_tokens=toks, chunks=chunks)
    return Fixture(name, True, events=tuple(events), expected=expected)


def reasoning_stream(name: str, chunks: int) -> Fixture:
    """Half reasoning deltas (with ``content:""``), then half text, the last with ``stop``."""
    make = _ChunkMaker(name)
    n_reason = chunks // 2
    reason = tokens(n_reason, offset=3)
    text = tokens(chunks - n_reason)
    events = [make({"content": "", "reasoning": t}) for t in reason]
    events += [make({"content": t}) for t in text[:-1]]
    events.append(make({"content": text[-1]}, "stop"))
    events.append(DONE)
    expected = Expected(
        content="".join(text),
        reasoning="".join(reason),
        content_tokens=text,
        reasoning_tokens=reason,
        chunks=chunks,
    )
    return Fixture(name, True, events=tuple(events), expected=expected)


def _argument_pieces(city: str, days: int, pieces: int) -> list[str]:
    whole = json.dumps({"city": city, "days": days, "notes": "x" * (pieces * 3)})
    step = max(1, -(-len(whole) // pieces))
    return [whole[i : i + step] for i in range(0, len(whole), step)]


def tool_stream(name: str, pieces_per_call: int = 100) -> Fixture:
    """Two parallel tool calls: a head delta (index, id, type, name) then argument fragments."""
    make = _ChunkMaker(name)
    calls = [
        (
            "call_brg23SRcTgmpm_V0jfP-iA",
            "get_weather",
            _argument_pieces("上海", 3, pieces_per_call),
        ),
        (
            "call_ybVBO_JASgipgJH8xWbhKg",
            "get_time",
            _argument_pieces("Beijing", 1, pieces_per_call),
        ),
    ]
    events = [make({"content": ""})]
    for index, (call_id, fn, pieces) in enumerate(calls):
        head = {"index": index, "id": call_id, "type": "function"}
        head["function"] = {"name": fn, "arguments": ""}
        events.append(make({"content": "", "tool_calls": [head]}))
        for piece in pieces:
            frag = {"index": index, "function": {"arguments": piece}}
            events.append(make({"content": "", "tool_calls": [frag]}))
    events.append(make({"content": ""}, "tool_calls"))
    events.append(DONE)
    expected = Expected(
        tool_calls=[(cid, fn, "".join(p)) for cid, fn, p in calls],
        finish_reason="tool_calls",
        chunks=len(events) - 1,
    )
    return Fixture(name, True, events=tuple(events), expected=expected)


def completion(name: str, answer_tokens: int = 120, reasoning_tokens: int = 60) -> Fixture:
    """A non-streaming reply: content, reasoning and top-level cached tokens.

    (docs/wire.md#reply-text)
    """
    text = "".join(tokens(answer_tokens))
    reasoning = "".join(tokens(reasoning_tokens, offset=3))
    body = {
        "id": response_id(name),
        "object": "chat.completion",
        "created": CREATED,
        "model": MODEL,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text, "reasoning": reasoning},
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "cached_tokens": CACHED_TOKENS,
            "prompt_tokens": PROMPT_TOKENS,
            "completion_tokens": answer_tokens + reasoning_tokens,
            "total_tokens": PROMPT_TOKENS + answer_tokens + reasoning_tokens,
        },
    }
    expected = Expected(content=text, reasoning=reasoning)
    return Fixture(name, False, body=_dumps(body), expected=expected)


def build_fixtures(
    stream_chunks: int = 2000, memory_chunks: int = 20000, tool_pieces: int = 100
) -> dict[str, Fixture]:
    """Every fixture by name (the name is also the first segment of the URL path)."""
    fixtures = [
        completion("call"),
        text_stream("stream_text", stream_chunks),
        reasoning_stream("stream_reasoning", stream_chunks),
        tool_stream("stream_tools", tool_pieces),
        text_stream("stream_memory", memory_chunks),
    ]
    return {f.name: f for f in fixtures}


def digest_all(fixtures: dict[str, Fixture]) -> str:
    h = hashlib.sha256()
    for name in sorted(fixtures):
        h.update(name.encode() + fixtures[name].digest().encode())
    return h.hexdigest()[:16]
