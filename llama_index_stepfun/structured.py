"""Structured prediction: function calling by default, an opt-in JSON mode, refusals detected.

With ``structured_output_mode="json_object"`` the schema goes into the system message,
``response_format={"type": "json_object"}`` is sent (without ``tool_choice``, which has no
meaning without tools: llama_index issue #20790) and the reply is validated against the class.

A refusal raises ``StepFunRefusalError`` from every entry point in both modes. In the
function-calling mode the reply is checked in ``(a)(stream_)chat_with_tools`` when the caller
required a tool call (as FunctionCallingProgram does) or while one of this class's structured
predictions runs (a context variable: LlamaIndex's streaming program does not require the
call). Agents, which do neither, still get a refusal back as a reply.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator, Generator, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import llama_index.core.instrumentation as instrument
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseAsyncGen,
    ChatResponseGen,
    MessageRole,
    TextBlock,
)
from llama_index.core.bridge.pydantic import BaseModel, Field
from llama_index.core.instrumentation.events.llm import (
    LLMStructuredPredictEndEvent,
    LLMStructuredPredictInProgressEvent,
    LLMStructuredPredictStartEvent,
)
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.core.program.streaming_utils import process_streaming_content_incremental
from llama_index.core.prompts import PromptTemplate
from llama_index.core.types import Model, PydanticProgramMode

from llama_index_stepfun.refusals import arefusal_checked, raise_on_refusal, refusal_checked
from llama_index_stepfun.tools import keep_first_tool_call
from stepfun_core.json_mode import unfenced

if TYPE_CHECKING:
    from llama_index.core.program.utils import FlexibleModel

# How LlamaIndex's own integrations reach the dispatcher (llama-index-core re-exports it).
dispatcher = instrument.get_dispatcher(__name__)

# Keys of the tool-calling path that must not reach a response_format call.
_TOOL_KWARGS = ("tool_choice", "tool_required", "allow_parallel_tool_calls", "tools")
T = TypeVar("T")
# Set while one of JsonModeLLM's structured predictions runs (see the module docstring).
_STRUCTURED: ContextVar[bool] = ContextVar("stepfun_structured_prediction", default=False)


def with_schema(messages: list[ChatMessage], output_cls: type[BaseModel]) -> list[ChatMessage]:
    """The messages with an instruction to write JSON of this schema, in the system message."""
    schema = json.dumps(output_cls.model_json_schema(), ensure_ascii=False)
    instruction = (
        "Answer with one JSON object that is an instance of this JSON schema "
        f"({output_cls.__name__}), and nothing else:\n{schema}"
    )
    if messages and messages[0].role == MessageRole.SYSTEM:
        first = messages[0]
        system = ChatMessage(
            role=MessageRole.SYSTEM,
            blocks=[*first.blocks, TextBlock(text=instruction)],
            additional_kwargs=dict(first.additional_kwargs),
        )
        return [system, *messages[1:]]
    return [ChatMessage(role=MessageRole.SYSTEM, content=instruction), *messages]


def json_mode_kwargs(llm_kwargs: dict[str, Any] | None) -> dict[str, Any]:
    """The call's kwargs with ``response_format`` set and the tool-calling keys removed."""
    kwargs = {k: v for k, v in (llm_kwargs or {}).items() if k not in _TOOL_KWARGS}
    kwargs["response_format"] = {"type": "json_object"}
    return kwargs


def _whole(output_cls: type[Model], content: str | None) -> Model:
    """A JSON-mode stream's last text as the object, checked as a whole reply is.

    pydantic's ValidationError if it is not one: partial objects would pass a cut or prose answer.
    """
    result = output_cls.model_validate_json(unfenced(content))
    dispatcher.event(LLMStructuredPredictEndEvent(output=result))
    return result


def parse_partial(
    content: str | None, output_cls: type[Model], current: Model | FlexibleModel | None
) -> Model | FlexibleModel:
    """The object of a streamed reply so far (inside a Markdown code fence or not)."""
    message = ChatMessage(role=MessageRole.ASSISTANT, content=unfenced(content))
    return process_streaming_content_incremental(ChatResponse(message=message), output_cls, current)


class JsonModeLLM(FunctionCallingLLM):
    """The structured-prediction overrides; the JSON mode applies only when opted into."""

    structured_output_mode: Literal["function_calling", "json_object"] = Field(
        default="function_calling",
        description="How structured_predict gets JSON: 'function_calling' (a forced tool "
        "call) or 'json_object' (JSON mode with the schema in the prompt).",
    )

    # Declared so that subclasses may pass their own fields (and mypy's pydantic view agrees).
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)

    def _uses_json_mode(self) -> bool:
        return (
            self.structured_output_mode == "json_object"
            and self.pydantic_program_mode == PydanticProgramMode.DEFAULT
        )

    def _start_prediction(
        self, output_cls: type[BaseModel], prompt: PromptTemplate, prompt_args: dict[str, Any]
    ) -> list[ChatMessage]:
        """Announce a JSON-mode prediction and return the messages to send."""
        start = LLMStructuredPredictStartEvent(
            output_cls=output_cls, template=prompt, template_args=prompt_args
        )
        dispatcher.event(start)
        messages = self._extend_messages(prompt.format_messages(llm=self, **prompt_args))
        return with_schema(messages, output_cls)

    @staticmethod
    def _end_prediction(output_cls: type[Model], response: ChatResponse) -> Model:
        """Check the reply for a refusal, parse its JSON and announce the result."""
        raise_on_refusal(response)
        return _whole(output_cls, response.message.content)

    @dispatcher.span
    def structured_predict(
        self,
        output_cls: type[Model],
        prompt: PromptTemplate,
        llm_kwargs: dict[str, Any] | None = None,
        **prompt_args: Any,
    ) -> Model:
        """Predict an instance of ``output_cls`` (JSON mode when opted into)."""
        if not self._uses_json_mode():
            with _structured_prediction():
                predicted: Model = super().structured_predict(
                    output_cls, prompt, llm_kwargs, **prompt_args
                )
            return predicted
        messages = self._start_prediction(output_cls, prompt, prompt_args)
        return self._end_prediction(output_cls, self.chat(messages, **json_mode_kwargs(llm_kwargs)))

    @dispatcher.span
    async def astructured_predict(
        self,
        output_cls: type[Model],
        prompt: PromptTemplate,
        llm_kwargs: dict[str, Any] | None = None,
        **prompt_args: Any,
    ) -> Model:
        """Predict an instance of ``output_cls`` (JSON mode when opted into)."""
        if not self._uses_json_mode():
            with _structured_prediction():
                predicted: Model = await super().astructured_predict(
                    output_cls, prompt, llm_kwargs, **prompt_args
                )
            return predicted
        messages = self._start_prediction(output_cls, prompt, prompt_args)
        response = await self.achat(messages, **json_mode_kwargs(llm_kwargs))
        return self._end_prediction(output_cls, response)

    @dispatcher.span
    def stream_structured_predict(
        self,
        output_cls: type[Model],
        prompt: PromptTemplate,
        llm_kwargs: dict[str, Any] | None = None,
        **prompt_args: Any,
    ) -> Generator[Model | FlexibleModel, None, None]:
        """Stream partial instances of ``output_cls`` (JSON mode when opted into)."""
        if not self._uses_json_mode():
            predicted = super().stream_structured_predict(
                output_cls, prompt, llm_kwargs, **prompt_args
            )
            return _in_structured_prediction(predicted)
        return self._stream_json(output_cls, prompt, llm_kwargs, prompt_args)

    @dispatcher.span
    async def astream_structured_predict(
        self,
        output_cls: type[Model],
        prompt: PromptTemplate,
        llm_kwargs: dict[str, Any] | None = None,
        **prompt_args: Any,
    ) -> AsyncGenerator[Model | FlexibleModel, None]:
        """Stream partial instances of ``output_cls`` (JSON mode when opted into)."""
        if not self._uses_json_mode():
            predicted = await super().astream_structured_predict(
                output_cls, prompt, llm_kwargs, **prompt_args
            )
            return _ain_structured_prediction(predicted)
        return self._astream_json(output_cls, prompt, llm_kwargs, prompt_args)

    def _stream_json(
        self,
        output_cls: type[Model],
        prompt: PromptTemplate,
        llm_kwargs: dict[str, Any] | None,
        prompt_args: dict[str, Any],
    ) -> Generator[Any, None, None]:
        messages = self._start_prediction(output_cls, prompt, prompt_args)
        responses = self.stream_chat(messages, **json_mode_kwargs(llm_kwargs))
        current, content = None, ""
        for response in refusal_checked(responses):
            content = response.message.content or ""
            current = parse_partial(content, output_cls, current)
            dispatcher.event(LLMStructuredPredictInProgressEvent(output=current))
            yield current
        yield _whole(output_cls, content)

    async def _astream_json(
        self,
        output_cls: type[Model],
        prompt: PromptTemplate,
        llm_kwargs: dict[str, Any] | None,
        prompt_args: dict[str, Any],
    ) -> AsyncGenerator[Any, None]:
        messages = self._start_prediction(output_cls, prompt, prompt_args)
        responses = await self.astream_chat(messages, **json_mode_kwargs(llm_kwargs))
        current, content = None, ""
        async for response in arefusal_checked(responses):
            content = response.message.content or ""
            current = parse_partial(content, output_cls, current)
            dispatcher.event(LLMStructuredPredictInProgressEvent(output=current))
            yield current
        yield _whole(output_cls, content)

    # -- the function-calling path: LlamaIndex's arguments, passed on as they came -------------

    def chat_with_tools(self, *args: Any, **kwargs: Any) -> ChatResponse:
        """Chat with tools; a refusal raises when a tool call was required (see the module)."""
        response = super().chat_with_tools(*args, **kwargs)
        if _checks_refusals(args, kwargs):
            raise_on_refusal(response)
        return response

    async def achat_with_tools(self, *args: Any, **kwargs: Any) -> ChatResponse:
        """Chat with tools; a refusal raises when a tool call was required (see the module)."""
        response = await super().achat_with_tools(*args, **kwargs)
        if _checks_refusals(args, kwargs):
            raise_on_refusal(response)
        return response

    # LlamaIndex trims parallel calls only when not streaming, and a FunctionAgent streams: its
    # tools with side effects ran once per call. Trimmed here too (``chat_with_tools``'s rule).

    def stream_chat_with_tools(self, *args: Any, **kwargs: Any) -> ChatResponseGen:
        """Stream with tools; a refusal raises at the end when a tool call was required."""
        responses = super().stream_chat_with_tools(*args, **kwargs)
        if not _argument(args, kwargs, "allow_parallel_tool_calls"):
            responses = (keep_first_tool_call(response) for response in responses)
        return refusal_checked(responses) if _checks_refusals(args, kwargs) else responses

    async def astream_chat_with_tools(self, *args: Any, **kwargs: Any) -> ChatResponseAsyncGen:
        """Stream with tools; a refusal raises at the end when a tool call was required."""
        responses = await super().astream_chat_with_tools(*args, **kwargs)
        if not _argument(args, kwargs, "allow_parallel_tool_calls"):
            responses = (keep_first_tool_call(response) async for response in responses)
        return arefusal_checked(responses) if _checks_refusals(args, kwargs) else responses


# The positions of LlamaIndex's ``*_with_tools`` parameters after ``tools``, ``user_msg``,
# ``chat_history`` and ``verbose``.
_POSITIONS = {"allow_parallel_tool_calls": 4, "tool_required": 5}


def _argument(args: tuple[Any, ...], kwargs: dict[str, Any], name: str) -> bool:
    position = _POSITIONS[name]
    return bool(kwargs.get(name, args[position] if len(args) > position else False))


def _checks_refusals(args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    return _argument(args, kwargs, "tool_required") or _STRUCTURED.get()


@contextmanager
def _structured_prediction() -> Iterator[None]:
    """Mark the code inside as part of a structured prediction (see the module docstring)."""
    token = _STRUCTURED.set(True)
    try:
        yield
    finally:
        _STRUCTURED.reset(token)


def _in_structured_prediction(items: Iterator[T]) -> Generator[T, None, None]:
    """Iterate ``items``, marked as a structured prediction only while each one is made."""
    # Not while this waits at a ``yield``: the caller's own calls between items are not marked.
    while True:
        with _structured_prediction():
            try:
                item = next(items)
            except StopIteration:
                return
        yield item


async def _ain_structured_prediction(items: AsyncIterator[T]) -> AsyncGenerator[T, None]:
    """``_in_structured_prediction`` for an async generator."""
    while True:
        with _structured_prediction():
            try:
                item = await anext(items)
            except StopAsyncIteration:
                return
        yield item
