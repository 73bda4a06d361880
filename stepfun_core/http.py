"""The pieces of an HTTP exchange that sync and async share: pooled clients, requests, errors."""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
import weakref
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import httpx

from stepfun_core import __version__
from stepfun_core.errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    StepFunError,
    make_status_error,
)
from stepfun_core.retry import parse_retry_after
from stepfun_core.settings import DEFAULT_TIMEOUT

logger = logging.getLogger("stepfun_core")

CHAT_PATH = "/chat/completions"
POOL_LIMITS = httpx.Limits(max_connections=1000, max_keepalive_connections=100)
USER_AGENT = f"stepfun-integrations/{__version__} httpx/{httpx.__version__}"


@lru_cache(maxsize=1)
def shared_ssl_context() -> ssl.SSLContext:
    """One SSL context for every client: building one costs about 17 ms."""
    return httpx.create_ssl_context()


_sync_client: httpx.Client | None = None


def shared_sync_client() -> httpx.Client:
    """The process-wide pooled sync client used when the caller brings none."""
    global _sync_client  # noqa: PLW0603 - one pool per process, made on first use
    if _sync_client is None or _sync_client.is_closed:
        _sync_client = httpx.Client(
            verify=shared_ssl_context(), timeout=DEFAULT_TIMEOUT, limits=POOL_LIMITS
        )
    return _sync_client


# An AsyncClient's connections belong to one event loop, so the pool is shared per loop.
_async_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = (
    weakref.WeakKeyDictionary()
)


def shared_async_client() -> httpx.AsyncClient:
    """The pooled async client of the running event loop."""
    loop = asyncio.get_running_loop()
    client = _async_clients.get(loop)
    if client is None or client.is_closed:
        client = httpx.AsyncClient(
            verify=shared_ssl_context(), timeout=DEFAULT_TIMEOUT, limits=POOL_LIMITS
        )
        _async_clients[loop] = client
    return client


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
    """Serialize a request body: compact, UTF-8 kept as is, deterministic key order."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def trace_id_of(response: httpx.Response) -> str | None:
    """The server's X-Trace-Id, for support requests."""
    value: str | None = response.headers.get("x-trace-id")
    return value


def decode_json(content: bytes) -> Any:
    """Parse a JSON body, or None if it is not JSON."""
    try:
        return json.loads(content)
    except ValueError:
        return None


def status_error(response: httpx.Response) -> APIStatusError:
    """The typed error of a read, non-success response."""
    content = response.content
    return make_status_error(
        response.status_code,
        decode_json(content),
        trace_id=trace_id_of(response),
        retry_after=parse_retry_after(response.headers),
        text=content.decode("utf-8", "replace"),
    )


def transport_error(exc: httpx.RequestError) -> StepFunError:
    """Wrap an httpx failure (connection, timeout, bad body encoding); never shows headers."""
    error: StepFunError
    if isinstance(exc, httpx.TimeoutException):
        kind = type(exc).__name__
        error = APITimeoutError(f"request timed out ({kind}); raise timeout= for slow answers")
    else:
        error = APIConnectionError(f"connection error: {type(exc).__name__}: {exc}")
    error.__cause__ = exc
    return error


def log_attempt(url: httpx.URL, attempt: int, outcome: str, delay: float | None) -> None:
    """Log one attempt at DEBUG: path, attempt and outcome, never headers."""
    if logger.isEnabledFor(logging.DEBUG):
        then = "giving up" if delay is None else f"retrying in {delay:.2f}s"
        logger.debug("POST %s attempt %d: %s; %s", url.path, attempt + 1, outcome, then)
