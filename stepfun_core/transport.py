"""httpx and httpx2: which HTTP library a caller's client comes from, and what differs.

httpx has had no release since 0.28.1 and the ecosystem is moving to its continuation httpx2
(langsmith and openai 3.x require it). httpx stays our default; a caller may bring an
``httpx2.Client`` / ``httpx2.AsyncClient`` wherever an httpx client is accepted. The two share
their API; what differs is where their exception classes and ``Timeout`` live, so errors are
caught by the caller's library's own base class and timeouts are passed as plain tuples.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import httpx

from stepfun_core.errors import InvalidParameterError

if TYPE_CHECKING:
    import httpx2

    SyncHTTP = httpx.Client | httpx2.Client
    AsyncHTTP = httpx.AsyncClient | httpx2.AsyncClient
else:
    SyncHTTP = Any
    AsyncHTTP = Any

_LIBRARIES = ("httpx", "httpx2")


def library_of(http: object) -> Any:
    """The module (``httpx`` or ``httpx2``) a client belongs to, or None."""
    name = type(http).__module__.split(".", 1)[0]
    return sys.modules.get(name) if name in _LIBRARIES else None


def check_http_client(http: Any, *, asynchronous: bool, field: str = "http_client") -> Any:
    """The caller's client if it is an httpx or httpx2 client of the right kind, else raise."""
    if http is None:
        return None
    library = library_of(http)
    wanted = "AsyncClient" if asynchronous else "Client"
    if library is None or not isinstance(http, getattr(library, wanted)):
        kind = f"an httpx.{wanted} or an httpx2.{wanted}"
        raise InvalidParameterError(f"{field}: must be {kind}, got {type(http).__name__}")
    return http


def _classes(http: Any, name: str) -> tuple[type[Exception], ...]:
    default: type[Exception] = getattr(httpx, name)
    own = getattr(library_of(http), name, default)
    return (default,) if own is default else (default, own)


def request_errors(http: Any) -> tuple[type[Exception], ...]:
    """The transport failures to catch for this client (httpx's, and httpx2's when used)."""
    return _classes(http, "RequestError")


def status_errors(http: Any) -> tuple[type[Exception], ...]:
    """``HTTPStatusError`` of the client's library: a caller's hook may raise it."""
    return _classes(http, "HTTPStatusError")


def timeout_tuple(timeout: Any) -> tuple[float | None, float | None, float | None, float | None]:
    """(connect, read, write, pool) from an httpx or httpx2 Timeout: both libraries take it."""
    return (timeout.connect, timeout.read, timeout.write, timeout.pool)
