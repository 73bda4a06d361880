"""Round 2, no state crosses instances through the shared pool but its connections.

Two instances of one entry point, two tenants of one gateway: A (its own key, a default header
``X-Tenant: a``, a base URL with a path and a query of its own) and B (another key, no extra
header, another path). They call in turn, B, A, B, A, on one shared pool (sync: the process's;
async: one event loop's). A's replies carry what a client could keep: a cookie, a permanent
redirect, an auth challenge, HSTS and Alt-Svc. B's second request must be B's first again,
byte for byte in its request line and headers, and A's second A's first: no cookie (we keep
none at all), no other tenant's key, header, path or query, no redirect remembered.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.reliability.conftest import (
    ROUND2,
    Combo,
    Outcome,
    Row,
    acall,
    combos,
    reset_sync_pool,
    run_async,
)
from tests.reliability.raw_server import RawServer, Send, answers, whole


@pytest.fixture(autouse=True)
def fresh_pool() -> Iterator[None]:
    """Each case starts on a new shared sync pool (one holding a cookie would spoil the next)."""
    reset_sync_pool()
    yield
    reset_sync_pool()


KEYS = {"a": "sk-round2-tenant-a-1111111111", "b": "sk-round2-tenant-b-2222222222"}
COOKIE = "gw_session=tenant-a-Qxw7Zjq4"


def tenant_of(request: Any) -> str:
    return "a" if "tenant a" in str(request) else "b"


def a_replies_with(kind: str) -> Any:
    """The gateway: B gets plain answers; A's answers carry ``kind`` of client state."""

    def script(send: Send, request: Any) -> bool:
        if tenant_of(request) == "b":
            return answers(send, request)
        if kind == "308 redirect to B's path":
            send(whole(308, b"{}", Location="/tenant-b/v1/chat/completions"))
        elif kind == "401 with WWW-Authenticate: Basic":
            body = b'{"error":{"message":"who are you","type":"invalid_api_key"}}'
            send(whole(401, body, WWW_Authenticate='Basic realm="gateway"'))
        else:
            extra = {
                "Set-Cookie": {"Set_Cookie": f"{COOKIE}; Path=/"},
                "HSTS and Alt-Svc": {
                    "Strict_Transport_Security": "max-age=31536000",
                    "Alt_Svc": 'h2=":443"; ma=86400',
                },
            }[kind]
            return answers(_with_headers(send, extra), request)
        return True

    return script


def _with_headers(send: Send, extra: dict[str, str]) -> Send:
    """``send`` with ``extra`` headers added to the first thing written (the head)."""
    first = [True]
    lines = "".join(f"{k.replace('_', '-')}: {v}\r\n" for k, v in extra.items()).encode()

    def sending(data: bytes) -> None:
        if first[0]:
            first[0] = False
            data = data.replace(b"\r\n", b"\r\n" + lines, 1)
        send(data)

    return sending


KINDS = (
    "Set-Cookie",
    "308 redirect to B's path",
    "401 with WWW-Authenticate: Basic",
    "HSTS and Alt-Svc",
)
ORDER = ("b", "a", "b", "a")


def tenants(combo: Combo, root: str) -> dict[str, Any]:
    return {
        "a": combo.build(
            f"{root}/tenant-a/v1?tenant=a",
            api_key=KEYS["a"],
            max_retries=0,
            default_headers={"X-Tenant": "a"},
        ),
        "b": combo.build(f"{root}/tenant-b/v1", api_key=KEYS["b"], max_retries=0),
    }


def in_turn(combo: Combo, instances: dict[str, Any]) -> list[Outcome]:
    """B, A, B, A on one pool: sync in this thread, async in one event loop."""
    if combo.mode == "sync":
        return [combo.call(instances[t], f"tenant {t}") for t in ORDER]

    async def all_in_one_loop() -> list[Outcome]:
        return [await acall(combo.target, instances[t], combo.stream, f"tenant {t}") for t in ORDER]

    return run_async(all_in_one_loop)


@pytest.mark.parametrize("combo", combos())
@pytest.mark.parametrize("kind", KINDS)
def test_no_client_state_crosses_instances(kind: str, combo: Combo, row: Row) -> None:
    with RawServer(a_replies_with(kind)) as server:
        root = server.base_url.removesuffix("/v1")
        outs = in_turn(combo, tenants(combo, root))
    heads = server.heads
    cookies = [h.headers.get("cookie") for h in heads if "cookie" in h.headers]
    b_changed = len(heads) == 4 and heads[2] != heads[0]
    a_changed = len(heads) == 4 and heads[3] != heads[1]
    row.set(
        category=ROUND2,
        case=f"tenant A's replies carry {kind}; B, A, B, A on the shared pool",
        adapter=combo.target,
        mode=combo.label,
        expected="each tenant's second request identical to its first; no Cookie; 4 requests",
        observed=(
            f"{len(heads)} requests; "
            + (f"Cookie sent {len(cookies)} times" if cookies else "no Cookie")
            + ("; B's request changed" if b_changed else "")
            + ("; A's request changed" if a_changed else "")
        ),
        requests=len(heads),
    )
    assert outs[0].error is None and outs[2].error is None, [outs[0].error, outs[2].error]
    assert len(heads) == 4, [h.target for h in heads]  # nothing followed, nothing retried
    assert not cookies, f"a cookie was sent: {cookies}"
    assert heads[0].target == "/tenant-b/v1/chat/completions", heads[0].target
    assert heads[1].target == "/tenant-a/v1/chat/completions?tenant=a", heads[1].target
    assert heads[2] == heads[0], f"B's request changed: {heads[0]} -> {heads[2]}"
    assert heads[3] == heads[1], f"A's request changed: {heads[1]} -> {heads[3]}"
    assert heads[0].headers["authorization"] == f"Bearer {KEYS['b']}"
    assert "x-tenant" not in heads[0].headers
