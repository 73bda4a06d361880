"""Refusals in structured prediction: the model declined, so there is nothing to parse.

LlamaIndex has no refusal type. A stated refusal (``message.additional_kwargs["refusal"]``,
OpenAI's field) or content a filter withheld (``finish_reason`` ``content_filter``) would end
structured prediction in a pydantic ValidationError on empty text, or in "no tool call".
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

from llama_index.core.base.llms.types import ChatResponse, ChatResponseAsyncGen, ChatResponseGen

from llama_index_stepfun.responses import REFUSAL_KEY
from stepfun_core import StepFunError
from stepfun_core.types import refusal_problem


class StepFunRefusalError(StepFunError, ValueError):
    """The model declined to give the structured output asked for (a refusal or a filter).

    A ``ValueError`` too, as LlamaIndex's programs raise. ``refusal`` is what the model said (empty
    for a filter); ``response`` is the reply.
    """

    def __init__(
        self, message: str, *, refusal: str = "", response: ChatResponse | None = None
    ) -> None:
        super().__init__(message)
        self.refusal = refusal
        self.response = response


def refusal_error(response: ChatResponse) -> StepFunRefusalError | None:
    """The error for a reply (or a stream so far) that states a refusal or was withheld."""
    refusal = response.message.additional_kwargs.get(REFUSAL_KEY)
    refusal = refusal if isinstance(refusal, str) else ""
    problem = refusal_problem(refusal, response.additional_kwargs.get("finish_reason"))
    if problem is None:
        return None
    return StepFunRefusalError(problem, refusal=refusal, response=response)


def raise_on_refusal(response: ChatResponse) -> None:
    """Raise StepFunRefusalError if the reply states a refusal or had its content withheld."""
    error = refusal_error(response)
    if error is not None:
        raise error


def refusal_checked(responses: Iterator[ChatResponse]) -> ChatResponseGen:
    """The responses of a stream, raising StepFunRefusalError at its end if it was a refusal.

    Refusing responses are held back; the stream is read to its end (the whole refusal).
    """
    error = None
    for response in responses:
        error = refusal_error(response)
        if error is None:
            yield response
    if error is not None:
        raise error


async def arefusal_checked(responses: AsyncIterator[ChatResponse]) -> ChatResponseAsyncGen:
    """``refusal_checked`` for an async stream."""
    error = None
    async for response in responses:
        error = refusal_error(response)
        if error is None:
            yield response
    if error is not None:
        raise error
