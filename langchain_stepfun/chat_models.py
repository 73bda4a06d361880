"""``ChatStepFun``: a LangChain chat model on the StepFun core (native sync and async)."""

from __future__ import annotations

import functools
import json
import sys
import warnings
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any, ClassVar

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LangSmithParams, ModelProfile
from langchain_core.language_models.base import LanguageModelInput
from langchain_core.load import dumpd
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from pydantic import (
    AliasChoices,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    field_validator,
    model_validator,
)
from typing_extensions import Self

import stepfun_core as core
from langchain_stepfun.errors import (
    LangChainErrors,
    StepFunInvalidParameterError,
    StepFunMalformedAPIKeyError,
    StepFunMissingAPIKeyError,
    to_langchain_error,
)
from langchain_stepfun.messages import to_wire_message
from langchain_stepfun.outputs import chat_result, combine_llm_outputs
from langchain_stepfun.request import PARAMS, generations, refuse_client_settings, request_body
from langchain_stepfun.streaming import ChunkConverter
from langchain_stepfun.structured import Method, json_schema_format, structured_output
from langchain_stepfun.tools import ToolLike, check_flag, format_tool, format_tool_choice
from stepfun_core import EchoReasoning
from stepfun_core.cached import ClientCache, CoreClients, refuse_extra_query
from stepfun_core.history import EchoField
from stepfun_core.redact import display_url, fingerprint
from stepfun_core.settings import find_api_key, find_base_url
from stepfun_core.transport import AsyncHTTP, SyncHTTP, check_http_client

# The distribution these packages ship in, as recorded in ``metadata["lc_versions"]``.
DISTRIBUTION = "stepfun-integrations"


# Frames between a warning and the caller's line: ChatStepFun(...) and model_validate(...) pass
# through different numbers of them.
_OWN_FRAMES = frozenset({"langchain_stepfun", "langchain_core", "pydantic"})


def _one_call(payload: Mapping[str, Any]) -> bool:
    """True if the call asked for one tool call at most (``parallel_tool_calls=False``)."""
    return payload.get("parallel_tool_calls") is False


def _wire_message(message: BaseMessage, echo: Any) -> Any:
    try:
        return to_wire_message(message, echo)
    except Exception:  # counting never fails: a message the API cannot take counts as its text
        return {"role": "user", "content": message.text}


def _wire_tool(tool: Any) -> Any:
    try:
        return format_tool(tool)
    except Exception:  # likewise: a tool that cannot be converted counts as its description
        return {"name": str(getattr(tool, "name", tool)), "description": str(tool.__doc__)}


def _warn_at_caller(message: str) -> None:
    """A ``UserWarning`` attributed to the first frame outside this package and its frameworks."""
    frame, level = sys._getframe(1), 2
    while frame.f_back and frame.f_globals.get("__name__", "").split(".")[0] in _OWN_FRAMES:
        frame, level = frame.f_back, level + 1
    warnings.warn(message, UserWarning, stacklevel=level)


class ChatStepFun(CoreClients, BaseChatModel):
    """StepFun chat models (``step-3.5-flash``, ``step-3.7-flash``, ...) for LangChain.

    Reasoning arrives in ``additional_kwargs["reasoning_content"]`` (so ``content_blocks``
    shows reasoning blocks) and is sent back on earlier assistant messages as configured by
    ``echo_reasoning``. Usage, tool calls and both stream shapes of the API are handled.

    Example:
        ```python
        from langchain_stepfun import ChatStepFun

        model = ChatStepFun(model="step-3.5-flash")  # key from STEP_API_KEY
        model.invoke("Hello!")
        ```

    """

    model_config = ConfigDict(populate_by_name=True, arbitrary_types_allowed=True)
    # Our name for a core setting where it differs (LangChain's convention).
    _RENAMES: ClassVar[dict[str, str]] = {"stream_idle_timeout": "stream_chunk_timeout"}
    _EXTRA_PARAMS_FIELD: ClassVar[str] = "model_kwargs"

    model: str = Field(
        default=core.DEFAULT_MODEL, validation_alias=AliasChoices("model", "model_name")
    )
    """Model name, e.g. ``step-3.5-flash`` or ``step-3.7-flash``."""
    api_key: SecretStr | None = Field(
        default_factory=lambda: SecretStr(key.value) if (key := find_api_key()) else None,
        # ChatOpenAI's and ChatDeepSeek's names too: users paste them (and a key left in
        # model_kwargs would go into the body, the traces and dumps).
        validation_alias=AliasChoices("api_key", "stepfun_api_key", "openai_api_key"),
        repr=False,
    )
    """API key; read from ``STEP_API_KEY`` or ``STEPFUN_API_KEY`` when not given."""
    base_url: str = Field(
        default_factory=lambda: find_base_url().value,
        validation_alias=AliasChoices("base_url", "openai_api_base", "api_base"),
    )
    """API base URL; from ``STEP_BASE_URL`` / ``STEPFUN_BASE_URL``, else the international one."""
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = Field(
        default=None, validation_alias=AliasChoices("max_tokens", "max_completion_tokens")
    )
    """The answer's limit in tokens (``max_completion_tokens``, OpenAI's newer name, is taken)."""
    n: int | None = None
    """Number of choices to generate (each becomes a generation)."""
    stop: list[str] | str | None = Field(
        default=None, validation_alias=AliasChoices("stop", "stop_sequences")
    )
    frequency_penalty: float | None = None
    response_format: dict[str, Any] | None = None
    reasoning_effort: str | None = None
    """``low``, ``medium`` or ``high`` on models with reasoning tiers."""
    reasoning_format: str | None = None
    """``general`` (reasoning in ``reasoning``) or ``deepseek-style`` (``reasoning_content``)."""
    echo_reasoning: EchoReasoning = "tool_calls"
    """Send earlier reasoning back on assistant messages: on those with tool calls
    (default), on every one (``always``), or never."""
    reasoning_echo_field: EchoField = "auto"
    """The field earlier reasoning is echoed under: the one the server takes (``auto``: tried
    as ``reasoning``, then ``reasoning_content``, then not at all, and remembered), or one."""
    model_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Extra request fields (unknown constructor arguments are collected here)."""
    extra_body: dict[str, Any] | None = None
    """Extra request fields, sent as they are."""
    timeout: float | core.settings.Timeouts | None = Field(
        default=None, validation_alias=AliasChoices("timeout", "request_timeout")
    )
    """Seconds to wait for the answer, or an ``httpx``/``httpx2`` ``Timeout`` (kept as its connect,
    read, write and pool seconds, so the model serializes); applied through your own
    ``http_client`` too (pass ``timeout=your_client.timeout`` to keep its own)."""
    max_retries: int = core.settings.DEFAULT_MAX_RETRIES
    default_headers: dict[str, str] | None = Field(default=None, exclude=True, repr=False)
    """Extra headers on every request (kept out of repr and serialization: they may hold
    credentials of a proxy)."""
    http_client: SyncHTTP | None = Field(default=None, exclude=True)
    """Your own ``httpx.Client`` or ``httpx2.Client`` (proxies, TLS, tracing); a shared pool
    by default. Never closed by us."""
    http_async_client: AsyncHTTP | None = Field(default=None, exclude=True)
    """Your own ``httpx.AsyncClient`` or ``httpx2.AsyncClient``."""
    streaming: bool = False
    """Route ``invoke`` through the streaming API."""
    stream_usage: bool = True
    """Put the usage on the last chunk of streams."""
    stream_chunk_timeout: float | None = Field(default=None, ge=0)
    """End a stream that sends no data for this many seconds (keep-alives don't count);
    None or 0: only the read timeout applies."""
    total_timeout: float | None = None
    """End a non-streaming call that takes longer than this many seconds in all (retries
    and a server trickling bytes included); None: only the per-read timeouts apply."""
    max_response_bytes: int = Field(default=core.DEFAULT_MAX_RESPONSE_BYTES, gt=0)
    """The largest reply (after decompression) that is read; larger is an error."""
    max_connections: int = Field(default=core.settings.DEFAULT_MAX_CONNECTIONS, gt=0)
    """The size of the shared connection pool (per process, and per event loop)."""
    max_keepalive_connections: int = Field(
        default=core.settings.DEFAULT_MAX_KEEPALIVE_CONNECTIONS, ge=0
    )
    """How many idle connections the shared pool keeps open for reuse."""

    _clients: ClientCache = PrivateAttr(default_factory=ClientCache)

    @classmethod
    @functools.cache  # per class: its fields are fixed once it is made
    def _field_names(cls) -> frozenset[str]:
        """Each field's name and its other names (aliases such as ``stop_sequences``)."""
        return frozenset(cls.model_fields.keys() | cls._OTHER_NAMES.keys())

    @model_validator(mode="before")
    @classmethod
    def _collect_model_kwargs(cls, values: Any) -> Any:
        """Unknown arguments go into ``model_kwargs``, fields found there to the field.

        Each with a warning, as LangChain's chat models do (``model_kwargs`` is sent in the body).
        """
        if not isinstance(values, dict):
            return values
        names = cls._field_names()
        extras = dict(values.get("model_kwargs") or {})
        for name in [n for n in values if n not in names]:
            _warn_at_caller(
                f"{name} is not a field of ChatStepFun: it was transferred to model_kwargs "
                "and is sent in the request body"
            )
            extras[name] = values.pop(name)
        for name in names & extras.keys():
            _warn_at_caller(
                f"Parameters {{{name!r}}} should be specified explicitly, not in model_kwargs"
            )
            values[cls._OTHER_NAMES.get(name, name)] = extras.pop(name)
        return {**values, "model_kwargs": extras} if extras or "model_kwargs" in values else values

    @field_validator("timeout", mode="before")
    @classmethod
    def _timeout_phases(cls, value: Any) -> Any:
        return cls._assigned("timeout", value)

    @model_validator(mode="after")
    def _set_stepfun_version(self) -> Self:
        """Record our version in ``metadata["lc_versions"]`` for traces (langchain-core 1.x)."""
        # Named uniquely on purpose: pydantic replaces a same-named validator of a parent.
        self._add_version(DISTRIBUTION, core.__version__)
        return self

    def __init__(self, **kwargs: Any) -> None:
        extras = kwargs.get("model_kwargs")
        self._own_names(kwargs)
        # Checked before LangChain's own handling, which would quietly move a "model" found in
        # model_kwargs into the field (and without this class's refusal of fields there).
        super()._assigned("model_kwargs", extras)
        self._assigned("extra_body", kwargs.get("extra_body"))  # not at the first call
        with LangChainErrors():  # here, not in a validator: its error would quote the values
            refuse_client_settings(kwargs.keys() | (extras or {}).keys())
            refuse_extra_query(kwargs)  # as an unknown argument (model_kwargs' is checked above)
        # A field also in model_kwargs takes that value, with a warning (as LangChain's chat
        # models do); any other name given twice is refused here: a validator's error would
        # quote the arguments, the key among them.
        if twice := sorted(kwargs.keys() & (extras or {}).keys() - self._field_names()):
            msg = f"{', '.join(twice)}: given both as an argument and in model_kwargs"
            raise StepFunInvalidParameterError(msg)
        key = kwargs.get("api_key")
        if key is not None and not isinstance(key, (str, SecretStr)):
            # Checked here: pydantic's own error would quote the value, the key itself.
            msg = f"api_key must be a string, got {type(key).__name__}"
            raise StepFunMalformedAPIKeyError(msg)
        if key is None:
            # An explicit None (as `loads` passes for a secret it did not resolve) means "read
            # the environment", like an absent key.
            kwargs.pop("api_key", None)
        super().__init__(**kwargs)
        # Checked after validation, not in a validator: pydantic would wrap the error in a
        # ValidationError that quotes the input (the key, or a URL with a password), and
        # callers catching MissingAPIKeyError would miss it.
        if self.api_key is None or not self.api_key.get_secret_value().strip():
            raise StepFunMissingAPIKeyError(core.settings.MISSING_KEY_MESSAGE)
        try:
            self.base_url = self.settings().base_url  # checked, and written as the core uses it
            check_http_client(self.http_client, asynchronous=False, field="http_client")
            check_http_client(self.http_async_client, asynchronous=True, field="http_async_client")
        except core.StepFunError as exc:
            raise to_langchain_error(exc) from None

    @classmethod
    def _assigned(cls, name: str, value: Any) -> Any:
        """The core's checks, a plain-string key kept a secret, no field in ``model_kwargs``.

        (A plain key would show in repr and model_dump; a field there would go into the body.)
        """
        if name == "api_key" and isinstance(value, str):
            return SecretStr(value)
        if name == "extra_body":
            try:
                core.merge_extra({}, value, name)
            except core.StepFunError as exc:
                raise to_langchain_error(exc) from None
        value = super()._assigned(name, value)
        if name == "model_kwargs" and (fields := sorted(cls._field_names() & value.keys())):
            msg = f"model_kwargs: {', '.join(fields)}: a field of ChatStepFun, set it as one"
            raise StepFunInvalidParameterError(msg)
        return value

    # -- LangChain metadata ------------------------------------------------------------------

    @property
    def model_name(self) -> str:
        """The model's name (the ``model`` field), as ``ChatOpenAI.model_name`` reads."""
        return self.model

    @property
    def _llm_type(self) -> str:
        return "stepfun-chat"

    @property
    def lc_secrets(self) -> dict[str, str]:
        """Serialization stores the variable name, never the key."""
        return {"api_key": "STEP_API_KEY"}

    @classmethod
    def is_lc_serializable(cls) -> bool:
        """ChatStepFun can be serialized with ``dumpd`` (without its key)."""
        return True

    @property
    def _identifying_params(self) -> dict[str, Any]:
        params = {name: getattr(self, name) for name in PARAMS}
        params.update(self._shown_call_kwargs(self.model_kwargs))  # its extra_headers hidden
        params.update(self.extra_body or {})
        return {"model": self.model, "base_url": display_url(self.base_url), **params}

    # A call's key, headers and base URL (call settings) are traced and LangSmith keeps them:
    # traces see them hidden. The cache key tells them apart by digests (a tenant's headers or
    # query may change the answer), and so the model's headers too, which serializing leaves out.
    def _get_invocation_params(
        self, stop: list[str] | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        return super()._get_invocation_params(stop, **self._shown_call_kwargs(kwargs))

    def _get_llm_string(self, stop: list[str] | None = None, **kwargs: Any) -> str:
        # langchain-core keys the cache by the model's dump as first made, which a copy or an
        # assignment keeps (a changed model got the old one's answers), and which holds neither
        # the key nor the headers (tenants shared entries) but shows the URL's query (a token).
        # So: a fresh dump (only made with a cache set), those told apart by digests.
        model = dumpd(self)
        model["kwargs"]["base_url"] = fingerprint(self.base_url)
        told = [fingerprint(self.api_key and self.api_key.get_secret_value())]
        told.append(fingerprint(self.default_headers or {}))
        call = {**self._shown_call_kwargs(kwargs, told_apart=True), "stop": stop}
        return json.dumps([model, told], sort_keys=True) + "---" + str(sorted(call.items()))

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        # The base reads the model, temperature and max_tokens (the call's, else the fields');
        # the provider is pinned (the base derives it from the class name) and stops added.
        params = super()._get_ls_params(stop, **kwargs)
        params["ls_provider"] = "stepfun"
        stops = stop or kwargs.get("stop") or self.stop
        if isinstance(stops, str):
            params["ls_stop"] = [stops]
        elif isinstance(stops, (list, tuple)) and stops:  # anything else: the core refuses it
            params["ls_stop"] = list(stops)
        return params

    def _resolve_model_profile(self) -> ModelProfile:
        # What the model can do, in LangChain's profile keys (unknown models get safe defaults).
        info = core.get_model_info(self.model)
        profile = ModelProfile(
            max_input_tokens=info.context_window,
            text_inputs=True,
            image_inputs=info.image_input,
            image_url_inputs=info.image_input,
            audio_inputs=info.audio_input,
            video_inputs=info.video_input,
            pdf_inputs=False,
            # Tool messages take text only (the API's tool content is a string).
            image_tool_message=False,
            pdf_tool_message=False,
            reasoning_output=info.reasoning,
            text_outputs=True,
            tool_calling=info.tool_calling,
            tool_choice=info.tool_calling,
            tool_call_streaming=info.tool_calling,
            structured_output=info.json_schema,
            temperature=True,
        )
        if info.max_output_tokens is not None:
            profile["max_output_tokens"] = info.max_output_tokens
        if info.reasoning_efforts:
            profile["reasoning_effort_levels"] = list(info.reasoning_efforts)
        if info.default_reasoning_effort:
            profile["reasoning_effort_default"] = info.default_reasoning_effort
        return profile

    def refresh_profile(self) -> ModelProfile:
        """Learn what the API serves (``GET /models``, for the process) and return the profile."""
        with LangChainErrors():
            core.learn(self.client.list_models())
        self.profile = self._resolve_model_profile()
        return self.profile

    async def arefresh_profile(self) -> ModelProfile:
        """`refresh_profile`, without blocking the event loop."""
        with LangChainErrors():
            core.learn(await self.async_client.list_models())
        self.profile = self._resolve_model_profile()
        return self.profile

    # -- offline token counts: the core's estimate of the request as it would be sent, on the
    # high side (LangChain's default downloads a tokenizer); a custom_get_token_ids still wins.

    def get_token_ids(self, text: str) -> list[int]:
        """Pseudo ids, as many as the estimated tokens (they are not StepFun's ids)."""
        custom = self.custom_get_token_ids
        return custom(text) if custom is not None else core.token_ids(text)

    def get_num_tokens(self, text: str) -> int:
        """Estimated tokens of a text (counted, not built as the base's id list would be)."""
        if self.custom_get_token_ids is not None:
            return len(self.get_token_ids(text))
        return core.estimate_tokens(text)

    def get_num_tokens_from_messages(
        self, messages: list[BaseMessage], tools: Sequence[Any] | None = None
    ) -> int:
        """Estimated prompt tokens of these messages and tools, as the request would carry them."""
        wire = [_wire_message(message, self.echo_reasoning) for message in messages]
        return core.count_prompt_tokens(wire, [_wire_tool(tool) for tool in tools or ()])

    # -- requests ------------------------------------------------------------------------------

    _error = staticmethod(to_langchain_error)  # core errors raise as their LangChain duals

    _payload = request_body  # the request body of one call (messages, stop, the call's kwargs)

    # n > 1 cannot be streamed, so a streaming callback (astream_events, LangGraph's "messages"
    # mode, or langchain-core 1.8's v2 event handlers) must not turn an invoke that works into an
    # error (ChatOpenAI would merge the choices into one). stream() itself still refuses n > 1.

    def _several_generations(self, kwargs: dict[str, Any]) -> bool:
        n = generations(self, kwargs)
        return isinstance(n, int) and n > 1 and not kwargs.get("stream")

    def _should_stream(self, *, async_api: bool, **kwargs: Any) -> bool:
        should = super()._should_stream(async_api=async_api, **kwargs)
        return should and not self._several_generations(kwargs)

    def _should_use_protocol_streaming(self, *, async_api: bool, **kwargs: Any) -> bool:
        should = super()._should_use_protocol_streaming(async_api=async_api, **kwargs)
        return should and not self._several_generations(kwargs)

    def _stream_payload(
        self, messages: list[BaseMessage], stop: list[str] | None, kwargs: dict[str, Any]
    ) -> tuple[dict[str, Any], ChunkConverter]:
        stream_usage = kwargs.get("stream_usage", self.stream_usage)
        payload = self._payload(messages, stop, kwargs)
        if (payload.get("n") or 1) > 1:
            msg = "n: n > 1 cannot be streamed; invoke without streaming to get n generations"
            raise StepFunInvalidParameterError(msg)
        return payload, ChunkConverter(stream_usage=bool(stream_usage), one_call=_one_call(payload))

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        client = self._core_client(False, kwargs)
        payload = self._payload(messages, stop, kwargs)
        with LangChainErrors():
            return chat_result(client.create(payload), one_call=_one_call(payload))

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        client = self._core_client(True, kwargs)
        payload = self._payload(messages, stop, kwargs)
        with LangChainErrors():
            return chat_result(await client.create(payload), one_call=_one_call(payload))

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        client = self._core_client(False, kwargs)
        payload, converter = self._stream_payload(messages, stop, kwargs)
        with LangChainErrors(), client.stream(payload) as stream:
            for chunk in stream:
                generation = converter.convert(chunk)
                if generation is None:
                    continue
                if run_manager:
                    run_manager.on_llm_new_token(generation.text, chunk=generation)
                yield generation
            closing = converter.closing(stream.accumulator)
        for generation in closing:
            if run_manager:
                run_manager.on_llm_new_token("", chunk=generation)
            yield generation

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        client = self._core_client(True, kwargs)
        payload, converter = self._stream_payload(messages, stop, kwargs)
        with LangChainErrors():
            async with await client.stream(payload) as stream:
                async for chunk in stream:
                    generation = converter.convert(chunk)
                    if generation is None:
                        continue
                    if run_manager:
                        await run_manager.on_llm_new_token(generation.text, chunk=generation)
                    yield generation
                closing = converter.closing(stream.accumulator)
        for generation in closing:
            if run_manager:
                await run_manager.on_llm_new_token("", chunk=generation)
            yield generation

    def _combine_llm_outputs(self, llm_outputs: list[dict[str, Any] | None], /) -> dict[str, Any]:
        # ``generate``'s one llm_output for all its prompts (the base returns {}).
        return combine_llm_outputs(llm_outputs, self.model)

    # -- tools and structured output --------------------------------------------------------

    def bind_tools(
        self,
        tools: Sequence[ToolLike],
        *,
        tool_choice: str | bool | dict[str, Any] | None = None,
        strict: bool | None = None,
        parallel_tool_calls: bool | None = None,
        response_format: Any = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind tools (functions, LangChain tools, schemas, or ``{"type": "web_search"}``).

        ``tool_choice``: ``"auto"``, ``"none"``, ``"any"``/``True`` (must call a tool, sent as
        ``"required"``) or a tool name. ``response_format`` takes a schema or the
        ``{"type": "json_schema", ...}`` envelope that ``create_agent`` passes.
        """
        check_flag("strict", strict)
        check_flag("parallel_tool_calls", parallel_tool_calls)
        formatted = [format_tool(tool, strict=strict) for tool in tools]
        if tool_choice is not None and tool_choice is not False:
            kwargs["tool_choice"] = format_tool_choice(tool_choice, formatted)
        if parallel_tool_calls is not None:
            kwargs["parallel_tool_calls"] = parallel_tool_calls
        if response_format is not None:
            kwargs["response_format"] = json_schema_format(response_format, strict=strict)
        return super().bind(tools=formatted, **kwargs)

    def with_structured_output(
        self,
        schema: dict[str, Any] | type | None = None,
        *,
        include_raw: bool = False,
        method: Method = "function_calling",
        strict: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, dict[str, Any] | Any]:
        """Answer with data matching ``schema`` (Pydantic, TypedDict or JSON schema).

        ``method``: ``function_calling`` (default; a tool call), ``json_mode`` (the API's
        ``json_object``; describe the keys in the prompt) or ``json_schema`` (the API's
        native ``json_schema``).
        """
        if kwargs:
            msg = f"with_structured_output: unsupported arguments {sorted(kwargs)}"
            raise StepFunInvalidParameterError(msg)
        return structured_output(
            self, schema, method=method, include_raw=include_raw, strict=strict
        )


__all__ = ["ChatStepFun"]
