"""One call through any entry point, and the functions child processes run.

Kept in an importable module (not a test module) so that spawned processes, process pools and
Ray workers can find the functions by reference. Every call goes through the public API:
``StepFunClient``/``AsyncStepFunClient``, ``ChatStepFun`` and LlamaIndex's ``StepFun``.
"""

from __future__ import annotations

import asyncio
import os
import pickle
from collections.abc import Coroutine
from typing import Any, TypeVar

import stepfun_core as core
from stepfun_core import pools as core_http

T = TypeVar("T")

MODEL = "step-3.5-flash"
TARGETS = ("core", "langchain", "llamaindex")
MODES = ("sync", "async")


class CorePair:
    """The core's sync and async clients, built with the same options."""

    def __init__(
        self, *, http_client: Any = None, async_http_client: Any = None, **options: Any
    ) -> None:
        self.sync = core.StepFunClient(http_client=http_client, **options)
        self.aio = core.AsyncStepFunClient(http_client=async_http_client, **options)


def build(target: str, base_url: str, *, api_key: str = "sk-downstream", **options: Any) -> Any:
    """One instance of an entry point pointed at `base_url`."""
    if target == "core":
        return CorePair(api_key=api_key, base_url=base_url, **options)
    if target == "langchain":
        from langchain_stepfun import ChatStepFun

        return ChatStepFun(model=MODEL, api_key=api_key, base_url=base_url, **options)
    if target == "llamaindex":
        from llama_index_stepfun import StepFun

        return StepFun(model=MODEL, api_key=api_key, api_base=base_url, **options)
    raise ValueError(target)


def target_of(inst: Any) -> str:
    """Which entry point an instance is."""
    if isinstance(inst, CorePair):
        return "core"
    return "langchain" if type(inst).__name__ == "ChatStepFun" else "llamaindex"


def _li_user(prompt: str) -> list[Any]:
    from llama_index.core.base.llms.types import ChatMessage

    return [ChatMessage(role="user", content=prompt)]


def ask(inst: Any, prompt: str, *, stream: bool = False) -> str:
    """The answer's text through the sync API (streamed: the deltas joined)."""
    target = target_of(inst)
    if target == "core":
        payload = core.build_chat_request(MODEL, [{"role": "user", "content": prompt}])
        if not stream:
            return str(inst.sync.create(payload).first.content)
        with inst.sync.stream(payload) as chunks:
            return "".join(c.content for chunk in chunks for c in chunk.choices if c.index == 0)
    if target == "langchain":
        if not stream:
            return str(inst.invoke(prompt).text)
        return "".join(piece.text for piece in inst.stream(prompt))
    if not stream:
        return str(inst.chat(_li_user(prompt)).message.content)
    return "".join(r.delta or "" for r in inst.stream_chat(_li_user(prompt)))


async def aask(inst: Any, prompt: str, *, stream: bool = False) -> str:
    """The answer's text through the async API (streamed: the deltas joined)."""
    target = target_of(inst)
    if target == "core":
        payload = core.build_chat_request(MODEL, [{"role": "user", "content": prompt}])
        if not stream:
            return str((await inst.aio.create(payload)).first.content)
        chunks = await inst.aio.stream(payload)
        async with chunks:
            return "".join(
                [c.content async for chunk in chunks for c in chunk.choices if c.index == 0]
            )
    if target == "langchain":
        if not stream:
            return str((await inst.ainvoke(prompt)).text)
        return "".join([piece.text async for piece in inst.astream(prompt)])
    if not stream:
        return str((await inst.achat(_li_user(prompt))).message.content)
    gen = await inst.astream_chat(_li_user(prompt))
    return "".join([r.delta or "" async for r in gen])


def ask_in_mode(inst: Any, prompt: str, mode: str, *, stream: bool = False) -> str:
    """`ask`, or `aask` in a fresh ``asyncio.run`` (as a script would)."""
    if mode == "sync":
        return ask(inst, prompt, stream=stream)
    return asyncio.run(aask(inst, prompt, stream=stream))


def run_closing(coro: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run``, then close that loop's shared pool (keeps the test process clean)."""

    async def main() -> T:
        try:
            return await coro
        finally:
            await core_http.aclose_loop_pools()

    return asyncio.run(main())


# --- what child processes run -------------------------------------------------------------------
# A forked child inherits this dict: the parent puts its (already used) instance here first.
FORKED: dict[str, Any] = {}


def child_prompt(tag: str, stream: bool) -> str:
    return f"{tag} from pid {os.getpid()} ({'stream' if stream else 'whole'})"


def exchange(inst: Any, tag: str, mode: str) -> list[dict[str, Any]]:
    """One whole and one streamed call with prompts naming this process; never raises."""
    results = []
    for stream in (False, True):
        prompt = child_prompt(tag, stream)
        try:
            text: str | None = ask_in_mode(inst, prompt, mode, stream=stream)
            error = None
        except Exception as exc:
            text, error = None, f"{type(exc).__name__}: {exc}"
        results.append(
            {"pid": os.getpid(), "prompt": prompt, "text": text, "error": error, "stream": stream}
        )
    return results


def forked_exchange(tag: str, mode: str) -> list[dict[str, Any]]:
    """Pool/executor task in a forked worker: use the instance inherited from the parent."""
    return exchange(FORKED["instance"], tag, mode)


def pickled_exchange(data: bytes, tag: str, mode: str) -> list[dict[str, Any]]:
    """Task in a spawned worker: unpickle the model sent by the parent, then use it."""
    return exchange(pickle.loads(data), tag, mode)


def passed_exchange(inst: Any, tag: str, mode: str) -> list[dict[str, Any]]:
    """Task whose instance was pickled by the executor itself (an argument)."""
    return exchange(inst, tag, mode)
