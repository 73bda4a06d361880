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
from stepfun_core.limits import ACCEPT_ENCODING
from stepfun_core.retry import parse_retry_after
from stepfun_core.settings import display_url
from stepfun_core.transport import classes

logger = logging.getLogger("stepfun_core")

CHAT_PATH = "/chat/completions"
MODELS_PATH = "/models"
USER_AGENT = f"stepfun-integrations/{__version__} httpx/{httpx.__version__}"

__all__ = [
    "CHAT_PATH",
    "MODELS_PATH",
    "USER_AGENT",
    "build_headers",
    "decode_json",
    "encode_body",
    "log_attempt",
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
        "Accept-Encoding": ACCEPT_ENCODING,
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
    error = make_status_error(
        response.status_code,
        decode_json(content),
        trace_id=trace_id_of(response),
        retry_after=parse_retry_after(response.headers),
        text=content.decode("utf-8", "replace"),
    )
    location = response.headers.get("location")
    if response.is_redirect and location:
        # Redirects are not followed (the key must not travel): say where it pointed, without
        # the query, which may hold a token.
        error.message += f" (redirected to {display_url(location)}; check base_url)"
        error.args = (error.message,)
    return error


def transport_error(exc: Exception) -> StepFunError:
    """Wrap an httpx (or httpx2) failure: connection, timeout, or a request it cannot send."""
    error: StepFunError
    # Failures on our side of the wire: a header or URL httpx refuses to send. Their messages
    # can quote a header value (h11's "Illegal header value b'Bearer ...'"), so they are never
    # shown, never chained, and never retried.
    local = ("LocalProtocolError", "UnsupportedProtocol", "InvalidURL")
    if isinstance(exc, tuple(cls for name in local for cls in classes(name))):
        error = InvalidParameterError(
            f"the request could not be sent ({type(exc).__name__}): a header or the URL holds "
            "a character HTTP does not allow; check default_headers and base_url"
        )
        error.__suppress_context__ = True
        return error
    if isinstance(exc, classes("TimeoutException")):
        error = APITimeoutError(
            f"request timed out ({type(exc).__name__}); raise timeout= for slow answers"
        )
    else:
        error = APIConnectionError(f"connection error: {type(exc).__name__}: {exc}")
    error.__cause__ = exc
    return error


def log_attempt(url: httpx.URL, attempt: int, outcome: str, delay: float | None) -> None:
    """Log one attempt at DEBUG: path, attempt and outcome, never headers."""
    if logger.isEnabledFor(logging.DEBUG):
        then = "giving up" if delay is None else f"retrying in {delay:.2f}s"
        logger.debug("%s attempt %d: %s; %s", url.path, attempt + 1, outcome, then)
