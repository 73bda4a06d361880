"""Structured prediction: function calling by default, an opt-in JSON mode.

By default ``structured_predict`` and friends go through LlamaIndex's FunctionCallingProgram (a tool
call forced with ``tool_choice="required"``). With ``structured_output_mode="json_object"`` the
schema goes into the system message, ``response_format={"type": "json_object"}`` is sent and the
reply is validated against the output class; ``tool_choice`` is removed from the call's kwargs,
which has no meaning without tools (llama_index issue #20790).
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncGenerator, Generator
from typing import TYPE_CHECKING, Any, Literal

from llama_index.core.base.llms.types import ChatMessage, MessageRole, TextBlock
from llama_index.core.bridge.pydantic import BaseModel, Field
from llama_index.core.instrumentation.events.llm import (
    LLMStructuredPredictEndEvent,
    LLMStructuredPredictStartEvent,
)
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.core.program.streaming_utils import process_streaming_content_incremental
from llama_index.core.prompts import PromptTemplate
from llama_index.core.types import Model, PydanticProgramMode
from llama_index_instrumentation import get_dispatcher

if TYPE_CHECKING:
    from llama_index.core.program.utils import FlexibleModel

dispatcher = get_dispatcher(__name__)

_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)
# Keys of the tool-calling path that must not reach a response_format call.
_TOOL_KWARGS = ("tool_choice", "tool_required", "allow_parallel_tool_calls", "tools")
StreamedObject = Any  # a partial Model, as LlamaIndex's FlexibleModel


def schema_instruction(output_cls: type[BaseModel]) -> str:
    """The instruction that tells the model which JSON to write."""
    schema = json.dumps(output_cls.model_json_schema(), ensure_ascii=False)
    return (
        "Answer with one JSON object that is an instance of this JSON schema "
        f"({output_cls.__name__}), and nothing else:\n{schema}"
    )


def with_schema(messages: list[ChatMessage], output_cls: type[BaseModel]) -> list[ChatMessage]:
    """The messages with the schema instruction added to (or as) the system message."""
    instruction = schema_instruction(output_cls)
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


def strip_fences(text: str) -> str:
    """The JSON inside a Markdown code fence, or the text as is."""
    match = _FENCE.match(text)
    return match.group(1) if match else text.strip()


def parse_output(output_cls: type[Model], content: str | None) -> Model:
    """Validate the model's JSON reply against the output class."""
    return output_cls.model_validate_json(strip_fences(content or ""))


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

    def _json_messages(
        self, output_cls: type[BaseModel], prompt: PromptTemplate, prompt_args: dict[str, Any]
    ) -> list[ChatMessage]:
        messages = self._extend_messages(prompt.format_messages(llm=self, **prompt_args))
        return with_schema(messages, output_cls)

    def _start_prediction(
        self, output_cls: type[BaseModel], prompt: PromptTemplate, prompt_args: dict[str, Any]
    ) -> list[ChatMessage]:
        """Announce a JSON-mode prediction and return the messages to send."""
        start = LLMStructuredPredictStartEvent(
            output_cls=output_cls, template=prompt, template_args=prompt_args
        )
        dispatcher.event(start)
        return self._json_messages(output_cls, prompt, prompt_args)

    @staticmethod
    def _end_prediction(output_cls: type[Model], content: str | None) -> Model:
        """Parse the JSON reply and announce the result."""
        result = parse_output(output_cls, content)
        dispatcher.event(LLMStructuredPredictEndEvent(output=result))
        return result

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
            predicted: Model = super().structured_predict(
                output_cls, prompt, llm_kwargs, **prompt_args
            )
            return predicted
        messages = self._start_prediction(output_cls, prompt, prompt_args)
        response = self.chat(messages, **json_mode_kwargs(llm_kwargs))
        return self._end_prediction(output_cls, response.message.content)

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
            predicted: Model = await super().astructured_predict(
                output_cls, prompt, llm_kwargs, **prompt_args
            )
            return predicted
        messages = self._start_prediction(output_cls, prompt, prompt_args)
        response = await self.achat(messages, **json_mode_kwargs(llm_kwargs))
        return self._end_prediction(output_cls, response.message.content)

    def _structured_stream_call(
        self,
        output_cls: type[Model],
        prompt: PromptTemplate,
        llm_kwargs: dict[str, Any] | None = None,
        **prompt_args: Any,
    ) -> Generator[Model | list[Model] | FlexibleModel | list[FlexibleModel], None, None]:
        if not self._uses_json_mode():
            return super()._structured_stream_call(output_cls, prompt, llm_kwargs, **prompt_args)
        messages = self._json_messages(output_cls, prompt, prompt_args)
        responses = self.stream_chat(messages, **json_mode_kwargs(llm_kwargs))

        def gen() -> Generator[StreamedObject, None, None]:
            current = None
            for response in responses:
                current = process_streaming_content_incremental(response, output_cls, current)
                yield current

        return gen()

    async def _structured_astream_call(
        self,
        output_cls: type[Model],
        prompt: PromptTemplate,
        llm_kwargs: dict[str, Any] | None = None,
        **prompt_args: Any,
    ) -> AsyncGenerator[Model | list[Model] | FlexibleModel | list[FlexibleModel], None]:
        if not self._uses_json_mode():
            return await super()._structured_astream_call(
                output_cls, prompt, llm_kwargs, **prompt_args
            )
        messages = self._json_messages(output_cls, prompt, prompt_args)
        responses = await self.astream_chat(messages, **json_mode_kwargs(llm_kwargs))

        async def gen() -> AsyncGenerator[StreamedObject, None]:
            current = None
            async for response in responses:
                current = process_streaming_content_incremental(response, output_cls, current)
                yield current

        return gen()
