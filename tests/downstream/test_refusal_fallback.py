"""``create_agent`` with ``ModelRefusalMiddleware``: a refusal StepFun states hands over to the
fallback model (``ModelFallbackMiddleware``), whether the reply came whole or streamed.

A scripted loopback server refuses every request for one model and answers for the other.
Without the refusal middleware the refusal is the agent's answer, as a standard refusal block.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from langchain.agents import create_agent, middleware
from langchain.agents.middleware import ModelFallbackMiddleware
from langchain_core.messages import AIMessage

from langchain_stepfun import ChatStepFun
from tests.downstream.calls import run_closing
from tests.downstream.scripted import Message, ScriptedAPI
from tests.replica import Replica

REFUSER, HELPER = "step-3.5-flash", "step-3.7-flash"
REFUSAL = "I can't help with that request."
ANSWER = "The fallback model answers this one."
QUESTION = "How do lighthouses work?"


def refuse_or_answer(body: dict[str, Any], n: int) -> Message:
    return {"refusal": REFUSAL} if body.get("model") == REFUSER else {"content": ANSWER}


@pytest.fixture
def api() -> Iterator[ScriptedAPI]:
    with ScriptedAPI(refuse_or_answer) as server:
        yield server


def model(api: ScriptedAPI, name: str, streaming: bool) -> ChatStepFun:
    return ChatStepFun(
        model=name, api_key="sk-refusal", base_url=api.base_url, streaming=streaming, max_retries=0
    )


def run(agent: Any, mode: str) -> list[Any]:
    state = {"messages": [("user", QUESTION)]}
    result = agent.invoke(state) if mode == "sync" else run_closing(agent.ainvoke(state))
    return list(result["messages"])


# ModelRefusalMiddleware is newer than langchain 1.0, where our range starts.
needs_refusal_middleware = pytest.mark.skipif(
    not hasattr(middleware, "ModelRefusalMiddleware"),
    reason="this langchain release has no ModelRefusalMiddleware (added in a later 1.x)",
)


@needs_refusal_middleware
@pytest.mark.parametrize("streaming", [False, True], ids=["whole", "streamed"])
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_refusal_hands_over_to_the_fallback(api: ScriptedAPI, mode: str, streaming: bool) -> None:
    agent = create_agent(
        model(api, REFUSER, streaming),
        tools=[],
        # The refusal middleware is listed after the fallback, so the fallback catches it.
        middleware=[
            ModelFallbackMiddleware(model(api, HELPER, streaming)),
            middleware.ModelRefusalMiddleware(),
        ],
    )
    messages = run(agent, mode)
    assert [r["model"] for r in api.chat_requests] == [REFUSER, HELPER]
    answer = messages[-1]
    assert isinstance(answer, AIMessage)
    assert answer.text == ANSWER
    assert not any(b["type"] == "refusal" for m in messages for b in m.content_blocks)


@pytest.mark.parametrize("streaming", [False, True], ids=["whole", "streamed"])
def test_without_the_middleware_the_refusal_is_the_answer(
    api: ScriptedAPI, streaming: bool
) -> None:
    agent = create_agent(model(api, REFUSER, streaming), tools=[])
    messages = run(agent, "sync")
    assert [r["model"] for r in api.chat_requests] == [REFUSER]
    answer = messages[-1]
    assert isinstance(answer, AIMessage)
    assert answer.content_blocks == [{"type": "refusal", "refusal": REFUSAL}]


def test_the_replica_states_refusals_both_frameworks_read_them(replica: Replica) -> None:
    # The loopback replica declines a prompt holding REFUSE, whole and streamed, in the
    # OpenAI-shaped field: LangChain shows a refusal block, LlamaIndex keeps the text.
    from functools import reduce

    from llama_index.core.llms import ChatMessage

    from llama_index_stepfun import StepFun
    from tests.replica.brain import REFUSE

    prompt = f"Write something harmful. {REFUSE}"
    said = "I can't help with that request."
    chat = ChatStepFun(api_key="k", base_url=replica.base_url)
    whole = chat.invoke(prompt)
    streamed = reduce(lambda a, b: a + b, chat.stream(prompt))
    for message in (whole, streamed):
        assert [b for b in message.content_blocks if b["type"] == "refusal"] == [
            {"type": "refusal", "refusal": said}
        ]
    llm = StepFun(api_key="k", api_base=replica.base_url)
    messages = [ChatMessage(role="user", content=prompt)]
    assert llm.chat(messages).message.additional_kwargs["refusal"] == said
    *_, last = llm.stream_chat(messages)
    assert last.message.additional_kwargs["refusal"] == said
