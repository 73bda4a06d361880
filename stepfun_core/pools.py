"""The shared connection pools, one per size: per process for sync calls, per event loop for async.

What they share (connections only: no cookies) and how the environment is read when one is made:
docs/configuration.md. A loop's pools are closed as ``shutdown_asyncgens`` runs.
"""

from __future__ import annotations

import asyncio
import atexit
import functools
import importlib.util
import os
import ssl
import threading
import urllib.request
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any

import httpx

from stepfun_core.errors import ConfigurationError
from stepfun_core.settings import (
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_KEEPALIVE_CONNECTIONS,
    has_dns_labels,
)

Size = tuple[int, int]  # (max_connections, max_keepalive_connections)
DEFAULT_SIZE: Size = (DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_KEEPALIVE_CONNECTIONS)
_CERTIFICATE_VARIABLES = ("SSL_CERT_FILE", "SSL_CERT_DIR")

_lock = threading.Lock()
_ssl_context: ssl.SSLContext | None = None
_sync_pools: dict[Size, httpx.Client] = {}
_loop_pools: dict[asyncio.AbstractEventLoop, _LoopPools] = {}
# What a forked child inherited of its parent's pools: kept, never used, never closed (closing
# could write to the parent's sockets, e.g. a TLS close_notify).
_inherited: list[object] = []


@functools.lru_cache(maxsize=4)
def _unusable_certificates(name: str, path: str, stamp: tuple[int, int]) -> str | None:
    """Why ``path`` (the certificate variable httpx reads) makes no SSL context, else None.

    A DER file, an empty one, a directory for SSL_CERT_FILE. Checked once per path and
    modification (``stamp``: a file fixed in place is checked again): a check costs about 17 ms.
    """
    try:
        httpx.create_ssl_context()  # it reads the variables itself
    except (ssl.SSLError, OSError) as exc:
        return str(exc)
    return None


def _certificate_problem() -> ConfigurationError | None:
    # httpx reads SSL_CERT_DIR only when SSL_CERT_FILE is unset or empty.
    named = next(((n, os.environ[n]) for n in _CERTIFICATE_VARIABLES if os.environ.get(n)), None)
    if named is None:
        return None
    name, path = named
    try:
        stat = os.stat(path)
    except OSError:
        return ConfigurationError(f"{name} names {path!r}, which does not exist")
    why = _unusable_certificates(name, path, (stat.st_mtime_ns, stat.st_size))
    if why is None:
        return None
    return ConfigurationError(
        f"{name} ({path!r}): no usable certificates ({why}); a bundle of PEM certificates is "
        "needed (a DER .crt converts with openssl x509 -inform DER -in FILE -out FILE.pem)"
    )


def _proxy_variables() -> list[tuple[str, str]]:
    """The proxy variables httpx uses, by name, read as it reads them (`getproxies`)."""
    found = urllib.request.getproxies()
    if "*" in (host.strip() for host in found.get("no", "").split(",")):
        return []
    named = []
    for scheme in ("https", "http", "all"):
        if value := found.get(scheme):
            lower = f"{scheme}_proxy"
            named.append((lower if os.environ.get(lower) == value else lower.upper(), value))
    return named


def environment_problem() -> ConfigurationError | None:
    """The first certificate or proxy variable a pool cannot be made with, if any."""
    if (problem := _certificate_problem()) is not None:
        return problem
    for name, value in _proxy_variables():
        try:  # httpx.Proxy accepts the schemes the installed httpx supports
            proxy = httpx.Proxy(value if "://" in value else f"http://{value}").url
            valid = bool(proxy.host) and has_dns_labels(proxy)
        except (httpx.InvalidURL, ValueError, TypeError):
            valid = False
        if not valid:
            # The URL itself is never shown: it may hold a password.
            return ConfigurationError(
                f"{name} is not a valid proxy URL (http, https or socks5, with a valid host "
                "name); characters such as '/', '#', '@' or ':' in its user name or password "
                "must be percent-encoded (e.g. %2F for '/')"
            )
        if proxy.scheme.startswith("socks") and importlib.util.find_spec("socksio") is None:
            return ConfigurationError(
                f"{name} is a {proxy.scheme} proxy, which needs httpx's socks support: "
                "pip install 'httpx[socks]'"
            )
    return None


def _made(kind: type[Any], size: Size) -> Any:
    if (problem := environment_problem()) is not None:
        raise problem
    global _ssl_context  # noqa: PLW0603 - one SSL context per process (building one: ~17 ms)
    if _ssl_context is None:
        _ssl_context = httpx.create_ssl_context()
    limits = httpx.Limits(max_connections=size[0], max_keepalive_connections=size[1])
    no_cookies = CookieJar(DefaultCookiePolicy(allowed_domains=[]))
    return kind(verify=_ssl_context, limits=limits, cookies=no_cookies)


def shared_sync_client(size: Size = DEFAULT_SIZE) -> httpx.Client:
    """The process's pooled sync client of that size, used when the caller brings none."""
    client = _sync_pools.get(size)
    if client is None or client.is_closed:
        with _lock:
            client = _sync_pools.get(size)
            if client is None or client.is_closed:
                client = _sync_pools[size] = _made(httpx.Client, size)
    return client


@dataclass(slots=True)
class _LoopPools:
    """One event loop's pools, and the async generator that closes them at loop shutdown."""

    clients: dict[Size, httpx.AsyncClient] = field(default_factory=dict)
    # The only strong reference to the started generator: the loop's asyncgen hooks hold it
    # weakly, so without this one it would be finalized at once and close the pools in use.
    closer: AsyncIterator[None] | None = None


async def _close_at_shutdown(pools: _LoopPools) -> AsyncIterator[None]:
    """Waits until the loop shuts its async generators down, then closes the loop's pools."""
    try:
        yield
    finally:
        loop = asyncio.get_running_loop()
        if _loop_pools.get(loop) is pools:
            del _loop_pools[loop]
        for client in list(pools.clients.values()):
            await client.aclose()


async def shared_async_client(size: Size = DEFAULT_SIZE) -> httpx.AsyncClient:
    """The pooled async client of that size on the running event loop."""
    loop = asyncio.get_running_loop()
    pools = _loop_pools.get(loop)
    client = pools.clients.get(size) if pools is not None else None
    if client is not None and not client.is_closed:
        return client
    with _lock:
        if pools is None:
            # A loop that is not running now (closed, or dropped without closing) gives up its
            # pools: they are made again if it runs again, and a dropped loop is collected.
            for idle in [known for known in _loop_pools if not known.is_running()]:
                del _loop_pools[idle]
            pools = _loop_pools.setdefault(loop, _LoopPools())
        client = pools.clients.get(size)
        if client is None or client.is_closed:
            client = pools.clients[size] = _made(httpx.AsyncClient, size)
        closer = None if pools.closer is not None else _close_at_shutdown(pools)
        pools.closer = pools.closer or closer
    if closer is not None:
        # Its first step registers it with the loop's asyncgen hooks (finalized at shutdown).
        await anext(closer)
    return client


def close_sync_pools() -> None:
    """Close this process's sync pools (they are made again on the next call)."""
    with _lock:
        clients = list(_sync_pools.values())
        _sync_pools.clear()
    for client in clients:
        client.close()


async def aclose_loop_pools() -> None:
    """Close the running loop's pools (they are made again on the next call)."""
    pools = _loop_pools.pop(asyncio.get_running_loop(), None)
    for client in list(pools.clients.values()) if pools is not None else []:
        await client.aclose()


def _after_fork_in_child() -> None:
    """Start the child with no pools and a fresh lock; the parent's are never used or closed."""
    global _lock, _sync_pools, _loop_pools  # noqa: PLW0603 - the child's own state
    _inherited.append((_sync_pools, _loop_pools))
    _lock = threading.Lock()
    _sync_pools = {}
    _loop_pools = {}


# The sync pools' idle connections are closed as the interpreter exits (no unclosed sockets).
atexit.register(close_sync_pools)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
