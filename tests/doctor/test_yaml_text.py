"""The doctor's own YAML writer reads back, through PyYAML and vcrpy, to what it was given."""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from stepfun_core.doctor.yaml_text import dump
from tests.replica.cassette_format import ReadableYamlSerializer

SSE = 'data: {"content":"你好 😊"}\n\ndata: [DONE]\n\n'


def round_trip(value: dict[str, Any]) -> Any:
    text = dump(value)
    assert yaml.safe_load(text) == value, text
    return ReadableYamlSerializer.deserialize(text)


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_any_string_round_trips(text: str) -> None:
    assert round_trip({"body": {"string": text}, "list": [text, {"k": text}]}) == {
        "body": {"string": text},
        "list": [text, {"k": text}],
    }


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet=st.sampled_from("ab \t\n\r'\"#:-\u2028\x85")))
def test_awkward_strings_round_trip(text: str) -> None:
    round_trip({"s": text, text or "empty": [text]})


@given(st.binary())
def test_bytes_round_trip(data: bytes) -> None:
    round_trip({"body": {"string": data}})


def test_streams_are_block_literals_and_text_stays_readable() -> None:
    text = dump({"response": {"body": {"string": SSE}}, "request": {"body": '{"a":"it\'s"}'}})
    assert "string: |+\n      data: " in text and "你好 😊" in text and "\\u" not in text
    assert "body: '{\"a\":\"it''s\"}'" in text
    round_trip({"response": {"body": {"string": SSE}}})


def test_scalars_that_would_change_type_are_quoted() -> None:
    value = {
        "words": ["yes", "No", "on", "null", "true", "1.0", "8765", "2026-01-01", "", "~"],
        "numbers": [1, 2.5, True, None],
        "empty": {},
        "none": [],
        "on": "key",
    }
    assert round_trip(value) == value
