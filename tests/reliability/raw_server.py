"""A loopback server that misbehaves at the byte level: each test scripts the bytes it writes.

``RawServer(script)`` accepts connections on 127.0.0.1 and, for every HTTP request read off a
connection, calls ``script(send, request)`` where ``send(bytes)`` writes raw bytes to the socket
and ``request`` is the parsed JSON body. The script decides everything after that: headers,
chunked framing, pauses, cuts, or keeping the connection open for ever. A script that returns
True keeps the connection for the next request (keep-alive); False closes it.

``server.heads`` keeps the request line and headers of each request (``server.requests[i]``'s
head is ``server.heads[i]``), for tests of what a client puts on the wire.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable
from typing import Any, NamedTuple

Send = Callable[[bytes], None]
Script = Callable[[Send, Any], bool]


def chunk(data: bytes) -> bytes:
    """One chunk of a chunked body."""
    return b"%x\r\n%s\r\n" % (len(data), data)


END = b"0\r\n\r\n"


def head(status: int = 200, content_type: str = "text/event-stream", **extra: str) -> bytes:
    """A status line and headers for a chunked body (``extra`` as name=value, ``_`` for ``-``)."""
    lines = [f"HTTP/1.1 {status} X", f"Content-Type: {content_type}", "Transfer-Encoding: chunked"]
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in extra.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def sized_head(
    status: int, length: int, content_type: str = "application/json", **extra: str
) -> bytes:
    """A status line and headers for a body of ``length`` bytes."""
    lines = [f"HTTP/1.1 {status} X", f"Content-Type: {content_type}", f"Content-Length: {length}"]
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in extra.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def whole(status: int, body: bytes, content_type: str = "application/json", **extra: str) -> bytes:
    """A complete response with a Content-Length."""
    return sized_head(status, len(body), content_type, **extra) + body


def event(obj: Any) -> bytes:
    """One SSE data event."""
    return b"data: " + json.dumps(obj).encode() + b"\n\n"


# --- a well-formed answer, whole or streamed ------------------------------------------------------
ANSWER = "Hello from the scripted server"


def delta(content: str, finish: str | None = None) -> dict[str, Any]:
    """One stream chunk adding ``content`` (and a finish reason on the last)."""
    choice: dict[str, Any] = {"index": 0, "delta": {"role": "assistant", "content": content}}
    if finish:
        choice["finish_reason"] = finish
    usage = {"prompt_tokens": 5, "completion_tokens": 6, "total_tokens": 11}
    return {"id": "raw-1", "model": "step-3.5-flash", "choices": [choice], "usage": usage}


def answer_events() -> list[bytes]:
    """The SSE events of ``ANSWER``, a word per event."""
    words = ANSWER.split(" ")
    pieces = [w if i == 0 else " " + w for i, w in enumerate(words)]
    return [event(delta(p, "stop" if i == len(pieces) - 1 else None)) for i, p in enumerate(pieces)]


def completion(content: str = ANSWER, completion_id: str = "raw-1") -> bytes:
    """A whole (non-streamed) completion body."""
    return json.dumps(
        {
            "id": completion_id,
            "model": "step-3.5-flash",
            "created": 1,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 5, "completion_tokens": 6, "total_tokens": 11},
        }
    ).encode()


def answers(send: Send, request: Any) -> bool:
    """A script answering ``ANSWER`` the way it was asked for (streamed or whole); keep-alive."""
    if isinstance(request, dict) and request.get("stream"):
        send(head() + b"".join(chunk(e) for e in answer_events()) + chunk(b"data: [DONE]\n\n"))
        send(END)
    else:
        send(whole(200, completion()))
    return True


class Head(NamedTuple):
    """The request line and headers of one request (header names lower-cased)."""

    method: str
    target: str
    headers: dict[str, str]


class RawServer:
    """A threaded loopback server driven by a script; counts connections and requests."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.connections = 0
        self.requests: list[Any] = []
        self.heads: list[Head] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}/v1"

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
                self._open.add(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        reader = conn.makefile("rb")
        try:
            while not self._stopped.is_set():
                read = _read_request(reader)
                if read is None:
                    return
                request, request_head = read
                with self._lock:
                    self.requests.append(request)
                    self.heads.append(request_head)
                if not self.script(conn.sendall, request):
                    return
        except OSError:
            return
        finally:
            with contextlib.suppress(OSError):
                conn.close()
            with self._lock:
                self._open.discard(conn)

    def stop(self) -> None:
        self._stopped.set()
        self._listener.close()
        with self._lock:
            for conn in list(self._open):
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> RawServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _read_request(reader: Any) -> tuple[Any, Head] | None:
    line = reader.readline()
    if not line:
        return None
    method, target = [*line.decode("latin-1").split(), "", ""][:2]
    headers: dict[str, str] = {}
    while True:
        header = reader.readline()
        if header in (b"\r\n", b"\n", b""):
            break
        name, _, value = header.decode("latin-1").partition(":")
        key = name.strip().lower()
        # A repeated header (two Cookie lines) is kept whole, as one comma-joined value.
        headers[key] = f"{headers[key]}, {value.strip()}" if key in headers else value.strip()
    length = int(headers.get("content-length") or 0)
    body = reader.read(length) if length else b""
    try:
        request = json.loads(body) if body else {"path": target}
    except ValueError:
        return None
    return request, Head(method, target, headers)


def hold(seconds: float) -> None:
    """Keep the connection open (the script's thread sleeps)."""
    time.sleep(seconds)
