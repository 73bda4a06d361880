"""A loopback chat-completions server that answers every request with its own prompt.

`EchoServer` answers ``echo: <last user text>`` after thinking ``thinking about: <last user
text>``, in the StepFun wire shapes (rendered by the replica's `shapes`: a JSON body, or the
current SSE stream shape with cumulative usage). Each reply is held for a few milliseconds
(half way through a stream), so concurrent requests overlap and a shared socket shows.

It records, per request, the connection it arrived on (a serial number per accepted socket,
and the peer port), so a test can tell which process used which socket, and every request it
could not parse (an interleaved or truncated one) in `malformed`.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.replica import shapes
from tests.replica.brain import Choice, Reply, last_user_text, request_digest, tokenize
from tests.replica.faults import error_body

ECHO_PREFIX = "echo: "
THINK_PREFIX = "thinking about: "


def echo_answer(prompt: str) -> str:
    """The content the server answers to a request whose last user message is `prompt`."""
    return ECHO_PREFIX + prompt


def echo_reasoning(prompt: str) -> str:
    """The reasoning the server sends before the answer."""
    return THINK_PREFIX + prompt


@dataclass(frozen=True)
class EchoRequest:
    """One request as received: the connection it came on, its prompt, headers and body."""

    connection: int
    peer_port: int
    prompt: str
    stream: bool
    headers: dict[str, str]
    body: Any


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 256
    echo: EchoServer


class EchoServer:
    """Start with ``EchoServer().start()`` or ``with EchoServer() as server:``."""

    def __init__(self, *, hold: float = 0.01) -> None:
        self.hold = hold
        self._lock = threading.Lock()
        self._requests: list[EchoRequest] = []
        self._malformed: list[str] = []
        self._sockets: set[Any] = set()
        self._opened = 0
        self._server: _Server | None = None

    # lifecycle --------------------------------------------------------------------------------
    def start(self) -> EchoServer:
        server = _Server(("127.0.0.1", 0), _Handler)
        server.echo = self
        self._server = server
        threading.Thread(target=server.serve_forever, name="echo-server", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(2)
        self._server.server_close()
        self._server = None

    def __enter__(self) -> EchoServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "echo server not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    # what was seen ----------------------------------------------------------------------------
    def reset(self) -> None:
        with self._lock:
            self._requests.clear()
            self._malformed.clear()
            self._opened = 0

    @property
    def requests(self) -> list[EchoRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def malformed(self) -> list[str]:
        """Requests that could not be parsed (request line, headers or JSON body)."""
        with self._lock:
            return list(self._malformed)

    @property
    def connections_opened(self) -> int:
        """Connections accepted since the last `reset`."""
        with self._lock:
            return self._opened

    @property
    def open_connections(self) -> int:
        with self._lock:
            return len(self._sockets)

    def wait_idle(self, timeout: float = 3.0, at_most: int = 0) -> bool:
        """Wait until at most `at_most` connections are open."""
        deadline = time.monotonic() + timeout
        while self.open_connections > at_most and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.open_connections <= at_most

    def by_prompt(self) -> dict[str, list[EchoRequest]]:
        found: dict[str, list[EchoRequest]] = {}
        for request in self.requests:
            found.setdefault(request.prompt, []).append(request)
        return found

    # used by the handler ----------------------------------------------------------------------
    def _accept(self, sock: Any) -> int:
        with self._lock:
            self._sockets.add(sock)
            self._opened += 1
            return self._opened

    def _release(self, sock: Any) -> None:
        with self._lock:
            self._sockets.discard(sock)

    def _record(self, request: EchoRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _bad(self, what: str) -> None:
        with self._lock:
            self._malformed.append(what)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 60
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.serial = self.server.echo._accept(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        finally:
            self.server.echo._release(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        """Silence per-request logging."""

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        self.server.echo._bad(f"{code} {message}: {self.raw_requestline[:120]!r}")
        super().send_error(code, message, explain)

    def do_POST(self) -> None:
        echo = self.server.echo
        length = self.headers.get("Content-Length")
        raw = self.rfile.read(int(length)) if length and length.isdigit() else b""
        try:
            body = json.loads(raw)
            prompt = last_user_text(body["messages"])
            model = str(body["model"])
        except (ValueError, KeyError, TypeError, AttributeError):
            echo._bad(f"body: {raw[:120]!r}")
            self.close_connection = True
            self._send(400, error_body("unreadable request", "request_params_invalid"))
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        stream = bool(body.get("stream"))
        port = int(self.client_address[1])
        echo._record(EchoRequest(self.serial, port, prompt, stream, headers, body))
        reply = _reply(body, model, prompt)
        try:
            if stream:
                self._stream(reply, echo.hold)
            else:
                time.sleep(echo.hold)
                payload = shapes.dumps(shapes.completion_body(reply)).encode()
                self._send(200, payload)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _send(self, status: int, payload: bytes) -> None:
        self.send_response_only(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _stream(self, reply: Reply, hold: float) -> None:
        self.send_response_only(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        events = [shapes.encode_event(chunk) for chunk in shapes.stream_chunks(reply)]
        events.append(shapes.DONE)
        for i, event in enumerate(events):
            if i == len(events) // 2:
                time.sleep(hold)
            # The body's end goes out with [DONE], as a buffering server sends it. Sent apart, it
            # may come late on a busy machine, and a sync stream then closes its connection
            # rather than wait (stepfun_core/drain.py; tests/core/test_connection_reuse.py): the
            # connection counts here would depend on the scheduler, not on our code.
            end = b"0\r\n\r\n" if i == len(events) - 1 else b""
            self.wfile.write(b"%x\r\n%s\r\n%s" % (len(event), event, end))


def _reply(body: dict[str, Any], model: str, prompt: str) -> Reply:
    digest = request_digest(body)
    return Reply(
        digest=digest,
        model=model,
        created=1_760_000_000,
        legacy=False,
        deepseek_style=False,
        prompt_tokens=8 + len(prompt) // 4,
        cached_tokens=0,
        choices=[Choice(0, tokenize(echo_reasoning(prompt)), tokenize(echo_answer(prompt)))],
    )
