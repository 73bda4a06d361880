"""A caller's HTTP client is never closed, copied or silently dropped, and settings are values.

Shared by the core clients and both adapters: a client made from settings is kept only while
those settings hold (a copy or an assignment that changes one gets a new client on its next
call); pickling refuses clearly where it would have to drop the caller's client (its proxy,
TLS and headers); a deep copy shares that client instead of copying it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
Cached = tuple[tuple[Any, ...], T]


def cached_client(
    cached: Cached[T] | None, settings: tuple[Any, ...], make: Callable[[], T]
) -> Cached[T]:
    """The cached client if it was made from these settings, else a new one with them.

    Settings are compared on every call (about a microsecond); clients compare by identity.
    """
    if cached is None or cached[0] != settings:
        return (settings, make())
    return cached


def refuse_to_pickle(owner: str, fields: str, *clients: object) -> None:
    """Raise a clear TypeError if any of the caller's clients is set."""
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
