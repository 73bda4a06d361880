"""httpx and httpx2: a caller's client and its library's exceptions, recognised by class.

httpx stays our default; a caller may bring an ``httpx2.Client`` / ``httpx2.AsyncClient`` (the
continuation of httpx, which langsmith and openai 3.x require) wherever an httpx client is
accepted, or a subclass of either (how auth, tracing and instrumentation are added). The two
libraries share their API; their classes differ, so each check looks at both.
"""

from __future__ import annotations

import sys
from types import ModuleType
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


def libraries() -> tuple[ModuleType, ...]:
    """httpx, and httpx2 once something imported it (a caller's client cannot exist before)."""
    other = sys.modules.get("httpx2")
    return (httpx,) if other is None else (httpx, other)


def classes(name: str) -> tuple[type[Any], ...]:
    """The class of that name in each library in use, e.g. ``classes("ReadTimeout")``."""
    return tuple(getattr(library, name) for library in libraries())


def check_http_client(http: Any, *, asynchronous: bool, field: str = "http_client") -> Any:
    """The caller's client if it is an httpx or httpx2 client of the right kind, else raise."""
    if http is None:
        return None
    wanted = "AsyncClient" if asynchronous else "Client"
    if not isinstance(http, classes(wanted)):
        kind = f"an httpx.{wanted} or an httpx2.{wanted} (or a subclass)"
        raise InvalidParameterError(f"{field}: must be {kind}, got {type(http).__name__}")
    return http
