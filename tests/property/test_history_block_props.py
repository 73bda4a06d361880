"""LangChain histories of arbitrary content blocks: every role converts or raises our own error.

Round 13 taught the history converters to read retrieval blocks (``search_result``, text
``document``, ``custom_tool_call_output``, ``text-plain``), which nest; these properties hand them
blocks of those types with any JSON in their fields, nested in one another.
"""

from __future__ import annotations

from typing import Any

from hypothesis import assume, given
from hypothesis import strategies as st
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage

from langchain_stepfun.messages import to_wire_messages
from stepfun_core import InvalidParameterError
from tests.property.strategies import JSON_VALUES, texts

KINDS = st.sampled_from(
    [
        "text",
        "text-plain",
        "json",
        "search_result",
        "document",
        "custom_tool_call_output",
        "refusal",
        "reasoning",
        "image",
        "file",
        "tool_call",
    ]
)
FIELDS = st.sampled_from(["text", "content", "source", "output", "title", "data", "json", "type"])


def blocks(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """A block of a known type whose fields hold any JSON, or blocks (a result in a result)."""
    values = st.one_of(JSON_VALUES, inner, st.lists(inner, max_size=3))
    return st.builds(
        lambda kind, rest: {**rest, "type": kind}, KINDS, st.dictionaries(FIELDS, values)
    )


BLOCKS = st.recursive(st.one_of(JSON_VALUES, texts()), blocks, max_leaves=12)
CONTENTS = st.lists(st.one_of(texts(), BLOCKS), max_size=4)


def message(role: str, content: list[Any]) -> BaseMessage:
    if role == "tool":
        return ToolMessage(content=content, tool_call_id="c1")
    return {"system": SystemMessage, "ai": AIMessage, "human": HumanMessage}[role](content=content)


@given(st.sampled_from(["system", "tool", "ai", "human"]), CONTENTS)
def test_any_blocks_convert_or_raise_our_error(role: str, content: list[Any]) -> None:
    try:
        made = message(role, content)
    except ValueError:  # langchain-core's own validation refused it: not ours to convert
        assume(False)
    try:
        wire = to_wire_messages([made])
    except InvalidParameterError:  # the adapter's own dual class is one too
        return  # refused, naming the block (HumanMessage content that is not a part, say)
    sent = wire[0]["content"]
    assert isinstance(sent, (str, list))


@given(st.integers(0, 3000), texts())
def test_results_nested_to_any_depth_are_text_or_named(depth: int, words: str) -> None:
    block: dict[str, Any] = {"type": "text", "text": words}
    for level in range(depth):
        kind = ("search_result", "custom_tool_call_output")[level % 2]
        block = {"type": kind, "content": [block], "output": [block]}
    [wire] = to_wire_messages([ToolMessage(content=[block], tool_call_id="c1")])
    assert wire["content"] == words or "block omitted" in wire["content"]
