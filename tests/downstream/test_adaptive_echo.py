"""A wire that adapts: earlier reasoning echoed where the server takes it, learnt on a refusal.

Agent loops over three replicas: one that refuses reasoning echoed as ``reasoning`` ("Unrecognized
chat message.", as a public report quotes), one that refuses it as ``reasoning_content``, and one
that takes both. A multi-turn LangGraph agent (``create_agent``) and a LlamaIndex
``FunctionAgent`` run to their answers on each; the first refusal costs one more request, after
which the field that worked is used for that base URL and model, and said once in the log. A
pinned field is never changed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator

import pytest
from langchain.agents import create_agent
from langchain_core.tools import tool
from llama_index.core.agent.workflow import FunctionAgent

import stepfun_core as core
from langchain_stepfun import ChatStepFun, StepFunBadRequestError
from llama_index_stepfun import StepFun
from stepfun_core import history
from tests.replica import Replica
from tests.replica.faults import Fault

MODEL = "step-3.5-flash"
QUESTIONS = ("What is the weather in Paris? Use get_weather.", "And in Rome? Use get_weather.")
SERVERS = {
    "refuses reasoning": ("refuse_reasoning_field_echo", "reasoning_content"),
    "refuses reasoning_content": ("refuse_reasoning_echo", "reasoning"),
    "takes both": (None, "reasoning"),
}


@tool
def get_weather(city: str) -> str:
    """Get the current weather in a city."""
    return f"Sunny and 21 C in {city}."


@pytest.fixture(autouse=True)
def _nothing_learnt(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(history, "_learnt", {})
    yield


def echoes(replica: Replica) -> list[set[str]]:
    """Per request, the fields the echoed reasoning was sent under."""
    return [
        {f for m in r.json["messages"] for f in history.ECHO_FIELDS if f in m}
        for r in replica.requests
    ]


def run_langgraph(replica: Replica, **options: object) -> list[str]:
    model = ChatStepFun(model=MODEL, api_key="k", base_url=replica.base_url, **options)
    agent = create_agent(model, tools=[get_weather])
    messages: list[object] = []
    answers = []
    for question in QUESTIONS:
        messages = agent.invoke({"messages": [*messages, ("user", question)]})["messages"]
        answers.append(str(messages[-1].content))
    return answers


def run_llamaindex(replica: Replica) -> list[str]:
    llm = StepFun(model=MODEL, api_key="k", api_base=replica.base_url)

    def weather(city: str) -> str:
        """Get the current weather in a city."""
        return f"Sunny and 21 C in {city}."

    async def run() -> list[str]:
        agent = FunctionAgent(tools=[weather], llm=llm)
        return [str(await agent.run(question)) for question in QUESTIONS]

    return asyncio.run(run())


@pytest.mark.parametrize("server", sorted(SERVERS))
@pytest.mark.parametrize("framework", ["langgraph", "llamaindex"])
def test_an_agent_loop_finds_where_the_server_takes_the_echo(
    replica: Replica, framework: str, server: str, caplog: pytest.LogCaptureFixture
) -> None:
    deviation, taken = SERVERS[server]
    if deviation:
        replica.deviate(deviation)
    with caplog.at_level(logging.WARNING, logger="stepfun_core"):
        answers = run_langgraph(replica) if framework == "langgraph" else run_llamaindex(replica)
    assert all("Sunny" in answer for answer in answers), answers
    sent = [fields for fields in echoes(replica) if fields]
    assert sent, "no request echoed any reasoning"
    refused = 1 if deviation == "refuse_reasoning_field_echo" else 0
    # Every echo after the first refusal goes where the server takes it.
    assert sent[refused:] == [{taken}] * (len(sent) - refused), sent
    # Two model calls per question (the tool call, the answer), and one more for the refusal.
    assert len(replica.requests) == 2 * len(QUESTIONS) + refused
    adapted = [r for r in caplog.records if "refused earlier reasoning" in r.getMessage()]
    assert len(adapted) == refused  # said once, when it adapted


def test_a_pinned_field_is_never_changed(replica: Replica) -> None:
    replica.deviate("refuse_reasoning_echo")
    with pytest.raises(StepFunBadRequestError, match="reasoning_content is invalid"):
        run_langgraph(replica, reasoning_echo_field="reasoning_content")
    assert echoes(replica)[-1] == {"reasoning_content"}


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_one_deadline_covers_every_payload_tried(replica: Replica, mode: str) -> None:
    # Over a real socket: a server refusing the echo under both fields, each answer 0.5 s late.
    # The three payloads tried share one total_timeout (each had its own: the call answered
    # after 1.5 s for 1.2). Seconds, not tenths: a pause of the test process (a full garbage
    # collection takes up to a second) must not decide it.
    replica.deviate("refuse_reasoning_echo", "refuse_reasoning_field_echo")
    replica.enqueue(*[Fault.delay(0.5)] * 3)
    thought = {"role": "assistant", "content": "", "reasoning": "thought"}
    user = {"role": "user", "content": "hi"}
    payload = core.build_chat_request(MODEL, [user, thought, user])
    options = {"api_key": "k", "base_url": replica.base_url, "total_timeout": 1.2}
    client = core.StepFunClient(**options) if mode == "sync" else None
    started = time.monotonic()
    with pytest.raises(core.TotalTimeoutError):
        if client is not None:
            client.create(payload)
        else:
            asyncio.run(core.AsyncStepFunClient(**options).create(payload))
    assert time.monotonic() - started < 2.5
    assert 1 <= len(replica.requests) <= 3
