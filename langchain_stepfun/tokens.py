"""Offline token counts for ``ChatStepFun``: the core's estimate, never a downloaded tokenizer.

LangChain's default needs ``transformers`` and a model hub; these count the request as it
would be sent, on the high side (``stepfun_core.tokens``), so trimming, ``ContextEditingMiddleware``
and summarisation by tokens work offline.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.messages import BaseMessage

from langchain_stepfun.messages import to_wire_message
from langchain_stepfun.tools import format_tool
from stepfun_core import count_prompt_tokens, estimate_tokens, token_ids


def _wire_message(message: BaseMessage, echo: Any) -> Any:
    try:
        return to_wire_message(message, echo)
    except Exception:  # counting never fails: a message the API cannot take counts as its text
        return {"role": "user", "content": message.text}


def _wire_tool(tool: Any) -> Any:
    try:
        return format_tool(tool)
    except Exception:  # likewise: a tool that cannot be converted counts as its description
        return {"name": str(getattr(tool, "name", tool)), "description": str(tool.__doc__)}


class TokenCounting:
    """Token counting for StepFun; a ``custom_get_token_ids`` still wins for plain text."""

    def get_token_ids(self, text: str) -> list[int]:
        """Pseudo ids, as many as the estimated tokens (they are not StepFun's ids)."""
        custom = getattr(self, "custom_get_token_ids", None)
        return custom(text) if custom is not None else token_ids(text)

    def get_num_tokens(self, text: str) -> int:
        """Estimated tokens of a text (counted, not built as the base's id list would be)."""
        if getattr(self, "custom_get_token_ids", None) is not None:
            return len(self.get_token_ids(text))
        return estimate_tokens(text)

    def get_num_tokens_from_messages(
        self, messages: list[BaseMessage], tools: Sequence[Any] | None = None
    ) -> int:
        """Estimated prompt tokens of these messages and tools, as the request would carry them."""
        echo = getattr(self, "echo_reasoning", "tool_calls")
        wire = [_wire_message(message, echo) for message in messages]
        return count_prompt_tokens(wire, [_wire_tool(tool) for tool in tools or ()])
