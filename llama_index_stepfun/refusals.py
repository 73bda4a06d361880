"""Refusals in structured prediction: the model declined, so there is nothing to parse.

LlamaIndex has no refusal type. A reply that states a refusal (``message.additional_kwargs
["refusal"]``, OpenAI's field) or whose content a filter withheld (``finish_reason``
``content_filter``) would otherwise end structured prediction in a pydantic ValidationError on
empty text, or in "no tool call". It raises ``StepFunRefusalError`` instead, which is a
``StepFunError`` and also a ``ValueError`` (what LlamaIndex's programs raise when a reply has no
structured output, so existing ``except ValueError`` handlers still catch it).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

from llama_index.core.base.llms.types import (
    ChatResponse,
    ChatResponseAsyncGen,
    ChatResponseGen,
)

from llama_index_stepfun.responses import REFUSAL_KEY
from stepfun_core import StepFunError
from stepfun_core.types import WITHHELD_FINISH_REASONS


class StepFunRefusalError(StepFunError, ValueError):
    """The model declined to give the structured output asked for (a refusal or a filter).

    ``refusal`` is what the model said (empty for a content filter); ``response`` is the reply
    that held it. Retrying the same request is unlikely to help.
    """

    def __init__(
        self, message: str, *, refusal: str = "", response: ChatResponse | None = None
    ) -> None:
        super().__init__(message)
        self.refusal = refusal
        self.response = response


def _stated_refusal(response: ChatResponse) -> str:
    value = response.message.additional_kwargs.get(REFUSAL_KEY)
    return value if isinstance(value, str) else ""


def is_refusal(response: ChatResponse) -> bool:
    """True if the reply (or the stream so far) states a refusal or had its content withheld."""
    reason = response.additional_kwargs.get("finish_reason")
    return bool(_stated_refusal(response)) or reason in WITHHELD_FINISH_REASONS


def raise_on_refusal(response: ChatResponse) -> None:
    """Raise StepFunRefusalError if the reply states a refusal or had its content withheld."""
    refusal = _stated_refusal(response)
    if refusal:
        raise StepFunRefusalError(
            f"the model refused: {refusal}", refusal=refusal, response=response
        )
    reason = response.additional_kwargs.get("finish_reason")
    if reason in WITHHELD_FINISH_REASONS:
        msg = f"StepFun withheld the content (finish_reason={reason!r}); nothing to parse"
        raise StepFunRefusalError(msg, response=response)


def refusal_checked(responses: Iterator[ChatResponse]) -> ChatResponseGen:
    """The responses of a stream, raising StepFunRefusalError at its end if it was a refusal.

    Responses that hold a refusal are not passed on: the stream is read to its end, so the
    error carries the whole refusal and the connection is released.
    """
    last = None
    for last in responses:
        if not is_refusal(last):
            yield last
    if last is not None:
        raise_on_refusal(last)


async def arefusal_checked(responses: AsyncIterator[ChatResponse]) -> ChatResponseAsyncGen:
    """``refusal_checked`` for an async stream."""
    last = None
    async for last in responses:
        if not is_refusal(last):
            yield last
    if last is not None:
        raise_on_refusal(last)
