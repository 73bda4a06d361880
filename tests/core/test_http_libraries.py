"""One suite of client behaviour, run with a caller's httpx client and with an httpx2 client.

Each case runs over the library's own MockTransport and, where a socket matters, over the
loopback replica: answers, streams ending at [DONE], retries, typed errors, timeouts, and the
rule that the caller's client is never closed by us. (The adapters with httpx2 clients:
tests/downstream/test_httpx2_clients.py.)
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import importlib
import json
import socket
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import pytest

import stepfun_core as core
from tests.replica import Fault, Replica

T = TypeVar("T")
LIBRARIES = ["httpx", "httpx2"]
FAST = core.RetryPolicy(max_retries=2, initial_delay=0.001, max_delay=0.002)
PAYLOAD = core.build_chat_request(
    "step-3.5-flash", [{"role": "user", "content": "Tell me about owls"}]
)
REPLY = {
    "id": "r1",
    "model": "step-3.5-flash",
    "created": 1,
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "Hoot."}, "finish_reason": "stop"}
    ],
    "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
}
CHUNK = {
    "id": "r1",
    "model": "step-3.5-flash",
    "choices": [{"index": 0, "delta": {"content": "Hoot."}, "finish_reason": "stop"}],
}
SSE = f"data: {json.dumps(CHUNK)}\n\ndata: [DONE]\n\n".encode()


@pytest.fixture(params=LIBRARIES)
def lib(request: pytest.FixtureRequest) -> Any:
    """The HTTP library the caller's client comes from."""
    return importlib.import_module(request.param)


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


OPENED: list[Any] = []  # the callers' clients made by a test, closed after it


@pytest.fixture(autouse=True)
def _close_callers_clients() -> Iterator[None]:
    yield
    while OPENED:
        http = OPENED.pop()
        if hasattr(http, "close"):
            http.close()
            continue
        with contextlib.suppress(RuntimeError):  # its loop is gone: nothing left to await
            asyncio.run(http.aclose())


class Calls:
    """Builds core clients on a caller's client of ``lib`` and runs create/stream in ``mode``."""

    def __init__(self, lib: Any, mode: str, **transport: Any) -> None:
        self.lib, self.mode, self.transport = lib, mode, transport
        self.http: Any = None
        self.closed_by_call = False

    def client(self, **options: Any) -> Any:
        options.setdefault("api_key", "sk-test")
        options.setdefault("retry_policy", FAST)
        if self.mode == "sync":
            self.http = self.lib.Client(**self.transport)
            OPENED.append(self.http)
            return core.StepFunClient(http_client=self.http, **options)
        self.http = self.lib.AsyncClient(**self.transport)
        OPENED.append(self.http)
        return core.AsyncStepFunClient(http_client=self.http, **options)

    def create(self, **options: Any) -> core.Completion:
        client = self.client(**options)
        if self.mode == "sync":
            return client.create(PAYLOAD)  # type: ignore[no-any-return]
        return self._on_one_loop(lambda: client.create(PAYLOAD))  # type: ignore[no-any-return]

    def stream(self, **options: Any) -> tuple[str, core.Completion]:
        client = self.client(**options)
        if self.mode == "sync":
            with client.stream(PAYLOAD) as stream:
                text = "".join(c.choices[0].content for c in stream if c.choices)
            return text, stream.completion()

        async def run() -> tuple[str, core.Completion]:
            stream = await client.stream(PAYLOAD)
            async with stream:
                text = "".join([c.choices[0].content async for c in stream if c.choices])
            return text, stream.completion()

        return self._on_one_loop(run)

    def _on_one_loop(self, call: Callable[[], Awaitable[T]]) -> T:
        """Runs ``call``, notes whether it closed the caller's client, then closes that client
        on the same loop (its sockets belong to it: closed later, they would leak)."""

        async def run() -> T:
            try:
                return await call()
            finally:
                self.closed_by_call = bool(self.http.is_closed)
                await self.http.aclose()

        return asyncio.run(run())

    @property
    def closed(self) -> bool:
        """Whether our code closed the caller's client (it must never)."""
        return bool(self.http.is_closed if self.mode == "sync" else self.closed_by_call)


def mock(lib: Any, mode: str, handler: Callable[[Any], Any]) -> Calls:
    return Calls(lib, mode, transport=lib.MockTransport(handler))


def answering(lib: Any, *replies: Any) -> tuple[Callable[[Any], Any], list[Any]]:
    """A handler giving each reply in turn (the last one again), and the requests it saw."""
    seen: list[Any] = []

    def handler(request: Any) -> Any:
        seen.append(request)
        status, body, headers = replies[min(len(seen), len(replies)) - 1]
        if isinstance(body, bytes):
            return lib.Response(status, content=body, headers=headers)
        return lib.Response(status, json=body, headers=headers)

    return handler, seen


# --- over MockTransport ---------------------------------------------------------------------------
def test_an_answer(lib: Any, mode: str) -> None:
    handler, seen = answering(lib, (200, REPLY, {}))
    calls = mock(lib, mode, handler)
    assert calls.create().first.content == "Hoot."
    assert seen[0].headers["authorization"] == "Bearer sk-test"
    assert not calls.closed


def test_copies_share_the_callers_client(lib: Any, mode: str) -> None:
    # copy.copy went through pickling, which refuses a caller's client: it raised TypeError.
    handler, seen = answering(lib, (200, REPLY, {}))
    calls = mock(lib, mode, handler)
    client = calls.client()
    clones = [copy.copy(client), copy.deepcopy(client)]
    for clone in clones:
        assert clone._http_client is calls.http and clone.settings == client.settings
    if mode == "sync":
        answers = [clone.create(PAYLOAD) for clone in clones]
    else:

        async def both() -> list[core.Completion]:
            return [await clone.create(PAYLOAD) for clone in clones]

        answers = calls._on_one_loop(both)
    assert [a.first.content for a in answers] == ["Hoot.", "Hoot."] and len(seen) == 2


def test_a_stream_ends_at_done(lib: Any, mode: str) -> None:
    body = SSE + b"data: {not json\n\n"  # never parsed: the stream ended at [DONE]
    handler, _ = answering(lib, (200, body, {"content-type": "text/event-stream"}))
    calls = mock(lib, mode, handler)
    text, completion = calls.stream()
    assert text == "Hoot." and completion.first.finish_reason == "stop"
    assert not calls.closed


def test_a_rate_limit_is_retried(lib: Any, mode: str) -> None:
    limited = {"error": {"message": "slow down", "type": "rate_limit_exceeded"}}
    handler, seen = answering(lib, (429, limited, {"retry-after-ms": "1"}), (200, REPLY, {}))
    assert mock(lib, mode, handler).create().first.content == "Hoot."
    assert len(seen) == 2


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (401, core.AuthenticationError),
        (404, core.NotFoundError),
        (451, core.ContentModerationError),
        (503, core.InternalServerError),
    ],
)
def test_status_errors_are_typed(lib: Any, mode: str, status: int, error: type) -> None:
    body = {"error": {"message": "no", "type": "x"}}
    handler, seen = answering(lib, (status, body, {"x-trace-id": "t-1"}))
    calls = mock(lib, mode, handler)
    with pytest.raises(error) as caught:
        calls.create()
    assert caught.value.status_code == status and caught.value.trace_id == "t-1"
    assert len(seen) == (3 if status == 503 else 1)
    assert not calls.closed


def test_a_connection_failure_is_typed_and_retried(lib: Any, mode: str) -> None:
    attempts: list[Any] = []

    def handler(request: Any) -> Any:
        attempts.append(request)
        raise lib.ConnectError("refused", request=request)

    calls = mock(lib, mode, handler)
    with pytest.raises(core.APIConnectionError):
        calls.create()
    assert len(attempts) == 3
    assert not calls.closed


def test_a_read_timeout_is_a_timeout(lib: Any, mode: str) -> None:
    def handler(request: Any) -> Any:
        raise lib.ReadTimeout("slow", request=request)

    with pytest.raises(core.APITimeoutError):
        mock(lib, mode, handler).create(max_retries=0, retry_policy=None)


def test_a_read_timeout_mid_stream_keeps_what_arrived(lib: Any, mode: str) -> None:
    first = json.dumps({**CHUNK, "choices": [{"index": 0, "delta": {"content": "Ho"}}]})

    def pieces() -> Iterator[bytes]:
        yield f"data: {first}\n\n".encode()
        raise lib.ReadTimeout("stalled")

    async def apieces() -> Any:
        for piece in pieces():
            yield piece

    def handler(request: Any) -> Any:
        content = pieces() if mode == "sync" else apieces()
        return lib.Response(200, content=content, headers={"content-type": "text/event-stream"})

    with pytest.raises(core.StreamTimeoutError) as caught:
        mock(lib, mode, handler).stream()
    assert caught.value.partial is not None and caught.value.partial.first.content == "Ho"


def test_a_caller_timeout_object_of_either_library_is_taken(lib: Any, mode: str) -> None:
    handler, seen = answering(lib, (200, REPLY, {}))
    mock(lib, mode, handler).create(timeout=lib.Timeout(7.0, connect=2.0))
    assert seen[0].extensions["timeout"] == {"connect": 2.0, "read": 7.0, "write": 7.0, "pool": 7.0}


def test_the_wrong_kind_of_client_is_refused(lib: Any) -> None:
    with pytest.raises(core.InvalidParameterError, match="http_client"):
        core.StepFunClient(api_key="k", http_client=lib.AsyncClient())
    with pytest.raises(core.InvalidParameterError, match="http_client"):
        core.AsyncStepFunClient(api_key="k", http_client=lib.Client())
    with pytest.raises(core.InvalidParameterError, match="http_client"):
        core.StepFunClient(api_key="k", http_client=object())  # type: ignore[arg-type]


# --- over the loopback replica --------------------------------------------------------------------
def test_over_a_real_socket(lib: Any, mode: str, replica: Replica) -> None:
    calls = Calls(lib, mode)
    completion = calls.create(base_url=replica.base_url)
    assert completion.first.content
    text, streamed = calls.stream(base_url=replica.base_url)
    assert text == streamed.first.content and streamed.first.content
    assert [r.json["stream"] for r in replica.requests] == [False, True]
    assert not calls.closed


def test_retries_and_cuts_over_a_real_socket(lib: Any, mode: str, replica: Replica) -> None:
    replica.enqueue(Fault.status(503), Fault.status(429, headers={"retry-after-ms": "1"}))
    assert Calls(lib, mode).create(base_url=replica.base_url).first.content
    assert len(replica.requests) == 3
    replica.enqueue(Fault.drop(after=3))
    with pytest.raises(core.StreamInterruptedError) as caught:
        Calls(lib, mode).stream(base_url=replica.base_url)
    assert caught.value.partial is not None


def test_a_refused_connection_over_a_real_socket(lib: Any, mode: str) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(core.APIConnectionError):
        Calls(lib, mode).create(base_url=f"http://127.0.0.1:{port}/v1")


def test_a_proxy_host_the_lookup_refuses_is_a_connection_error(
    lib: Any, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The caller's client takes HTTPS_PROXY when it is made; a sync lookup of a host with an
    # empty label once raised the idna codec's UnicodeError (our own pools refuse such a
    # variable when they are made: tests/reliability/test_round2_environment.py).
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy..example:8080")

    def lookup(host: Any, *args: Any, **kwargs: Any) -> Any:
        # As the real lookup does before asking a resolver (the suite blocks resolvers).
        if isinstance(host, str):
            host.encode("idna")
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", lookup)
    with pytest.raises(core.APIConnectionError):
        Calls(lib, mode).create(base_url="https://api.stepfun.ai/v1", retry_policy=NO_RETRY)


NO_RETRY = core.RetryPolicy(max_retries=0)
