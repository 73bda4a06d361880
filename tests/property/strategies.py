"""Strategies shared by the property tests: JSON values, wire-shaped objects, SSE bodies."""

from __future__ import annotations

import copy
import itertools
import json
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st

# --- text and JSON -------------------------------------------------------------------------------
# json.loads turns "\ud83d" escapes into lone surrogate code points, so received text can hold
# them: the text strategies mix some in (hypothesis' own text strategies never do).
SURROGATES = st.integers(0xD800, 0xDFFF).map(chr)


def texts(max_size: int = 12, *, surrogates: bool = True) -> st.SearchStrategy[str]:
    chars = st.one_of(st.characters(), SURROGATES) if surrogates else st.characters()
    return st.lists(chars, max_size=max_size).map("".join)


WIRE_KEYS = [
    "id",
    "object",
    "model",
    "created",
    "choices",
    "index",
    "delta",
    "message",
    "role",
    "content",
    "reasoning",
    "reasoning_content",
    "tool_calls",
    "type",
    "function",
    "name",
    "arguments",
    "results",
    "finish_reason",
    "usage",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "cached_tokens",
    "prompt_tokens_details",
    "completion_tokens_details",
    "reasoning_tokens",
    "error",
    "code",
]
KEYS = st.one_of(st.sampled_from(WIRE_KEYS), texts(6))
JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    # json.loads reads NaN and Infinity, so parsers can be handed them.
    st.floats(),
    texts(),
)
JSON_VALUES: st.SearchStrategy[Any] = st.recursive(
    JSON_SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=4)),
    max_leaves=8,
)
JSON_OBJECTS: st.SearchStrategy[dict[str, Any]] = st.dictionaries(KEYS, JSON_VALUES, max_size=5)


def dumps(value: Any) -> str:
    """JSON text as a server would send it (non-ASCII escaped, so lone surrogates survive)."""
    return json.dumps(value)


# --- nesting -------------------------------------------------------------------------------------
def nested_text(depth: int, shape: str, *, closed: bool = True) -> str:
    """JSON text nested ``depth`` levels deep, built as text (no recursion needed)."""
    if shape == "list":
        return "[" * depth + ("]" * depth if closed else "")
    if shape == "object":
        return '{"a":' * depth + ("1" + "}" * depth if closed else "")
    return '[{"a":' * depth + ("1" + "}]" * depth if closed else "")


@st.composite
def deep_texts(draw: st.DrawFn, min_depth: int = 1000, max_depth: int = 6000) -> str:
    depth = draw(st.integers(min_depth, max_depth))
    return nested_text(
        depth, draw(st.sampled_from(["list", "object", "mixed"])), closed=draw(st.booleans())
    )


def nested_value(depth: int, shape: str = "list") -> Any:
    """A Python value nested ``depth`` levels deep (what json.loads would build, if it could)."""
    value: Any = 1
    for _ in range(depth):
        value = [value] if shape == "list" else {"a": value}
    return value


# --- tool-call arguments -------------------------------------------------------------------------
ARGUMENT_SAMPLES = [
    "",
    "{}",
    '{"city": "Paris"}',
    '{"city": "Par',
    '{"a":',
    "not json",
    '"a string"',
    "[1, 2]",
    "null",
    "1" * 5000,
    "[" * 5000,
    '{"a":' * 3000,
    "[" * 5000 + "]" * 5000,
    '{"a": ' + "[" * 5000 + "]" * 5000 + "}",
]


@st.composite
def truncated_json(draw: st.DrawFn) -> str:
    text = dumps(draw(JSON_VALUES))
    return text[: draw(st.integers(0, len(text)))]


ARGUMENTS = st.one_of(
    st.sampled_from(ARGUMENT_SAMPLES),
    texts(),
    JSON_VALUES.map(dumps),
    truncated_json(),
    deep_texts(),
)


# --- wire-shaped objects (type-correct fields, arbitrary values) ---------------------------------
def counts() -> st.SearchStrategy[int]:
    return st.integers(0, 10**7)


USAGE = st.fixed_dictionaries(
    {},
    optional={
        "prompt_tokens": counts(),
        "completion_tokens": counts(),
        "total_tokens": counts(),
        "cached_tokens": counts(),
        "prompt_tokens_details": st.fixed_dictionaries({}, optional={"cached_tokens": counts()}),
        "completion_tokens_details": st.fixed_dictionaries(
            {}, optional={"reasoning_tokens": counts()}
        ),
    },
)
CALL_IDS = st.one_of(st.sampled_from(["", "call_a", "call_b", "call_c"]), texts(8))
TOOL_NAMES = st.one_of(st.sampled_from(["", "get_weather", "search", "get_time"]), texts(8))
FINISH = st.sampled_from([None, "", "stop", "length", "tool_calls", "content_filter"])


def tool_call_deltas(*, client_only: bool = False, positional: bool | None = None) -> Any:
    """A tool-call delta; ``positional`` True drops the index, False forces one, None mixes."""
    function: dict[str, Any] = {"name": TOOL_NAMES, "arguments": ARGUMENTS}
    if not client_only:
        function["results"] = st.lists(JSON_VALUES, max_size=2)
    optional: dict[str, Any] = {
        "id": CALL_IDS,
        "type": st.just("function")
        if client_only
        else st.sampled_from(["function", "web_search", ""]),
        "function": st.fixed_dictionaries({}, optional=function),
    }
    required: dict[str, Any] = {}
    if positional is None:
        optional["index"] = st.integers(0, 3)
    elif not positional:
        required["index"] = st.integers(0, 3)
    return st.fixed_dictionaries(required, optional=optional)


def chunk_objects(
    *, client_only: bool = False, positional: bool | None = None, surrogates: bool = True
) -> st.SearchStrategy[dict[str, Any]]:
    """A stream chunk of either wire shape, every field of the right type."""
    delta = st.fixed_dictionaries(
        {},
        optional={
            "role": st.sampled_from(["assistant", ""]),
            "content": texts(surrogates=surrogates),
            "reasoning_content": texts(surrogates=surrogates),
            "reasoning": texts(surrogates=surrogates),
            "refusal": st.one_of(st.none(), texts(surrogates=surrogates)),
            "tool_calls": st.lists(
                tool_call_deltas(client_only=client_only, positional=positional), max_size=2
            ),
        },
    )
    choice = st.fixed_dictionaries(
        {"delta": delta}, optional={"index": st.integers(0, 2), "finish_reason": FINISH}
    )
    return st.fixed_dictionaries(
        {"choices": st.lists(choice, max_size=2)},
        optional={
            "id": st.sampled_from(["", "chatcmpl-1", "e43fc072.25f5"]),
            "object": st.just("chat.completion.chunk"),
            "model": st.sampled_from(["", "step-3.5-flash"]),
            "created": st.integers(0, 2**31),
            "usage": st.one_of(st.none(), USAGE),
        },
    )


def completion_objects() -> st.SearchStrategy[dict[str, Any]]:
    """A non-streaming completion, every field of the right type."""
    call = st.fixed_dictionaries(
        {},
        optional={
            "index": st.integers(0, 3),
            "id": CALL_IDS,
            "type": st.sampled_from(["function", "web_search", ""]),
            "function": st.fixed_dictionaries(
                {},
                optional={
                    "name": TOOL_NAMES,
                    "arguments": st.one_of(ARGUMENTS, JSON_VALUES),
                    "results": st.lists(JSON_VALUES, max_size=2),
                },
            ),
        },
    )
    message = st.fixed_dictionaries(
        {},
        optional={
            "role": st.just("assistant"),
            "content": st.one_of(st.none(), texts()),
            "reasoning": texts(),
            "reasoning_content": texts(),
            "refusal": st.one_of(st.none(), texts()),
            "tool_calls": st.lists(call, max_size=3),
        },
    )
    choice = st.fixed_dictionaries(
        {"message": message}, optional={"index": st.integers(0, 2), "finish_reason": FINISH}
    )
    return st.fixed_dictionaries(
        {"choices": st.lists(choice, max_size=2)},
        optional={
            "id": st.sampled_from(["", "chatcmpl-1"]),
            "object": st.just("chat.completion"),
            "model": st.sampled_from(["", "step-3.5-flash"]),
            "created": st.integers(0, 2**31),
            "usage": st.one_of(st.none(), USAGE),
        },
    )


def _slots(value: Any) -> list[tuple[Any, Any]]:
    """Every (container, key) of a nested value, outermost first."""
    found: list[tuple[Any, Any]] = []
    stack = [value]
    while stack:
        current = stack.pop()
        keys = list(current) if isinstance(current, dict) else range(len(current))
        for key in keys:
            found.append((current, key))
            if isinstance(current[key], (dict, list)):
                stack.append(current[key])
    return found


@st.composite
def mutated(draw: st.DrawFn, base: st.SearchStrategy[dict[str, Any]]) -> dict[str, Any]:
    """A wire-shaped object with some fields replaced by arbitrary JSON (``"choices": 5``)."""
    obj = copy.deepcopy(draw(base))
    slots = _slots(obj)
    if not slots:
        return obj
    # Replace a few fields by any JSON value...
    for pick in draw(st.lists(st.integers(0, len(slots) - 1), max_size=3, unique=True)):
        container, key = slots[pick]
        container[key] = draw(JSON_VALUES)
    # ...and add a known field, holding any JSON value, to an object or two.
    for pick in draw(st.lists(st.integers(0, len(slots) - 1), max_size=2)):
        container = slots[pick][0]
        if isinstance(container, dict):
            container[draw(st.sampled_from(WIRE_KEYS))] = draw(JSON_VALUES)
    return obj


# --- SSE bodies ----------------------------------------------------------------------------------
ENDINGS = st.sampled_from([b"\n", b"\r", b"\r\n"])


@st.composite
def render_lines(draw: st.DrawFn, lines: list[bytes]) -> bytes:
    """Join lines with a random CR, LF or CRLF after each.

    A CR followed by an empty line ended by LF would read as one CRLF: that empty line then
    gets CRLF, so the bytes mean exactly the lines given.
    """
    out: list[bytes] = []
    previous = b""
    for line in lines:
        ending = draw(ENDINGS)
        if previous == b"\r" and not line and ending == b"\n":
            ending = b"\r\n"
        out += [line, ending]
        previous = ending
    return b"".join(out)


@st.composite
def sse_bodies(draw: st.DrawFn, datas: list[str], *, done: bool) -> bytes:
    """Events with the given data, in random SSE dress: endings, comments, BOM, field forms."""
    lines: list[bytes] = []
    for data in datas:
        if draw(st.booleans()):
            lines.append(b": keep-alive")
        if draw(st.booleans()):
            lines.append(b"event: " + draw(st.sampled_from([b"message", b"chunk", b""])))
        for part in data.split("\n"):
            prefix = draw(st.sampled_from([b"data: ", b"data:"]))
            if prefix == b"data:" and part.startswith(" "):
                prefix = b"data: "  # "data: " + " x" keeps the space; "data:" + " x" would not
            lines.append(prefix + part.encode())
        if draw(st.booleans()):
            lines.append(b"id: " + str(draw(st.integers(0, 99))).encode())
        lines.append(b"")
    if done:
        lines += [b"data: [DONE]", b""]
    bom = b"\xef\xbb\xbf" if draw(st.booleans()) else b""
    return bom + draw(render_lines(lines))


@st.composite
def pieces_of(draw: st.DrawFn, body: bytes) -> list[bytes]:
    """The body cut at random points (empty pieces included)."""
    cuts = sorted(draw(st.lists(st.integers(0, len(body)), max_size=8)))
    bounds = [0, *cuts, len(body)]
    return [body[a:b] for a, b in itertools.pairwise(bounds)]


def bytewise(body: bytes) -> list[bytes]:
    return [body[i : i + 1] for i in range(len(body))]


# Bytes biased towards SSE: field names, line ends, BOM pieces, invalid UTF-8, JSON fragments.
SSE_TOKENS = st.one_of(
    st.sampled_from(
        [
            b"data:",
            b"data: ",
            b"event:",
            b"id:",
            b"id: \x00",
            b"retry:",
            b":",
            b"\n",
            b"\r",
            b"\r\n",
            b"\n\n",
            b"\xef\xbb\xbf",
            b"\xef",
            b"\xbb",
            b"\xff",
            b"\xc3",
            b"\xa9",
            b" ",
            b"x",
            b"[DONE]",
            b"{",
            b"}",
            b'{"choices":[{"delta":{"content":"a"}}]}',
            b'{"error":{"message":"e"}}',
            b'"\\ud83d"',
        ]
    ),
    st.binary(max_size=6),
)
SSE_BYTES = st.lists(SSE_TOKENS, max_size=40).map(b"".join)


def heavy() -> settings:
    """Settings for a test whose examples are costly to generate: a third of the profile's count
    (the profile is loaded by conftest.py before any test module is imported)."""
    return settings(max_examples=max(10, settings().max_examples // 3))
