"""Ray: remote tasks and an actor using ChatStepFun and LlamaIndex's StepFun.

The models are passed to Ray as arguments (so cloudpickle carries them into the worker
processes) and call a loopback echo server started by this test; each answer must be the echo
of its own prompt. Ray is started once for the module (``num_cpus=2``, no dashboard, bound to
127.0.0.1, usage reporting off) and shut down at the end.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Iterator
from typing import Any

import pytest
import ray

from tests.downstream.calls import aask, ask, build
from tests.downstream.echo import EchoServer, echo_answer

ADAPTERS = ("langchain", "llamaindex")
KEY = "sk-ray"
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[None]:
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        _node_ip_address="127.0.0.1",
        runtime_env={"env_vars": {"PYTHONPATH": REPO, "RAY_USAGE_STATS_ENABLED": "0"}},
        log_to_driver=False,
        configure_logging=False,
    )
    try:
        yield
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def ray_echo() -> Iterator[EchoServer]:
    with EchoServer(hold=0.005) as server:
        yield server


def _answer(model: Any, prompt: str, mode: str, stream: bool) -> dict[str, Any]:
    if mode == "sync":
        text = ask(model, prompt, stream=stream)
    else:
        text = asyncio.run(aask(model, prompt, stream=stream))
    return {"prompt": prompt, "text": text, "pid": os.getpid()}


@ray.remote
def answer_task(model: Any, prompt: str, mode: str, stream: bool) -> dict[str, Any]:
    return _answer(model, prompt, mode, stream)


@ray.remote
class Assistant:
    """An actor holding one model; each method call asks it one question."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def ask(self, prompt: str, stream: bool) -> dict[str, Any]:
        return _answer(self.model, prompt, "sync", stream)

    async def aask(self, prompt: str, stream: bool) -> dict[str, Any]:
        text = await aask(self.model, prompt, stream=stream)
        return {"prompt": prompt, "text": text, "pid": os.getpid()}


def check(results: list[dict[str, Any]], server: EchoServer) -> None:
    wrong = [r for r in results if r["text"] != echo_answer(r["prompt"])]
    assert not wrong, wrong
    assert os.getpid() not in {r["pid"] for r in results}  # ran in Ray workers
    assert {r.headers["authorization"] for r in server.requests} == {f"Bearer {KEY}"}
    assert not server.malformed


@pytest.mark.parametrize("target", ADAPTERS)
def test_remote_tasks(target: str, ray_cluster: None, ray_echo: EchoServer) -> None:
    ray_echo.reset()
    model = build(target, ray_echo.base_url, api_key=KEY, timeout=30.0)
    assert ask(model, "driver first") == echo_answer("driver first")  # used before shipping
    refs = [
        answer_task.remote(model, f"{target} task {i} {mode}", mode, i % 2 == 1)
        for i in range(6)
        for mode in ("sync", "async")
    ]
    results = ray.get(refs, timeout=120)
    check(results, ray_echo)
    assert len(ray_echo.requests) == 1 + len(refs)


@pytest.mark.parametrize("target", ADAPTERS)
def test_actor(target: str, ray_cluster: None, ray_echo: EchoServer) -> None:
    ray_echo.reset()
    model = build(target, ray_echo.base_url, api_key=KEY, timeout=30.0)
    actor = Assistant.remote(model)  # type: ignore[attr-defined]
    refs = [actor.ask.remote(f"{target} actor {i}", i % 2 == 1) for i in range(4)]
    refs += [actor.aask.remote(f"{target} async actor {i}", i % 2 == 1) for i in range(4)]
    results = ray.get(refs, timeout=120)
    check(results, ray_echo)
    assert len({r["pid"] for r in results}) == 1  # one actor process
    ray.kill(actor)


@pytest.mark.parametrize("target", ADAPTERS)
def test_a_model_with_the_callers_client_is_refused_clearly(
    target: str, ray_cluster: None, ray_echo: EchoServer
) -> None:
    import httpx

    with httpx.Client(headers={"X-Caller": "mine"}) as client:
        model = build(target, ray_echo.base_url, api_key=KEY, http_client=client)
        with pytest.raises(Exception) as caught:
            ray.get(answer_task.remote(model, "never sent", "sync", False), timeout=60)
    message = str(caught.value)
    # Ray wraps the pickling error and quotes the reason on "FAIL serialization" lines: the
    # reason must name the client, not be an obscure "cannot pickle '_thread.RLock' object".
    reasons = re.findall(r"FAIL serialization: (.+)", message) or [message]
    assert all("client" in r and "_thread" not in r for r in reasons), reasons
