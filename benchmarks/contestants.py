"""The contestants: each turns a fixture and a network into a driver with call/stream/acall.

Every contestant is given the same base URL (which picks the fixture) and its own httpx clients on
the same transport, so all of them read identical bytes. Drivers are built outside the timed code.
"""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import httpx

from benchmarks.fixtures import MESSAGES, MODEL, Fixture

API_KEY = "sk-bench-not-a-real-key"
os.environ.setdefault("STEP_API_KEY", API_KEY)


@dataclass
class Setup:
    """What a driver is built from."""

    fixture: Fixture
    base_url: str
    http: httpx.Client
    ahttp: httpx.AsyncClient


@dataclass
class Result:
    """What a client read, normalized, to check every contestant against the fixture once."""

    content: str = ""
    reasoning: str = ""
    tool_args: tuple[str, ...] = ()
    items: int = 0


class Driver:
    """One configured client: ``call`` and ``stream`` are timed, ``collect_*`` check results."""

    def call(self) -> Any:
        raise NotImplementedError

    def stream(self) -> None:
        raise NotImplementedError

    async def acall(self) -> Any:
        raise NotImplementedError

    def collect_call(self) -> Result:
        raise NotImplementedError

    def collect_stream(self) -> Result:
        raise NotImplementedError


@dataclass
class Contestant:
    key: str
    label: str
    family: str  # wire | core | langchain | llamaindex
    role: str  # floor | ours | peer | reference
    make: Callable[[Setup], Driver]
    import_name: str | None = None  # the module whose absence makes the contestant "missing"


class Named(Protocol):
    """A contestant of either benchmark: its key, and the module it needs."""

    key: str
    import_name: str | None


N = TypeVar("N", bound=Named)


def missing_reason(import_name: str | None) -> str | None:
    """None if that module imports (or no module is needed), else why not."""
    if import_name is None:
        return None
    try:
        importlib.import_module(import_name)
    except Exception as exc:  # a half-written adapter may raise anything on import
        return f"{type(exc).__name__}: {exc}"
    return None


def select(candidates: Sequence[N], only: str | None) -> tuple[list[N], dict[str, str]]:
    """The candidates named in ``only`` (comma-separated; all when empty) that can run, and why
    each of the others named cannot."""
    wanted = set(only.split(",")) if only else None
    chosen, missing = [], {}
    for c in candidates:
        if wanted and c.key not in wanted:
            continue
        reason = missing_reason(c.import_name)
        if reason:
            missing[c.key] = reason
        else:
            chosen.append(c)
    return chosen, missing


# --- wire floor: raw httpx + json.loads ------------------------------------------------------

WIRE_HEADERS = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}


class WireDriver(Driver):
    def __init__(self, s: Setup) -> None:
        self.s = s
        self.url = s.base_url + "/chat/completions"

    def _body(self, stream: bool) -> bytes:
        return json.dumps({"model": MODEL, "messages": MESSAGES, "stream": stream}).encode()

    def call(self) -> Any:
        r = self.s.http.post(self.url, content=self._body(False), headers=WIRE_HEADERS)
        r.raise_for_status()
        return json.loads(r.content)

    def _events(self):
        with self.s.http.stream(
            "POST", self.url, content=self._body(True), headers=WIRE_HEADERS
        ) as r:
            r.raise_for_status()
            for line in r.iter_lines():
                if line.startswith("data: ") and line != "data: [DONE]":
                    yield json.loads(line[6:])

    def stream(self) -> None:
        for _ in self._events():
            pass

    async def acall(self) -> Any:
        r = await self.s.ahttp.post(self.url, content=self._body(False), headers=WIRE_HEADERS)
        r.raise_for_status()
        return json.loads(r.content)

    def collect_call(self) -> Result:
        m = self.call()["choices"][0]["message"]
        return Result(m["content"], m.get("reasoning", ""))

    def collect_stream(self) -> Result:
        res, args = Result(), {}
        for ev in self._events():
            res.items += 1
            for ch in ev["choices"]:
                d = ch["delta"]
                res.content += d.get("content") or ""
                res.reasoning += d.get("reasoning") or ""
                for tc in d.get("tool_calls") or ():
                    i = tc["index"]
                    args[i] = args.get(i, "") + (tc["function"].get("arguments") or "")
        res.tool_args = tuple(args[i] for i in sorted(args))
        return res


# --- stepfun_core only (reference row) -------------------------------------------------------


class CoreDriver(Driver):
    def __init__(self, s: Setup) -> None:
        from stepfun_core import AsyncStepFunClient, StepFunClient, build_chat_request

        self.build = build_chat_request
        self.client = StepFunClient(api_key=API_KEY, base_url=s.base_url, http_client=s.http)
        self.aclient = AsyncStepFunClient(api_key=API_KEY, base_url=s.base_url, http_client=s.ahttp)

    def call(self) -> Any:
        return self.client.create(self.build(MODEL, MESSAGES))

    def stream(self) -> None:
        with self.client.stream(self.build(MODEL, MESSAGES)) as chunks:
            for _ in chunks:
                pass

    async def acall(self) -> Any:
        return await self.aclient.create(self.build(MODEL, MESSAGES))

    def collect_call(self) -> Result:
        c = self.call().first
        return Result(c.content, c.reasoning)

    def collect_stream(self) -> Result:
        n = 0
        with self.client.stream(self.build(MODEL, MESSAGES)) as chunks:
            for _ in chunks:
                n += 1
            c = chunks.completion().first
        return Result(c.content, c.reasoning, tuple(t.arguments for t in c.tool_calls), n)


# --- LangChain -------------------------------------------------------------------------------


def lc_messages():
    from langchain_core.messages import HumanMessage, SystemMessage

    return [SystemMessage(MESSAGES[0]["content"]), HumanMessage(MESSAGES[1]["content"])]


def _lc_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "".join(b.get("text", "") for b in content if isinstance(b, dict))


def _lc_reasoning(msg: Any) -> str:
    kw = msg.additional_kwargs
    text = kw.get("reasoning_content") or kw.get("reasoning") or ""
    if not text and isinstance(msg.content, list):
        text = "".join(
            b.get("reasoning", "") or b.get("thinking", "")
            for b in msg.content
            if isinstance(b, dict)
        )
    return text if isinstance(text, str) else ""


class LangChainDriver(Driver):
    def __init__(self, model: Any) -> None:
        self.model = model
        self.messages = lc_messages()

    def call(self) -> Any:
        return self.model.invoke(self.messages)

    def stream(self) -> None:
        for _ in self.model.stream(self.messages):
            pass

    async def acall(self) -> Any:
        return await self.model.ainvoke(self.messages)

    def collect_call(self) -> Result:
        m = self.call()
        return Result(_lc_text(m.content), _lc_reasoning(m))

    def collect_stream(self) -> Result:
        res, args = Result(), {}
        for chunk in self.model.stream(self.messages):
            res.items += 1
            res.content += _lc_text(chunk.content)
            res.reasoning += _lc_reasoning(chunk)
            for tc in chunk.tool_call_chunks:
                i = tc.get("index") or 0
                args[i] = args.get(i, "") + (tc.get("args") or "")
        res.tool_args = tuple(args[i] for i in sorted(args))
        return res


def make_chat_stepfun(s: Setup) -> Driver:
    from langchain_stepfun import ChatStepFun

    model = ChatStepFun(
        model=MODEL,
        api_key=API_KEY,
        base_url=s.base_url,
        http_client=s.http,
        http_async_client=s.ahttp,
    )
    return LangChainDriver(model)


def make_chat_openai(s: Setup) -> Driver:
    from langchain_openai import ChatOpenAI

    model = ChatOpenAI(
        model=MODEL,
        api_key=API_KEY,
        base_url=s.base_url,
        http_client=s.http,
        http_async_client=s.ahttp,
    )
    return LangChainDriver(model)


def make_lc_floor(s: Setup) -> Driver:
    from benchmarks.floors import langchain_floor

    return LangChainDriver(langchain_floor(s.fixture))


def make_lc_floor_build(s: Setup) -> Driver:
    from benchmarks.floors import langchain_floor

    return LangChainDriver(langchain_floor(s.fixture, build=True))


# --- LlamaIndex ------------------------------------------------------------------------------


def li_messages():
    from llama_index.core.llms import ChatMessage

    return [ChatMessage(role=m["role"], content=m["content"]) for m in MESSAGES]


def _li_reasoning(message: Any) -> str:
    out = []
    for block in getattr(message, "blocks", ()):
        if type(block).__name__ == "ThinkingBlock":
            out.append(block.content or "")
    return "".join(out)


class LlamaIndexDriver(Driver):
    def __init__(self, llm: Any) -> None:
        self.llm = llm
        self.messages = li_messages()

    def call(self) -> Any:
        return self.llm.chat(self.messages)

    def stream(self) -> None:
        for _ in self.llm.stream_chat(self.messages):
            pass

    async def acall(self) -> Any:
        return await self.llm.achat(self.messages)

    def collect_call(self) -> Result:
        m = self.call().message
        return Result(m.content or "", _li_reasoning(m))

    def collect_stream(self) -> Result:
        res, last = Result(), None
        for response in self.llm.stream_chat(self.messages):
            res.items += 1
            last = response
        if last is not None:
            m = last.message
            res.content = m.content or ""
            res.reasoning = _li_reasoning(m)
            calls = m.additional_kwargs.get("tool_calls") or []
            args = []
            for c in calls:
                fn = c.get("function") if isinstance(c, dict) else getattr(c, "function", None)
                a = fn.get("arguments") if isinstance(fn, dict) else getattr(fn, "arguments", "")
                args.append(a or "")
            if not args:
                for block in getattr(m, "blocks", ()):
                    if type(block).__name__ == "ToolCallBlock":
                        kw = block.tool_kwargs
                        args.append(kw if isinstance(kw, str) else json.dumps(kw))
            res.tool_args = tuple(args)
        return res


def make_li_stepfun(s: Setup) -> Driver:
    from llama_index_stepfun import StepFun

    llm = StepFun(
        model=MODEL,
        api_key=API_KEY,
        api_base=s.base_url,
        http_client=s.http,
        async_http_client=s.ahttp,
    )
    return LlamaIndexDriver(llm)


def make_openai_like(s: Setup) -> Driver:
    from llama_index.llms.openai_like import OpenAILike

    llm = OpenAILike(
        model=MODEL,
        api_key=API_KEY,
        api_base=s.base_url,
        is_chat_model=True,
        is_function_calling_model=True,
        context_window=256000,
        http_client=s.http,
        async_http_client=s.ahttp,
    )
    return LlamaIndexDriver(llm)


def make_li_floor(s: Setup) -> Driver:
    from benchmarks.floors import llama_index_floor

    return LlamaIndexDriver(llama_index_floor(s.fixture))


CONTESTANTS = [
    Contestant("wire", "wire floor (httpx+json)", "wire", "floor", WireDriver),
    Contestant("core", "stepfun_core client", "core", "reference", CoreDriver, "stepfun_core"),
    Contestant(
        "lc_floor", "LangChain floor", "langchain", "floor", make_lc_floor, "langchain_core"
    ),
    Contestant(
        "lc_floor_build",
        "LangChain floor + chunk building",
        "langchain",
        "floor",
        make_lc_floor_build,
        "langchain_core",
    ),
    Contestant(
        "chatstepfun", "ChatStepFun", "langchain", "ours", make_chat_stepfun, "langchain_stepfun"
    ),
    Contestant(
        "chatopenai", "ChatOpenAI", "langchain", "peer", make_chat_openai, "langchain_openai"
    ),
    Contestant(
        "li_floor", "LlamaIndex floor", "llamaindex", "floor", make_li_floor, "llama_index.core"
    ),
    Contestant(
        "li_stepfun",
        "LlamaIndex StepFun",
        "llamaindex",
        "ours",
        make_li_stepfun,
        "llama_index_stepfun",
    ),
    Contestant(
        "openailike",
        "OpenAILike",
        "llamaindex",
        "peer",
        make_openai_like,
        "llama_index.llms.openai_like",
    ),
]
BY_KEY = {c.key: c for c in CONTESTANTS}
