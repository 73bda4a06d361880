"""Fault injection for the replica: what the next request gets instead of a normal reply.

`Replica.enqueue(*faults)` queues faults; each request consumes one (FIFO). An empty queue means the
brain answers normally. Stream faults count events: ``after=N`` means "after N SSE data events".
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

FaultKind = Literal[
    "status",
    "delay",
    "stall",
    "drop",
    "malformed",
    "error_event",
    "no_done",
    "json_body",
    "keepalive",
    "oversized",
    "events",
]

# Default error types per status (docs/wire.md#error-types; 429/5xx types are not captured
# publicly).
_DEFAULT_ERRORS: dict[int, tuple[str, str]] = {
    400: ("request_params_invalid", "Request param is invalid"),
    401: ("invalid_api_key", "Incorrect API key provided"),
    402: ("quota_exceeded", "Insufficient balance"),
    404: ("model_invalid", "The model does not exist or you do not have access to it."),
    429: ("rate_limit_exceeded", "Requests are too frequent, please try again later"),
    451: ("censorship_blocked", "The content you provided or machine outputted is blocked."),
    500: ("server_error", "Internal server error"),
    502: ("server_error", "Bad gateway"),
    503: ("server_busy", "Service is temporarily unavailable"),
    504: ("server_error", "Gateway timeout"),
}


def error_body(message: str, error_type: str) -> bytes:
    """The StepFun error envelope: ``{"error":{"message","type"}}``, no code/param (§2.1)."""
    payload = {"error": {"message": message, "type": error_type}}
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Fault:
    """One injected behaviour; build it with the class-method constructors."""

    kind: FaultKind
    code: int = 200
    body: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    after: int = 0
    seconds: float = 0.0
    count: int = 0
    text: str = ""

    @classmethod
    def status(
        cls,
        status: int,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        *,
        error_type: str | None = None,
        message: str | None = None,
    ) -> Fault:
        """An HTTP error status; `body` may be a dict, str or bytes, else a StepFun error body."""
        default_type, default_message = _DEFAULT_ERRORS.get(status, ("server_error", "Error"))
        if body is None:
            raw = error_body(message or default_message, error_type or default_type)
        elif isinstance(body, bytes):
            raw = body
        elif isinstance(body, str):
            raw = body.encode()
        else:
            raw = json.dumps(body, ensure_ascii=False).encode()
        return cls("status", code=status, body=raw, headers=dict(headers or {}))

    @classmethod
    def delay(cls, seconds: float) -> Fault:
        """Sleep before sending the response headers, then answer normally."""
        return cls("delay", seconds=seconds)

    @classmethod
    def stall(cls, after: int, seconds: float) -> Fault:
        """Send `after` events, sleep `seconds`, then finish the stream normally."""
        return cls("stall", after=after, seconds=seconds)

    @classmethod
    def drop(cls, after: int = 0) -> Fault:
        """Send `after` events, then close the socket without the chunked terminator.

        On a non-streaming request: send the headers and part of the body, then close.
        """
        return cls("drop", after=after)

    @classmethod
    def malformed(cls, after: int = 1, text: str = '{"id": "broken", "choices": [') -> Fault:
        """After `after` events send ``data: <text>`` (invalid JSON), then finish normally."""
        return cls("malformed", after=after, text=text)

    @classmethod
    def error_event(
        cls, after: int = 1, message: str = "quota exceeded", error_type: str = "quota_exceeded"
    ) -> Fault:
        """After `after` events send ``data: {"error":{...}}`` and end the stream (no [DONE])."""
        return cls("error_event", after=after, body=error_body(message, error_type))

    @classmethod
    def no_done(cls, after: int | None = None) -> Fault:
        """End the stream cleanly (chunked terminator) without a finish reason nor ``[DONE]``.

        Sends `after` events, or every event but the one carrying ``finish_reason``.
        """
        return cls("no_done", after=-1 if after is None else after)

    @classmethod
    def json_error(
        cls, message: str = "Internal error", error_type: str = "server_error", status: int = 200
    ) -> Fault:
        """A ``200 application/json`` error envelope, even to a stream request."""
        return cls("json_body", code=status, body=error_body(message, error_type))

    @classmethod
    def json_completion(cls) -> Fault:
        """A ``200 application/json`` plain completion, even to a stream request."""
        return cls("json_body", code=200, body=None)

    @classmethod
    def keepalive(cls, every: int = 1, comment: str = ": keep-alive") -> Fault:
        """Insert an SSE comment line after every `every` events."""
        return cls("keepalive", count=max(1, every), text=comment)

    @classmethod
    def oversized(cls, megabytes: float = 8.0) -> Fault:
        """A valid reply whose content is about `megabytes` MB (64 KiB per streamed event)."""
        return cls("oversized", count=int(megabytes * 1024 * 1024))

    @classmethod
    def events(cls, n: int) -> Fault:
        """A valid stream of `n` one-word content events, generated lazily."""
        return cls("events", count=n)
