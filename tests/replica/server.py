"""The replica's HTTP/1.1 server: a threaded loopback imitation of StepFun's chat endpoint.

`Replica` owns the server thread, the request log, the fault queue, the open-connection count and
the `Behaviour` a test set (keys per path, served models, wire deviations; see `behaviour`).
`_Handler` turns one HTTP request into a brain reply rendered by `shapes`, applying a queued fault.
Given an ``ssl_context`` the replica serves HTTPS (the doctor's TLS checks).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import socket
import ssl
import sys
import threading
import time
from collections import deque
from collections.abc import Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.replica import shapes
from tests.replica.behaviour import DEVIATIONS, Behaviour
from tests.replica.brain import Choice, RepeatTokens, Reply, think
from tests.replica.faults import Fault

MARKER_HEADER = "X-StepFun-Replica"
MARKER_VALUE = "loopback"
_ROLES = frozenset({"system", "user", "assistant", "tool"})
_MODELS = (
    "step-3.7-flash",
    "step-3.5-flash",
    "step-5-preview",
    "step-1o-turbo-vision",
    "step-1-8k",
)
_OVERSIZED_BLOCK = 64 * 1024


@dataclass(frozen=True)
class RecordedRequest:
    """What the replica received: method, path, headers (lower-cased names), parsed JSON body."""

    method: str
    path: str
    headers: dict[str, str]
    json: Any
    body: bytes


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    # The default backlog of 5 makes connects wait a second for a SYN retransmit when
    # hundreds of clients arrive at once (the load tests send 500).
    request_queue_size = 1024
    replica: Replica

    def finish_request(self, request: Any, client_address: Any) -> None:
        # The TLS handshake runs here, in the connection's thread, so a client that never
        # completes it (a TCP-only check, a client refusing the certificate) blocks nobody.
        if isinstance(request, ssl.SSLSocket):
            try:
                request.do_handshake()
            except (ssl.SSLError, OSError):
                return
        super().finish_request(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that hang up mid-stream (cancellation tests) are not server errors.
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            return
        super().handle_error(request, client_address)


class Replica:
    """A loopback StepFun replica; use as a context manager or call `start()` / `stop()`."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        default_events: int | None = None,
        token_delay: float = 0.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.host = host
        self.ssl_context = ssl_context
        self.behaviour = Behaviour()
        self.default_events = default_events
        self.token_delay = token_delay
        self._requested_port = port
        self._lock = threading.Lock()
        self._faults: deque[Fault] = deque()
        self._requests: list[RecordedRequest] = []
        self._sockets: set[socket.socket] = set()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # lifecycle ---------------------------------------------------------------------------------
    def start(self) -> Replica:
        """Bind and serve in a daemon thread; returns self."""
        server = _Server((self.host, self._requested_port), _Handler)
        server.replica = self
        if self.ssl_context is not None:
            server.socket = self.ssl_context.wrap_socket(
                server.socket, server_side=True, do_handshake_on_connect=False
            )
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, name="stepfun-replica", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close every client socket still open."""
        if self._server is None:
            return
        self._server.shutdown()
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._server.server_close()
        self._server = None

    def __enter__(self) -> Replica:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # addresses -------------------------------------------------------------------------------
    @property
    def port(self) -> int:
        """The bound port."""
        assert self._server is not None, "replica not started"
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>`` (``https://`` when serving TLS)."""
        scheme = "http" if self.ssl_context is None else "https"
        return f"{scheme}://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>/v1``, what a client's base URL should be."""
        return f"{self.url}/v1"

    # test API ----------------------------------------------------------------------------------
    def enqueue(self, *faults: Fault) -> None:
        """Queue faults for the next requests, one per request, FIFO."""
        with self._lock:
            self._faults.extend(faults)

    def reset(self) -> None:
        """Forget received requests, pending faults and the behaviour set by a test."""
        with self._lock:
            self._faults.clear()
            self._requests.clear()
            self.behaviour = Behaviour()

    def accept_keys(self, *keys: str, path_prefix: str = "/") -> None:
        """Accept only these keys under ``path_prefix`` (the longest matching prefix decides).

        Others get 401 ``invalid_api_key``, as a key of the other region does
        (docs/wire.md#authentication).
        """
        with self._lock:
            self.behaviour.keys[path_prefix] = frozenset(keys)

    def serve_models(self, *models: str) -> None:
        """List only these models in ``GET /models``; chat with any other gets 404 model_invalid."""
        with self._lock:
            self.behaviour.models = tuple(models)

    def describe_models(self, on: bool = True) -> None:
        """Make ``GET /models`` state each model's details (`MODEL_DETAILS`), as live ones do."""
        with self._lock:
            self.behaviour.model_details = on

    def deviate(self, *names: str) -> None:
        """Turn on named deviations from the documented wire shapes (see `DEVIATIONS`)."""
        unknown = set(names) - set(DEVIATIONS)
        if unknown:
            raise ValueError(f"unknown deviations {sorted(unknown)}; known: {sorted(DEVIATIONS)}")
        with self._lock:
            self.behaviour.deviations = self.behaviour.deviations | frozenset(names)

    def refuse_param(self, name: str, value: Any = None) -> None:
        """Answer 400 ``request_params_invalid`` to a request carrying this parameter.

        ``value`` None refuses any value; else the value itself, the ``type`` of an object
        value, or a list holding it (``refuse_param("tools", "web_search")``).
        """
        with self._lock:
            self.behaviour.refusals = (*self.behaviour.refusals, (name, value))

    @property
    def requests(self) -> list[RecordedRequest]:
        """A copy of the requests received so far."""
        with self._lock:
            return list(self._requests)

    @property
    def pending_faults(self) -> int:
        """Faults not consumed yet."""
        with self._lock:
            return len(self._faults)

    @property
    def open_connections(self) -> int:
        """Client sockets currently open on the server side."""
        with self._lock:
            return len(self._sockets)

    def wait_idle(self, timeout: float = 2.0) -> bool:
        """Wait until no client connection is open; True if that happened within `timeout`."""
        deadline = time.monotonic() + timeout
        while self.open_connections and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.open_connections == 0

    # used by the handler -----------------------------------------------------------------------
    def _next_fault(self) -> Fault | None:
        with self._lock:
            return self._faults.popleft() if self._faults else None

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _track(self, sock: socket.socket, *, opened: bool) -> None:
        with self._lock:
            (self._sockets.add if opened else self._sockets.discard)(sock)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 120  # idle keep-alive sockets die eventually
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without TCP_NODELAY, Nagle's algorithm
        # holds the second until the client's delayed ACK (about 40 ms per request).
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.replica._track(self.connection, opened=True)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        finally:
            self.server.replica._track(self.connection, opened=False)

    def log_message(self, format: str, *args: Any) -> None:
        """Silence per-request logging."""

    # entry points ------------------------------------------------------------------------------
    def do_GET(self) -> None:
        self._dispatch(self._models)

    def do_POST(self) -> None:
        self._dispatch(self._chat)

    def _dispatch(self, route: Any) -> None:
        raw = self._read_body()
        body = _parse_json(raw)
        headers = {k.lower(): v for k, v in self.headers.items()}
        replica = self.server.replica
        replica._record(RecordedRequest(self.command, self.path, headers, body, raw))
        self.trace_id = hashlib.sha256(self.path.encode() + raw).hexdigest()[:32]
        fault = replica._next_fault()
        try:
            if fault is not None and fault.kind == "status":
                self._send_bytes(fault.code, fault.body or b"", fault.headers)
                return
            if fault is not None and fault.kind == "delay":
                time.sleep(fault.seconds)
            authorization = headers.get("authorization", "")
            if not _authorized(authorization) or not replica.behaviour.key_accepted(
                authorization.partition(" ")[2].strip(), self.path
            ):
                self._error(401, "Incorrect API key provided", "invalid_api_key")
                return
            route(raw, body, fault)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    # routes ------------------------------------------------------------------------------------
    def _models(self, raw: bytes, body: Any, fault: Fault | None) -> None:
        path = self.path.split("?")[0].rstrip("/")
        served = self.server.replica.behaviour.served(_MODELS)
        if fault is not None and fault.kind == "drop":
            self._send_head(200, 1024, {})  # promise a body, then hang up
            self._abort()
        elif path.endswith("/models"):
            described = self.server.replica.behaviour.model_details
            data = [_model_object(m, described) for m in served]
            self._send_json(200, {"object": "list", "data": data})
        elif "/models/" in path:
            described = self.server.replica.behaviour.model_details
            self._send_json(200, _model_object(path.rsplit("/", 1)[1], described))
        else:
            self._error(404, f"Not found: {path}", "not_found")

    def _chat(self, raw: bytes, body: Any, fault: Fault | None) -> None:
        if not self.path.split("?")[0].rstrip("/").endswith("/chat/completions"):
            self._error(404, f"Not found: {self.path}", "not_found")
            return
        behaviour = self.server.replica.behaviour
        problem = _validate(body)
        if problem is not None and problem[0] == 404:
            problem = behaviour.unknown_model(str(body["model"]))
        problem = (
            problem or behaviour.model_problem(body["model"]) or behaviour.request_problem(body)
        )
        if problem is not None:
            self._error(*problem)
            return
        body = behaviour.adjust_request(body)
        if fault is not None and fault.kind == "json_body":
            reply = think(body, self.server.replica.default_events)
            payload = fault.body or shapes.dumps(shapes.completion_body(reply)).encode()
            self._send_bytes(fault.code, payload, {"Content-Type": "application/json"})
            return
        reply = _with_fault_content(think(body, self.server.replica.default_events), fault)
        reply = behaviour.adjust_reply(reply)
        if body.get("stream"):
            self._stream(reply, fault)
        else:
            self._complete(reply, fault)

    def _complete(self, reply: Reply, fault: Fault | None) -> None:
        body = self.server.replica.behaviour.adjust_payload(shapes.completion_body(reply))
        payload = shapes.dumps(body).encode()
        if fault is not None and fault.kind == "drop":
            self._send_head(200, len(payload), {"Content-Type": "application/json"})
            self.wfile.write(payload[: len(payload) // 2])
            self._abort()
            return
        self._send_bytes(200, payload, {"Content-Type": "application/json"})

    def _stream(self, reply: Reply, fault: Fault | None) -> None:
        self.send_response_only(200)
        self._common_headers({"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        delay = self.server.replica.token_delay
        for item in _stream_items(reply, fault, self.server.replica.behaviour):
            if item is _ABORT:
                self._abort()
                return
            if isinstance(item, float):
                time.sleep(item)
                continue
            self._write_chunk(item)
            if delay:
                time.sleep(delay)
        self.wfile.write(b"0\r\n\r\n")

    # helpers -----------------------------------------------------------------------------------
    def _read_body(self) -> bytes:
        length = self.headers.get("Content-Length")
        if length is not None:
            return self.rfile.read(int(length))
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        return b""

    def _read_chunked(self) -> bytes:
        parts: list[bytes] = []
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(parts)
            parts.append(self.rfile.read(size))
            self.rfile.readline()

    def _common_headers(self, extra: Mapping[str, str]) -> None:
        self.send_header("X-Trace-Id", self.trace_id)
        self.send_header(MARKER_HEADER, MARKER_VALUE)
        for name, value in extra.items():
            self.send_header(name, value)

    def _send_head(self, status: int, length: int, headers: Mapping[str, str]) -> None:
        self.send_response_only(status)
        self._common_headers({"Content-Type": "application/json", **headers})
        self.send_header("Content-Length", str(length))
        self.end_headers()

    def _send_bytes(self, status: int, payload: bytes, headers: Mapping[str, str]) -> None:
        self._send_head(status, len(payload), headers)
        self.wfile.write(payload)

    def _send_json(self, status: int, payload: Any) -> None:
        self._send_bytes(status, shapes.dumps(payload).encode(), {})

    def _error(self, status: int, message: str, error_type: str) -> None:
        self._send_json(status, self.server.replica.behaviour.error_body(message, error_type))

    def _write_chunk(self, data: bytes) -> None:
        # One SSE event per chunked write, as the real server flushes per token.
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def _abort(self) -> None:
        """Close the socket without completing the response."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


_ABORT = object()


def _stream_items(
    reply: Reply, fault: Fault | None, behaviour: Behaviour | None = None
) -> Iterator[Any]:
    """SSE event bytes to send, with floats meaning "sleep" and `_ABORT` meaning "drop"."""
    adjust = behaviour.adjust_payload if behaviour is not None else _unchanged
    events = (shapes.encode_event(adjust(chunk)) for chunk in shapes.stream_chunks(reply))
    kind = fault.kind if fault else None
    if kind == "no_done":
        assert fault is not None
        yield from _without_finish(events, fault.after)
        return
    for count, event in enumerate(_with_done(events)):
        if fault is not None and count == fault.after:
            stop = yield from _inject(fault)
            if stop:
                return
        yield event
        if kind == "keepalive" and fault is not None and (count + 1) % fault.count == 0:
            yield fault.text.encode() + b"\n\n"


def _inject(fault: Fault) -> Generator[Any, None, bool]:
    """Yield what the fault inserts at its position; return True when the stream must end."""
    if fault.kind == "stall":
        yield float(fault.seconds)
    elif fault.kind == "drop":
        yield _ABORT
        return True
    elif fault.kind == "malformed":
        yield b"data: " + fault.text.encode() + b"\n\n"
    elif fault.kind == "error_event":
        yield b"data: " + (fault.body or b"{}") + b"\n\n"
        return True
    return False


def _unchanged(payload: dict[str, Any]) -> dict[str, Any]:
    return payload


def _with_done(events: Iterable[bytes]) -> Iterator[bytes]:
    yield from events
    yield shapes.DONE


def _without_finish(events: Iterator[bytes], after: int) -> Iterator[bytes]:
    """All events but the finishing one (or the first `after`), never ``[DONE]``."""
    previous: bytes | None = None
    for count, event in enumerate(events):
        if 0 <= after <= count:
            return
        if previous is not None:
            yield previous
        previous = event
    if after >= 0 and previous is not None:
        yield previous


def _with_fault_content(reply: Reply, fault: Fault | None) -> Reply:
    """Replace the reply's content for the `events` and `oversized` faults (lazily generated)."""
    if fault is None or fault.kind not in ("events", "oversized"):
        return reply
    if fault.kind == "events":
        tokens = RepeatTokens(fault.count)
    else:
        tokens = RepeatTokens(max(1, fault.count // _OVERSIZED_BLOCK), block=_OVERSIZED_BLOCK)
    return dataclasses.replace(reply, choices=[Choice(0, [], tokens)])


# What a live endpoint states beyond the documented fields, per model (made-up but plausible
# figures: the windows are 1,024-token K on purpose, so they differ from the catalog's).
MODEL_DETAILS: dict[str, dict[str, Any]] = {
    "step-3.7-flash": {"max_input_tokens": 262144, "enable_reason": True,
                       "enable_vision_input": True,
                       "reasoning_effort_support_list": ["low", "medium", "high"]},
    "step-3.5-flash": {"max_input_tokens": 262144, "enable_reason": True,
                       "enable_vision_input": False,
                       "reasoning_effort_support_list": ["low", "high"]},
    "step-5-preview": {"max_input_tokens": 1000000, "enable_reason": True,
                       "enable_vision_input": True},
    "step-1o-turbo-vision": {"max_input_tokens": 32768, "enable_reason": False,
                             "enable_vision_input": True},
}  # fmt: skip


def _model_object(model_id: str, described: bool = False) -> dict[str, Any]:
    """A model of ``GET /models`` (docs/wire.md#models-endpoint), with details if asked."""
    model = {"id": model_id, "object": "model", "created": 1713196800, "owned_by": "stepai"}
    if described:
        model.update({"model_type": "大语言模型", **MODEL_DETAILS.get(model_id, {})})
    return model


def _parse_json(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except (ValueError, UnicodeDecodeError):
        return None


def _authorized(header: str) -> bool:
    scheme, _, token = header.partition(" ")
    return scheme.lower() == "bearer" and bool(token.strip())


def _validate(body: Any) -> tuple[int, str, str] | None:
    """Request checks the real API makes (docs/wire.md#error-types)."""
    if not isinstance(body, dict):
        return 400, "Request body is not valid JSON", "request_params_invalid"
    model, messages = body.get("model"), body.get("messages")
    if not isinstance(model, str) or not model:
        return 400, "Request param: model is required", "request_params_invalid"
    if not isinstance(messages, list) or not messages:
        return 400, "Request param: messages is required", "request_params_invalid"
    for message in messages:
        role = message.get("role") if isinstance(message, dict) else None
        if role not in _ROLES:
            return 400, f"invalid msg role: {role}", "request_params_invalid"
    if model.startswith("missing-"):
        message = f'The model "{model}" does not exist or you do not have access to it.'
        return 404, message, "model_invalid"
    return None
