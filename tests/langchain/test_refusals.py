"""A refusal the API states becomes LangChain's standard ``refusal`` block: invoke and stream,
``content_blocks`` and ``output_version="v1"``, as langchain-core's own openai translator does."""

from __future__ import annotations

from typing import Any

import langchain_core
import pytest
from langchain_core.messages import AIMessage, AIMessageChunk
from pydantic import BaseModel

from langchain_stepfun import ChatStepFun, StepFunRefusalError
from tests.core.wire_samples import REFUSAL, REFUSAL_STREAM, refusal_completion
from tests.hostile import RecordingAPI, by_mode
from tests.langchain.conftest import Driver, aggregate

KEY = "sk-refusals"
REFUSAL_BLOCK = {"type": "refusal", "refusal": REFUSAL}


def refusing_model(**options: Any) -> ChatStepFun:
    """A model whose server refuses every request (whole, or streamed in pieces)."""
    api = RecordingAPI(by_mode(refusal_completion(), REFUSAL_STREAM))
    return ChatStepFun(**api.options("http_async_client", api_key=KEY, **options))


@pytest.mark.parametrize("provider", ["stepfun", "openai"])
def test_a_stated_refusal_is_a_refusal_block_like_openais(provider: str) -> None:
    # The case from the issue: the same message under either provider gives the same block.
    message = AIMessage(
        content="",
        additional_kwargs={"refusal": "no"},
        response_metadata={"model_provider": provider},
    )
    if provider == "openai" and not message.content_blocks:
        # The reference case only: langchain-core's own OpenAI translator gained refusal blocks
        # after 1.6.0 (the floor of our range), so there is nothing to compare with there.
        pytest.skip(f"langchain-core {langchain_core.__version__}: no OpenAI refusal blocks")
    assert message.content_blocks == [{"type": "refusal", "refusal": "no"}]


def test_text_then_refusal_keeps_both() -> None:
    message = AIMessage(
        content="Partly: ",
        additional_kwargs={"refusal": "the rest I won't.", "reasoning_content": "hmm"},
        response_metadata={"model_provider": "stepfun"},
    )
    assert [b["type"] for b in message.content_blocks] == ["reasoning", "text", "refusal"]


def test_an_empty_refusal_field_is_no_block() -> None:
    for value in ("", None):
        message = AIMessage(
            content="fine",
            additional_kwargs={"refusal": value},
            response_metadata={"model_provider": "stepfun"},
        )
        assert [b["type"] for b in message.content_blocks] == ["text"]


def test_invoke_gives_a_refusal_block(driver: Driver) -> None:
    message = driver.invoke(refusing_model(), "How do I pick a lock?")
    assert message.additional_kwargs["refusal"] == REFUSAL
    assert message.content_blocks == [REFUSAL_BLOCK]


def test_invoke_v1_content_is_the_refusal_block(driver: Driver) -> None:
    message = driver.invoke(refusing_model(output_version="v1"), "How do I pick a lock?")
    assert message.content == [REFUSAL_BLOCK]
    assert message.content_blocks == [REFUSAL_BLOCK]


def test_a_streamed_refusal_rides_on_its_chunks(driver: Driver) -> None:
    chunks = driver.stream(refusing_model(), "How do I pick a lock?")
    pieces = [c.additional_kwargs.get("refusal") for c in chunks]
    assert [p for p in pieces if p] == ["I can't ", "help with that."]
    assert chunks[1].content_blocks == [{"type": "refusal", "refusal": "help with that."}]
    full = aggregate(chunks)
    assert isinstance(full, AIMessageChunk)
    assert full.additional_kwargs["refusal"] == REFUSAL
    assert full.content_blocks == [REFUSAL_BLOCK]


def test_a_streamed_refusal_is_one_v1_block(driver: Driver) -> None:
    chunks = driver.stream(refusing_model(output_version="v1"), "How do I pick a lock?")
    full = aggregate(chunks)
    # LangChain numbers the blocks of a v1 stream: the pieces merge into one block.
    assert [(b["type"], b.get("refusal")) for b in full.content_blocks] == [("refusal", REFUSAL)]


def test_invoke_with_streaming_on_keeps_the_refusal(driver: Driver) -> None:
    message = driver.invoke(refusing_model(streaming=True), "How do I pick a lock?")
    assert message.content_blocks == [REFUSAL_BLOCK]


class City(BaseModel):
    """A city."""

    name: str


@pytest.mark.parametrize("method", ["json_mode", "json_schema"])
def test_a_streamed_refusal_stops_structured_output(method: Any) -> None:
    structured = refusing_model().with_structured_output(City, method=method)
    with pytest.raises(StepFunRefusalError, match="the model refused"):
        list(structured.stream("Describe Paris."))
