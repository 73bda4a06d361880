"""Refusals in structured prediction: the model declined, so there is nothing to parse.

The same holds for a reply cut at max_tokens and for arguments that are not JSON. LlamaIndex
has no refusal type: a stated refusal or withheld content would otherwise end in a pydantic
ValidationError on empty text, or in "no tool call"; bad arguments, in the schema's defaults.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

from llama_index.core.base.llms.types import ChatResponse, ChatResponseAsyncGen, ChatResponseGen

from llama_index_stepfun.responses import REFUSAL_KEY
from llama_index_stepfun.tools import INVALID_ARGUMENTS, invalid_arguments
from stepfun_core import StepFunError
from stepfun_core.types import CUT_OFF_PROBLEM, refusal_problem


class _ReplyError(StepFunError, ValueError):
    """A reply structured prediction cannot use; ``response`` is the reply.

    A ``ValueError`` too, as LlamaIndex's programs raise.
    """

    def __init__(self, message: str, *, response: ChatResponse | None = None) -> None:
        super().__init__(message)
        self.response = response


class StepFunRefusalError(_ReplyError):
    """The model declined to give the structured output asked for (a refusal or a filter).

    ``refusal`` is what the model said (empty for a filter).
    """

    def __init__(
        self, message: str, *, refusal: str = "", response: ChatResponse | None = None
    ) -> None:
        super().__init__(message, response=response)
        self.refusal = refusal


class StepFunCutOffError(_ReplyError):
    """The reply was cut at ``max_tokens`` where a whole answer (or tool call) was needed."""


class StepFunInvalidToolArgumentsError(_ReplyError):
    """The structured output's (or a required) tool call has arguments that are not JSON.

    LlamaIndex would otherwise build the object from its defaults.
    """


def refusal_error(response: ChatResponse) -> StepFunError | None:
    """The error for a reply (or a stream so far) that refused, was withheld or was cut off."""
    refusal = response.message.additional_kwargs.get(REFUSAL_KEY)
    refusal = refusal if isinstance(refusal, str) else ""
    finish_reason = response.additional_kwargs.get("finish_reason")
    if (problem := refusal_problem(refusal, finish_reason)) is not None:
        return StepFunRefusalError(problem, refusal=refusal, response=response)
    if finish_reason == "length":
        return StepFunCutOffError(CUT_OFF_PROBLEM, response=response)
    if (bad := invalid_arguments(response)) is not None:
        text = str(bad.tool_kwargs[INVALID_ARGUMENTS])[:200]
        problem = f"the model called {bad.tool_name!r} with arguments that are not a JSON object"
        return StepFunInvalidToolArgumentsError(f"{problem}: {text!r}", response=response)
    return None


def raise_on_refusal(response: ChatResponse) -> None:
    """Raise if the reply states a refusal, had its content withheld or was cut off."""
    if (error := refusal_error(response)) is not None:
        raise error


def refusal_checked(responses: Iterator[ChatResponse]) -> ChatResponseGen:
    """The responses of a stream, raising at its end if it refused (refusing ones held back)."""
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
