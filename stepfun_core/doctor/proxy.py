"""Which proxy the clients use for a URL, read from the environment the way httpx reads it.

httpx (``trust_env``, the default of every client here) takes ``HTTPS_PROXY`` / ``HTTP_PROXY``
by scheme, then ``ALL_PROXY``, unless ``NO_PROXY`` names the host (a domain also covers its
subdomains, a leading dot only the subdomains, ``*`` everything). The doctor mirrors those
rules so that what it reports, and which host it tests for reachability, is what a request does.
Proxy URLs are shown through `stepfun_core.redact.redact_url`, whatever their password holds.
"""

from __future__ import annotations

import os
import urllib.request
from urllib.parse import urlsplit

import httpx

from stepfun_core.redact import redact_url

PROXY_VARIABLES = (
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
)
CERTIFICATE_VARIABLES = ("SSL_CERT_FILE", "SSL_CERT_DIR")


def proxy_variables() -> dict[str, str]:
    """The proxy variables that are set, credentials masked (NO_PROXY as it is)."""
    found: dict[str, str] = {}
    for name in PROXY_VARIABLES:
        value = os.environ.get(name, "").strip()
        if value:
            found[name] = value if name.lower() == "no_proxy" else redact_url(value)
    return found


def _bypassed(host: str, no_proxy: str) -> bool:
    host = host.lower().strip("[]")
    for entry in (e.strip().lower() for e in no_proxy.split(",")):
        if not entry:
            continue
        if entry == "*":
            return True
        name = urlsplit(entry).hostname if "://" in entry else entry.split(":")[0]
        name = (name or "").strip("[]")
        if name.startswith("."):
            if host.endswith(name):
                return True
        elif host == name or host.endswith("." + name):
            return True
    return False


def proxy_for(url: str) -> str | None:
    """The proxy URL a request to ``url`` goes through, or None for a direct connection."""
    target = httpx.URL(url)
    settings = urllib.request.getproxies()
    if _bypassed(target.host, settings.get("no", "")):
        return None
    proxy = settings.get(target.scheme) or settings.get("all")
    if not proxy:
        return None
    return proxy if "://" in proxy else f"http://{proxy}"


def proxy_problem(proxy: str) -> str | None:
    """Why httpx cannot use a proxy URL as written, or None; the reason quotes none of the URL.

    A ``/``, ``#``, ``?`` or ``@`` left unencoded in a password ends the host early: httpx then
    refuses the URL (its error quotes the rest of the password as a port) or, when that rest is
    digits, connects somewhere else.
    """
    try:
        parsed = httpx.URL(proxy)
    except httpx.InvalidURL:
        return "is not a URL httpx can parse"
    if not parsed.host or "@" in parsed.raw_path.decode("ascii", "replace") + parsed.fragment:
        return "has an @ after its host: a character of the password ends the host early"
    return None
