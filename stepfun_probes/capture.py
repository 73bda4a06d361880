"""Every HTTP exchange of the doctor, byte for byte, for the probes' shape checks and ``--record``.

The core's types parse leniently (``""``, null and an absent ``finish_reason`` all read as "not
finished"), which is right for a client and wrong for a probe: a probe must see what the server
sent. The doctor's httpx client carries event hooks (public httpx API) that log each request
and tee each response's body as the client reads it, so the probes go through the same
`StepFunClient` as the adapters while the exact bytes stay available.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from stepfun_core.doctor.account import REPLICA_HEADER
from stepfun_core.jsonio import decode_json
from stepfun_core.sse import SSEDecoder


@dataclass
class Exchange:
    """One request and its response as they crossed the wire (the body as the client read it)."""

    method: str
    url: str
    request_headers: list[tuple[str, str]]
    request_body: bytes
    status: int | None = None
    reason: str = ""
    response_headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytearray = field(default_factory=bytearray)

    def header(self, name: str) -> str | None:
        """A response header's first value (names compared case-insensitively)."""
        name = name.lower()
        return next((v for k, v in self.response_headers if k.lower() == name), None)

    @property
    def from_replica(self) -> bool:
        """Answered by the loopback replica (its marker header), not by StepFun."""
        return self.header(REPLICA_HEADER) == "loopback"

    @property
    def is_stream(self) -> bool:
        """The response is an event stream."""
        return "event-stream" in (self.header("content-type") or "")

    def json(self) -> Any:
        """The body as JSON, or None when it is not JSON."""
        return decode_json(bytes(self.body))

    def events(self) -> list[Any]:
        """The ``data:`` payloads of an event stream: JSON objects, or the raw text (``[DONE]``)."""
        decoded: list[Any] = []
        for event in SSEDecoder().feed(bytes(self.body) + b"\n\n"):
            try:
                decoded.append(json.loads(event.data))
            except ValueError:
                decoded.append(event.data)
        return decoded


class _TeeStream(httpx.SyncByteStream):
    """Hands the response bytes on to the client and keeps a copy in the exchange."""

    def __init__(self, inner: httpx.SyncByteStream, sink: bytearray) -> None:
        self._inner = inner
        self._sink = sink

    def __iter__(self) -> Iterator[bytes]:
        for piece in self._inner:
            self._sink.extend(piece)
            yield piece

    def close(self) -> None:
        self._inner.close()


class ExchangeLog:
    """The exchanges of one doctor run, in order."""

    def __init__(self) -> None:
        self.exchanges: list[Exchange] = []
        self._open: dict[int, Exchange] = {}

    def record_request(self, request: httpx.Request) -> None:
        """Event hook: log a request about to be sent."""
        exchange = Exchange(
            request.method,
            str(request.url),
            [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw],
            request.content,
        )
        self.exchanges.append(exchange)
        self._open[id(request)] = exchange

    def record_response(self, response: httpx.Response) -> None:
        """Event hook: fill in the response's head and tee its body into the log."""
        exchange = self._open.pop(id(response.request), None)
        if exchange is None:
            return
        exchange.status = response.status_code
        exchange.reason = response.reason_phrase
        exchange.response_headers = list(response.headers.multi_items())
        if isinstance(response.stream, httpx.SyncByteStream):
            response.stream = _TeeStream(response.stream, exchange.body)

    @property
    def event_hooks(self) -> dict[str, list[Callable[[Any], None]]]:
        """The ``event_hooks`` of an httpx client that logs into this."""
        return {"request": [self.record_request], "response": [self.record_response]}

    def since(self, start: int) -> list[Exchange]:
        """The exchanges logged after the first ``start`` ones."""
        return self.exchanges[start:]
