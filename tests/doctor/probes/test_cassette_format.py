"""The one cassette serializer reads back (as vcrpy reads it) to what it was given, readably."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from vcr.serializers import yamlserializer

from stepfun_probes.cassette_format import ReadableYamlSerializer

SSE = 'data: {"content":"你好 😊"}\n\ndata: [DONE]\n\n'


def round_trip(value: dict[str, Any]) -> Any:
    text = ReadableYamlSerializer.serialize(value)
    assert yamlserializer.deserialize(text) == value, text  # vcrpy's own loader agrees
    return ReadableYamlSerializer.deserialize(text)


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_any_string_round_trips(text: str) -> None:
    value = {"body": {"string": text}, "list": [text, {"k": text}]}
    assert round_trip(value) == value


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet=st.sampled_from("ab \t\n\r'\"#:-\u2028\x85\ufeff")))
def test_awkward_strings_round_trip(text: str) -> None:
    value = {"s": text, text or "empty": [text]}
    assert round_trip(value) == value


@given(st.binary())
def test_bytes_round_trip(data: bytes) -> None:
    assert round_trip({"body": {"string": data}}) == {"body": {"string": data}}


def test_streams_are_block_literals_and_text_stays_readable() -> None:
    text = ReadableYamlSerializer.serialize(
        {"response": {"body": {"string": SSE}}, "request": {"body": '{"a":"it\'s"}'}}
    )
    assert "string: |+\n      data: " in text and "你好 😊" in text and "\\u" not in text
    assert "body: '{\"a\":\"it''s\"}'" in text
    assert round_trip({"response": {"body": {"string": SSE}}})


def test_scalars_that_would_change_type_are_quoted() -> None:
    value = {
        "words": ["yes", "No", "on", "null", "true", "1.0", "8765", "2026-01-01", "", "~"],
        "numbers": [1, 2.5, True, None],
        "empty": {},
        "none": [],
        "on": "key",
    }
    assert round_trip(value) == value
