"""Assistant turns of the history as the API takes them back: text, tool calls, reasoning."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Literal

# When earlier reasoning is sent back on assistant messages: on those that called tools (the
# official cookbook echoes it there, stepfun-wire §5 item 6), on every one, or never.
EchoReasoning = Literal["tool_calls", "always", "never"]


def wire_tool_call(call_id: str | None, name: str | None, arguments: Any) -> dict[str, Any]:
    """A tool call of the history in the wire shape; arguments as JSON text (UTF-8 kept)."""
    if not isinstance(arguments, str):
        arguments = json.dumps(arguments or {}, ensure_ascii=False)
    return {
        "id": call_id or "",
        "type": "function",
        "function": {"name": name or "", "arguments": arguments},
    }


def assistant_message(
    content: str,
    tool_calls: Sequence[dict[str, Any]],
    reasoning: str,
    echo: EchoReasoning,
) -> dict[str, Any]:
    """An assistant message of the history, with its reasoning echoed as ``echo`` says.

    Content stays ``""`` beside tool calls, as the API itself answers them (stepfun-wire §1.2).
    """
    wire: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls:
        wire["tool_calls"] = list(tool_calls)
    if reasoning and (echo == "always" or (echo == "tool_calls" and tool_calls)):
        wire["reasoning_content"] = reasoning
    return wire
