"""Step 2, reachability: DNS, TCP and TLS to the base URL's host, each timed, each with a verdict.

The doctor does these by hand, with short timeouts, because an httpx error folds them into one
``ConnectError``; apart, they tell "no network" from "a firewall drops it" from "something
intercepts TLS". With a proxy in effect the proxy is what the client connects to, so its host
is the one resolved and connected to, and TLS to the API is left to the request of step 3.
"""

from __future__ import annotations

import errno
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from stepfun_core.doctor.report import REACHABILITY, Check, Verdict
from stepfun_core.redact import redact_url

T = TypeVar("T")
AddressInfo = tuple[Any, ...]

NO_NETWORK = "check the network connection; if you must go through a proxy, set HTTPS_PROXY"
INTERCEPTED = (
    "if a company proxy or antivirus inspects TLS, set SSL_CERT_FILE to a bundle holding its "
    "CA certificate; otherwise check the system clock"
)


@dataclass(frozen=True)
class Endpoint:
    """A host to reach, and what it is to the user (``the API`` or ``the proxy ...``)."""

    host: str
    port: int
    tls: bool
    role: str


def endpoint_of(url: str, role: str) -> Endpoint:
    """The host, port and TLS use of a URL."""
    parsed = httpx.URL(url)
    tls = parsed.scheme == "https"
    return Endpoint(parsed.host, parsed.port or (443 if tls else 80), tls, role)


def check_reachability(
    base_url: str, proxy: str | None, ssl_context: ssl.SSLContext, timeout: float
) -> list[Check]:
    """DNS, TCP and TLS lines for the API, or for the proxy when one is in effect."""
    api = endpoint_of(base_url, "the API")
    target = endpoint_of(proxy, f"the proxy {redact_url(proxy)}") if proxy else api
    checks: list[Check] = []
    dns, addresses = _resolve(target, timeout)
    checks.append(dns)
    if addresses is None:
        return checks
    tcp, sock = _connect(target, addresses, timeout)
    checks.append(tcp)
    if sock is None:
        return checks
    with sock:
        checks.append(_tls(api, target, sock, ssl_context, proxied=proxy is not None))
    return checks


def _elapsed_ms(start: float) -> int:
    return round((time.perf_counter() - start) * 1000)


def _with_deadline(call: Callable[[], T], timeout: float) -> T:
    """Run a blocking call (getaddrinfo has no timeout of its own) with a deadline."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = call()
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    worker = threading.Thread(target=run, name="stepfun-doctor-dns", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise TimeoutError(f"no answer within {timeout:g} s")
    if "error" in box:
        raise box["error"]
    value: T = box["value"]
    return value


def _resolve(target: Endpoint, timeout: float) -> tuple[Check, list[AddressInfo] | None]:
    start = time.perf_counter()
    try:
        infos = _with_deadline(
            lambda: socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM), timeout
        )
    except (OSError, TimeoutError) as exc:
        detail = f"cannot resolve {target.host} ({target.role}): {exc}; no network, or DNS blocked"
        return Check(REACHABILITY, "DNS", Verdict.FAIL, detail, NO_NETWORK), None
    ms = _elapsed_ms(start)
    shown = sorted({str(info[4][0]) for info in infos})
    detail = f"{target.host} -> {', '.join(shown[:3])} ({ms} ms)"
    data = {"addresses": shown, "ms": ms}
    return Check(REACHABILITY, "DNS", Verdict.OK, detail, data=data), list(infos)


def _connect(
    target: Endpoint, infos: list[AddressInfo], timeout: float
) -> tuple[Check, socket.socket | None]:
    start = time.perf_counter()
    error: OSError | None = None
    for family, kind, proto, _, address in infos:
        sock = socket.socket(family, kind, proto)
        sock.settimeout(timeout)
        try:
            sock.connect(address)
        except OSError as exc:
            sock.close()
            error = exc
            continue
        ms = _elapsed_ms(start)
        detail = f"connected to {address[0]}:{target.port} ({ms} ms)"
        return Check(REACHABILITY, "TCP", Verdict.OK, detail, data={"ms": ms}), sock
    return _connect_failure(target, error), None


def _connect_failure(target: Endpoint, error: OSError | None) -> Check:
    where = f"{target.host}:{target.port} ({target.role})"
    if isinstance(error, ConnectionRefusedError):
        detail = f"{where} refuses connections"
        fix = (
            "check HTTPS_PROXY, or unset it to connect directly"
            if target.role.startswith("the proxy")
            else "check the base URL's host and port; a firewall may reject the connection"
        )
    elif isinstance(error, TimeoutError):
        detail = f"{where} did not answer in time: a firewall may drop the traffic"
        fix = NO_NETWORK
    elif error is not None and error.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
        detail, fix = f"no route to {where}: no network", NO_NETWORK
    else:
        detail, fix = f"cannot connect to {where}: {error}", NO_NETWORK
    return Check(REACHABILITY, "TCP", Verdict.FAIL, detail, fix)


def _tls(
    api: Endpoint, target: Endpoint, sock: socket.socket, context: ssl.SSLContext, *, proxied: bool
) -> Check:
    if not api.tls:
        return Check(REACHABILITY, "TLS", Verdict.INFO, "not used (the base URL is http://)")
    if proxied:
        detail = "through the proxy: the request of the next step shows whether it works"
        return Check(REACHABILITY, "TLS", Verdict.SKIPPED, detail, needed=False)
    start = time.perf_counter()
    try:
        with context.wrap_socket(sock, server_hostname=api.host) as tls:
            version, certificate = tls.version(), tls.getpeercert() or {}
    except ssl.SSLCertVerificationError as exc:
        detail = f"certificate problem at {api.host}: {exc.verify_message or exc.reason}"
        return Check(REACHABILITY, "TLS", Verdict.FAIL, detail, INTERCEPTED)
    except (ssl.SSLError, OSError) as exc:
        detail = f"TLS handshake with {api.host}:{api.port} failed: {exc}"
        fix = "check that the base URL's port speaks TLS (use http:// for a plain HTTP server)"
        return Check(REACHABILITY, "TLS", Verdict.FAIL, detail, fix)
    ms = _elapsed_ms(start)
    until = certificate.get("notAfter", "an unknown date")
    detail = f"{version}, certificate for {target.host} valid until {until} ({ms} ms)"
    return Check(REACHABILITY, "TLS", Verdict.OK, detail, data={"version": version, "ms": ms})
