"""Fixtures for the LlamaIndex suite: a sync/async driver, mock transports, a clean Settings."""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from llama_index.core import Settings
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.base.llms.types import ChatMessage

from llama_index_stepfun import StepFun
from tests.hostile import RecordingAPI
from tests.hostile import json_reply as json_reply  # the suite's modules take both from here
from tests.hostile import sse_reply as sse_reply
from tests.modes import Mode

SECRET = "sk-test-secret"  # the key MockAPI's models hold


@pytest.fixture(autouse=True)
def clean_settings() -> Iterator[None]:
    """Settings is global: every test starts and ends without an LLM, embedding or callbacks."""
    Settings._llm = None
    Settings._embed_model = None
    Settings._callback_manager = None
    yield
    Settings._llm = None
    Settings._embed_model = None
    Settings._callback_manager = None


def _entry(method: str, *, streams: bool) -> Callable[..., Any]:
    """A Driver method calling ``llm.method(...)``, or awaiting its ``a``-prefixed twin.

    ``streams``: the result is a stream, whose items are collected into a list.
    """

    def run(self: Driver, llm: StepFun, *args: Any, **kwargs: Any) -> Any:
        def sync() -> Any:
            return getattr(llm, method)(*args, **kwargs)

        def concurrent() -> Any:
            return getattr(llm, f"a{method}")(*args, **kwargs)

        return self.collect(sync, concurrent) if streams else self.call(sync, concurrent)

    run.__name__ = method
    return run


class Driver(Mode):
    """Runs one LlamaIndex call through the sync or the async entry point."""

    chat = _entry("chat", streams=False)
    stream_chat = _entry("stream_chat", streams=True)
    complete = _entry("complete", streams=False)
    stream_complete = _entry("stream_complete", streams=True)
    chat_with_tools = _entry("chat_with_tools", streams=False)
    stream_chat_with_tools = _entry("stream_chat_with_tools", streams=True)
    structured_predict = _entry("structured_predict", streams=False)
    stream_structured_predict = _entry("stream_structured_predict", streams=True)


@pytest.fixture(params=["sync", "async"])
def driver(request: pytest.FixtureRequest) -> Driver:
    return Driver(request.param)


class MockAPI(RecordingAPI):
    """The mock API, and a StepFun whose caller's clients it answers."""

    def llm(self, **options: Any) -> StepFun:
        return StepFun(**self.options("async_http_client", **{"api_key": SECRET, **options}))


def user(text: str) -> list[ChatMessage]:
    return [ChatMessage(role="user", content=text)]


def cassette(name: str) -> Callable[[Any], Any]:
    """Record into (and replay from) one named cassette, shared by the sync and async runs."""

    def mark(test: Any) -> Any:
        return pytest.mark.vcr(pytest.mark.default_cassette(name)(test))

    return mark


class WordEmbedding(BaseEmbedding):
    """An offline embedding: words hashed into 16 buckets, so retrieval order is stable."""

    @staticmethod
    def _vector(text: str) -> list[float]:
        vector = [0.0] * 16
        for word in text.lower().split():
            vector[zlib.crc32(word.strip(".,?!").encode()) % 16] += 1.0
        return vector

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._vector(query)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._vector(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._vector(text)
