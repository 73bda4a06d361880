"""A small YAML writer for cassettes: block style, readable bodies, no dependency.

The core's runtime dependencies are httpx and pydantic only, so ``--record`` writes its YAML
itself. It covers what a cassette holds (mappings, lists, strings, numbers, booleans, null,
bytes) and follows the repository's cassette conventions: multi-line text (an SSE stream) as a
block literal, UTF-8 kept as text (CJK, emoji), and anything a block literal cannot hold
byte-exactly in a double-quoted scalar with escapes. PyYAML (what vcrpy loads with) reads it
back to the same value; the tests check that for arbitrary strings.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping, Sequence
from typing import Any

# What YAML 1.1 (PyYAML) may hold unescaped; other characters are escaped.
_PRINTABLE = re.compile("[\t\n\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# Line breaks of YAML 1.1 besides LF, which a block literal would not keep byte-exactly.
_OTHER_BREAKS = frozenset("\r\x85\u2028\u2029")
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
# Values written plain: a letter first, no space or colon, so never a number, date or mapping.
_PLAIN_VALUE = re.compile(r"[A-Za-z][A-Za-z0-9_./+-]*")
# Plain keys YAML 1.1 would read as booleans or null.
_RESERVED = frozenset({"y", "n", "yes", "no", "on", "off", "true", "false", "null"})
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def quoted(text: str) -> str:
    """A double-quoted scalar; non-printable characters and line breaks escaped."""
    out = []
    for char in text:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif char in _OTHER_BREAKS or char == "\ufeff" or not _PRINTABLE.fullmatch(char):
            code = ord(char)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def _single_quotable(text: str) -> bool:
    """One line of printable characters (a JSON body): single quotes need no escapes."""
    return all(
        c not in _OTHER_BREAKS and c not in "\n\t\ufeff" and _PRINTABLE.fullmatch(c) for c in text
    )


def _block_lines(text: str) -> list[str] | None:
    """The lines of a block literal for ``text``, or None when one cannot hold it exactly."""
    if "\n" not in text or any(c in _OTHER_BREAKS or c == "\ufeff" for c in text):
        return None
    if any(not _PRINTABLE.fullmatch(c) for c in text):
        return None
    lines = text.split("\n")
    body = lines[:-1] if text.endswith("\n") else lines
    content = [line for line in body if line]
    # Leading or trailing blanks, tabs included, would change the indentation or be dropped.
    if not content or any(line != line.strip(" \t") for line in content):
        return None
    return lines


def _flow(text: str) -> str:
    """A one-line scalar: plain when safe, else single-quoted, else double-quoted."""
    if _PLAIN_VALUE.fullmatch(text) and text.lower() not in _RESERVED:
        return text
    if _single_quotable(text):
        return "'" + text.replace("'", "''") + "'"
    return quoted(text)


def _key(name: Any) -> str:
    text = str(name)
    plain = _PLAIN_KEY.fullmatch(text) and text.lower() not in _RESERVED
    return text if plain else quoted(text)


def _scalar(value: Any, indent: int) -> list[str]:
    """A scalar after ``key:`` or ``-``: one line, or a header and indented block lines."""
    if value is None:
        return ["null"]
    if isinstance(value, bool):
        return ["true" if value else "false"]
    if isinstance(value, (int, float)):
        return [repr(value)]
    if isinstance(value, (bytes, bytearray)):
        encoded = base64.b64encode(bytes(value)).decode("ascii")
        return [
            "!!binary |",
            *(" " * indent + encoded[i : i + 76] for i in range(0, len(encoded), 76)),
        ]
    text = str(value)
    lines = _block_lines(text)
    if lines is None:
        return [_flow(text)]
    trailing = len(text) - len(text.rstrip("\n"))
    chomp = "-" if trailing == 0 else ("" if trailing == 1 else "+")
    body = lines[:-1] if trailing else lines
    return ["|" + chomp, *(" " * indent + line if line else "" for line in body)]


def _is_block(value: Any) -> bool:
    return isinstance(value, (Mapping, list, tuple)) and bool(value)


def _node(value: Any, indent: int) -> list[str]:
    """The lines of a non-empty mapping or list, starting at column ``indent``."""
    pad = " " * indent
    lines: list[str] = []
    items: Sequence[tuple[Any, Any]] | Sequence[Any]
    if isinstance(value, Mapping):
        for name, item in value.items():
            lines += _entry(f"{pad}{_key(name)}:", item, indent, nested=indent + 2)
        return lines
    items = list(value)
    for item in items:
        if isinstance(item, Mapping) and item:
            inner = _node(item, indent + 2)
            lines += [f"{pad}- {inner[0].lstrip()}", *inner[1:]]
        else:
            lines += _entry(f"{pad}-", item, indent, nested=indent + 2)
    return lines


def _entry(head: str, value: Any, indent: int, *, nested: int) -> list[str]:
    if isinstance(value, Mapping) and value:
        return [head, *_node(value, nested)]
    if isinstance(value, (list, tuple)) and value:
        # A list under a key sits at the key's column, as PyYAML writes it.
        return [head, *_node(value, indent if not head.lstrip().startswith("-") else nested)]
    if isinstance(value, (Mapping, list, tuple)):
        return [f"{head} {'{}' if isinstance(value, Mapping) else '[]'}"]
    first, *rest = _scalar(value, nested)
    return [f"{head} {first}", *rest]


def dump(value: Mapping[str, Any]) -> str:
    """A YAML document for a mapping."""
    return "\n".join(_node(value, 0)) + "\n" if value else "{}\n"
