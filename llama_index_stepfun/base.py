"""``StepFun``: a LlamaIndex FunctionCallingLLM on the shared StepFun core."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from llama_index.core.base.llms.generic_utils import (
    achat_to_completion_decorator,
    astream_chat_to_completion_decorator,
    chat_to_completion_decorator,
    stream_chat_to_completion_decorator,
)
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseAsyncGen,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseAsyncGen,
    CompletionResponseGen,
    LLMMetadata,
    MessageRole,
)
from llama_index.core.bridge.pydantic import Field, PrivateAttr, SecretStr
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.llms.llm import ToolSelection

from llama_index_stepfun.messages import to_wire_message
from llama_index_stepfun.responses import StreamResponder, chat_response
from llama_index_stepfun.structured import JsonModeLLM
from llama_index_stepfun.tools import keep_first_tool_call, tool_selections, tools_kwargs
from stepfun_core import (
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_MODEL,
    EchoReasoning,
    InvalidParameterError,
    build_chat_request,
    get_model_info,
    learn,
    merge_extra,
    resolve_api_key,
)
from stepfun_core.cached import ClientCache, CoreClients, revealed
from stepfun_core.history import EchoField
from stepfun_core.request import echo_mode
from stepfun_core.settings import (
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_KEEPALIVE_CONNECTIONS,
    DEFAULT_MAX_RETRIES,
    Timeouts,
)
from stepfun_core.transport import AsyncHTTP, SyncHTTP, check_http_client

if TYPE_CHECKING:
    from llama_index.core.tools.types import BaseTool

# What PromptHelper reserves for the answer when max_tokens is unset: enough for reasoning
# models (the default 256 cuts them off, llamaindex-contract §1.2), at most a quarter of the window.
DEFAULT_NUM_OUTPUT = 16384
# Keys LlamaIndex passes through chat kwargs that are not request parameters.
_NOT_PARAMS = frozenset(
    {"tool_required", "allow_parallel_tool_calls", "verbose", "formatted", "strict", "model"}
)
# Request fields taken from the model's attributes, in the order they are sent.
PARAMS = (
    "temperature",
    "max_tokens",
    "top_p",
    "frequency_penalty",
    "stop",
    "reasoning_effort",
    "reasoning_format",
)


class StepFun(CoreClients, JsonModeLLM):
    """StepFun chat models for LlamaIndex: chat, streaming, tools, reasoning, structured output.

    Example:
        ```python
        from llama_index.core import Settings
        from llama_index_stepfun import StepFun

        Settings.llm = StepFun(model="step-3.5-flash")  # key from STEP_API_KEY
        ```

    The key comes from ``api_key`` or the ``STEP_API_KEY`` / ``STEPFUN_API_KEY`` variables and
    never appears in ``repr``, ``to_dict``, ``to_json`` or instrumentation payloads. The core
    client does the only retry layer (``max_retries``).

    """

    # Our name for a core setting (LlamaIndex's convention), and for the caller's clients.
    _RENAMES: ClassVar[dict[str, str]] = {"base_url": "api_base"}
    _HTTP_FIELDS: ClassVar[tuple[str, str]] = ("http_client", "async_http_client")
    _EXTRA_PARAMS_FIELD: ClassVar[str] = "additional_kwargs"

    model: str = Field(default=DEFAULT_MODEL, description="The StepFun model name.")
    api_key: SecretStr | None = Field(
        default=None, exclude=True, repr=False, description="The API key (never serialized)."
    )
    api_base: str | None = Field(
        default=None, description="Base URL; default from STEP_BASE_URL / STEPFUN_BASE_URL."
    )
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    max_tokens: int | None = Field(default=None, gt=0, description="Unset: no limit.")
    top_p: float | None = Field(default=None, ge=0.0, le=1.0)
    frequency_penalty: float | None = Field(default=None, ge=-2.0, le=2.0)
    stop: str | list[str] | None = None
    reasoning_effort: Literal["low", "medium", "high"] | None = None
    reasoning_format: Literal["general", "deepseek-style"] | None = None
    echo_reasoning: EchoReasoning = Field(
        default="tool_calls",
        description="Send earlier reasoning back on assistant messages: 'tool_calls' (those "
        "carrying tool calls), 'always' or 'never'.",
    )
    reasoning_echo_field: EchoField = Field(
        default="auto",
        description="The field earlier reasoning is echoed under: the one the server takes "
        "('auto': tried as 'reasoning', then 'reasoning_content', then not at all, and "
        "remembered), or one of them.",
    )
    additional_kwargs: dict[str, Any] = Field(
        default_factory=dict, description="Extra request parameters sent on every call."
    )
    timeout: float | Timeouts | None = Field(
        default=None,
        description="Seconds to wait for the answer, or an httpx.Timeout (kept as its connect, "
        "read, write and pool seconds); applied through your own http_client too.",
    )
    stream_idle_timeout: float | None = Field(
        default=None,
        ge=0,
        description="End a stream that sends no data for this many seconds (keep-alives "
        "don't count); None or 0: only the read timeout applies.",
    )
    max_retries: int = Field(default=DEFAULT_MAX_RETRIES, ge=0)
    default_headers: dict[str, str] | None = Field(default=None, exclude=True, repr=False)
    total_timeout: float | None = Field(
        default=None,
        description="End a non-streaming call that takes longer than this many seconds in all "
        "(retries and a server trickling bytes included); None: only the read timeouts apply.",
    )
    max_response_bytes: int = Field(
        default=DEFAULT_MAX_RESPONSE_BYTES,
        gt=0,
        description="The largest reply (after decompression) that is read; larger is an error.",
    )
    max_connections: int = Field(
        default=DEFAULT_MAX_CONNECTIONS,
        gt=0,
        description="The size of the shared connection pool (per process, and per event loop).",
    )
    max_keepalive_connections: int = Field(
        default=DEFAULT_MAX_KEEPALIVE_CONNECTIONS,
        ge=0,
        description="How many idle connections the shared pool keeps open for reuse.",
    )
    context_window: int | None = Field(
        default=None, gt=0, description="Override the catalog's context window."
    )
    http_client: SyncHTTP | None = Field(
        default=None,
        exclude=True,
        description="Your own httpx.Client or httpx2.Client (proxies, TLS, tracing).",
    )
    async_http_client: AsyncHTTP | None = Field(
        default=None, exclude=True, description="Your own httpx.AsyncClient or httpx2.AsyncClient."
    )

    _clients: ClientCache = PrivateAttr(default_factory=ClientCache)

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        api_key: str | SecretStr | None = None,
        **kwargs: Any,
    ) -> None:
        key = resolve_api_key(revealed(api_key))
        self._own_names(kwargs)
        # additional_kwargs' reserved keys refused now, not at the first call.
        kwargs = {name: self._assigned(name, value) for name, value in kwargs.items()}
        # pydantic drops unknown names here; a mistyped setting would never reach the API.
        if unknown := sorted(set(kwargs) - set(type(self).model_fields)):
            warnings.warn(f"StepFun ignores unknown arguments: {unknown}", stacklevel=2)
        super().__init__(model=model, api_key=SecretStr(key), **kwargs)
        # A mangled key, a URL with a password or a bad header fails here, not at the first call.
        self.api_base = self.settings().base_url
        check_http_client(self.http_client, asynchronous=False, field="http_client")
        check_http_client(self.async_http_client, asynchronous=True, field="async_http_client")

    @classmethod
    def class_name(cls) -> str:
        """The name LlamaIndex serializes this class under."""
        return "StepFunLLM"

    @property
    def metadata(self) -> LLMMetadata:
        """Context window, output budget and capabilities of the model."""
        info = get_model_info(self.model)
        window = self.context_window or info.context_window
        num_output = self.max_tokens or min(
            info.max_output_tokens or DEFAULT_NUM_OUTPUT, DEFAULT_NUM_OUTPUT, window // 4
        )
        return LLMMetadata(
            context_window=window,
            num_output=num_output,
            is_chat_model=True,
            is_function_calling_model=info.tool_calling,
            model_name=self.model,
        )

    def refresh_metadata(self) -> LLMMetadata:
        """Learn what the API serves (``GET /models``, for the process) and return the metadata."""
        learn(self.client.list_models())
        return self.metadata

    async def arefresh_metadata(self) -> LLMMetadata:
        """`refresh_metadata`, without blocking the event loop."""
        learn(await self.async_client.list_models())
        return self.metadata

    def _core_client(self, asynchronous: bool, kwargs: dict[str, Any]) -> Any:
        # LlamaIndex's instrumentation events hold a call's arguments before they reach us.
        if isinstance(kwargs.get("api_key"), str):
            msg = "api_key: give one call's key as a SecretStr (LlamaIndex's events record it)"
            raise InvalidParameterError(msg)
        return super()._core_client(asynchronous, kwargs)

    def _payload(self, messages: Sequence[ChatMessage], **kwargs: Any) -> dict[str, Any]:
        if model_only := sorted(kwargs.keys() & _MODEL_ONLY):
            msg = f"{', '.join(model_only)}: a setting of the model, not of one call"
            raise InvalidParameterError(msg)
        echo = echo_mode(kwargs.pop("echo_reasoning", None) or self.echo_reasoning)
        params = {name: getattr(self, name) for name in PARAMS}
        # OpenAI's LlamaIndex LLMs send additional_kwargs' extra_body as body fields (and its
        # extra_headers as headers: CoreClients._core_client), as openai-python's create() does.
        own = self.additional_kwargs
        body_kwargs = {k: v for k, v in own.items() if k not in ("extra_headers", "extra_body")}
        merge_extra(params, body_kwargs, "additional_kwargs")
        merge_extra(params, own.get("extra_body"), "additional_kwargs['extra_body']")
        extra = kwargs.pop("extra_body", None)
        call_kwargs = {k: v for k, v in kwargs.items() if k not in _NOT_PARAMS}
        merge_extra(params, call_kwargs, "the call's keyword arguments")
        merge_extra(params, extra, "extra_body")
        model = self.model if kwargs.get("model") is None else kwargs["model"]  # "" is refused
        wire = [to_wire_message(message, echo) for message in messages]
        return build_chat_request(model, wire, **params)

    # -- chat: native on the core, sync and async ------------------------------------------------

    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        """Send the messages and return the whole reply."""
        return self._chat(messages, **kwargs)

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        """Stream the reply; each response holds the whole message so far."""
        return self._stream_chat(messages, **kwargs)

    @llm_chat_callback()
    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        """Send the messages and return the whole reply."""
        return await self._achat(messages, **kwargs)

    @llm_chat_callback()
    async def astream_chat(
        self, messages: Sequence[ChatMessage], **kwargs: Any
    ) -> ChatResponseAsyncGen:
        """Stream the reply; each response holds the whole message so far."""
        return await self._astream_chat(messages, **kwargs)

    def _chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        client = self._core_client(False, kwargs)
        return chat_response(client.create(self._payload(messages, **kwargs)))

    async def _achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        client = self._core_client(True, kwargs)
        return chat_response(await client.create(self._payload(messages, **kwargs)))

    def _stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        client = self._core_client(False, kwargs)
        payload = self._payload(messages, **kwargs)  # invalid input fails here, at the call

        def gen() -> ChatResponseGen:
            with client.stream(payload) as stream:
                responder = StreamResponder(stream.accumulator)
                for chunk in stream:
                    yield responder.response(chunk)
                if closing := responder.closing():
                    yield closing

        return gen()

    async def _astream_chat(
        self, messages: Sequence[ChatMessage], **kwargs: Any
    ) -> ChatResponseAsyncGen:
        client = self._core_client(True, kwargs)
        payload = self._payload(messages, **kwargs)

        async def gen() -> ChatResponseAsyncGen:
            async with await client.stream(payload) as stream:
                responder = StreamResponder(stream.accumulator)
                async for chunk in stream:
                    yield responder.response(chunk)
                if closing := responder.closing():
                    yield closing

        return gen()

    # -- completion: derived from the private chat, so each call is counted once -----------------

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        """Complete a prompt (sent as one user message)."""
        return chat_to_completion_decorator(self._chat)(prompt, **kwargs)

    @llm_completion_callback()
    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        """Stream the completion of a prompt."""
        return stream_chat_to_completion_decorator(self._stream_chat)(prompt, **kwargs)

    @llm_completion_callback()
    async def acomplete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponse:
        """Complete a prompt (sent as one user message)."""
        return await achat_to_completion_decorator(self._achat)(prompt, **kwargs)

    @llm_completion_callback()
    async def astream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseAsyncGen:
        """Stream the completion of a prompt."""
        return await astream_chat_to_completion_decorator(self._astream_chat)(prompt, **kwargs)

    # -- tools ------------------------------------------------------------------------------------

    def _prepare_chat_with_tools(  # noqa: PLR0917 (the signature LlamaIndex calls)
        self,
        tools: Sequence[BaseTool | Mapping[str, Any]],
        user_msg: str | ChatMessage | None = None,
        chat_history: list[ChatMessage] | None = None,
        verbose: bool = False,
        allow_parallel_tool_calls: bool = False,
        tool_required: bool = False,
        tool_choice: str | dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """The chat kwargs for a call with tools (a dict spec such as web_search passes as is)."""
        messages = list(chat_history or [])
        if isinstance(user_msg, str):
            user_msg = ChatMessage(role=MessageRole.USER, content=user_msg)
        if user_msg is not None:
            messages.append(user_msg)
        specs = tools_kwargs(tools, tool_choice, tool_required, kwargs.pop("strict", None))
        return {**kwargs, "messages": messages, **specs}

    def _validate_chat_with_tools_response(
        self,
        response: ChatResponse,
        tools: Sequence[BaseTool],
        allow_parallel_tool_calls: bool = False,
        **kwargs: Any,
    ) -> ChatResponse:
        """Keep only the first tool call unless parallel calls are allowed."""
        return response if allow_parallel_tool_calls else keep_first_tool_call(response)

    def get_tool_calls_from_response(
        self,
        response: ChatResponse,
        error_on_no_tool_call: bool = True,
        **kwargs: Any,
    ) -> list[ToolSelection]:
        """The client tool calls of a response (never server-side ones such as web_search)."""
        selections = tool_selections(response)
        if not selections and error_on_no_tool_call:
            raise ValueError("Expected at least one tool call, but the response has none.")
        return selections


# The model's fields that are neither request fields nor call settings: given to one call they
# would be sent in the body, where they mean nothing.
_MODEL_ONLY = frozenset(StepFun.model_fields).difference(
    PARAMS, StepFun._CALL_SETTINGS, StepFun._HTTP_FIELDS, {"model", "echo_reasoning"}
)
