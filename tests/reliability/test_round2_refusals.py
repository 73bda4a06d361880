"""Round 2, every refusal of bad input is an error of our hierarchy, raised before any request.

A foreign role in the history (LangChain ``ChatMessage(role="tool")`` without a tool call id,
a ``FunctionMessage``; LlamaIndex messages StepFun cannot take), ``stream(..., n=2)`` and
``bind_tools([tool_a], tool_choice="b")`` naming a tool that is not bound: each raises a
``stepfun_core.StepFunError`` that is still a ``ValueError`` (for LangChain also a
``StepFunInvalidParameterError``), and the server sees nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import stepfun_core as core
from tests.reliability.conftest import ROUND2, Combo, Outcome, Row, combos
from tests.replica import Replica


def _tool_a(city: str) -> str:
    """Weather of a city."""
    return city


def _lc_tool_role() -> list[Any]:
    from langchain_core.messages import ChatMessage, HumanMessage

    return [HumanMessage("hi"), ChatMessage(role="tool", content="42"), HumanMessage("and?")]


def _lc_function_message() -> list[Any]:
    from langchain_core.messages import FunctionMessage, HumanMessage

    return [HumanMessage("hi"), FunctionMessage(name="f", content="42"), HumanMessage("and?")]


def _li_tool_without_id() -> list[Any]:
    from llama_index.core.base.llms.types import ChatMessage

    return [ChatMessage(role="user", content="hi"), ChatMessage(role="tool", content="42")]


def _li_unknown_role() -> list[Any]:
    from llama_index.core.base.llms.types import ChatMessage, TextBlock

    # A role outside MessageRole, as a message built without validation (model_construct, or
    # a store that saved another library's roles) carries it.
    odd = ChatMessage.model_construct(role="critic", blocks=[TextBlock(text="42")])
    return [ChatMessage(role="user", content="hi"), odd]


HISTORIES: dict[str, tuple[str, Callable[[], list[Any]]]] = {
    "langchain ChatMessage(role='tool') without tool_call_id": ("langchain", _lc_tool_role),
    "langchain FunctionMessage": ("langchain", _lc_function_message),
    "llamaindex tool message without tool_call_id": ("llamaindex", _li_tool_without_id),
    "llamaindex message role 'critic'": ("llamaindex", _li_unknown_role),
}


def problems(error: BaseException | None, target: str) -> list[str]:
    """Why ``error`` is not a typed refusal of bad input."""
    if error is None:
        return ["no error: the bad input was accepted"]
    found = []
    if not isinstance(error, core.StepFunError):
        found.append(f"{type(error).__name__} is not a StepFunError")
    if not isinstance(error, ValueError):
        found.append(f"{type(error).__name__} is not a ValueError")
    if target == "langchain":
        from langchain_stepfun import StepFunInvalidParameterError

        if not isinstance(error, StepFunInvalidParameterError):
            found.append(f"{type(error).__name__} is not a StepFunInvalidParameterError")
    return found


def record(
    row: Row, case: str, target: str, mode: str, error: BaseException | None, sent: int
) -> None:
    row.set(
        category=ROUND2,
        case=f"bad input: {case}",
        adapter=target,
        mode=mode,
        expected="a StepFunError that is a ValueError (LangChain: StepFunInvalidParameterError); "
        "0 requests",
        observed="accepted" if error is None else f"{type(error).__name__}: {str(error)[:80]}",
        requests=sent,
    )


FOREIGN = [
    pytest.param(case, param.values[0], id=f"{case}-{param.id}")
    for case, (target, _) in HISTORIES.items()
    for param in combos(targets=(target,))
]


@pytest.mark.parametrize(("case", "combo"), FOREIGN)
def test_a_foreign_role_is_a_typed_refusal(
    case: str, combo: Combo, server: Replica, row: Row
) -> None:
    out = combo.call(combo.build(server.base_url), HISTORIES[case][1]())
    record(row, case, combo.target, combo.label, out.error, len(server.requests))
    assert not problems(out.error, combo.target), problems(out.error, combo.target)
    assert not server.requests, "a request was sent"


@pytest.mark.parametrize("combo", combos(targets=("langchain",), stream=(True,)))
def test_streaming_n_2_is_a_typed_refusal(combo: Combo, server: Replica, row: Row) -> None:
    out = combo.call(combo.build(server.base_url), "hi", n=2)
    record(row, "stream(..., n=2)", combo.target, combo.label, out.error, len(server.requests))
    assert not problems(out.error, combo.target), problems(out.error, combo.target)
    assert not server.requests, "a request was sent"


def test_a_tool_choice_naming_an_unbound_tool_is_a_typed_refusal(server: Replica, row: Row) -> None:
    inst = Combo("langchain", "sync", False).build(server.base_url)
    out = Outcome()
    try:
        runnable = inst.bind_tools([_tool_a], tool_choice="b")
    except Exception as exc:
        out.error = exc
    else:  # refused when called, then: still before anything is sent
        out = Combo("langchain", "sync", False).call(inst, "hi", runnable=runnable)
    case = "bind_tools([tool_a], tool_choice='b')"
    record(row, case, "langchain", "bind_tools", out.error, len(server.requests))
    assert not problems(out.error, "langchain"), problems(out.error, "langchain")
    assert not server.requests, "a request was sent"
