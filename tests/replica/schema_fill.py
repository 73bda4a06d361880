"""Synthesize JSON values from a JSON schema, seeded by the user's text.

Used by the brain for tool-call arguments and structured (JSON) replies. Pure and deterministic:
the same schema and text always give the same value.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w])")
_QUOTED = re.compile(
    r"'([^'\n]{1,200})'|\"([^\"\n]{1,200})\"|“([^”\n]{1,200})”|「([^」\n]{1,200})」"
)
_CAPITALIZED_RUN = re.compile(r"(?<=[a-z,] )[A-Z][\w.]*(?:,? [A-Z][\w.]*)*")
_WORD = re.compile(r"[^\W\d_][\w-]{2,}")
_STOPWORD_TEXT = (
    "the and for are but not you your with what which who whom this that these those from "
    "into about have has had was were will would could should can use using tool tools please "
    "tell give show make create return value result only nothing other than json keys key "
    "named call function hello there how does did is of to in on at by it me my a an as be"
)
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())
_MANY_PROPERTIES = 8


def numbers_in(text: str) -> list[int | float]:
    """Every number in `text`, in order, as int when integral."""
    out: list[int | float] = []
    for match in _NUMBER.finditer(text):
        value = float(match.group())
        out.append(int(value) if value.is_integer() and "." not in match.group() else value)
    return out


def quoted_in(text: str) -> list[str]:
    """Every quoted string in `text` (ASCII, curly and CJK quotes), unicode intact."""
    return [next(g for g in m.groups() if g is not None) for m in _QUOTED.finditer(text)]


def keywords_in(text: str) -> list[str]:
    """Content words of `text`, in order, without stop words or duplicates."""
    seen: list[str] = []
    for word in _WORD.findall(text):
        lowered = word.lower()
        if lowered not in _STOPWORDS and "_" not in word and lowered not in seen:
            seen.append(lowered)
    return seen


def phrase_in(text: str) -> str | None:
    """A likely subject phrase: a capitalized run not at a sentence start, else the last keyword."""
    match = _CAPITALIZED_RUN.search(text)
    if match:
        return match.group().rstrip(".,")
    words = keywords_in(text)
    return words[-1] if words else None


@dataclass
class Seed:
    """Values drawn from the user's text; numbers and quoted strings are handed out in order."""

    text: str
    numbers: list[int | float] = field(default_factory=list)
    quotes: list[str] = field(default_factory=list)
    _n: int = 0
    _q: int = 0

    @classmethod
    def from_text(cls, text: str) -> Seed:
        """Build a seed from free text."""
        return cls(text=text, numbers=numbers_in(text), quotes=quoted_in(text))

    def next_number(self) -> int | float:
        """The next number of the text (cycling), else 1."""
        if not self.numbers:
            return 1
        value = self.numbers[self._n % len(self.numbers)]
        self._n += 1
        return value

    def next_string(self) -> str:
        """The next quoted string, else a subject phrase of the text, else ``"example"``."""
        if self._q < len(self.quotes):
            self._q += 1
            return self.quotes[self._q - 1]
        return phrase_in(self.text) or "example"


def fill(schema: Any, seed: Seed, root: Any = None) -> Any:
    """A value valid for `schema` (the subset used by tool and response schemas)."""
    if not isinstance(schema, dict):
        return seed.next_string()
    root = schema if root is None else root
    if "$ref" in schema:
        return fill(_resolve(schema["$ref"], root), seed, root)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if schema.get(key):
            options = [
                o for o in schema[key] if not (isinstance(o, dict) and o.get("type") == "null")
            ]
            return fill((options or schema[key])[0], seed, root)
    if schema.get("allOf"):
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            merged.update(_resolve(part["$ref"], root) if "$ref" in part else part)
        return fill(merged, seed, root)
    return _fill_typed(schema, _type_of(schema), seed, root)


def _fill_typed(schema: dict[str, Any], kind: str, seed: Seed, root: Any) -> Any:
    if kind == "object":
        return _fill_object(schema, seed, root)
    if kind == "array":
        return [fill(schema.get("items", {"type": "string"}), seed, root)]
    if kind in ("integer", "number"):
        return _clamp(seed.next_number(), schema, integer=kind == "integer")
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return _fill_string(schema, seed)


def _fill_object(schema: dict[str, Any], seed: Seed, root: Any) -> dict[str, Any]:
    properties: dict[str, Any] = schema.get("properties") or {}
    names = list(properties)
    if len(names) > _MANY_PROPERTIES and schema.get("required"):
        names = [n for n in names if n in schema["required"]]
    return {name: fill(properties[name], seed, root) for name in names}


def _fill_string(schema: dict[str, Any], seed: Seed) -> str:
    formats = {"date": "2024-01-01", "date-time": "2024-01-01T00:00:00Z", "email": "a@example.com"}
    if schema.get("format") in formats:
        return formats[schema["format"]]
    if schema.get("format") in ("uri", "url"):
        return "https://example.com"
    return seed.next_string()


def _type_of(schema: dict[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None:
        return "object" if "properties" in schema else "string"
    return str(kind)


def _clamp(value: int | float, schema: dict[str, Any], *, integer: bool) -> int | float:
    if integer:
        value = int(value)
    step = 1 if integer else 0.5
    if "minimum" in schema:
        value = max(value, schema["minimum"])
    if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
        value = schema["exclusiveMinimum"] + step
    if "maximum" in schema:
        value = min(value, schema["maximum"])
    if "exclusiveMaximum" in schema and value >= schema["exclusiveMaximum"]:
        value = schema["exclusiveMaximum"] - step
    return value


def _resolve(ref: str, root: Any) -> Any:
    node = root
    for part in ref.lstrip("#/").split("/"):
        if not isinstance(node, dict) or part not in node:
            return {}
        node = node[part]
    return node


def schema_in_text(text: str) -> dict[str, Any] | None:
    """A JSON schema (or example object) embedded in free text, if any."""
    decoder = json.JSONDecoder()
    for match in re.finditer(r"\{", text):
        try:
            value, _ = decoder.raw_decode(text, match.start())
        except ValueError:
            continue
        if isinstance(value, dict) and value:
            if "properties" in value or value.get("type") == "object":
                return value
            return {
                "type": "object",
                "properties": {k: _example_schema(v) for k, v in value.items()},
            }
    return None


def _example_schema(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"type": "boolean"}
    if isinstance(value, (int, float)):
        return {"type": "number"}
    if isinstance(value, list):
        return {"type": "array", "items": _example_schema(value[0]) if value else {}}
    if isinstance(value, dict):
        return {"type": "object", "properties": {k: _example_schema(v) for k, v in value.items()}}
    return {"type": "string"}
