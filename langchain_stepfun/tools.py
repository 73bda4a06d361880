"""Tools and tool choice: LangChain's forms to the API's; ``{"type": "web_search"}`` as it is."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool

from langchain_stepfun.errors import StepFunInvalidParameterError
from stepfun_core.errors import quoted

ToolLike = Mapping[str, Any] | type | Callable[..., Any] | BaseTool
# "any" is LangChain's word for "call some tool"; the API (like OpenAI) says "required".
_CHOICE_WORDS = {"auto": "auto", "none": "none", "required": "required", "any": "required"}


def openai_tool(tool: Any, field: str, *, strict: bool | None = None) -> dict[str, Any]:
    """LangChain's conversion of a tool or schema, its refusal our error naming ``field``."""
    try:
        return convert_to_openai_tool(tool, strict=strict)
    except (ValueError, TypeError) as exc:  # LangChain's plain "Unsupported function ..."
        raise StepFunInvalidParameterError(f"{field}: {exc}") from None
    except (KeyError, AttributeError) as exc:  # a dict missing what LangChain reads
        msg = f"{field}: not a tool LangChain can convert ({type(exc).__name__}: {exc})"
        raise StepFunInvalidParameterError(msg) from None


def check_flag(name: str, value: Any) -> None:
    """A switch that is sent as given must be True, False or unset."""
    if value is not None and not isinstance(value, bool):
        msg = f"{name} must be True or False, got {quoted(value)}"
        raise StepFunInvalidParameterError(msg)


def format_tool(tool: ToolLike, *, strict: bool | None = None) -> dict[str, Any]:
    """One tool in the API's shape."""
    # The server runs web_search itself (docs/wire.md#web-search); a JSON schema's "type" is
    # "object".
    if isinstance(tool, Mapping) and tool.get("type") == "web_search":
        return dict(tool)
    return openai_tool(tool, "tools", strict=strict)


def format_tool_choice(choice: Any, tools: Sequence[Mapping[str, Any]]) -> Any:
    """LangChain's tool choice (see ``ChatStepFun.bind_tools``) in the API's terms."""
    if isinstance(choice, dict):
        return choice
    if choice is True:
        return "required"
    if isinstance(choice, str):
        if choice in _CHOICE_WORDS:
            return _CHOICE_WORDS[choice]
        functions = [t.get("function") for t in tools if t.get("type") == "function"]
        names = [f["name"] for f in functions if isinstance(f, Mapping) and "name" in f]
        if choice in names:
            return {"type": "function", "function": {"name": choice}}
        msg = f"tool_choice {quoted(choice)} is neither auto/none/required/any nor one of {names}"
        raise StepFunInvalidParameterError(msg)
    msg = f"tool_choice must be a string, True or a dict, got {quoted(choice)}"
    raise StepFunInvalidParameterError(msg)
