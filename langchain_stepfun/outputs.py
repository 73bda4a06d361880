"""Core completions to LangChain results: messages, tool calls and usage (the response side)."""

from __future__ import annotations

from typing import Any, cast

from langchain_core.messages import AIMessage, InvalidToolCall, ToolCall, UsageMetadata
from langchain_core.messages.tool import invalid_tool_call, tool_call
from langchain_core.outputs import ChatGeneration, ChatResult

from stepfun_core import Choice, Completion, Usage
from stepfun_core import ToolCall as WireToolCall
from stepfun_core.parse import arguments_object

PROVIDER = "stepfun"
# Where reasoning text lives on messages: core turns it into v1 "reasoning" blocks.
REASONING_KEY = "reasoning_content"
# Where the server-side calls (web_search) live: never in ``.tool_calls``.
SERVER_TOOL_CALLS_KEY = "server_tool_calls"
# Where a refusal the API states in words lives (OpenAI's ``message.refusal``).
REFUSAL_KEY = "refusal"


def usage_metadata(usage: Usage) -> UsageMetadata:
    """LangChain usage from the API's usage (cached and reasoning tokens when reported)."""
    metadata: dict[str, Any] = {
        "input_tokens": usage.prompt_tokens,
        "output_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    }
    if usage.cached_tokens is not None:
        metadata["input_token_details"] = {"cache_read": usage.cached_tokens}
    if usage.reasoning_tokens is not None:
        metadata["output_token_details"] = {"reasoning": usage.reasoning_tokens}
    return cast("UsageMetadata", metadata)


def parse_tool_calls(calls: list[WireToolCall]) -> tuple[list[ToolCall], list[InvalidToolCall]]:
    """Tool calls with JSON object arguments, and the ones whose arguments do not parse."""
    valid: list[ToolCall] = []
    invalid: list[InvalidToolCall] = []
    for call in calls:
        try:
            args = arguments_object(call.arguments)
        except ValueError as exc:
            invalid.append(
                invalid_tool_call(name=call.name, args=call.arguments, id=call.id, error=str(exc))
            )
        else:
            valid.append(tool_call(name=call.name, args=args, id=call.id))
    return valid, invalid


def ai_message(choice: Choice, completion: Completion, *, with_usage: bool) -> AIMessage:
    """One generated message: text, reasoning, client tool calls, server calls, metadata."""
    additional_kwargs: dict[str, Any] = {}
    if choice.reasoning:
        additional_kwargs[REASONING_KEY] = choice.reasoning
    if choice.server_tool_calls:
        additional_kwargs[SERVER_TOOL_CALLS_KEY] = [c.to_dict() for c in choice.server_tool_calls]
    if choice.refusal:
        additional_kwargs[REFUSAL_KEY] = choice.refusal
    if choice.audio is not None:  # where ChatOpenAI keeps it
        additional_kwargs["audio"] = choice.audio
    valid, invalid = parse_tool_calls(choice.tool_calls)
    usage = completion.usage
    return AIMessage(
        content=choice.content,
        additional_kwargs=additional_kwargs,
        tool_calls=valid,
        invalid_tool_calls=invalid,
        usage_metadata=usage_metadata(usage) if with_usage and usage is not None else None,
        response_metadata={
            "model_provider": PROVIDER,
            "model_name": completion.model,
            "finish_reason": choice.finish_reason,
            "id": completion.id,
        },
        # No message id: the API's completion id is not unique (a gateway or a cache may repeat
        # it, and LangGraph's add_messages would then replace an earlier turn). LangChain gives
        # the message a run-based id; the API's id stays in response_metadata["id"].
    )


# A streamed reply's response_metadata: the ids of its tool calls whose arguments are not a
# JSON object (LangChain guesses them when it merges the chunks).
UNPARSED_KEY = "unparsed_tool_call_ids"


def chat_result(completion: Completion, *, one_call: bool = False) -> ChatResult:
    """A ``ChatResult``, a generation per choice; the first carries the (whole request's) usage.

    ``one_call`` (``parallel_tool_calls=False``): each message keeps its first tool call only,
    whether or not the server obeyed (StepFun does not document the field).
    """
    if one_call:
        for choice in completion.choices:
            del choice.tool_calls[1:]
    generations = [
        ChatGeneration(
            message=ai_message(choice, completion, with_usage=position == 0),
            generation_info={"finish_reason": choice.finish_reason},
        )
        # A reply without choices still gives one (empty) message, as the API's "first".
        for position, choice in enumerate(completion.choices or [completion.first])
    ]
    llm_output: dict[str, Any] = {"model_name": completion.model, "id": completion.id}
    if completion.usage is not None:
        llm_output["token_usage"] = completion.usage.to_dict()
    return ChatResult(generations=generations, llm_output=llm_output)


def combine_llm_outputs(outputs: list[dict[str, Any] | None], model_name: str) -> dict[str, Any]:
    """One ``llm_output`` for ``generate``'s prompts: token usage summed, the model's name."""
    # The name is the first the API reported; no one request ``id`` stands for several.
    usage: dict[str, Any] = {}
    reported: Any = None
    for output in filter(None, outputs):  # None: from a stream or the cache, nothing reported
        _add_counts(usage, output.get("token_usage"))
        reported = reported or output.get("model_name")
    return {"token_usage": usage, "model_name": reported or model_name}


def _add_counts(total: dict[str, Any], counts: Any) -> None:
    # The details ({"completion_tokens_details": {"reasoning_tokens": 2}}) add up too.
    # dict, not Mapping: the counts are the core's Usage.to_dict(), and ABC checks cost half
    # of this sum (6 of 12 us on every invoke).
    if not isinstance(counts, dict):
        return
    for key, value in counts.items():
        if isinstance(value, dict) and isinstance(inner := total.setdefault(key, {}), dict):
            _add_counts(inner, value)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            previous = total.get(key, 0)
            if isinstance(previous, (int, float)):
                total[key] = previous + value
