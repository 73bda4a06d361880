"""The ``"stepfun"`` content-block translator: standard v1 blocks from ChatStepFun messages.

Beyond core's parsing it shows ``web_search`` calls as ``server_tool_call`` / ``_result``
blocks, a stated refusal as the ``refusal`` block ``ModelRefusalMiddleware`` looks for, and
gives streamed ``tool_call_chunk`` blocks an ``lc_tc_<n>`` index: core numbers reasoning and
text blocks 0, 1, ... too, and the two would merge (langchain-contract §2.3).
"""

from __future__ import annotations

from typing import Any, cast

from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.messages import content as types
from langchain_core.messages.block_translators import register_translator

from langchain_stepfun.outputs import PROVIDER, REASONING_KEY, REFUSAL_KEY, SERVER_TOOL_CALLS_KEY
from stepfun_core import load_json

Block = dict[str, Any]


def _server_blocks(calls: Any) -> list[Block]:
    blocks: list[Block] = []
    for call in calls if isinstance(calls, list) else []:
        if not isinstance(call, dict):
            continue
        function = call.get("function") or {}
        try:
            args = load_json(function.get("arguments") or "{}")
        except (ValueError, TypeError):
            args = function.get("arguments")
        call_id = call.get("id") or ""
        blocks.append(
            {
                "type": "server_tool_call",
                "id": call_id,
                "name": call.get("type") or "web_search",
                "args": args if isinstance(args, dict) else {"arguments": args},
                "extras": {"function_name": function.get("name")},
            }
        )
        blocks.append(
            {
                "type": "server_tool_result",
                "tool_call_id": call_id,
                "status": "success",
                "output": function.get("results") or [],
            }
        )
    return blocks


def _leading_blocks(message: AIMessage) -> list[Block]:
    if not isinstance(message.content, str):
        # List content (e.g. a history message built by hand): core's parsing handles it.
        raise NotImplementedError
    blocks: list[Block] = []
    reasoning = message.additional_kwargs.get(REASONING_KEY)
    if isinstance(reasoning, str) and reasoning:
        blocks.append({"type": "reasoning", "reasoning": reasoning})
    blocks.extend(_server_blocks(message.additional_kwargs.get(SERVER_TOOL_CALLS_KEY)))
    if message.content:
        blocks.append({"type": "text", "text": message.content})
    refusal = message.additional_kwargs.get(REFUSAL_KEY)
    if isinstance(refusal, str) and refusal:
        blocks.append({"type": "refusal", "refusal": refusal})
    return blocks


def _tool_call_blocks(message: AIMessage) -> list[Block]:
    blocks: list[Block] = [
        {"type": "tool_call", "id": c.get("id"), "name": c["name"], "args": c["args"]}
        for c in message.tool_calls
    ]
    blocks.extend(
        {
            "type": "invalid_tool_call",
            "id": c.get("id"),
            "name": c.get("name"),
            "args": c.get("args"),
            "error": c.get("error"),
        }
        for c in message.invalid_tool_calls
    )
    return blocks


def translate_content(message: AIMessage) -> list[types.ContentBlock]:
    """Standard blocks of a whole message: reasoning, server calls, text, refusal, tool calls."""
    return cast("list[types.ContentBlock]", _leading_blocks(message) + _tool_call_blocks(message))


def translate_content_chunk(message: AIMessageChunk) -> list[types.ContentBlock]:
    """Standard blocks of a chunk; tool-call chunks stay chunks until the stream's end."""
    blocks = _leading_blocks(message)
    if message.tool_call_chunks and message.chunk_position != "last":
        for chunk in message.tool_call_chunks:
            block: Block = {
                "type": "tool_call_chunk",
                "id": chunk["id"],
                "name": chunk["name"],
                "args": chunk["args"],
            }
            if chunk["index"] is not None:
                block["index"] = f"lc_tc_{chunk['index']}"
            blocks.append(block)
    else:
        blocks.extend(_tool_call_blocks(message))
    return cast("list[types.ContentBlock]", blocks)


def register() -> None:
    """Register the translator (done on import of ``langchain_stepfun``)."""
    register_translator(PROVIDER, translate_content, translate_content_chunk)
