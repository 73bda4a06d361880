"""How fixture bytes reach the clients: an in-process ``httpx.MockTransport`` or a loopback server.

The fixture is chosen by the first segment of the URL path, so every contestant is simply given a
base URL such as ``http://bench.invalid/stream_text/v1`` and posts to ``.../chat/completions``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx

from benchmarks.fixtures import Fixture

MOCK_ORIGIN = "http://bench.invalid"
REPO_ROOT = Path(__file__).resolve().parent.parent
SSE_HEADERS = {"content-type": "text/event-stream", "x-trace-id": "bench-trace"}
JSON_HEADERS = {"content-type": "application/json", "x-trace-id": "bench-trace"}
POOL = httpx.Limits(max_connections=400, max_keepalive_connections=400)
TIMEOUT = httpx.Timeout(60.0)


class EventStream(httpx.SyncByteStream, httpx.AsyncByteStream):
    """Yields one SSE event per transport chunk, as a server flushing per token would."""

    def __init__(self, events: tuple[bytes, ...]) -> None:
        self._events = events

    def __iter__(self) -> Iterator[bytes]:
        yield from self._events

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for event in self._events:
            yield event


def fixture_name(path: str) -> str:
    return path.lstrip("/").split("/", 1)[0]


def mock_handler(fixtures: dict[str, Fixture]):
    def handle(request: httpx.Request) -> httpx.Response:
        fixture = fixtures.get(fixture_name(request.url.path))
        if fixture is None or not request.url.path.endswith("/chat/completions"):
            return httpx.Response(404, json={"error": {"message": "no fixture", "type": "x"}})
        if fixture.stream:
            return httpx.Response(200, headers=SSE_HEADERS, stream=EventStream(fixture.events))
        return httpx.Response(200, headers=JSON_HEADERS, content=fixture.body)

    return handle


class MockNetwork:
    """Clients over ``httpx.MockTransport``: the cost measured is the client's alone."""

    mode = "mock"

    def __init__(self, fixtures: dict[str, Fixture]) -> None:
        self.transport = httpx.MockTransport(mock_handler(fixtures))

    def base_url(self, fixture: str) -> str:
        return f"{MOCK_ORIGIN}/{fixture}/v1"

    def sync_client(self) -> httpx.Client:
        return httpx.Client(transport=self.transport, timeout=TIMEOUT)

    def async_client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=self.transport, timeout=TIMEOUT)

    def close(self) -> None:
        pass


class ServerProcess:
    """A benchmark server module in its own process, on 127.0.0.1 with an ephemeral port.

    It prints ``listening <port> <digest>``; the digest proves it serves the same fixture bytes.
    """

    def __init__(self, module: str, args: list[str], digest: str) -> None:
        env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
        cmd = [sys.executable, "-m", module, "--port", "0", *args]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=REPO_ROOT, env=env)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().split()
        if len(line) != 3 or line[0] != "listening":
            self.close()
            raise RuntimeError(f"{module} did not start: {line}")
        self.port = int(line[1])
        if line[2] != digest:
            self.close()
            raise RuntimeError(f"{module} does not serve the same fixture bytes")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()


class LoopbackNetwork(ServerProcess):
    """Clients over real sockets to ``benchmarks.server`` running in a separate process."""

    mode = "loopback"

    def __init__(self, fixtures: dict[str, Fixture], fixture_args: list[str], digest: str) -> None:
        super().__init__("benchmarks.server", fixture_args, digest)

    def base_url(self, fixture: str) -> str:
        return f"http://127.0.0.1:{self.port}/{fixture}/v1"

    def sync_client(self) -> httpx.Client:
        return httpx.Client(limits=POOL, timeout=TIMEOUT)

    def async_client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(limits=POOL, timeout=TIMEOUT)
