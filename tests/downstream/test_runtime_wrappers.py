"""LangChain middleware and runtime wrappers around ChatStepFun, and changing a model after use.

Two replicas on loopback (two host:port pairs) tell which server got which request, with which
``Authorization``. Retry counts are what the README promises: the core retries twice
(``max_retries=2``: three attempts) before an error reaches LangChain, so each retry of a
LangChain layer costs up to three requests.

A model used once and then copied (``model_copy(update=...)``) or changed by assignment
(``model.base_url = ...``) must use the new values on its next call: nothing in the docs says
the first call freezes them.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from langchain.agents import create_agent
from langchain.agents.middleware import ModelFallbackMiddleware, ModelRetryMiddleware
from langchain_core.runnables import ConfigurableField
from pydantic import SecretStr

import stepfun_core as core
from langchain_stepfun import (
    ChatStepFun,
    StepFunAPIError,
    StepFunAuthenticationError,
)
from llama_index_stepfun import StepFun
from tests.downstream.calls import run_closing
from tests.replica import Fault, Replica, think

MODEL = "step-3.5-flash"
KEY_A, KEY_B = "sk-key-a", "sk-key-b"
QUESTION = "Tell me about lighthouses"
MODES = ("sync", "async")


def answer_to(question: str = QUESTION, **params: Any) -> str:
    body = {"model": MODEL, "messages": [{"role": "user", "content": question}], **params}
    return "".join(think(body).choices[0].content)


def lc(server: Replica, key: str = KEY_A, **options: Any) -> ChatStepFun:
    return ChatStepFun(model=MODEL, api_key=key, base_url=server.base_url, **options)


def li(server: Replica, key: str = KEY_A, **options: Any) -> StepFun:
    return StepFun(model=MODEL, api_key=key, api_base=server.base_url, **options)


def invoke(runnable: Any, mode: str, value: Any = QUESTION, **kwargs: Any) -> Any:
    if mode == "sync":
        return runnable.invoke(value, **kwargs)
    return run_closing(runnable.ainvoke(value, **kwargs))


def li_chat(llm: StepFun, mode: str, question: str = QUESTION) -> str:
    from llama_index.core.llms import ChatMessage

    messages = [ChatMessage(role="user", content=question)]
    if mode == "sync":
        return str(llm.chat(messages).message.content)
    return str(run_closing(llm.achat(messages)).message.content)


def auths(server: Replica) -> list[str]:
    return [r.headers.get("authorization", "") for r in server.requests]


def retryable(status: int) -> Fault:
    return Fault.status(status, headers={"Retry-After": "0"})


# --- middleware -----------------------------------------------------------------------------------
def agent_with(model: Any, *middleware: Any) -> Any:
    return create_agent(model, tools=[], middleware=list(middleware))


def final_text(state: dict[str, Any]) -> str:
    return str(state["messages"][-1].text)


def run_agent(agent: Any, mode: str, how: str) -> str:
    """The agent's final answer, from ``invoke`` or from ``stream_mode="messages"``."""
    inputs = {"messages": [("user", QUESTION)]}
    if how == "invoke":
        return final_text(invoke(agent, mode, inputs))

    async def astreamed() -> str:
        return "".join([m.text async for m, _ in agent.astream(inputs, stream_mode="messages")])

    if mode == "async":
        return run_closing(astreamed())
    return "".join(m.text for m, _ in agent.stream(inputs, stream_mode="messages"))


@pytest.mark.parametrize("how", ["invoke", "stream messages"])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("status", [429, 503])
def test_model_retry_middleware_retries_after_the_core_gave_up(
    status: int, mode: str, how: str, replica: Replica
) -> None:
    # Three failures use up the core's three attempts; the middleware's retry then succeeds.
    replica.enqueue(*[retryable(status)] * 3)
    retry = ModelRetryMiddleware(max_retries=2, initial_delay=0.01, jitter=False)
    assert run_agent(agent_with(lc(replica), retry), mode, how) == answer_to()
    assert len(replica.requests) == 4
    assert len({r.json["stream"] for r in replica.requests}) == 1
    assert len({json.dumps(r.json["messages"]) for r in replica.requests}) == 1


def test_model_retry_middleware_gives_up_after_both_layers(replica: Replica) -> None:
    replica.enqueue(*[retryable(503)] * 12)
    retry = ModelRetryMiddleware(
        max_retries=1, initial_delay=0.01, jitter=False, on_failure="error"
    )
    with pytest.raises(StepFunAPIError):
        agent_with(lc(replica), retry).invoke({"messages": [("user", QUESTION)]})
    assert len(replica.requests) == 6  # (1 + 1 middleware retry) x 3 core attempts


def test_model_retry_middleware_never_retries_a_rejected_key(replica: Replica) -> None:
    replica.enqueue(Fault.status(401))
    retry = ModelRetryMiddleware(
        max_retries=3, initial_delay=0.01, jitter=False, on_failure="error"
    )
    with pytest.raises(StepFunAuthenticationError):
        agent_with(lc(replica), retry).invoke({"messages": [("user", QUESTION)]})
    assert len(replica.requests) == 1


@pytest.mark.parametrize("mode", MODES)
def test_model_fallback_middleware(mode: str, replica: Replica, other_replica: Replica) -> None:
    replica.enqueue(*[retryable(503)] * 3)
    agent = agent_with(lc(replica), ModelFallbackMiddleware(lc(other_replica, KEY_B)))
    state = invoke(agent, mode, {"messages": [("user", QUESTION)]})
    assert final_text(state) == answer_to()
    assert auths(replica) == [f"Bearer {KEY_A}"] * 3
    assert auths(other_replica) == [f"Bearer {KEY_B}"]


# --- runnable wrappers ----------------------------------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
def test_with_retry(mode: str, replica: Replica) -> None:
    replica.enqueue(*[retryable(429)] * 3)
    wrapped = lc(replica).with_retry(stop_after_attempt=2, wait_exponential_jitter=False)
    assert invoke(wrapped, mode).text == answer_to()
    assert len(replica.requests) == 4


@pytest.mark.parametrize("mode", MODES)
def test_with_fallbacks(mode: str, replica: Replica, other_replica: Replica) -> None:
    replica.enqueue(Fault.status(401))
    wrapped = lc(replica).with_fallbacks([lc(other_replica, KEY_B)])
    assert invoke(wrapped, mode).text == answer_to()
    assert auths(replica) == [f"Bearer {KEY_A}"]
    assert auths(other_replica) == [f"Bearer {KEY_B}"]


@pytest.mark.parametrize("mode", MODES)
def test_configurable_fields(mode: str, replica: Replica, other_replica: Replica) -> None:
    model = lc(replica)
    assert invoke(model, mode).text == answer_to()  # used once before
    configurable = model.configurable_fields(
        base_url=ConfigurableField(id="base_url"),
        api_key=ConfigurableField(id="api_key"),
        temperature=ConfigurableField(id="temperature"),
    )
    config = {"configurable": {"base_url": other_replica.base_url, "api_key": KEY_B}}
    config["configurable"]["temperature"] = 0.3
    assert invoke(configurable, mode, config=config).text == answer_to(temperature=0.3)
    assert invoke(configurable, mode).text == answer_to()
    assert auths(other_replica) == [f"Bearer {KEY_B}"]
    assert other_replica.requests[0].json["temperature"] == 0.3
    assert auths(replica) == [f"Bearer {KEY_A}"] * 2
    assert "temperature" not in replica.requests[1].json


@pytest.mark.parametrize("mode", MODES)
def test_configurable_alternatives(mode: str, replica: Replica, other_replica: Replica) -> None:
    model = lc(replica).configurable_alternatives(
        ConfigurableField(id="llm"), default_key="a", b=lc(other_replica, KEY_B)
    )
    assert invoke(model, mode, config={"configurable": {"llm": "b"}}).text == answer_to()
    assert invoke(model, mode).text == answer_to()
    assert auths(other_replica) == [f"Bearer {KEY_B}"]
    assert auths(replica) == [f"Bearer {KEY_A}"]


@pytest.mark.parametrize("mode", MODES)
def test_bind(mode: str, replica: Replica) -> None:
    bound = lc(replica).bind(temperature=0.25, max_tokens=64, stop=["ZZZ"])
    assert invoke(bound, mode).text == answer_to(temperature=0.25, max_tokens=64, stop=["ZZZ"])
    body = replica.requests[0].json
    assert (body["temperature"], body["max_tokens"], body["stop"]) == (0.25, 64, ["ZZZ"])


# --- a model changed after its first call ---------------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
def test_langchain_model_copy_after_use_goes_to_the_other_server(
    mode: str, replica: Replica, other_replica: Replica
) -> None:
    original = lc(replica)
    assert invoke(original, mode).text == answer_to()
    copy = original.model_copy(
        update={"base_url": other_replica.base_url, "api_key": SecretStr(KEY_B)}
    )
    assert invoke(copy, mode).text == answer_to()
    assert invoke(original, mode).text == answer_to()
    assert auths(other_replica) == [f"Bearer {KEY_B}"], "the copy did not reach its own server"
    assert auths(replica) == [f"Bearer {KEY_A}"] * 2


@pytest.mark.parametrize("mode", MODES)
def test_llamaindex_model_copy_after_use_goes_to_the_other_server(
    mode: str, replica: Replica, other_replica: Replica
) -> None:
    original = li(replica)
    assert li_chat(original, mode) == answer_to()
    copy = original.model_copy(
        update={"api_base": other_replica.base_url, "api_key": SecretStr(KEY_B)}
    )
    assert li_chat(copy, mode) == answer_to()
    assert li_chat(original, mode) == answer_to()
    assert auths(other_replica) == [f"Bearer {KEY_B}"], "the copy did not reach its own server"
    assert auths(replica) == [f"Bearer {KEY_A}"] * 2


def _any_call(model: Any, mode: str) -> str:
    if isinstance(model, ChatStepFun):
        return str(invoke(model, mode).text)
    return li_chat(model, mode)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("adapter", ["langchain", "llamaindex"])
def test_model_copy_with_a_plain_string_key(
    adapter: str, mode: str, replica: Replica, other_replica: Replica
) -> None:
    # model_copy(update=...) does not validate: the key stays the str the caller gave.
    original = lc(replica) if adapter == "langchain" else li(replica)
    url_field = "base_url" if adapter == "langchain" else "api_base"
    assert _any_call(original, mode) == answer_to()
    copy = original.model_copy(update={url_field: other_replica.base_url, "api_key": KEY_B})
    assert _any_call(copy, mode) == answer_to()
    assert auths(other_replica) == [f"Bearer {KEY_B}"]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("adapter", ["langchain", "llamaindex"])
def test_assigning_a_plain_string_key(adapter: str, mode: str, replica: Replica) -> None:
    # Neither model validates assignments: the key stays the str the caller assigned.
    model = lc(replica) if adapter == "langchain" else li(replica)
    assert _any_call(model, mode) == answer_to()
    model.api_key = KEY_B  # type: ignore[assignment]
    assert _any_call(model, mode) == answer_to()
    assert auths(replica) == [f"Bearer {KEY_A}", f"Bearer {KEY_B}"]


SETTINGS = (
    "base_url",
    "api_key",
    "max_retries",
    "timeout",
    "default_headers",
    "total_timeout",
    "max_response_bytes",
)


def _change_and_check(
    setting: str,
    model: Any,
    call: Any,
    replica: Replica,
    other_replica: Replica,
    *,
    url_field: str,
) -> None:
    """Change one setting of a used model; its next call must use the new value."""
    if setting == "base_url":
        setattr(model, url_field, other_replica.base_url)
        call()
        assert len(replica.requests) == 1 and len(other_replica.requests) == 1, (
            f"after {url_field} = <other>: first server {len(replica.requests)} requests, "
            f"other server {len(other_replica.requests)}"
        )
    elif setting == "api_key":
        model.api_key = SecretStr(KEY_B)
        call()
        assert auths(replica) == [f"Bearer {KEY_A}", f"Bearer {KEY_B}"]
    elif setting == "max_retries":
        model.max_retries = 0
        replica.enqueue(*[retryable(503)] * 3)
        with pytest.raises(core.InternalServerError):
            call()
        assert len(replica.requests) == 2, "max_retries = 0 was not applied (retried)"
    elif setting == "timeout":
        model.timeout = 0.3  # the model was built with max_retries=0 for this case
        replica.enqueue(Fault.delay(1.5))
        with pytest.raises(core.APITimeoutError):
            call()  # without the new timeout: the answer, 1.5 s later
    elif setting == "total_timeout":
        model.total_timeout = 0.3
        replica.enqueue(Fault.delay(1.5))
        with pytest.raises(core.TotalTimeoutError):
            call()  # without the new budget: the answer, 1.5 s later
    elif setting == "max_response_bytes":
        model.max_response_bytes = 10
        with pytest.raises(core.ResponseTooLargeError):
            call()
    else:
        model.default_headers = {"X-Tenant": "beta"}
        call()
        assert replica.requests[-1].headers.get("x-tenant") == "beta"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("setting", SETTINGS)
def test_langchain_assignment_after_use_takes_effect(
    setting: str, mode: str, replica: Replica, other_replica: Replica
) -> None:
    model = lc(replica, max_retries=0 if setting == "timeout" else 2, timeout=30.0)
    assert invoke(model, mode).text == answer_to()
    _change_and_check(
        setting, model, lambda: invoke(model, mode), replica, other_replica, url_field="base_url"
    )


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("setting", SETTINGS)
def test_llamaindex_assignment_after_use_takes_effect(
    setting: str, mode: str, replica: Replica, other_replica: Replica
) -> None:
    llm = li(replica, max_retries=0 if setting == "timeout" else 2, timeout=30.0)
    assert li_chat(llm, mode) == answer_to()
    _change_and_check(
        setting, llm, lambda: li_chat(llm, mode), replica, other_replica, url_field="api_base"
    )


@pytest.mark.parametrize("mode", MODES)
def test_shallow_copy_keeps_the_callers_client(mode: str, replica: Replica) -> None:
    if mode == "sync":
        with httpx.Client(headers={"X-Caller": "mine"}) as client:
            model = lc(replica, http_client=client)
            model.model_copy(update={"temperature": 0.5}).invoke(QUESTION)
    else:

        async def go() -> None:
            async with httpx.AsyncClient(headers={"X-Caller": "mine"}) as client:
                model = lc(replica, http_async_client=client)
                await model.model_copy(update={"temperature": 0.5}).ainvoke(QUESTION)

        asyncio.run(go())
    assert replica.requests[0].headers.get("x-caller") == "mine"
    assert replica.requests[0].json["temperature"] == 0.5
