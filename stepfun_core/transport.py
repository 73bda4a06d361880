"""A caller's HTTP client: recognised by class, and never closed, copied or silently dropped.

A caller may bring an httpx or an ``httpx2`` client (httpx's continuation, which langsmith and
openai 3.x require), or a subclass of either (how auth and tracing are added).
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


def classes(name: str) -> tuple[type[Any], ...]:
    """The class of that name in httpx, and in httpx2 once something imported it."""
    libraries = (httpx, sys.modules.get("httpx2"))  # no httpx2 client before its import
    return tuple(getattr(library, name) for library in libraries if library is not None)


def check_http_client(http: Any, *, asynchronous: bool, field: str = "http_client") -> Any:
    """The caller's client if it is an httpx or httpx2 client of the right kind, else raise."""
    wanted = "AsyncClient" if asynchronous else "Client"
    if http is not None and not isinstance(http, classes(wanted)):
        kind = f"an httpx.{wanted} or an httpx2.{wanted} (or a subclass)"
        raise InvalidParameterError(f"{field}: must be {kind}, got {type(http).__name__}")
    return http


def refuse_to_pickle(owner: str, fields: str, *clients: object) -> None:
    """Raise a clear TypeError if any of the caller's clients is set (pickling would drop it)."""
    if any(client is not None for client in clients):
        raise TypeError(
            f"{owner} holds your own HTTP client ({fields}), which cannot be pickled; make "
            f"the {owner} inside the worker instead, or pickle one without your client"
        )


def share_in_copy(memo: dict[int, Any], *clients: object) -> dict[int, Any]:
    """Mark the caller's clients as their own copies, so ``copy.deepcopy`` shares them."""
    for client in clients:
        if client is not None:
            memo[id(client)] = client
    return memo
