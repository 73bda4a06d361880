"""Credentials out of URLs before they are shown, whatever characters the password holds.

A parser cannot be trusted with this: in ``http://alice:pa/ss@proxy:3128`` the unencoded ``/``
ends the authority for `urllib.parse` and httpx alike, so a masker built on them finds no
``user:password@`` and prints the password. `redact_url` parses nothing.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

HIDDEN = "***"
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
# What may follow the userinfo: a host (a bracketed IPv6 literal, or a name without the
# characters that delimit URL parts), an optional numeric port, then a path, query or fragment.
_HOST_PORT = re.compile(r"(\[[0-9A-Za-z:.%]*\]|[^\s:@/?#\[\]]*)(:[0-9]*)?([/?#].*)?", re.S)


def redact_url(url: str) -> str:
    """``url`` with any ``user:password@`` replaced by ``***@``; never raises.

    All up to the last ``@`` counts as credentials (a ``@`` in a path hides more, never less); when
    the rest is not ``host[:port][/...]``, everything after the scheme is hidden.
    """
    scheme = _SCHEME.match(url)
    prefix = scheme.group() if scheme else ""
    rest = url.removeprefix(prefix)
    _, at, host = rest.rpartition("@")
    if not _HOST_PORT.fullmatch(host):
        return prefix + HIDDEN
    if not at:
        return url
    return f"{prefix}{HIDDEN}@{host}"


@functools.lru_cache(maxsize=64)  # LangChain reads a model's on every call (its trace params)
def display_url(url: str) -> str:
    """A URL as shown in reprs, traces and errors: credentials and the query hidden."""
    base, question, _ = str(url).partition("?")
    return redact_url(base) + ("?..." if question else "")


def shown_setting(setting: str | None, value: Any) -> Any:
    """A client setting as traces and cache keys show it: what may hold credentials hidden."""
    if setting == "api_key":
        return HIDDEN
    if setting == "default_headers":  # a proxy's token, say
        return dict.fromkeys(value, HIDDEN) if isinstance(value, Mapping) else HIDDEN
    if setting == "base_url":  # a token in the query
        return display_url(str(value))
    return value


def fingerprint(value: Any) -> str:
    """A short digest of a value: cache keys tell credentials apart without holding them."""
    if isinstance(value, Mapping):  # httpx.Headers' repr hides credentials: every item counts
        value = sorted((str(k).lower(), str(v)) for k, v in value.items())
    return "sha256:" + hashlib.sha256(repr(value).encode("utf-8", "replace")).hexdigest()[:16]


def without_secret(text: str, secret: str, mask: str = HIDDEN, *, shortest: int = 8) -> str:
    """``text`` with ``secret`` masked, as written or JSON-escaped (a slash or a quote in it).

    A gateway may quote the key it refused, and errors are logged and shown. A secret shorter
    than ``shortest`` is left alone: masking it could hide ordinary words (the doctor, whose
    report is shared, masks any key).
    """
    if len(secret) < max(shortest, 1):
        return text
    escaped = json.dumps(secret)[1:-1]
    # Escaped twice: a gateway's JSON text holding StepFun's (OpenRouter's metadata.raw).
    for form in {secret, escaped, json.dumps(escaped)[1:-1], secret.replace("/", "\\/")}:
        text = text.replace(form, mask)
    return text


def sent_key(headers: Mapping[str, str]) -> str:
    """The credential a request's ``Authorization`` header carries (after its scheme)."""
    return headers.get("authorization", "").partition(" ")[2]
