"""LangChain integration for StepFun chat models: ``from langchain_stepfun import ChatStepFun``."""

from langchain_stepfun.chat_models import ChatStepFun
from langchain_stepfun.errors import (
    StepFunAPIError,
    StepFunAuthenticationError,
    StepFunBadRequestError,
    StepFunConnectionError,
    StepFunContentModerationError,
    StepFunContextOverflowError,
    StepFunInvalidParameterError,
    StepFunNotFoundError,
    StepFunPaymentRequiredError,
    StepFunPermissionDeniedError,
    StepFunRateLimitError,
    StepFunStatusError,
    StepFunStreamError,
    StepFunStreamInterruptedError,
    StepFunTimeoutError,
)
from langchain_stepfun.translator import register as _register_translator

_register_translator()

__all__ = [
    "ChatStepFun",
    "StepFunAPIError",
    "StepFunAuthenticationError",
    "StepFunBadRequestError",
    "StepFunConnectionError",
    "StepFunContentModerationError",
    "StepFunContextOverflowError",
    "StepFunInvalidParameterError",
    "StepFunNotFoundError",
    "StepFunPaymentRequiredError",
    "StepFunPermissionDeniedError",
    "StepFunRateLimitError",
    "StepFunStatusError",
    "StepFunStreamError",
    "StepFunStreamInterruptedError",
    "StepFunTimeoutError",
]
