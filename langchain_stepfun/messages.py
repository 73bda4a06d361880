"""LangChain messages to StepFun wire messages: only the fields the API knows are copied."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    ChatMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)

from langchain_stepfun.content import assistant_text, plain_text, user_content
from stepfun_core import EchoReasoning, InvalidParameterError, assistant_message, wire_tool_call
from stepfun_core.history import unwritten_text

_CHAT_ROLES = {"human": "user", "user": "user", "ai": "assistant", "assistant": "assistant"}
_CHAT_ROLES.update(system="system", developer="system")


def to_wire_messages(
    messages: Sequence[BaseMessage], echo_reasoning: EchoReasoning = "tool_calls"
) -> list[dict[str, Any]]:
    """Convert a LangChain history; what the API cannot take raises, naming the message."""
    wire: list[dict[str, Any]] = []
    for i, message in enumerate(messages):
        try:
            wire.append(to_wire_message(message, echo_reasoning))
        except InvalidParameterError as exc:
            exc.message = f"messages[{i}]: {exc.message}"
            exc.args = (exc.message,)
            raise
        except (KeyError, TypeError, AttributeError, IndexError) as exc:
            raise InvalidParameterError(
                f"messages[{i}]: a content block could not be read ({type(exc).__name__}: "
                f"{str(exc)[:120]}); see the LangChain content block formats"
            ) from None
    return wire


def to_wire_message(
    message: BaseMessage, echo_reasoning: EchoReasoning = "tool_calls"
) -> dict[str, Any]:
    """Convert one message; raise ``InvalidParameterError`` naming what the API cannot take."""
    if isinstance(message, HumanMessage):
        return {"role": "user", "content": user_content(message.content)}
    if isinstance(message, AIMessage):
        return _assistant(message, echo_reasoning)
    if isinstance(message, SystemMessage):
        return {"role": "system", "content": plain_text(message.content, "system")}
    if isinstance(message, ToolMessage):
        return _tool(message)
    if isinstance(message, ChatMessage):
        role = _CHAT_ROLES.get(message.role)
        if role == "user":
            return {"role": "user", "content": user_content(message.content)}
        if role in ("system", "assistant"):
            return {"role": role, "content": plain_text(message.content, role)}
        msg = f"StepFun has no message role {message.role!r}; use system, user or assistant"
        raise InvalidParameterError(msg)
    msg = f"StepFun cannot take a {type(message).__name__}; use system, human, AI and tool messages"
    raise InvalidParameterError(msg)


def _assistant(message: AIMessage, echo_reasoning: EchoReasoning) -> dict[str, Any]:
    text, block_reasoning = assistant_text(message.content)
    text = text or unwritten_text(message.additional_kwargs)
    calls = [wire_tool_call(c["id"], c["name"], c["args"]) for c in message.tool_calls]
    calls += [
        wire_tool_call(c.get("id"), c.get("name"), c.get("args"))
        for c in message.invalid_tool_calls
    ]
    reasoning = message.additional_kwargs.get("reasoning_content") or block_reasoning
    return assistant_message(
        text, calls, reasoning if isinstance(reasoning, str) else "", echo_reasoning
    )


def _tool(message: ToolMessage) -> dict[str, Any]:
    content = message.content
    # LangChain keeps a returned list as content when its items are strings or blocks: plain
    # data (not blocks) is sent as JSON text, so the items of a returned list[str] do not run
    # together.
    if isinstance(content, list) and (
        all(isinstance(item, str) for item in content)
        or any(isinstance(item, Mapping) and "type" not in item for item in content)
    ):
        text = json.dumps(content, ensure_ascii=False)
    else:
        # Several text parts (an MCP tool's TextContent items) stay apart, a line each.
        text = plain_text(content, "tool", separator="\n")
    return {"role": "tool", "content": text, "tool_call_id": message.tool_call_id}
