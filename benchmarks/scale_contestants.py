"""The scale benchmark's contestants: one stream (or call) per coroutine, with pools as configured.

Each driver is made for one configuration and kept for all its rounds (as an application keeps
its model objects), so a round starts with whatever its pool kept alive from the round before.
Every operation returns the number of characters of content it read, which the benchmark checks
against the fixture (a stream cut short counts as an error).

Configurations:

- ``default``: every client as its users get it: ours on the shared pool of the process or event
  loop, ``ChatOpenAI`` / ``OpenAILike`` on openai's default client (both 1,000 connections,
  100 kept alive); the wire floor on an httpx client with the same limits.
- ``sized``: the pool sized to ``--pool-size`` connections, all kept alive. Ours through the
  ``max_connections`` / ``max_keepalive_connections`` settings where the class has them,
  otherwise through a caller's httpx client (with the peers' timeout, so only the limits
  differ); the peers through a caller's client with the same limits.
"""

from __future__ import annotations

import inspect
import json
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import httpx

from benchmarks import transport
from benchmarks.contestants import API_KEY, WIRE_HEADERS, lc_messages, li_messages
from benchmarks.fixtures import MESSAGES, MODEL, Fixture
from benchmarks.floors import langchain_floor, llama_index_floor
from benchmarks.scale_server import CALL_FIXTURE, STREAM_FIXTURE

# openai's default timeout (openai._constants.DEFAULT_TIMEOUT), and ours (stepfun_core.settings).
TIMEOUT = httpx.Timeout(600.0, connect=5.0)
# openai's default limits (DEFAULT_CONNECTION_LIMITS), and those of our shared pools.
DEFAULT_LIMITS = httpx.Limits(max_connections=1000, max_keepalive_connections=100)
POOL_SETTINGS = ("max_connections", "max_keepalive_connections")


# --- the server process ------------------------------------------------------------------------


class ServerProcess(transport.ServerProcess):
    """``benchmarks.scale_server`` in its own process, on 127.0.0.1, with an ephemeral port."""

    def __init__(self, chunks: int, digest: str, pace_ms: float = 0.0, pace_events: int = 1):
        args = ["--chunks", str(chunks), "--pace-ms", str(pace_ms)]
        super().__init__(
            "benchmarks.scale_server", [*args, "--pace-events", str(pace_events)], digest
        )

    def base_url(self, fixture: str, tag: str) -> str:
        # The server reads only the first segment; the tag gives every configuration its own
        # base URL (langchain-openai caches its default client per base URL and event loop).
        return f"http://127.0.0.1:{self.port}/{fixture}/{tag}/v1"

    def stats(self) -> dict[str, int]:
        """Connections accepted and open, requests served (a blocking call, between bursts)."""
        url = f"http://127.0.0.1:{self.port}/_stats"
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback only
        with opener.open(url, timeout=10) as reply:
            stats: dict[str, int] = json.loads(reply.read())
        return stats


# --- how each contestant gets its pool -----------------------------------------------------------


def has_pool_settings(cls: type) -> bool:
    """True if the class takes ``max_connections`` and ``max_keepalive_connections``."""
    fields = getattr(cls, "model_fields", None)
    if isinstance(fields, dict):
        return all(name in fields for name in POOL_SETTINGS)
    try:  # the core clients take every field of stepfun_core.Settings as a keyword
        from stepfun_core.settings import SETTING_NAMES
    except ImportError:
        SETTING_NAMES = ()
    params = set(inspect.signature(cls).parameters) | set(SETTING_NAMES)
    return all(name in params for name in POOL_SETTINGS)


@dataclass
class Context:
    """What a driver is made from: where to send, which pool, and what to close afterwards."""

    server: ServerProcess
    config: str  # default | sized
    pool_size: int
    tag: str
    chunks: int  # events per stream (the floors build theirs from the same fixture)
    clients: list[Any] = field(default_factory=list)  # caller's clients, closed at the end
    pool_via: str = "default"

    def url(self, fixture: str) -> str:
        return self.server.base_url(fixture, self.tag)

    @property
    def limits(self) -> httpx.Limits:
        if self.config == "default":
            return DEFAULT_LIMITS
        return httpx.Limits(
            max_connections=self.pool_size, max_keepalive_connections=self.pool_size
        )

    def async_client(self) -> httpx.AsyncClient:
        client = httpx.AsyncClient(limits=self.limits, timeout=TIMEOUT)
        self.clients.append(client)
        return client

    def sync_client(self) -> httpx.Client:
        client = httpx.Client(limits=self.limits, timeout=TIMEOUT)
        self.clients.append(client)
        return client

    def ours(self, cls: type, client_field: str, asynchronous: bool) -> dict[str, Any]:
        """Keyword arguments that give one of our classes its pool in this configuration."""
        if self.config == "default":
            return {}
        if has_pool_settings(cls):
            self.pool_via = "setting"
            return dict.fromkeys(POOL_SETTINGS, self.pool_size)
        self.pool_via = "caller's client"
        return {client_field: self.async_client() if asynchronous else self.sync_client()}

    def peer(self, client_field: str, asynchronous: bool) -> dict[str, Any]:
        if self.config == "default":
            return {}
        self.pool_via = "caller's client"
        return {client_field: self.async_client() if asynchronous else self.sync_client()}

    async def aclose(self) -> None:
        for client in self.clients:
            if isinstance(client, httpx.AsyncClient):
                await client.aclose()
            else:
                client.close()
        self.clients.clear()


class Driver:
    """One configured client. ``astream``/``stream`` read one stream, ``acall`` one reply."""

    closers: list[Callable[[], Any]]

    async def astream(self) -> int:
        raise NotImplementedError

    def stream(self) -> int:
        raise NotImplementedError

    async def acall(self) -> int:
        raise NotImplementedError


# --- floors ------------------------------------------------------------------------------------


def _body(stream: bool) -> bytes:
    return json.dumps({"model": MODEL, "messages": MESSAGES, "stream": stream}).encode()


def _content_of(data: str) -> int:
    obj = json.loads(data)
    return sum(len(c["delta"].get("content") or "") for c in obj["choices"])


class WireDriver(Driver):
    """Raw httpx streaming + our SSE decoder + ``json.loads``, read to the end of the body."""

    def __init__(self, ctx: Context, asynchronous: bool) -> None:
        from stepfun_core.sse import SSEDecoder

        self.decoder = SSEDecoder
        self.url = ctx.url(STREAM_FIXTURE) + "/chat/completions"
        self.call_url = ctx.url(CALL_FIXTURE) + "/chat/completions"
        if asynchronous:
            self.ahttp = ctx.async_client()
        else:
            self.http = ctx.sync_client()
        ctx.pool_via = "caller's client"

    async def astream(self) -> int:
        n, decoder = 0, self.decoder()
        async with self.ahttp.stream(
            "POST", self.url, content=_body(True), headers=WIRE_HEADERS
        ) as r:
            r.raise_for_status()
            # Read to the end (not only to [DONE]) so the connection goes back to the pool.
            async for piece in r.aiter_bytes():
                for event in decoder.feed(piece):
                    if event.data != "[DONE]":
                        n += _content_of(event.data)
        return n

    def stream(self) -> int:
        n, decoder = 0, self.decoder()
        with self.http.stream("POST", self.url, content=_body(True), headers=WIRE_HEADERS) as r:
            r.raise_for_status()
            for piece in r.iter_bytes():
                for event in decoder.feed(piece):
                    if event.data != "[DONE]":
                        n += _content_of(event.data)
        return n

    async def acall(self) -> int:
        r = await self.ahttp.post(self.call_url, content=_body(False), headers=WIRE_HEADERS)
        r.raise_for_status()
        return len(json.loads(r.content)["choices"][0]["message"]["content"])


@cache
def _async_floor_class() -> type:
    from benchmarks.floors import _langchain_class

    class AsyncFloorChatModel(_langchain_class()):  # type: ignore[misc]
        """The LangChain floor with an ``_astream`` of its own: without one, ``astream`` would
        run ``_stream`` in a thread pool, one hop per chunk."""

        async def _astream(self, messages, stop=None, run_manager=None, **kwargs):
            for chunk in self._chunks:
                yield chunk

    return AsyncFloorChatModel


class LangChainFloorDriver(Driver):
    """``BaseChatModel.astream`` over a model that yields pre-built chunks: no I/O."""

    def __init__(self, fixture: Fixture) -> None:
        model = _async_floor_class()()
        model._chunks = langchain_floor(fixture)._chunks
        self.model, self.messages = model, lc_messages()

    async def astream(self) -> int:
        return sum([len(c.content) async for c in self.model.astream(self.messages)])


async def _last_content(responses: Any) -> int:
    """Characters of content in the last of LlamaIndex's cumulative stream responses."""
    last = None
    async for response in responses:
        last = response
    return len(last.message.content or "") if last is not None else 0


class LlamaIndexFloorDriver(Driver):
    """``CustomLLM.astream_chat`` (with its callbacks) over pre-built responses: no I/O."""

    def __init__(self, fixture: Fixture) -> None:
        self.llm, self.messages = llama_index_floor(fixture), li_messages()

    async def astream(self) -> int:
        return await _last_content(await self.llm.astream_chat(self.messages))


# --- the core client ---------------------------------------------------------------------------


class CoreDriver(Driver):
    def __init__(self, ctx: Context, asynchronous: bool) -> None:
        from stepfun_core import AsyncStepFunClient, StepFunClient, build_chat_request

        cls = AsyncStepFunClient if asynchronous else StepFunClient
        kwargs = ctx.ours(cls, "http_client", asynchronous)
        self.stream_client = cls(api_key=API_KEY, base_url=ctx.url(STREAM_FIXTURE), **kwargs)
        self.call_client = cls(api_key=API_KEY, base_url=ctx.url(CALL_FIXTURE), **kwargs)
        self.payload = build_chat_request(MODEL, MESSAGES)

    async def astream(self) -> int:
        stream = await self.stream_client.stream(self.payload)
        async with stream:
            async for _ in stream:
                pass
        return len(stream.completion().first.content)

    def stream(self) -> int:
        with self.stream_client.stream(self.payload) as stream:
            for _ in stream:
                pass
        return len(stream.completion().first.content)

    async def acall(self) -> int:
        return len((await self.call_client.create(self.payload)).first.content)


# --- LangChain ---------------------------------------------------------------------------------


class LangChainDriver(Driver):
    def __init__(self, make: Callable[[str], Any]) -> None:
        self.model, self.call_model = make(STREAM_FIXTURE), make(CALL_FIXTURE)
        self.messages = lc_messages()

    async def astream(self) -> int:
        return sum([len(c.content) async for c in self.model.astream(self.messages)])

    def stream(self) -> int:
        return sum(len(c.content) for c in self.model.stream(self.messages))

    async def acall(self) -> int:
        return len((await self.call_model.ainvoke(self.messages)).content)


def make_chat_stepfun(ctx: Context, asynchronous: bool) -> Driver:
    from langchain_stepfun import ChatStepFun

    field_name = "http_async_client" if asynchronous else "http_client"
    kwargs = ctx.ours(ChatStepFun, field_name, asynchronous)
    return LangChainDriver(
        lambda fixture: ChatStepFun(
            model=MODEL, api_key=API_KEY, base_url=ctx.url(fixture), **kwargs
        )
    )


def make_chat_openai(ctx: Context, asynchronous: bool) -> Driver:
    from langchain_openai import ChatOpenAI

    kwargs = ctx.peer("http_async_client" if asynchronous else "http_client", asynchronous)
    return LangChainDriver(
        lambda fixture: ChatOpenAI(
            model=MODEL, api_key=API_KEY, base_url=ctx.url(fixture), **kwargs
        )
    )


# --- LlamaIndex --------------------------------------------------------------------------------


class LlamaIndexDriver(Driver):
    def __init__(self, make: Callable[[str], Any]) -> None:
        self.llm, self.call_llm = make(STREAM_FIXTURE), make(CALL_FIXTURE)
        self.messages = li_messages()

    async def astream(self) -> int:
        return await _last_content(await self.llm.astream_chat(self.messages))

    def stream(self) -> int:
        responses = list(self.llm.stream_chat(self.messages))
        return len(responses[-1].message.content or "") if responses else 0

    async def acall(self) -> int:
        return len((await self.call_llm.achat(self.messages)).message.content or "")


def make_li_stepfun(ctx: Context, asynchronous: bool) -> Driver:
    from llama_index_stepfun import StepFun

    field_name = "async_http_client" if asynchronous else "http_client"
    kwargs = ctx.ours(StepFun, field_name, asynchronous)
    return LlamaIndexDriver(
        lambda fixture: StepFun(model=MODEL, api_key=API_KEY, api_base=ctx.url(fixture), **kwargs)
    )


def make_openai_like(ctx: Context, asynchronous: bool) -> Driver:
    from llama_index.llms.openai_like import OpenAILike

    kwargs = ctx.peer("async_http_client" if asynchronous else "http_client", asynchronous)
    return LlamaIndexDriver(
        lambda fixture: OpenAILike(
            model=MODEL,
            api_key=API_KEY,
            api_base=ctx.url(fixture),
            is_chat_model=True,
            is_function_calling_model=True,
            context_window=256000,
            **kwargs,
        )
    )


# --- the table of contestants ------------------------------------------------------------------


@dataclass(frozen=True)
class ScaleContestant:
    key: str
    label: str
    family: str  # wire | core | langchain | llamaindex
    role: str  # floor | ours | peer
    make: Callable[[Context, bool], Driver]
    import_name: str | None = None
    network: bool = True  # floors over pre-built messages do no I/O


def _floor(make: Callable[[Fixture], Driver]) -> Callable[[Context, bool], Driver]:
    def build(ctx: Context, asynchronous: bool) -> Driver:
        from benchmarks.scale_server import scale_fixtures

        ctx.pool_via = "no I/O"
        return make(scale_fixtures(ctx.chunks)[STREAM_FIXTURE])

    return build


CONTESTANTS = [
    ScaleContestant(
        "wire", "wire floor (httpx + our SSE decoder + json)", "wire", "floor", WireDriver
    ),
    ScaleContestant("core", "stepfun_core client", "core", "ours", CoreDriver),
    ScaleContestant(
        "lc_floor",
        "LangChain floor (BaseChatModel.astream, no I/O)",
        "langchain",
        "floor",
        _floor(LangChainFloorDriver),
        "langchain_core",
        network=False,
    ),
    ScaleContestant(
        "chatstepfun", "ChatStepFun", "langchain", "ours", make_chat_stepfun, "langchain_stepfun"
    ),
    ScaleContestant(
        "chatopenai", "ChatOpenAI", "langchain", "peer", make_chat_openai, "langchain_openai"
    ),
    ScaleContestant(
        "li_floor",
        "LlamaIndex floor (CustomLLM.astream_chat, no I/O)",
        "llamaindex",
        "floor",
        _floor(LlamaIndexFloorDriver),
        "llama_index.core",
        network=False,
    ),
    ScaleContestant(
        "li_stepfun",
        "LlamaIndex StepFun",
        "llamaindex",
        "ours",
        make_li_stepfun,
        "llama_index_stepfun",
    ),
    ScaleContestant(
        "openailike",
        "OpenAILike",
        "llamaindex",
        "peer",
        make_openai_like,
        "llama_index.llms.openai_like",
    ),
]
BY_KEY = {c.key: c for c in CONTESTANTS}
# The sync variant and the sequential soak: the clients that do I/O.
SYNC_KEYS = ("wire", "core", "chatstepfun", "chatopenai", "li_stepfun", "openailike")
SOAK_KEYS = SYNC_KEYS
# The asyncio.run soak: the real clients (a raw httpx client shared by event loops is a misuse
# httpx documents; a model object is what users do share).
RUNS_KEYS = SYNC_KEYS[1:]
