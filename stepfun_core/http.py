"""The pieces of an HTTP exchange that sync and async share: headers, bodies, errors, logs."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import httpx

from stepfun_core import __version__
from stepfun_core.errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    InvalidParameterError,
    StepFunError,
    make_status_error,
)
from stepfun_core.jsonio import decode_json, encode_json
from stepfun_core.pools import (
    POOL_LIMITS,
    shared_async_client,
    shared_ssl_context,
    shared_sync_client,
)
from stepfun_core.retry import parse_retry_after

logger = logging.getLogger("stepfun_core")

CHAT_PATH = "/chat/completions"
USER_AGENT = f"stepfun-integrations/{__version__} httpx/{httpx.__version__}"

__all__ = [
    "CHAT_PATH",
    "POOL_LIMITS",
    "USER_AGENT",
    "build_headers",
    "decode_json",
    "encode_body",
    "log_attempt",
    "shared_async_client",
    "shared_ssl_context",
    "shared_sync_client",
    "status_error",
    "trace_id_of",
    "transport_error",
]


def build_headers(api_key: str, extra: Mapping[str, str] | None, *, stream: bool) -> dict[str, str]:
    """Headers for one request; the key is only ever placed in Authorization."""
    headers = {
        "Authorization": f"Bearer {api_key}",
        "Content-Type": "application/json",
        "Accept": "text/event-stream" if stream else "application/json",
        "User-Agent": USER_AGENT,
    }
    if extra:
        headers.update(extra)
    return headers


def encode_body(payload: Mapping[str, Any]) -> bytes:
    """Serialize a request body; anything that is not JSON is an InvalidParameterError."""
    return encode_json(payload)


def trace_id_of(response: httpx.Response) -> str | None:
    """The server's X-Trace-Id, for support requests."""
    value: str | None = response.headers.get("x-trace-id")
    return value


def status_error(response: httpx.Response, content: bytes | None = None) -> APIStatusError:
    """The typed error of a non-success response, from the (possibly capped) body read."""
    if content is None:
        content = response.content
    return make_status_error(
        response.status_code,
        decode_json(content),
        trace_id=trace_id_of(response),
        retry_after=parse_retry_after(response.headers),
        text=content.decode("utf-8", "replace"),
    )


# Failures on our side of the wire: a header or URL httpx refuses to send. Their messages can
# quote a header value (h11's "Illegal header value b'Bearer ...'"), so they are never shown,
# never chained, and never retried.
_LOCAL_FAILURES = frozenset({"LocalProtocolError", "UnsupportedProtocol", "InvalidURL"})


def transport_error(exc: Exception) -> StepFunError:
    """Wrap an httpx (or httpx2) failure: connection, timeout, or a request it cannot send."""
    kind = type(exc).__name__
    error: StepFunError
    if kind in _LOCAL_FAILURES:
        error = InvalidParameterError(
            f"the request could not be sent ({kind}): a header or the URL holds a character "
            "HTTP does not allow; check default_headers and base_url"
        )
        error.__suppress_context__ = True
        return error
    if "Timeout" in kind:
        error = APITimeoutError(f"request timed out ({kind}); raise timeout= for slow answers")
    else:
        error = APIConnectionError(f"connection error: {kind}: {exc}")
    error.__cause__ = exc
    return error


def log_attempt(url: httpx.URL, attempt: int, outcome: str, delay: float | None) -> None:
    """Log one attempt at DEBUG: path, attempt and outcome, never headers."""
    if logger.isEnabledFor(logging.DEBUG):
        then = "giving up" if delay is None else f"retrying in {delay:.2f}s"
        logger.debug("POST %s attempt %d: %s; %s", url.path, attempt + 1, outcome, then)
