"""``StepFun``: a LlamaIndex FunctionCallingLLM on the shared StepFun core."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypeVar

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

from llama_index_stepfun.messages import to_wire_messages
from llama_index_stepfun.responses import StreamResponder, chat_response
from llama_index_stepfun.structured import JsonModeLLM
from llama_index_stepfun.tools import (
    has_function_tools,
    keep_first_tool_call,
    resolve_tool_choice,
    tool_selections,
    tool_specs,
)
from stepfun_core import (
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_MODEL,
    AsyncStepFunClient,
    EchoReasoning,
    StepFunClient,
    build_chat_request,
    client_options,
    get_model_info,
    merge_extra,
    resolve_api_key,
    resolve_base_url,
)
from stepfun_core.ownership import cached_client, refuse_to_pickle, share_in_copy
from stepfun_core.settings import DEFAULT_MAX_RETRIES
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

T = TypeVar("T")


def _secret(value: str | SecretStr | None) -> str | None:
    """The key as text (``model_copy(update=...)`` may leave a plain string)."""
    return value.get_secret_value() if isinstance(value, SecretStr) else value


class StepFun(JsonModeLLM):
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
    stop: str | list[str] | None = Field(default=None)
    reasoning_effort: Literal["low", "medium", "high"] | None = Field(default=None)
    reasoning_format: Literal["general", "deepseek-style"] | None = Field(default=None)
    echo_reasoning: EchoReasoning = Field(
        default="tool_calls",
        description="Send earlier reasoning back as reasoning_content on assistant messages: "
        "'tool_calls' (those carrying tool calls), 'always' or 'never'.",
    )
    additional_kwargs: dict[str, Any] = Field(
        default_factory=dict, description="Extra request parameters sent on every call."
    )
    timeout: float | None = Field(default=None, description="Read timeout in seconds.")
    stream_idle_timeout: float | None = Field(
        default=None,
        gt=0,
        description="End a stream that sends no data for this many seconds (keep-alives "
        "don't count); None: only the read timeout applies.",
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

    # The core clients, each with the settings it was made from: a copy or an assignment that
    # changes a setting gets new clients on its next call.
    _sync_cache: tuple[tuple[Any, ...], StepFunClient] | None = PrivateAttr(default=None)
    _async_cache: tuple[tuple[Any, ...], AsyncStepFunClient] | None = PrivateAttr(default=None)

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        api_key: str | SecretStr | None = None,
        **kwargs: Any,
    ) -> None:
        key = resolve_api_key(_secret(api_key))
        super().__init__(model=model, api_key=SecretStr(key), **kwargs)
        # A mangled key, a URL with a password or a bad header fails here, not at the first call.
        self.api_base = resolve_base_url(client_options(**self._options())["base_url"])
        check_http_client(self.http_client, asynchronous=False, field="http_client")
        check_http_client(self.async_http_client, asynchronous=True, field="async_http_client")

    def _options(self) -> dict[str, Any]:
        return {
            "api_key": _secret(self.api_key),
            "base_url": self.api_base,
            "timeout": self.timeout,
            "max_retries": self.max_retries,
            "default_headers": self.default_headers,
            "stream_idle_timeout": self.stream_idle_timeout,
            "total_timeout": self.total_timeout,
            "max_response_bytes": self.max_response_bytes,
        }

    def _settings(self, http: Any) -> tuple[Any, ...]:
        # Compared on every call (about a microsecond): any change means new core clients.
        headers = tuple(self.default_headers.items()) if self.default_headers else ()
        return (*self._options().values(), headers, http)

    def _cached_client(self, slot: str, http: Any, make: Callable[..., T]) -> T:
        """The core client kept in ``slot`` if made from the current settings, else a new one."""
        # A private attribute: pydantic reads it slowly.
        current: tuple[tuple[Any, ...], T] | None = getattr(self, slot)
        cached = cached_client(
            current, self._settings(http), lambda: make(**self._options(), http_client=http)
        )
        if cached is not current:  # and writes it slowly: only on a change
            setattr(self, slot, cached)
        return cached[1]

    @property
    def client(self) -> StepFunClient:
        """The core sync client for the current settings (made again when they change)."""
        return self._cached_client("_sync_cache", self.http_client, StepFunClient)

    @property
    def async_client(self) -> AsyncStepFunClient:
        """The core async client for the current settings (made again when they change)."""
        return self._cached_client("_async_cache", self.async_http_client, AsyncStepFunClient)

    def __getstate__(self) -> dict[Any, Any]:
        """Pickle the settings; refuse clearly when the model holds the caller's httpx client.

        (LlamaIndex's own pickling would drop the client silently, with its proxy and TLS.)
        """
        refuse_to_pickle(
            "StepFun", "http_client / async_http_client", self.http_client, self.async_http_client
        )
        state = super().__getstate__()
        private = state.get("__pydantic_private__")
        if private:
            state["__pydantic_private__"] = {**private, "_sync_cache": None, "_async_cache": None}
        return state

    def __deepcopy__(self, memo: dict[int, Any] | None = None) -> StepFun:
        """A deep copy that shares the caller's httpx clients (they are never copied)."""
        memo = share_in_copy({} if memo is None else memo, self.http_client, self.async_http_client)
        return super().__deepcopy__(memo)

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
            system_role=MessageRole.SYSTEM,
        )

    def _payload(self, messages: Sequence[ChatMessage], **kwargs: Any) -> dict[str, Any]:
        params: dict[str, Any] = {
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "top_p": self.top_p,
            "frequency_penalty": self.frequency_penalty,
            "stop": self.stop,
            "reasoning_effort": self.reasoning_effort,
            "reasoning_format": self.reasoning_format,
        }
        merge_extra(params, self.additional_kwargs, "additional_kwargs")
        extra = kwargs.pop("extra_body", None)
        merge_extra(
            params,
            {k: v for k, v in kwargs.items() if k not in _NOT_PARAMS},
            "the call's keyword arguments",
        )
        merge_extra(params, extra, "extra_body")
        model = kwargs.get("model") or self.model
        wire = to_wire_messages(messages, self.echo_reasoning)
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
        return chat_response(self.client.create(self._payload(messages, **kwargs)))

    async def _achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        return chat_response(await self.async_client.create(self._payload(messages, **kwargs)))

    def _stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        payload = self._payload(messages, **kwargs)  # invalid input fails here, at the call

        def gen() -> ChatResponseGen:
            with self.client.stream(payload) as stream:
                responder = StreamResponder(stream.accumulator)
                for chunk in stream:
                    yield responder.response(chunk)

        return gen()

    async def _astream_chat(
        self, messages: Sequence[ChatMessage], **kwargs: Any
    ) -> ChatResponseAsyncGen:
        payload = self._payload(messages, **kwargs)

        async def gen() -> ChatResponseAsyncGen:
            stream = await self.async_client.stream(payload)
            async with stream:
                responder = StreamResponder(stream.accumulator)
                async for chunk in stream:
                    yield responder.response(chunk)

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
        chat_kwargs: dict[str, Any] = {**kwargs, "messages": messages}
        specs = tool_specs(tools)
        if specs:
            chat_kwargs["tools"] = specs
            if has_function_tools(specs):
                chat_kwargs["tool_choice"] = resolve_tool_choice(tool_choice, tool_required)
        return chat_kwargs

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
        """The client tool calls of a response (never server-side ones such as web_search).

        Partial arguments of a stream are read as far as they go.
        """
        selections = tool_selections(response)
        if not selections and error_on_no_tool_call:
            raise ValueError("Expected at least one tool call, but the response has none.")
        return selections
