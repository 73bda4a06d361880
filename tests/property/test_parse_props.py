"""parse_chunk and parse_completion: any JSON object in, well-typed results out, nothing raised."""

from __future__ import annotations

from typing import Any

from hypothesis import example, given

from stepfun_core import Chunk, Completion, StepFunError, parse_chunk, parse_completion
from tests.property.strategies import (
    JSON_OBJECTS,
    chunk_objects,
    completion_objects,
    heavy,
    mutated,
)

# The shapes a careless server (or proxy) sends: each field replaced by another JSON type.
ODD_CHUNKS: list[dict[str, Any]] = [
    {"choices": 5},
    {"choices": True},
    {"choices": "text"},
    {"choices": {"0": {"delta": {"content": "x"}}}},
    {"choices": [{"delta": "text"}]},
    {"choices": [{"delta": {"content": 5, "tool_calls": {"0": {}}}}]},
    {"choices": [{"delta": {"tool_calls": [{"function": "text"}]}}]},
    {"choices": [{"delta": {"tool_calls": [{"function": 5, "index": "0"}]}}]},
    {"choices": [{"delta": {"tool_calls": [{"function": [1], "index": None}]}}]},
    {"choices": [{"delta": {"tool_calls": [{"function": {"arguments": {"a": [1]}}}]}}]},
    {"choices": [{"delta": {"tool_calls": "text"}}], "usage": []},
    {"usage": "text", "id": 5, "model": [], "created": "1"},
]
ODD_COMPLETIONS: list[dict[str, Any]] = [
    {"choices": 5},
    {"choices": True},
    {"choices": 1.5},
    {"choices": "text"},
    {"choices": [{"message": "text"}]},
    {"choices": [{"message": 5}]},
    {"choices": [{"message": {"tool_calls": {"0": {}}}}]},
    {"choices": [{"message": {"tool_calls": [{"function": "text"}]}}]},
    {"choices": [{"message": {"tool_calls": [{"function": 5}]}}]},
    {"choices": [{"message": {"tool_calls": [{"function": {"arguments": [1, {"a": None}]}}]}}]},
    {"choices": [{"message": {"content": ["part"], "reasoning": 5}}], "usage": []},
    {"usage": {"prompt_tokens": "1", "prompt_tokens_details": 5}, "created": None},
]


def check_chunk(chunk: Chunk) -> None:
    assert isinstance(chunk.id, str)
    assert isinstance(chunk.model, str)
    assert isinstance(chunk.created, int)
    assert chunk.raw_usage is None or isinstance(chunk.raw_usage, dict)
    chunk.usage  # noqa: B018 - parsed when read: must not raise either
    for choice in chunk.choices:
        assert isinstance(choice.index, int)
        assert isinstance(choice.content, str)
        assert isinstance(choice.reasoning, str)
        assert choice.finish_reason is None or isinstance(choice.finish_reason, str)
        for call in choice.tool_calls:
            assert isinstance(call.index, int)
            assert call.arguments is None or isinstance(call.arguments, str)
            assert call.name is None or isinstance(call.name, str)
            assert call.id is None or isinstance(call.id, str)


def check_completion(completion: Completion) -> None:
    assert isinstance(completion.id, str)
    assert isinstance(completion.model, str)
    assert isinstance(completion.created, int)
    for choice in completion.choices:
        assert isinstance(choice.content, str)
        assert isinstance(choice.reasoning, str)
        for call in choice.tool_calls:
            assert isinstance(call.id, str)
            assert isinstance(call.name, str)
            assert isinstance(call.arguments, str)
        for server_call in choice.server_tool_calls:
            assert isinstance(server_call.arguments, str)
            assert isinstance(server_call.results, list)
    completion.describe()
    completion.to_dict()


def parse_chunk_typed(obj: dict[str, Any]) -> None:
    try:
        chunk = parse_chunk(obj)
    except StepFunError:
        return
    check_chunk(chunk)


def parse_completion_typed(obj: dict[str, Any]) -> None:
    try:
        completion = parse_completion(obj)
    except StepFunError:
        return
    check_completion(completion)


@heavy()
@given(JSON_OBJECTS)
def test_parse_chunk_takes_any_json_object(obj: dict[str, Any]) -> None:
    parse_chunk_typed(obj)


@heavy()
@given(JSON_OBJECTS)
def test_parse_completion_takes_any_json_object(obj: dict[str, Any]) -> None:
    parse_completion_typed(obj)


def _examples(cases: list[dict[str, Any]]) -> Any:
    def decorate(test: Any) -> Any:
        for case in cases:
            test = example(case)(test)
        return test

    return decorate


@heavy()
@given(mutated(chunk_objects()))
@_examples(ODD_CHUNKS)
def test_parse_chunk_takes_real_shapes_with_any_field_replaced(obj: dict[str, Any]) -> None:
    parse_chunk_typed(obj)


@heavy()
@given(mutated(completion_objects()))
@_examples(ODD_COMPLETIONS)
def test_parse_completion_takes_real_shapes_with_any_field_replaced(obj: dict[str, Any]) -> None:
    parse_completion_typed(obj)


@heavy()
@given(chunk_objects())
def test_parse_chunk_reads_well_typed_chunks(obj: dict[str, Any]) -> None:
    chunk = parse_chunk(obj)
    check_chunk(chunk)
    assert len(chunk.choices) == len(obj["choices"])


@heavy()
@given(completion_objects())
def test_parse_completion_reads_well_typed_completions(obj: dict[str, Any]) -> None:
    completion = parse_completion(obj)
    check_completion(completion)
    assert len(completion.choices) == len(obj["choices"])
