"""The framework floors: a minimal LangChain ``BaseChatModel`` and LlamaIndex ``CustomLLM`` that do
no I/O and yield messages pre-built from the fixture (one message per wire chunk).

What they cost is what the framework itself costs per call and per chunk: callbacks, run managers,
instrumentation events, chunk merging. No adapter can go below it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from typing import Any

from benchmarks.fixtures import MODEL, Fixture

# Above this many chunks the floors build their messages on the fly: for the memory scenario (so
# what the framework retains is measured), and 20,000 cumulative LlamaIndex responses take ~1 GB.
PREBUILD_LIMIT = 5000


def wire_chunks(fixture: Fixture) -> Iterator[dict[str, Any]]:
    for event in fixture.events:
        data = event[6:].strip()
        if data != b"[DONE]":
            yield json.loads(data)


def _usage(u: dict[str, Any]) -> dict[str, Any]:
    return {
        "input_tokens": u["prompt_tokens"],
        "output_tokens": u["completion_tokens"],
        "total_tokens": u["total_tokens"],
        "input_token_details": {"cache_read": u.get("cached_tokens", 0)},
    }


# --- LangChain -------------------------------------------------------------------------------


@cache
def _lc_types() -> tuple[Any, Any, Any]:
    from langchain_core.messages import AIMessageChunk
    from langchain_core.messages.tool import tool_call_chunk
    from langchain_core.outputs import ChatGenerationChunk

    return AIMessageChunk, tool_call_chunk, ChatGenerationChunk


def _lc_chunk(obj: dict[str, Any], last: bool) -> Any:
    AIMessageChunk, tool_call_chunk, ChatGenerationChunk = _lc_types()
    choice = obj["choices"][0]
    delta = choice["delta"]
    kwargs: dict[str, Any] = {}
    if delta.get("reasoning"):
        kwargs["additional_kwargs"] = {"reasoning_content": delta["reasoning"]}
    if delta.get("tool_calls"):
        kwargs["tool_call_chunks"] = [
            tool_call_chunk(
                name=tc.get("function", {}).get("name"),
                args=tc.get("function", {}).get("arguments"),
                id=tc.get("id"),
                index=tc["index"],
            )
            for tc in delta["tool_calls"]
        ]
    if last:
        kwargs["usage_metadata"] = _usage(obj["usage"])
        kwargs["response_metadata"] = {
            "finish_reason": choice.get("finish_reason"),
            "model_name": obj["model"],
        }
    return ChatGenerationChunk(message=AIMessageChunk(content=delta.get("content", ""), **kwargs))


@cache
def _langchain_class() -> type:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.outputs import ChatResult
    from pydantic import PrivateAttr

    class FloorChatModel(BaseChatModel):
        """Returns a pre-built result; streams pre-built chunks (private: never serialized)."""

        _result: Any = PrivateAttr(default=None)
        _chunks: Any = PrivateAttr(default=None)
        _objs: Any = PrivateAttr(default=None)

        @property
        def _llm_type(self) -> str:
            return "benchmark-floor"

        def _generate(self, messages, stop=None, run_manager=None, **kwargs) -> ChatResult:
            return self._result

        async def _agenerate(self, messages, stop=None, run_manager=None, **kwargs) -> ChatResult:
            return self._result

        def _stream(self, messages, stop=None, run_manager=None, **kwargs):
            if self._chunks is not None:
                yield from self._chunks
            else:  # huge streams: built on the fly, so the retained chunks are measured too
                last = len(self._objs) - 1
                for i, obj in enumerate(self._objs):
                    yield _lc_chunk(obj, i == last)

    return FloorChatModel


def langchain_floor(fixture: Fixture, build: bool = False) -> Any:
    """``build=True``: the floor plus building one message chunk per wire chunk (from dicts
    parsed beforehand), the least any adapter must do on top of the framework."""
    from langchain_core.messages import AIMessage
    from langchain_core.outputs import ChatGeneration, ChatResult

    cls = _langchain_class()
    if not fixture.stream:
        body = json.loads(fixture.body)
        choice = body["choices"][0]
        message = AIMessage(
            content=choice["message"]["content"],
            additional_kwargs={"reasoning_content": choice["message"].get("reasoning", "")},
            usage_metadata=_usage(body["usage"]),
            response_metadata={"finish_reason": choice["finish_reason"], "model_name": MODEL},
            id=body["id"],
        )
        result = ChatResult(generations=[ChatGeneration(message=message)])
        model = cls()
        model._result, model._chunks = result, []
        return model
    objs = list(wire_chunks(fixture))
    model = cls()
    if build or len(objs) > PREBUILD_LIMIT:
        model._objs = objs
    else:
        model._chunks = [_lc_chunk(o, i == len(objs) - 1) for i, o in enumerate(objs)]
    return model


# --- LlamaIndex ------------------------------------------------------------------------------


def _li_responses(objs: list[dict[str, Any]]) -> Iterator[Any]:
    from llama_index.core.base.llms.types import ChatMessage, ChatResponse, MessageRole

    content = ""
    for obj in objs:
        delta = obj["choices"][0]["delta"]
        text = delta.get("content") or ""
        content += text
        extra = {"thinking_delta": delta["reasoning"]} if delta.get("reasoning") else {}
        if delta.get("tool_calls"):
            extra["tool_calls"] = delta["tool_calls"]
        message = ChatMessage(role=MessageRole.ASSISTANT, content=content, additional_kwargs=extra)
        yield ChatResponse(message=message, delta=text)


@cache
def _llama_index_class() -> type:
    from llama_index.core.base.llms.types import (
        ChatResponse,
        CompletionResponse,
        LLMMetadata,
    )
    from llama_index.core.llms import CustomLLM
    from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
    from pydantic import PrivateAttr

    class FloorLLM(CustomLLM):
        """Returns a pre-built response; streams pre-built (or, for huge streams, lazily built)."""

        _response: Any = PrivateAttr(default=None)
        _objs: Any = PrivateAttr(default=None)
        _prebuilt: Any = PrivateAttr(default=None)

        @property
        def metadata(self) -> LLMMetadata:
            return LLMMetadata(model_name=MODEL, is_chat_model=True, context_window=256000)

        @llm_completion_callback()
        def complete(self, prompt: str, formatted: bool = False, **kwargs) -> CompletionResponse:
            return CompletionResponse(text=self._response.message.content)

        @llm_completion_callback()
        def stream_complete(self, prompt: str, formatted: bool = False, **kwargs):
            raise NotImplementedError

        @llm_chat_callback()
        def chat(self, messages, **kwargs) -> ChatResponse:
            return self._response

        @llm_chat_callback()
        async def achat(self, messages, **kwargs) -> ChatResponse:
            return self._response

        @llm_chat_callback()
        def stream_chat(self, messages, **kwargs):
            source = self._prebuilt if self._prebuilt is not None else _li_responses(self._objs)

            def gen():
                yield from source

            return gen()

    return FloorLLM


def llama_index_floor(fixture: Fixture) -> Any:
    from llama_index.core.base.llms.types import ChatMessage, ChatResponse, MessageRole

    llm = _llama_index_class()()
    if not fixture.stream:
        body = json.loads(fixture.body)
        msg = body["choices"][0]["message"]
        message = ChatMessage(
            role=MessageRole.ASSISTANT,
            content=msg["content"],
            additional_kwargs={"reasoning": msg.get("reasoning", "")},
        )
        llm._response = ChatResponse(message=message, raw=body)
        return llm
    llm._objs = list(wire_chunks(fixture))
    if len(llm._objs) <= PREBUILD_LIMIT:
        llm._prebuilt = list(_li_responses(llm._objs))
    return llm
