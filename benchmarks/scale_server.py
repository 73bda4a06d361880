"""A loopback HTTP/1.1 server for the scale benchmark: thousands of keep-alive connections, cheaply.

``python -m benchmarks.scale_server --port 0 --chunks 64`` prints ``listening <port> <digest>``
and serves, on 127.0.0.1 only:

- ``POST /<fixture>/...``: the fixture's bytes, built once (``benchmarks.fixtures``): a StepFun
  SSE stream with chunked transfer encoding, one HTTP chunk per event (``stream_text``), or a
  JSON reply with a Content-Length (``call``). The first path segment picks the fixture, so the
  rest of the path may carry anything (a contestant's own base URL, for instance).
- ``GET /_stats``: JSON counters (connections accepted and open, requests served), so the
  benchmark can tell how many connections a client opened and closed during a burst.

It is an ``asyncio.Protocol`` (no stream reader, task or buffer per connection beyond what the
transport holds), so 1,000+ idle keep-alive connections cost little. A stream is written in one
``write`` by default: under load the client's kernel buffer holds the whole stream before the
client reads it anyway, which is the case that tests a client's fairness to its event loop.
``--pace-ms`` spreads the events over time instead (``--pace-events`` per write), like a model
producing tokens. It stops by itself after ``--timeout`` seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
from dataclasses import dataclass

from benchmarks.fixtures import Fixture, completion, digest_all, text_stream

STREAM_FIXTURE = "stream_text"
CALL_FIXTURE = "call"
_HEAD = "HTTP/1.1 {status}\r\ncontent-type: {ctype}\r\nx-trace-id: bench-trace\r\n{framing}\r\n"
_NOT_FOUND = b'{"error":{"message":"no fixture","type":"not_found"}}'
MAX_HEAD = 64 * 1024


def scale_fixtures(chunks: int) -> dict[str, Fixture]:
    """The fixtures served: a ``chunks``-event text stream and a non-streaming reply."""
    fixtures = [text_stream(STREAM_FIXTURE, chunks), completion(CALL_FIXTURE)]
    return {f.name: f for f in fixtures}


def _head(status: str, ctype: str, length: int | None) -> bytes:
    framing = (
        f"content-length: {length}\r\n" if length is not None else "transfer-encoding: chunked\r\n"
    )
    return _HEAD.format(status=status, ctype=ctype, framing=framing).encode()


def _chunk(event: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(event), event)


@dataclass(frozen=True)
class Reply:
    """A whole response: the head, then its body in pieces (one piece per write when paced)."""

    head: bytes
    pieces: tuple[bytes, ...]

    def whole(self) -> bytes:
        return self.head + b"".join(self.pieces)


def build_replies(fixtures: dict[str, Fixture]) -> dict[str, Reply]:
    replies = {}
    for name, f in fixtures.items():
        if f.stream:
            pieces = (*(_chunk(e) for e in f.events), b"0\r\n\r\n")
            replies[name] = Reply(_head("200 OK", "text/event-stream", None), pieces)
        else:
            replies[name] = Reply(_head("200 OK", "application/json", len(f.body)), (f.body,))
    return replies


@dataclass
class Stats:
    accepted: int = 0
    open: int = 0
    requests: int = 0

    def as_json(self) -> bytes:
        # The connection asking is not counted as open: it is the benchmark's, not a client's.
        body = {"accepted": self.accepted, "open": self.open - 1, "requests": self.requests}
        return json.dumps(body).encode()


class Connection(asyncio.Protocol):
    """One client connection: parse requests (one at a time, as HTTP/1.1 clients send them)."""

    def __init__(self, server: ScaleServer) -> None:
        self.server = server
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.busy = False  # a paced reply is being written

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.server.stats.accepted += 1
        self.server.stats.open += 1

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.stats.open -= 1
        self.transport = None

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.busy:
            self.serve_buffered()

    def serve_buffered(self) -> None:
        while self.transport is not None and not self.busy:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > MAX_HEAD:
                    self.transport.close()
                return
            lines = bytes(self.buffer[:end]).decode("latin-1").split("\r\n")
            length, close = 0, False
            for line in lines[1:]:
                name, _, value = line.partition(":")
                name = name.strip().lower()
                if name == "content-length":
                    length = int(value)
                elif name == "connection" and value.strip().lower() == "close":
                    close = True
            if len(self.buffer) < end + 4 + length:
                return
            del self.buffer[: end + 4 + length]
            method, path = [*lines[0].split(" "), "", ""][:2]
            self.respond(method, path, close)

    def respond(self, method: str, path: str, close: bool) -> None:
        assert self.transport is not None
        server = self.server
        server.stats.requests += 1
        if method == "GET" and path == "/_stats":
            body = server.stats.as_json()
            self.transport.write(_head("200 OK", "application/json", len(body)) + body)
        else:
            reply = server.replies.get(path.lstrip("/").split("/", 1)[0])
            if reply is None:
                self.transport.write(
                    _head("404 Not Found", "application/json", len(_NOT_FOUND)) + _NOT_FOUND
                )
            elif server.pace is None or len(reply.pieces) == 1:
                self.transport.write(reply.whole())
            else:
                self.busy = True
                self.write_paced(reply, 0, close)
                return
        if close:
            self.transport.close()

    def write_paced(self, reply: Reply, start: int, close: bool) -> None:
        if self.transport is None:
            return
        seconds, per_write = self.server.pace or (0.0, 1)
        end = start + per_write
        data = b"".join(reply.pieces[start:end])
        self.transport.write(reply.head + data if start == 0 else data)
        if end < len(reply.pieces):
            asyncio.get_running_loop().call_later(seconds, self.write_paced, reply, end, close)
            return
        self.busy = False
        if close:
            self.transport.close()
        else:
            self.serve_buffered()


class ScaleServer:
    def __init__(self, replies: dict[str, Reply], pace: tuple[float, int] | None) -> None:
        self.replies = replies
        self.pace = pace
        self.stats = Stats()

    def protocol(self) -> Connection:
        return Connection(self)


async def main_async(args: argparse.Namespace) -> None:
    fixtures = scale_fixtures(args.chunks)
    pace = (args.pace_ms / 1000, args.pace_events) if args.pace_ms > 0 else None
    server = ScaleServer(build_replies(fixtures), pace)
    loop = asyncio.get_running_loop()
    # A deep backlog: 1,000 connects arrive in the same millisecond.
    listener = await loop.create_server(server.protocol, "127.0.0.1", args.port, backlog=4096)
    bound = listener.sockets[0].getsockname()[1]
    print(f"listening {bound} {digest_all(fixtures)}", flush=True)
    async with listener:
        await asyncio.sleep(args.timeout)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scale_server")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument("--chunks", type=int, default=64)
    parser.add_argument("--pace-ms", type=float, default=0.0, help="gap between writes (0: none)")
    parser.add_argument("--pace-events", type=int, default=1, help="events per paced write")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
