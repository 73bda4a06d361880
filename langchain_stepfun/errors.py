"""Errors that are both a ``stepfun_core`` error and the matching LangChain error.

``except stepfun_core.RateLimitError`` and LangChain's ``ModelRateLimitError`` (as
``ModelRetryMiddleware`` catches it) see the same exception; ``is_retryable`` is the core's.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from langchain_core import exceptions as lc
from langchain_core.exceptions import OutputParserException

import stepfun_core as core

if TYPE_CHECKING:
    from langchain_core.messages import BaseMessage

# langchain-core 1.7.5 added ModelRefusalError; on older releases a refusal is a ModelError.
_RefusalBase: type[lc.ModelError] = getattr(lc, "ModelRefusalError", lc.ModelError)


class StepFunRefusalError(_RefusalBase):  # type: ignore[misc,valid-type]
    """The model withheld the content structured output needs (a content filter or a refusal).

    A ``ModelRefusalError`` where langchain-core has it; ``raw_message`` is the reply.
    """

    def __init__(self, message: str, *, raw_message: BaseMessage | None = None) -> None:
        super().__init__(message)
        self.raw_message: Any = raw_message


class StepFunCutOffError(OutputParserException):
    """Structured output from a reply cut at ``max_tokens``: what it holds is not whole.

    An ``OutputParserException``, as LangChain's parsers raise; ``raw_message`` is the reply.
    """

    def __init__(self, message: str, *, raw_message: BaseMessage | None = None) -> None:
        super().__init__(message)
        self.raw_message: Any = raw_message


class StepFunAuthenticationError(core.AuthenticationError, lc.ModelAuthenticationError):
    """401 ``invalid_api_key``: a wrong key, or a key of the other region."""


class StepFunPaymentRequiredError(core.PaymentRequiredError, lc.ModelPermissionDeniedError):
    """402 ``quota_exceeded``: balance or Step Plan quota exhausted."""


class StepFunPermissionDeniedError(core.PermissionDeniedError, lc.ModelPermissionDeniedError):
    """403: the key may not use this resource."""


class StepFunNotFoundError(core.NotFoundError, lc.ModelNotFoundError):
    """404 ``model_invalid``: unknown model or no access to it."""


class StepFunBadRequestError(core.BadRequestError, lc.ModelInvalidRequestError):
    """400 ``request_params_invalid`` and other rejected requests."""


class StepFunContextOverflowError(core.ContextOverflowError, lc.ContextOverflowError):
    """400 whose message says the prompt is longer than the model's context."""


class StepFunContentModerationError(core.ContentModerationError, lc.ModelInvalidRequestError):
    """451 ``censorship_blocked``: moderation blocked the input or the output."""


class StepFunRateLimitError(core.RateLimitError, lc.ModelRateLimitError):
    """429: too many requests."""


class StepFunAPIError(core.InternalServerError, lc.ModelAPIError):
    """5xx: a server failure."""


class StepFunRequestTimeoutError(core.RequestTimeoutError, lc.ModelTimeoutError):
    """408: the server timed out waiting for the request (retried)."""


class StepFunConflictError(core.ConflictError, lc.ModelAPIError):
    """409: a lock or conflict on the server (retried)."""


class StepFunUnprocessableEntityError(core.UnprocessableEntityError, lc.ModelInvalidRequestError):
    """422: the request was well formed but could not be processed."""


class StepFunStatusError(core.APIStatusError, lc.ModelAPIError):
    """Any other non-success status."""


class StepFunConnectionError(core.APIConnectionError, lc.ModelConnectionError):
    """The API could not be reached."""


class StepFunTimeoutError(core.APITimeoutError, lc.ModelTimeoutError):
    """Connecting or reading timed out."""


class StepFunTotalTimeoutError(core.TotalTimeoutError, lc.ModelTimeoutError):
    """The call went on longer than ``total_timeout`` (retries included)."""


class StepFunStreamTimeoutError(core.StreamTimeoutError, lc.ModelTimeoutError):
    """A read timed out in the middle of a stream; ``partial`` holds what was received."""


class StepFunStreamIdleTimeoutError(core.StreamIdleTimeoutError, lc.ModelTimeoutError):
    """The stream sent no data for longer than ``stream_chunk_timeout``."""


class StepFunMissingAPIKeyError(core.MissingAPIKeyError, lc.ModelAuthenticationError):
    """No API key was given or found in the environment."""


class StepFunMalformedAPIKeyError(core.MalformedAPIKeyError, lc.ModelAuthenticationError):
    """The key holds whitespace, a control or a non-ASCII character (a paste accident)."""


class StepFunStreamInterruptedError(core.StreamInterruptedError, lc.ModelConnectionError):
    """The stream broke off before its end; ``partial`` holds what was received."""


class StepFunMalformedResponseError(core.MalformedResponseError, lc.ModelAPIError):
    """The API sent something else than was asked for (bad JSON, wrong content type)."""


class StepFunResponseTooLargeError(core.ResponseTooLargeError, lc.ModelAPIError):
    """The reply went over ``max_response_bytes`` (after decompression)."""


class StepFunStreamError(core.StreamError, lc.ModelAPIError):
    """An error event in the middle of a stream."""


class StepFunInvalidParameterError(core.InvalidParameterError, lc.ModelInvalidRequestError):
    """A parameter or message the API would reject; raised before anything is sent."""


class StepFunConfigurationError(core.ConfigurationError, lc.ModelConnectionError):
    """The environment cannot be used (a proxy URL or a CA file); nothing was sent."""


__all__ = [
    "StepFunAPIError",
    "StepFunAuthenticationError",
    "StepFunBadRequestError",
    "StepFunConfigurationError",
    "StepFunConflictError",
    "StepFunConnectionError",
    "StepFunContentModerationError",
    "StepFunContextOverflowError",
    "StepFunCutOffError",
    "StepFunInvalidParameterError",
    "StepFunMalformedAPIKeyError",
    "StepFunMalformedResponseError",
    "StepFunMissingAPIKeyError",
    "StepFunNotFoundError",
    "StepFunPaymentRequiredError",
    "StepFunPermissionDeniedError",
    "StepFunRateLimitError",
    "StepFunRefusalError",
    "StepFunRequestTimeoutError",
    "StepFunResponseTooLargeError",
    "StepFunStatusError",
    "StepFunStreamError",
    "StepFunStreamIdleTimeoutError",
    "StepFunStreamInterruptedError",
    "StepFunStreamTimeoutError",
    "StepFunTimeoutError",
    "StepFunTotalTimeoutError",
    "StepFunUnprocessableEntityError",
]

# Each core class and its dual: a dual class's first base is the core class it stands for.
_DUALS: dict[type[core.StepFunError], type[core.StepFunError]] = {
    dual.__bases__[0]: dual
    for dual in list(globals().values())
    if isinstance(dual, type)
    and issubclass(dual, core.StepFunError)
    and dual.__module__ == __name__
}


class LangChainErrors(AbstractContextManager[None]):
    """``with LangChainErrors():`` raises a core error met inside as its dual error."""

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, _: Any
    ) -> None:
        if (
            isinstance(error, core.StepFunError)
            and (dual := to_langchain_error(error)) is not error
        ):
            raise dual from error  # a dual error met inside is raised as it is


def to_langchain_error(error: core.StepFunError) -> Exception:
    """Return the dual (core and LangChain) error for a core error, keeping its details."""
    # The most specific class with a dual wins.
    dual_class = next((_DUALS[c] for c in type(error).__mro__ if c in _DUALS), None)
    if dual_class is None or isinstance(error, dual_class):
        return error
    return dual_class(
        error.message,
        status_code=error.status_code,
        error_type=error.error_type,
        trace_id=error.trace_id,
        body=error.body,
        partial=error.partial,
        retry_after=error.retry_after,
    )
