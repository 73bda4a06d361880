"""JSON both ways: lenient reading of what the server sends, strict writing of what we send.

Reading never lets a Python error escape, and never takes ``json.loads`` near the interpreter's
recursion limit: text nested past MAX_DEPTH is refused before it is parsed (see ``too_deep``).
Writing refuses what is not JSON (NaN, sets, bytes, cycles, lone UTF-16 surrogates), naming the
field, so an invalid body is never sent.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from stepfun_core.errors import InvalidParameterError, quoted
from stepfun_core.surrogates import has_lone_surrogate

# Deeper than this is refused both ways: the API's parser and Python's stop near 1,000 levels
# (Python 3.13 reads deeper; the frameworks' copies and validators then fail instead).
MAX_DEPTH = 512


def _decoded(data: bytes | bytearray) -> str:
    """Bytes as ``json.loads`` reads them (UTF-8, -16 or -32, told by the first bytes).

    Bytes that are not valid in it (a reply cut mid-character at max_tokens, a Latin-1 byte)
    read as U+FFFD, as they do in a stream: a whole answer is kept.
    """
    encoding = json.detect_encoding(data)
    try:
        return data.decode(encoding, "surrogatepass")
    except UnicodeDecodeError:
        return data.decode(encoding, "replace")


def load_json(text: str | bytes) -> Any:
    """``json.loads`` whose only error is ``ValueError``: nesting past MAX_DEPTH is not JSON."""
    if isinstance(text, (bytes, bytearray)):
        text = _decoded(text)
    if too_deep(text):
        raise ValueError(f"JSON nested more than {MAX_DEPTH} levels deep")
    try:
        return json.loads(text)
    except RecursionError:  # a caller already deep in its own stack
        raise ValueError("JSON nested too deeply to read") from None


def decode_json(content: str | bytes) -> Any:
    """The JSON value of a body, or None when it is not JSON (or too deep to read)."""
    try:
        return load_json(content)
    except ValueError:
        return None


# A string (skipped whole: brackets inside it do not nest) or a bracket. The closing quote is
# optional, so an unterminated string ends the scan in one pass: with it required, the scan
# started again at each escaped quote inside it (quadratic: 16,000 of them took 3.6 s).
_STRUCTURE = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?|[\[\]{}]', re.DOTALL)
_NESTING = {"[": 1, "{": 1, "]": -1, "}": -1}


def too_deep(text: str) -> bool:
    """True if the text's brackets nest past MAX_DEPTH.

    Checked before ``json.loads``, whose C recursion counts against the interpreter's limit
    (3.10, 3.11): a garbage collection it triggers deep down runs other objects' finalizers
    with almost no stack left, and they fail ("Exception ignored in ..."). Cheap unless the
    text holds more than MAX_DEPTH opening brackets.
    """
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return False
    depth = 0
    for token in _STRUCTURE.finditer(text):
        depth += _NESTING.get(text[token.start()], 0)  # a string starts with '"': 0
        if depth > MAX_DEPTH:
            return True
    return False


# A quote, a backslash or a bracket: what decides where a value ends.
_SIGNIFICANT = re.compile(r'["\\\[\]{}]')


class ValueEnd:
    """Whether a text read piece by piece is one bracketed JSON value and whitespace.

    Strings are skipped; a quick look before parsing, not a check of the JSON. Each piece is
    read once: asked after every piece of a long stream, reading the whole text each time
    would cost its square.
    """

    __slots__ = ("_depth", "_escaped", "_in_string", "ended", "trailing")

    def __init__(self) -> None:
        self._depth = 0
        self._in_string = False
        self._escaped = False  # the text so far ends in a backslash inside a string
        self.ended = False  # the bracket closing the value was read
        self.trailing = False  # and something but whitespace after it

    @property
    def closed(self) -> bool:
        """True if the text so far is the whole value and no more."""
        return self.ended and not self.trailing

    def feed(self, piece: str) -> None:
        """Read the next piece of the text."""
        if self.ended:
            self.trailing = self.trailing or bool(piece.strip())
            return
        if (end := self._end_in(piece)) is not None:
            self.ended = True
            self.trailing = bool(piece[end:].strip())

    def _end_in(self, piece: str) -> int | None:
        escaped = 0 if self._escaped else -1  # the position of an escaped character
        self._escaped = False
        for match in _SIGNIFICANT.finditer(piece):
            at = match.start()
            if at == escaped:
                continue
            char = piece[at]
            if self._in_string:
                if char == "\\":
                    escaped = at + 1
                    self._escaped = escaped == len(piece)
                elif char == '"':
                    self._in_string = False
            elif char == '"':
                self._in_string = True
            elif char in "[{":
                self._depth += 1
            elif char in "]}":
                self._depth -= 1
                if self._depth <= 0:
                    return at + 1
        return None


def deeper_than(value: Any, limit: int) -> bool:
    """True if containers nest more than ``limit`` levels deep (walked without recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(item, dict):
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
    return False


def encode_json(payload: Mapping[str, Any]) -> bytes:
    """Serialize a request body (compact, UTF-8 kept); raise InvalidParameterError if not JSON.

    Surrogate pairs left as two code points (as stream chunks add up) are joined.
    """
    try:
        text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        raise _not_json(payload, "") from None
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        pass
    try:
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le").encode("utf-8")
    except UnicodeDecodeError:
        raise _not_json(payload, "") from None


def json_text(value: Any, where: str, *, allow_nan: bool = False) -> str:
    """``value`` as JSON text (UTF-8 kept); InvalidParameterError naming the field if not JSON.

    Depth is checked first: ``json.dumps`` recurses in C, to the interpreter's limit.
    ``allow_nan`` writes NaN and Infinity as Python's ``json`` does (they are not JSON).
    """
    if not deeper_than(value, MAX_DEPTH):
        try:
            return json.dumps(value, ensure_ascii=False, allow_nan=allow_nan)
        except (TypeError, ValueError, RecursionError):
            pass
    raise _not_json(value, where, allow_nan=allow_nan)


def _not_json(value: Any, where: str, *, allow_nan: bool = False) -> InvalidParameterError:
    found = find_problem(value, where, allow_nan=allow_nan)
    field, problem = found or (where or "request", "cannot be encoded as JSON")
    return InvalidParameterError(f"{field}: {problem}")


def _scalar_problem(value: Any, allow_nan: bool) -> str | None:
    if isinstance(value, float) and not allow_nan and not math.isfinite(value):
        return f"{value!r} is not valid JSON (NaN and Infinity cannot be sent)"
    if isinstance(value, str) and has_lone_surrogate(value):
        return "holds a lone UTF-16 surrogate (half of a character), which cannot be sent"
    if isinstance(value, int) and not isinstance(value, bool) and not _writable(value):
        return "is an integer too large to write as JSON"
    if value is None or isinstance(value, (str, int, float)):  # bool is an int
        return None
    return f"a {type(value).__name__} is not a JSON value"


def _writable(number: int) -> bool:
    try:
        str(number)
    except ValueError:  # past Python's limit on digits (sys.set_int_max_str_digits)
        return False
    return True


def _children(value: Any, path: str) -> list[tuple[str, Any]] | str:
    if isinstance(value, Mapping):
        for key in value:
            if not isinstance(key, str):
                return f"key {quoted(key)} is not a string"
            if has_lone_surrogate(key):
                return "a key holds a lone UTF-16 surrogate (half of a character)"
        return [(f"{path}.{key}" if path else key, item) for key, item in value.items()]
    return [(f"{path}[{i}]", item) for i, item in enumerate(value)]


def find_problem(payload: Any, path: str, *, allow_nan: bool) -> tuple[str, str] | None:
    """The first field that is not JSON, and why: ``("messages[0].content", "...")``."""
    stack: list[tuple[str, Any, int, frozenset[int]]] = [(path, payload, 0, frozenset())]
    while stack:
        where, value, depth, parents = stack.pop()
        name = where or "request"
        if depth > MAX_DEPTH:
            return name, f"is nested more than {MAX_DEPTH} levels deep"
        if not isinstance(value, (Mapping, list, tuple)):
            if problem := _scalar_problem(value, allow_nan):
                return name, problem
            continue
        if id(value) in parents:
            return name, "refers to itself (a circular reference)"
        children = _children(value, where)
        if isinstance(children, str):
            return name, children
        inner = parents | {id(value)}
        stack.extend((p, v, depth + 1, inner) for p, v in reversed(children))
    return None
