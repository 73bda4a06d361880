"""LlamaIndex: a custom Workflow, an IngestionPipeline in worker processes, a FunctionAgent.

- A two-step ``Workflow`` (``achat``, then ``astream_chat`` on the first answer), run in
  separate ``asyncio.run`` calls and concurrently in one loop: each run gets its own answers.
- An ``IngestionPipeline`` with ``TitleExtractor`` and a custom LLM transform, run with
  ``num_workers=2``: ``run`` uses spawned workers (the LLM is pickled into them), ``arun`` a
  ``ProcessPoolExecutor`` (forked workers on Linux), after the parent used the same LLM.
- A ``FunctionAgent`` run several times, each in its own ``asyncio.run``.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from llama_index.core.agent.workflow import FunctionAgent
from llama_index.core.extractors import TitleExtractor
from llama_index.core.ingestion import IngestionPipeline
from llama_index.core.llms import ChatMessage
from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode
from llama_index.core.tools import FunctionTool
from llama_index.core.workflow import Event, StartEvent, StopEvent, Workflow, step

from llama_index_stepfun import StepFun
from tests.downstream.echo import EchoServer, echo_answer
from tests.downstream.llama_parts import EchoAnnotate
from tests.replica import Replica, think

MODEL = "step-3.5-flash"
KEY = "sk-llama"


def llm_for(base_url: str) -> StepFun:
    return StepFun(model=MODEL, api_key=KEY, api_base=base_url, timeout=20.0)


# --- a custom workflow --------------------------------------------------------------------------
class Answered(Event):
    question: str
    answer: str


class AskTwice(Workflow):
    """Ask the question, then stream a follow-up built from the first answer."""

    def __init__(self, llm: StepFun, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.llm = llm

    @step
    async def ask(self, ev: StartEvent) -> Answered:
        question = str(ev.question)
        reply = await self.llm.achat([ChatMessage(role="user", content=question)])
        return Answered(question=question, answer=str(reply.message.content))

    @step
    async def follow_up(self, ev: Answered) -> StopEvent:
        prompt = f"Say more about: {ev.answer}"
        gen = await self.llm.astream_chat([ChatMessage(role="user", content=prompt)])
        pieces = [r.delta or "" async for r in gen]
        return StopEvent(result={"question": ev.question, "first": ev.answer, "second": pieces})


def check_run(result: dict[str, Any], question: str) -> None:
    assert result["question"] == question
    assert result["first"] == echo_answer(question)
    assert "".join(result["second"]) == echo_answer(f"Say more about: {echo_answer(question)}")
    assert len(result["second"]) > 1  # really streamed


def test_workflow_in_separate_asyncio_runs(echo: EchoServer) -> None:
    workflow = AskTwice(llm_for(echo.base_url), timeout=30)
    for i in range(4):
        question = f"workflow run {i}"
        result = asyncio.run(_run(workflow, question))
        check_run(result, question)
    assert len(echo.requests) == 8


async def _run(workflow: Workflow, question: str) -> Any:
    return await workflow.run(question=question)


async def test_concurrent_workflow_runs_in_one_loop(echo: EchoServer) -> None:
    workflow = AskTwice(llm_for(echo.base_url), timeout=30)
    questions = [f"concurrent run {i}" for i in range(8)]
    results = await asyncio.gather(*[_run(workflow, q) for q in questions])
    for question, result in zip(questions, results, strict=True):
        check_run(result, question)
    assert not echo.malformed


# --- an ingestion pipeline in worker processes ---------------------------------------------------
TOPICS = ("amber", "basalt", "cobalt", "dolomite")


def text_nodes() -> list[TextNode]:
    """One node per document (no splitter: the offline machine has no tokenizer files)."""
    return [
        TextNode(
            text=f"Notes on {topic}: {topic} is a material with a long history.",
            relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=topic)},
        )
        for topic in TOPICS
    ]


def pipeline_for(llm: StepFun) -> IngestionPipeline:
    return IngestionPipeline(
        transformations=[TitleExtractor(llm=llm, nodes=1), EchoAnnotate(llm=llm)],
        disable_cache=True,
    )


def run_bounded(function: Any, seconds: float = 180.0) -> Any:
    """Run `function` in a thread: a multiprocessing pool whose worker cannot unpickle its task
    waits forever, and this test must fail instead."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = function()
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"the pipeline did not finish in {seconds} s"
    if "error" in box:
        raise box["error"]
    return box["value"]


def check_nodes(nodes: list[Any]) -> None:
    assert sorted(n.ref_doc_id for n in nodes) == sorted(TOPICS)
    for node in nodes:
        topic = node.ref_doc_id
        # The answer to this node's own text, and a title built from this document only.
        assert node.metadata["answer"] == echo_answer(node.get_content()), node.metadata
        title = node.metadata["document_title"]
        assert f"Notes on {topic}" in title, title
        assert not [t for t in TOPICS if t != topic and t in title], title


def test_ingestion_pipeline_with_spawned_workers(echo: EchoServer) -> None:
    llm = llm_for(echo.base_url)
    nodes = run_bounded(lambda: pipeline_for(llm).run(nodes=text_nodes(), num_workers=2))
    check_nodes(list(nodes))
    assert len({n.metadata["pid"] for n in nodes}) == 2  # really ran in two workers


def test_ingestion_pipeline_arun_with_forked_workers_after_parent_use(echo: EchoServer) -> None:
    llm = llm_for(echo.base_url)
    assert llm.complete("parent first").text == echo_answer("parent first")  # a pooled socket
    parent_connections = {r.connection for r in echo.requests}
    seen_before = len(echo.requests)
    nodes = run_bounded(
        lambda: asyncio.run(pipeline_for(llm).arun(nodes=text_nodes(), num_workers=2))
    )
    check_nodes(list(nodes))
    workers = {n.metadata["pid"] for n in nodes}
    on_parent_socket = [
        r.prompt for r in echo.requests[seen_before:] if r.connection in parent_connections
    ]
    assert not echo.malformed, echo.malformed
    assert not on_parent_socket, f"workers {workers} sent on the parent's socket"


# --- a FunctionAgent, several asyncio.run calls ---------------------------------------------------
def get_weather(city: str) -> str:
    """Get the current weather in a city."""
    return f"Sunny and 21 C in {city}"


@pytest.fixture
def own_replica() -> Iterator[Replica]:
    with Replica() as server:
        yield server


async def _agent_run(agent: FunctionAgent, question: str) -> str:
    return str(await agent.run(user_msg=question))


RUNS = 5


def test_function_agent_in_separate_asyncio_runs(own_replica: Replica) -> None:
    agent = FunctionAgent(tools=[get_weather], llm=llm_for(own_replica.base_url))
    for i in range(RUNS):
        question = f"What is the weather in Town{i}? Use get_weather."
        answer = asyncio.run(_agent_run(agent, question))
        calling, final = own_replica.requests[2 * i : 2 * i + 2]
        call = think(calling.json).choices[0].tool_calls[0]
        assert call.name == "get_weather"
        assert final.json["messages"][-1]["role"] == "tool"
        assert final.json["messages"][-1]["tool_call_id"] == call.id
        assert answer == "".join(think(final.json).choices[0].content)
        assert "Sunny and 21 C" in answer
    assert len(own_replica.requests) == 2 * RUNS


def test_function_agent_runs_leave_no_connection_open(own_replica: Replica) -> None:
    agent = FunctionAgent(tools=[get_weather], llm=llm_for(own_replica.base_url))
    for i in range(RUNS):
        asyncio.run(_agent_run(agent, f"What is the weather in Town{i}? Use get_weather."))
    own_replica.wait_idle(2.0)
    assert own_replica.open_connections <= 1, (
        f"{own_replica.open_connections} connections still open after {RUNS} asyncio.run calls"
    )


def test_function_agent_without_parallel_calls_runs_one_tool_over_a_stream(
    own_replica: Replica,
) -> None:
    # Hostile round 8: a FunctionAgent streams, and LlamaIndex trims parallel calls only when
    # not streaming, so both of the model's calls ran. LlamaIndex's own agent, over a socket.
    ran: list[str] = []

    def get_time(city: str) -> str:
        """Get the local time in a city."""
        ran.append("get_time")
        return f"12:00 in {city}"

    def weather(city: str) -> str:
        """Get the current weather in a city."""
        ran.append("get_weather")
        return get_weather(city)

    tools = [FunctionTool.from_defaults(weather, name="get_weather"), get_time]
    for allow in (False, True):
        ran.clear()
        agent = FunctionAgent(
            tools=tools, llm=llm_for(own_replica.base_url), allow_parallel_tool_calls=allow
        )
        asyncio.run(_agent_run(agent, "Use get_weather and get_time for Paris"))
        # The agent runs the calls it keeps as concurrent workflow steps, so their order varies.
        assert sorted(ran) == (["get_time", "get_weather"] if allow else ["get_weather"])
