"""One error hierarchy for the StepFun API, keyed by HTTP status and the body's ``error.type``."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from stepfun_core.surrogates import join_surrogates

if TYPE_CHECKING:
    from stepfun_core.types import Completion

T = TypeVar("T", bound=str)


def quoted(value: Any) -> str:
    """A refused value as an error quotes it (an int's repr may have too many digits to make)."""
    try:
        return repr(value)[:80]
    except ValueError:  # past Python's limit on digits (sys.set_int_max_str_digits)
        bits = getattr(value, "bit_length", None)
        return f"an int of {bits()} bits" if bits else f"a {type(value).__name__} too large to show"


def one_of(field: str, value: Any, allowed: Collection[T]) -> T:
    """The value if it is one of ``allowed`` (strings), else InvalidParameterError naming it."""
    if not isinstance(value, str) or value not in allowed:
        msg = f"{field}: must be one of {sorted(allowed)}, got {quoted(value)}"
        raise InvalidParameterError(msg)
    return value  # type: ignore[return-value]


class StepFunError(Exception):
    """Base of every error this library raises."""

    is_retryable: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        error_type: str | None = None,
        trace_id: str | None = None,
        body: Any = None,
        partial: Completion | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.error_type = error_type
        self.trace_id = trace_id
        self.body = body
        self.partial = partial
        self.retry_after = retry_after

    def __str__(self) -> str:
        parts = [self.message]
        if self.status_code is not None:
            parts.insert(0, f"Error code: {self.status_code} -")
        if self.error_type:
            parts.append(f"(type: {self.error_type})")
        if self.trace_id:
            parts.append(f"[X-Trace-Id: {self.trace_id}]")
        if self.partial is not None:
            parts.append(f"[received before the error: {self.partial.describe()}]")
        return " ".join(parts)


class MissingAPIKeyError(StepFunError, ValueError):
    """No API key was given or found in the environment."""


class MalformedAPIKeyError(StepFunError, ValueError):
    """The key holds a character no key has (whitespace, a control or non-ASCII character)."""


class InvalidParameterError(StepFunError, ValueError):
    """A request parameter or message is invalid; raised before anything is sent."""


class ConfigurationError(StepFunError, ValueError):
    """The environment cannot be used (a proxy URL or CA file); raised before anything is sent."""


class APIStatusError(StepFunError):
    """The API answered with a non-success HTTP status."""


class BadRequestError(APIStatusError):
    """400: the request was rejected (``request_params_invalid``, ``input_invalid``)."""


class ContextOverflowError(BadRequestError):
    """400 whose message says the prompt is longer than the model's context."""


class AuthenticationError(APIStatusError):
    """401 ``invalid_api_key``: wrong key, or a key of the other region."""


class PaymentRequiredError(APIStatusError):
    """402 ``quota_exceeded``: balance or Step Plan quota exhausted."""


class PermissionDeniedError(APIStatusError):
    """403: the key may not use this resource."""


class NotFoundError(APIStatusError):
    """404 ``model_invalid``: unknown model or no access to it."""


class RequestTimeoutError(APIStatusError):
    """408: the server timed out waiting for the request."""

    is_retryable = True


class ConflictError(APIStatusError):
    """409: a lock or conflict; retried."""

    is_retryable = True


class UnprocessableEntityError(APIStatusError):
    """422: the request was well formed but could not be processed."""


class RateLimitError(APIStatusError):
    """429: too many requests; ``retry_after`` holds the server's advice in seconds."""

    is_retryable = True


class ContentModerationError(APIStatusError):
    """451 ``censorship_blocked``: the input or output was blocked by moderation."""


class InternalServerError(APIStatusError):
    """5xx: a server error; retried (503 also ends requests running over 10 minutes)."""

    is_retryable = True


class APIConnectionError(StepFunError):
    """The connection failed or broke before a complete answer arrived."""

    is_retryable = True


class APITimeoutError(APIConnectionError):
    """Connecting or reading timed out."""


class TotalTimeoutError(APITimeoutError):
    """The call went on longer than its ``total_timeout`` (retries and waits included)."""


class StreamError(StepFunError):
    """A stream failed after it started: an error event, a cut, bad data. Carries ``partial``."""


class StreamInterruptedError(StreamError, APIConnectionError):
    """The stream was cut (connection lost or ended before ``[DONE]`` or a finish reason)."""


class StreamTimeoutError(StreamInterruptedError, APITimeoutError):
    """A read timed out in the middle of a stream; ``partial`` holds what was received."""


class StreamIdleTimeoutError(StreamTimeoutError):
    """No data event arrived for longer than the stream idle timeout (keep-alives don't count).

    Not a built-in ``TimeoutError`` (langchain-openai's ``StreamChunkTimeoutError`` is one): that
    is an ``OSError``, which LangGraph's default retry policy never retries.
    """


class MalformedResponseError(StreamError):
    """The API sent something that is not what was asked for (bad JSON, wrong content type)."""


class ResponseTooLargeError(MalformedResponseError):
    """The reply (after decompression) went over ``max_response_bytes``."""


_BY_STATUS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    402: PaymentRequiredError,
    403: PermissionDeniedError,
    404: NotFoundError,
    408: RequestTimeoutError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
    451: ContentModerationError,
}

# error.type values seen on the wire (docs/wire.md#error-types); a type wins over a status.
_BY_TYPE: dict[str, type[APIStatusError]] = {
    "invalid_api_key": AuthenticationError,
    "model_invalid": NotFoundError,
    "request_params_invalid": BadRequestError,
    "input_invalid": BadRequestError,
    "unsupported_content_type": BadRequestError,
    "quota_exceeded": PaymentRequiredError,
    "censorship_blocked": ContentModerationError,
    "censorship_block": ContentModerationError,
    "rate_limit_exceeded": RateLimitError,
}

_CONTEXT_OVERFLOW = re.compile(
    r"context.{0,20}(length|window|limit)|too many tokens|maximum.{0,30}tokens|token.{0,20}exceed"
    r"|exceed.{0,30}(context|tokens)|(prompt|input|messages?|request).{0,20}too long"
    r"|上下文|(超出|超过).{0,10}(长度|token|限制)|(输入|内容|消息|请求).{0,6}过长",
    re.IGNORECASE,
)


def _text_of(value: Any) -> str | None:
    """A field of an error body as text (a server may send any JSON value, however deep)."""
    if value is None:
        return None
    if isinstance(value, str):
        return join_surrogates(value)
    try:
        return repr(value)[:500]
    except RecursionError:
        return f"<a {type(value).__name__} nested too deeply to show>"


def _provider_error(error: Mapping[str, Any]) -> Mapping[str, Any]:
    """StepFun's own error inside a gateway's, else ``error``.

    OpenRouter answers "Provider returned error" and puts StepFun's body, as JSON text, in
    ``metadata.raw`` (docs/wire.md#error-envelope): its type is what tells a refused echo, a
    refused ``json_schema`` or an overflow apart.
    """
    from stepfun_core.jsonio import decode_json  # noqa: PLC0415 (an import cycle)

    metadata = error.get("metadata")
    raw = metadata.get("raw") if isinstance(metadata, Mapping) else None
    inner = decode_json(raw) if isinstance(raw, str) else raw
    inner = inner.get("error") if isinstance(inner, Mapping) else None
    return inner if isinstance(inner, Mapping) and inner.get("message") else error


def describe_error_body(body: Any) -> tuple[str | None, str | None]:
    """Return ``(message, type)`` from a StepFun error body, tolerating odd shapes."""
    if isinstance(body, Mapping):
        error = body.get("error", body)
        if isinstance(error, Mapping):
            error = _provider_error(error)
            return _text_of(error.get("message")), _text_of(error.get("type") or error.get("code"))
        if isinstance(error, str):
            return error, None
    return None, None


def make_status_error(
    status: int | None,
    body: Any,
    *,
    trace_id: str | None = None,
    retry_after: float | None = None,
    text: str = "",
) -> APIStatusError:
    """The typed error of an error body: a reply's, a JSON error under 200, a stream event's."""
    message, error_type = describe_error_body(body)
    if message is None:
        message = text.strip()[:500] or (f"HTTP {status}" if status else "error")
    cls = _BY_TYPE.get(error_type or "") or _BY_STATUS.get(status or 0)
    if cls is None:
        # OpenAI's type for its 5xx bodies, which gateways pass on: where no error status says
        # more (a stream's error event, an envelope under 200), a server error.
        server = error_type == "server_error" and (status or 0) < 400
        cls = InternalServerError if server or (status or 0) >= 500 else APIStatusError
    if cls is BadRequestError and _CONTEXT_OVERFLOW.search(message):
        cls = ContextOverflowError
    return cls(
        message,
        status_code=status,
        error_type=error_type,
        trace_id=trace_id,
        body=body,
        retry_after=retry_after,
    )
