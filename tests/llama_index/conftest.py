"""Fixtures for the LlamaIndex suite: a sync/async driver, mock transports, a clean Settings."""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from llama_index.core import Settings
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.base.llms.types import ChatMessage, ChatResponse, CompletionResponse

from llama_index_stepfun import StepFun
from tests.hostile import Handler, RecordingAPI


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


@dataclass
class Driver:
    """Runs one LlamaIndex call through the sync or the async entry point."""

    mode: str

    @property
    def is_async(self) -> bool:
        return self.mode == "async"

    def chat(self, llm: StepFun, messages: list[ChatMessage], **kwargs: Any) -> ChatResponse:
        if self.is_async:
            return asyncio.run(llm.achat(messages, **kwargs))
        return llm.chat(messages, **kwargs)

    def stream_chat(
        self, llm: StepFun, messages: list[ChatMessage], **kwargs: Any
    ) -> list[ChatResponse]:
        if not self.is_async:
            return list(llm.stream_chat(messages, **kwargs))

        async def run() -> list[ChatResponse]:
            return [r async for r in await llm.astream_chat(messages, **kwargs)]

        return asyncio.run(run())

    def complete(self, llm: StepFun, prompt: str, **kwargs: Any) -> CompletionResponse:
        if self.is_async:
            return asyncio.run(llm.acomplete(prompt, **kwargs))
        return llm.complete(prompt, **kwargs)

    def stream_complete(self, llm: StepFun, prompt: str, **kwargs: Any) -> list[CompletionResponse]:
        if not self.is_async:
            return list(llm.stream_complete(prompt, **kwargs))

        async def run() -> list[CompletionResponse]:
            return [r async for r in await llm.astream_complete(prompt, **kwargs)]

        return asyncio.run(run())

    def chat_with_tools(self, llm: StepFun, tools: list[Any], **kwargs: Any) -> ChatResponse:
        if self.is_async:
            return asyncio.run(llm.achat_with_tools(tools, **kwargs))
        return llm.chat_with_tools(tools, **kwargs)

    def stream_chat_with_tools(
        self, llm: StepFun, tools: list[Any], **kwargs: Any
    ) -> list[ChatResponse]:
        if not self.is_async:
            return list(llm.stream_chat_with_tools(tools, **kwargs))

        async def run() -> list[ChatResponse]:
            return [r async for r in await llm.astream_chat_with_tools(tools, **kwargs)]

        return asyncio.run(run())

    def structured_predict(self, llm: StepFun, output_cls: Any, prompt: Any, **kwargs: Any) -> Any:
        if self.is_async:
            return asyncio.run(llm.astructured_predict(output_cls, prompt, **kwargs))
        return llm.structured_predict(output_cls, prompt, **kwargs)

    def stream_structured_predict(
        self, llm: StepFun, output_cls: Any, prompt: Any, **kwargs: Any
    ) -> list[Any]:
        if not self.is_async:
            return list(llm.stream_structured_predict(output_cls, prompt, **kwargs))

        async def run() -> list[Any]:
            stream = await llm.astream_structured_predict(output_cls, prompt, **kwargs)
            return [r async for r in stream]

        return asyncio.run(run())


@pytest.fixture(params=["sync", "async"])
def driver(request: pytest.FixtureRequest) -> Driver:
    return Driver(request.param)


class MockAPI(RecordingAPI):
    """The mock API, and a StepFun whose caller's clients it answers."""

    def llm(self, **options: Any) -> StepFun:
        sync, concurrent = self.http_clients()
        options.setdefault("api_key", "sk-test-secret")
        options.setdefault("max_retries", 0)
        return StepFun(http_client=sync, async_http_client=concurrent, **options)


def json_reply(body: dict[str, Any], status: int = 200) -> Handler:
    return lambda request: httpx.Response(status, json=body)


def sse_reply(body: bytes) -> Handler:
    return lambda request: httpx.Response(
        200, content=body, headers={"content-type": "text/event-stream"}
    )


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
