"""A caller's HTTP client is never closed, copied or silently dropped.

Pickling refuses clearly where it would have to drop the caller's client (its proxy, TLS and
headers); a deep copy shares that client instead of copying it.
"""

from __future__ import annotations

from typing import Any


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
