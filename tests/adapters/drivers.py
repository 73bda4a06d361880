"""One driver per framework, so that a test of what both adapters do with the core is written once.

A driver builds its framework's model from settings named as the core names them (it translates
them to the adapter's own fields), runs a call sync or async, and reads what the framework's user
got into a `Reply`. `classes` says what else a core error must be when it reaches that user, and
the media cases are built from the framework's own content blocks.
"""

from __future__ import annotations

import base64
import functools
import operator
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pytest

import stepfun_core as core
from tests.hostile import GIF, MEDIA, PNG, WAV, RecordingAPI
from tests.modes import Mode

# A media block (made when the case runs) and what the error refusing it must name.
MediaCase = tuple[Callable[[], Any], str]
# A usage as (prompt, completion, total) tokens.
Usage = tuple[int, int, int]


@dataclass
class Call:
    """A tool call as the framework hands it to the code that runs tools."""

    id: str
    name: str
    arguments: Any


@dataclass
class Reply:
    """What the framework's user got from one call, read the same way in both frameworks."""

    text: str
    message: Any  # the framework's own message, fit to go back into a history
    usage: Usage | None = None
    finish_reason: str | None = None
    calls: list[Call] = field(default_factory=list)
    deltas: list[str] = field(default_factory=list)  # a stream's non-empty text pieces


class Adapter(Mode):
    """What a test needs of one framework's adapter; one subclass per framework."""

    name: ClassVar[str]
    # A setting as the core names it -> the adapter's field for it (the same name if absent).
    fields: ClassVar[dict[str, str]]
    # Where a caller may put a parameter of the body: at construction (a field) or per call.
    places: ClassVar[tuple[str, ...]]
    # How the error refusing a malformed key read from STEP_API_KEY names the key's source.
    env_key_source: ClassVar[str]
    bad_media: ClassVar[dict[str, MediaCase]]
    good_media: ClassVar[dict[str, Callable[[], Any]]]

    def model_class(self) -> type[Any]:
        raise NotImplementedError

    def make(self, **settings: Any) -> Any:
        """The model, built from settings named as the core names them."""
        return self.model_class()(**{self.fields.get(k, k): v for k, v in settings.items()})

    def over(self, api: RecordingAPI, **settings: Any) -> Any:
        """The model with both caller's clients answered by ``api`` (a test key, no retries)."""
        return self.make(**api.options("async_http_client", **settings))

    def setting(self, model: Any, name: str) -> Any:
        """The model's value for a setting named as the core names it."""
        return getattr(model, self.fields.get(name, name))

    def classes(self, core_class: type[core.StepFunError]) -> tuple[type[Exception], ...]:
        """What a core error of this class must also be when it reaches the framework's user."""
        raise NotImplementedError

    def invoke(self, model: Any, /, *history: Any, **call: Any) -> Reply:
        raise NotImplementedError

    def stream(self, model: Any, /, *history: Any, **call: Any) -> Reply:
        raise NotImplementedError

    def with_tools(self, model: Any, tools: list[Any], prompt: str, *, stream: bool) -> Reply:
        """One call offering these tools (OpenAI-style dicts or Python functions)."""
        raise NotImplementedError

    def looking_at(self, block: Any) -> Any:
        """A user message holding a line of text, then this content block."""
        raise NotImplementedError

    def called(self, call_id: str, name: str, arguments: Any) -> list[Any]:
        """An assistant turn calling one tool with these arguments, then the tool's answer."""
        raise NotImplementedError


@contextmanager
def raised(adapter: Adapter, core_class: type[core.StepFunError]) -> Iterator[Any]:
    """Expect the core's error as the adapter hands it to its user (yields the ExceptionInfo)."""
    with pytest.raises(core_class) as caught:
        yield caught
    for cls in adapter.classes(core_class):
        assert isinstance(caught.value, cls), f"{type(caught.value).__mro__} lacks {cls}"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


# --- LangChain -------------------------------------------------------------------------------


def _image_url(url: str) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": url}}


class LangChain(Adapter):
    """``ChatStepFun``: core errors arrive as dual classes, also LangChain's own."""

    name = "langchain"
    fields: ClassVar[dict[str, str]] = {
        "extras": "model_kwargs",
        "stream_idle_timeout": "stream_chunk_timeout",
        "async_http_client": "http_async_client",
    }
    places = ("extras", "extra_body", "call-extra_body", "call-kwarg")
    # ChatStepFun reads STEP_API_KEY in its field's default, so the core is handed an argument
    # and its error names that as the key's source (a gap: the variable would be more helpful).
    env_key_source = "from the api_key argument"
    _in = "messages[0].content[1]"
    bad_media: ClassVar[dict[str, MediaCase]] = {
        "empty": (lambda: _image_url("data:image/png;base64,"), _in),
        "bad-base64": (lambda: _image_url("data:image/png;base64,!!!not-base64!!!"), _in),
        "gif-as-png": (lambda: _image_url(f"data:image/png;base64,{b64(GIF)}"), _in),
        "gif-as-png-block": (
            lambda: {"type": "image", "base64": b64(GIF), "mime_type": "image/png"},
            _in,
        ),
        "empty-audio": (
            lambda: {"type": "input_audio", "input_audio": {"data": "data:audio/mpeg;base64,"}},
            _in,
        ),
        "bad-audio-base64": (
            lambda: {"type": "input_audio", "input_audio": {"data": "%%%", "format": "wav"}},
            _in,
        ),
        "wav-as-mpeg": (
            lambda: {"type": "audio", "base64": b64(WAV), "mime_type": "audio/mpeg"},
            _in,
        ),
    }
    good_media: ClassVar[dict[str, Callable[[], Any]]] = {
        "png-url": lambda: _image_url(f"data:image/png;base64,{b64(PNG)}"),
        "png-block": lambda: {"type": "image", "base64": b64(PNG), "mime_type": "image/png"},
        "wav-block": lambda: {"type": "audio", "base64": b64(WAV), "mime_type": "audio/wav"},
    }

    def model_class(self) -> type[Any]:
        from langchain_stepfun import ChatStepFun

        return ChatStepFun

    def classes(self, core_class: type[core.StepFunError]) -> tuple[type[Exception], ...]:
        from langchain_core import exceptions as lc

        from langchain_stepfun import errors as dual

        duals: dict[type[core.StepFunError], tuple[type[Exception], ...]] = {
            core.InvalidParameterError: (
                dual.StepFunInvalidParameterError,
                lc.ModelInvalidRequestError,
            ),
            core.MalformedAPIKeyError: (
                dual.StepFunMalformedAPIKeyError,
                lc.ModelAuthenticationError,
            ),
            core.MissingAPIKeyError: (dual.StepFunMissingAPIKeyError, lc.ModelAuthenticationError),
            core.MalformedResponseError: (dual.StepFunMalformedResponseError, lc.ModelAPIError),
            core.ResponseTooLargeError: (dual.StepFunResponseTooLargeError, lc.ModelAPIError),
            core.StreamTimeoutError: (dual.StepFunStreamTimeoutError, lc.ModelTimeoutError),
            core.StreamIdleTimeoutError: (
                dual.StepFunStreamIdleTimeoutError,
                lc.ModelTimeoutError,
            ),
            core.TotalTimeoutError: (dual.StepFunTotalTimeoutError, lc.ModelTimeoutError),
        }
        return duals[core_class]

    @staticmethod
    def _messages(history: tuple[Any, ...]) -> list[Any]:
        from langchain_core.messages import HumanMessage

        return [HumanMessage(item) if isinstance(item, str) else item for item in history]

    @staticmethod
    def _reply(message: Any, chunks: list[Any] | None = None) -> Reply:
        usage = message.usage_metadata
        calls = [*message.tool_calls, *message.invalid_tool_calls]
        return Reply(
            text=message.text,
            message=message,
            usage=(usage["input_tokens"], usage["output_tokens"], usage["total_tokens"])
            if usage
            else None,
            finish_reason=message.response_metadata.get("finish_reason"),
            calls=[Call(c["id"], c["name"], c["args"]) for c in calls],
            deltas=[c.text for c in chunks or [] if c.text],
        )

    def _invoke(self, runnable: Any, value: Any, **call: Any) -> Reply:
        message = self.call(
            lambda: runnable.invoke(value, **call), lambda: runnable.ainvoke(value, **call)
        )
        return self._reply(message)

    def _stream(self, runnable: Any, value: Any, **call: Any) -> Reply:
        chunks = self.collect(
            lambda: runnable.stream(value, **call), lambda: runnable.astream(value, **call)
        )
        return self._reply(functools.reduce(operator.add, chunks), chunks)

    def invoke(self, model: Any, /, *history: Any, **call: Any) -> Reply:
        return self._invoke(model, self._messages(history), **call)

    def stream(self, model: Any, /, *history: Any, **call: Any) -> Reply:
        return self._stream(model, self._messages(history), **call)

    def with_tools(self, model: Any, tools: list[Any], prompt: str, *, stream: bool) -> Reply:
        bound = model.bind_tools(tools)
        return self._stream(bound, prompt) if stream else self._invoke(bound, prompt)

    def looking_at(self, block: Any) -> Any:
        from langchain_core.messages import HumanMessage

        return HumanMessage(content=[{"type": "text", "text": "look"}, block])

    def called(self, call_id: str, name: str, arguments: Any) -> list[Any]:
        from langchain_core.messages import AIMessage, ToolMessage

        call = {"id": call_id, "name": name, "args": arguments}
        return [AIMessage("", tool_calls=[call]), ToolMessage("done", tool_call_id=call_id)]


# --- LlamaIndex ------------------------------------------------------------------------------


def _image(**fields: Any) -> Any:
    from llama_index.core.base.llms.types import ImageBlock

    return ImageBlock(**fields)


def _audio(**fields: Any) -> Any:
    from llama_index.core.base.llms.types import AudioBlock

    return AudioBlock(**fields)


class LlamaIndex(Adapter):
    """LlamaIndex's ``StepFun``: core errors arrive unchanged."""

    name = "llamaindex"
    fields: ClassVar[dict[str, str]] = {"base_url": "api_base", "extras": "additional_kwargs"}
    places = ("extras", "call-extra_body", "call-kwarg")
    env_key_source = "STEP_API_KEY"
    _in = "messages[0].content[1]"
    bad_media: ClassVar[dict[str, MediaCase]] = {
        "image-empty": (lambda: _image(url="data:image/png;base64,"), _in),
        "image-bad-base64": (lambda: _image(url="data:image/png;base64,!!!not-base64!!!"), _in),
        "gif-as-png": (lambda: _image(image=GIF, image_mimetype="image/png"), "image/gif"),
        "wav-as-mp3": (lambda: _audio(audio=WAV, format="mp3"), "audio/wav"),
        "audio-empty": (lambda: _audio(url="data:audio/mpeg;base64,"), _in),
        "audio-bad-base64": (lambda: _audio(url="data:audio/wav;base64,%%%"), _in),
    }
    good_media: ClassVar[dict[str, Callable[[], Any]]] = {
        "png-bytes": lambda: _image(image=PNG, image_mimetype="image/png"),
        "png-file": lambda: _image(path=MEDIA / "tiny.png"),
        "wav-bytes": lambda: _audio(audio=WAV, format="wav"),
    }

    def model_class(self) -> type[Any]:
        from llama_index_stepfun import StepFun

        return StepFun

    def classes(self, core_class: type[core.StepFunError]) -> tuple[type[Exception], ...]:
        return (core_class,)

    @staticmethod
    def _messages(history: tuple[Any, ...]) -> list[Any]:
        from llama_index.core.base.llms.types import ChatMessage

        return [
            ChatMessage(role="user", content=item) if isinstance(item, str) else item
            for item in history
        ]

    @staticmethod
    def _reply(llm: Any, responses: list[Any]) -> Reply:
        final = responses[-1]
        found = final.additional_kwargs
        usage = tuple(found.get(k) for k in ("prompt_tokens", "completion_tokens", "total_tokens"))
        selections = llm.get_tool_calls_from_response(final, error_on_no_tool_call=False)
        return Reply(
            text=final.message.content or "",
            message=final.message,
            usage=usage if None not in usage else None,  # type: ignore[arg-type]
            finish_reason=found.get("finish_reason"),
            calls=[Call(s.tool_id, s.tool_name, s.tool_kwargs) for s in selections],
            deltas=[r.delta for r in responses if r.delta],
        )

    def invoke(self, model: Any, /, *history: Any, **call: Any) -> Reply:
        messages = self._messages(history)
        response = self.call(
            lambda: model.chat(messages, **call), lambda: model.achat(messages, **call)
        )
        return self._reply(model, [response])

    def stream(self, model: Any, /, *history: Any, **call: Any) -> Reply:
        messages = self._messages(history)
        responses = self.collect(
            lambda: model.stream_chat(messages, **call),
            lambda: model.astream_chat(messages, **call),
        )
        return self._reply(model, responses)

    def with_tools(self, model: Any, tools: list[Any], prompt: str, *, stream: bool) -> Reply:
        from llama_index.core.tools import FunctionTool

        offered = [FunctionTool.from_defaults(t) if callable(t) else t for t in tools]
        # Every call the model makes, as LangChain's bind_tools gives them (LlamaIndex keeps
        # the first only by default).
        options = {"user_msg": prompt, "allow_parallel_tool_calls": True}
        if stream:
            responses = self.collect(
                lambda: model.stream_chat_with_tools(offered, **options),
                lambda: model.astream_chat_with_tools(offered, **options),
            )
            return self._reply(model, responses)
        response = self.call(
            lambda: model.chat_with_tools(offered, **options),
            lambda: model.achat_with_tools(offered, **options),
        )
        return self._reply(model, [response])

    def looking_at(self, block: Any) -> Any:
        from llama_index.core.base.llms.types import ChatMessage, TextBlock

        return ChatMessage(role="user", blocks=[TextBlock(text="look"), block])

    def called(self, call_id: str, name: str, arguments: Any) -> list[Any]:
        from llama_index.core.base.llms.types import ChatMessage, ToolCallBlock

        block = ToolCallBlock(tool_call_id=call_id, tool_name=name, tool_kwargs=arguments)
        answer = ChatMessage(
            role="tool", content="done", additional_kwargs={"tool_call_id": call_id}
        )
        return [ChatMessage(role="assistant", blocks=[block]), answer]


ADAPTERS: dict[str, type[Adapter]] = {"langchain": LangChain, "llamaindex": LlamaIndex}
