"""Tools: LlamaIndex tools to wire specs, tool choice, and tool calls back out of responses.

The server runs ``web_search`` (``web_search_tool()``) itself: its calls are kept in
``additional_kwargs["server_tool_calls"]``, never returned as client tool calls.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

from llama_index.core.base.llms.types import ChatResponse, ToolCallBlock
from llama_index.core.llms.llm import ToolSelection
from llama_index.core.llms.utils import parse_partial_json
from llama_index.core.tools.types import BaseTool

from llama_index_stepfun.messages import legacy_calls
from stepfun_core import InvalidParameterError, check_tool_name
from stepfun_core.errors import quoted
from stepfun_core.jsonio import too_deep
from stepfun_core.parse import arguments_object

_CHOICES = ("auto", "none", "required")


def web_search_tool(description: str | None = None) -> dict[str, Any]:
    """The spec of StepFun's built-in, server-side ``web_search`` tool."""
    tool: dict[str, Any] = {"type": "web_search"}
    if description:
        tool["function"] = {"description": description}
    return tool


def tool_spec(tool: BaseTool | Mapping[str, Any], strict: bool = False) -> dict[str, Any]:
    """A LlamaIndex tool as a wire function spec; a dict spec (e.g. web_search) passes as is."""
    if isinstance(tool, Mapping):
        return dict(tool)
    if not isinstance(tool, BaseTool):
        raise InvalidParameterError(f"tools: a {type(tool).__name__} is not a LlamaIndex tool")
    # to_openai_tool() silently rewrites an invalid name ("get weather!" -> "get_weather_"), and
    # the model would then call a tool no one has: refuse it before anything is sent.
    check_tool_name(tool.metadata.name, "tools")
    spec = tool.metadata.to_openai_tool(skip_length_check=True)
    if strict:  # and its parameters closed, as LlamaIndex's OpenAI LLM does
        spec["function"]["strict"] = True
        spec["function"]["parameters"]["additionalProperties"] = False
    return spec


def tools_kwargs(
    tools: Sequence[BaseTool | Mapping[str, Any]], choice: Any, required: bool, strict: Any = None
) -> dict[str, Any]:
    """The chat kwargs for these tools: their specs, and the tool choice if a function is one."""
    if strict is not None and not isinstance(strict, bool):
        raise InvalidParameterError(f"strict: must be True or False, got {quoted(strict)}")
    specs = [tool_spec(tool, bool(strict)) for tool in tools]
    if not any(spec.get("type") == "function" for spec in specs):
        return {"tools": specs} if specs else {}
    if choice is None:
        choice = "required" if required else "auto"
    elif isinstance(choice, Mapping):
        choice = dict(choice)
    elif choice not in _CHOICES:  # a string other than a mode names a function
        choice = {"type": "function", "function": {"name": choice}}
    return {"tools": specs, "tool_choice": choice}


# The arguments last read from a streaming call, by call id: an agent reads the tool calls of
# every streamed response, and parsing the whole text each time would cost the square of its
# length. Read again only once the text has doubled, the cost stays linear; the final response
# parses the whole text.
_PARTIAL: dict[str, tuple[int, str, dict[str, Any]]] = {}
_PARTIAL_LOCK = threading.Lock()


# What a finished call's arguments become when they are not a JSON object (malformed, or cut at
# max_tokens): a keyword no tool takes, so the call fails and an agent hands the model an error
# result. ``{}`` ran the tool with its defaults (a destructive one for real), as if it succeeded.
INVALID_ARGUMENTS = "invalid_json_arguments"


def _arguments_dict(arguments: Any, finished: bool, call_id: str) -> dict[str, Any]:
    """Arguments as a dict, partial ones read as far as they go (see INVALID_ARGUMENTS)."""
    if isinstance(arguments, dict):
        return arguments
    if not isinstance(arguments, str) or not arguments.strip():
        return {}
    if not finished:
        return _partial(arguments, call_id)
    try:
        return arguments_object(arguments)
    except ValueError:
        return {INVALID_ARGUMENTS: arguments}


def _partial(text: str, call_id: str) -> dict[str, Any]:
    known = _PARTIAL.get(call_id)
    if known is not None and known[1] == text[:64] and len(text) < 2 * known[0]:
        return known[2]
    try:
        value = {} if too_deep(text) else parse_partial_json(text)
    except (ValueError, TypeError, RecursionError):
        value = {}
    value = value if isinstance(value, dict) else {}
    with _PARTIAL_LOCK:  # streams in other threads evict too: iterating alone could fail
        if len(_PARTIAL) >= 64:
            _PARTIAL.pop(next(iter(_PARTIAL)))
        _PARTIAL[call_id] = (len(text), text[:64], value)
    return value


def invalid_arguments(response: ChatResponse) -> ToolSelection | None:
    """A finished reply's first tool call whose arguments are not a JSON object, if any."""
    if not _finished(response):  # a stream's pieces so far: their arguments are read partly
        return None
    return next((s for s in tool_selections(response) if INVALID_ARGUMENTS in s.tool_kwargs), None)


def _finished(response: ChatResponse) -> bool:
    # A whole reply, or a streamed response holding the whole completion (after its finish
    # reason, or the one closing a stream that ended without one): nothing cut off is guessed.
    raw = response.raw
    return response.delta is None or (
        isinstance(raw, Mapping) and raw.get("object") == "chat.completion"
    )


def tool_selections(response: ChatResponse) -> list[ToolSelection]:
    """The client tool calls of a response (complete or still streaming)."""
    finished = _finished(response)
    blocks = [b for b in response.message.blocks if isinstance(b, ToolCallBlock)]
    calls = [(b.tool_call_id or "", b.tool_name, b.tool_kwargs) for b in blocks]
    return [
        ToolSelection(tool_id=i, tool_name=n, tool_kwargs=_arguments_dict(a, finished, i))
        for i, n, a in calls or legacy_calls(response.message)
    ]


def keep_first_tool_call(response: ChatResponse) -> ChatResponse:
    """Drop every tool call but the first (``allow_parallel_tool_calls=False``)."""
    message = response.message
    first = next((b for b in message.blocks if isinstance(b, ToolCallBlock)), None)
    message.blocks = [b for b in message.blocks if not isinstance(b, ToolCallBlock) or b is first]
    calls = message.additional_kwargs.get("tool_calls")
    if isinstance(calls, list) and len(calls) > 1:
        message.additional_kwargs["tool_calls"] = calls[:1]
    return response
