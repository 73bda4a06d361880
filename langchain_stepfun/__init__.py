"""LangChain integration for StepFun chat models: ``from langchain_stepfun import ChatStepFun``."""

from langchain_stepfun.chat_models import ChatStepFun
from langchain_stepfun.errors import (
    StepFunAPIError,
    StepFunAuthenticationError,
    StepFunBadRequestError,
    StepFunConflictError,
    StepFunConnectionError,
    StepFunContentModerationError,
    StepFunContextOverflowError,
    StepFunInvalidParameterError,
    StepFunMalformedResponseError,
    StepFunMissingAPIKeyError,
    StepFunNotFoundError,
    StepFunPaymentRequiredError,
    StepFunPermissionDeniedError,
    StepFunRateLimitError,
    StepFunRequestTimeoutError,
    StepFunStatusError,
    StepFunStreamError,
    StepFunStreamIdleTimeoutError,
    StepFunStreamInterruptedError,
    StepFunTimeoutError,
    StepFunUnprocessableEntityError,
)
from langchain_stepfun.translator import register as _register_translator

_register_translator()

__all__ = [
    "ChatStepFun",
    "StepFunAPIError",
    "StepFunAuthenticationError",
    "StepFunBadRequestError",
    "StepFunConflictError",
    "StepFunConnectionError",
    "StepFunContentModerationError",
    "StepFunContextOverflowError",
    "StepFunInvalidParameterError",
    "StepFunMalformedResponseError",
    "StepFunMissingAPIKeyError",
    "StepFunNotFoundError",
    "StepFunPaymentRequiredError",
    "StepFunPermissionDeniedError",
    "StepFunRateLimitError",
    "StepFunRequestTimeoutError",
    "StepFunStatusError",
    "StepFunStreamError",
    "StepFunStreamIdleTimeoutError",
    "StepFunStreamInterruptedError",
    "StepFunTimeoutError",
    "StepFunUnprocessableEntityError",
]
