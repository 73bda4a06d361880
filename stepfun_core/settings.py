"""Where to connect and with which key, and how: the `Settings` every client is made from.

Each value is checked once, when the settings are made, and a secret is never echoed in an
error: a key pasted with a zero-width space, or a URL with a password, is refused by name.
"""

from __future__ import annotations

import os
import re
import sys
import threading
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from functools import lru_cache
from typing import Any, get_args

import httpx

from stepfun_core.errors import (
    InvalidParameterError,
    MalformedAPIKeyError,
    MissingAPIKeyError,
    one_of,
    quoted,
)
from stepfun_core.history import EchoField
from stepfun_core.limits import DEFAULT_MAX_RESPONSE_BYTES

INTERNATIONAL_BASE_URL = "https://api.stepfun.ai/v1"
CHINA_BASE_URL = "https://api.stepfun.com/v1"
INTERNATIONAL_STEP_PLAN_BASE_URL = "https://api.stepfun.ai/step_plan/v1"
CHINA_STEP_PLAN_BASE_URL = "https://api.stepfun.com/step_plan/v1"
DEFAULT_BASE_URL = INTERNATIONAL_BASE_URL
DEFAULT_MODEL = "step-3.5-flash"

API_KEY_ENV_VARS = ("STEP_API_KEY", "STEPFUN_API_KEY")
# StepFun's own domains: a key is only ever sent to them over TLS.
_STEPFUN_DOMAINS = ("stepfun.ai", "stepfun.com")
BASE_URL_ENV_VARS = ("STEP_BASE_URL", "STEPFUN_BASE_URL")

DEFAULT_MAX_RETRIES = 2

MISSING_KEY_MESSAGE = (
    "No StepFun API key: pass api_key=... or set STEP_API_KEY (or STEPFUN_API_KEY)."
)


@dataclass(frozen=True)
class Found:
    """A setting's value and where it came from (``"api_key argument"`` or a variable name)."""

    value: str
    source: str


def _find(explicit: str | None, argument: str, variables: tuple[str, ...]) -> Found | None:
    """The argument if given, else the first of the environment variables that is set."""
    if explicit is not None and not isinstance(explicit, str):
        raise InvalidParameterError(f"{argument}: must be a string, got {type(explicit).__name__}")
    if value := (explicit or "").strip():
        return Found(value, f"{argument} argument")
    for name in variables:
        if value := os.environ.get(name, "").strip():
            return Found(value, f"environment variable {name}")
    return None


def find_api_key(explicit: str | None = None, *, argument: str = "api_key") -> Found | None:
    """The key and its source: the argument, else the first key variable that is set."""
    return _find(explicit, argument, API_KEY_ENV_VARS)


def key_problem(key: str) -> str | None:
    """What makes a key unusable in a header, without quoting it; None when it looks fine.

    Keys are printable ASCII: anything else is a paste accident (a zero-width space, an en dash),
    and h11 would echo the whole header value in its error.
    """
    for position, char in enumerate(key, start=1):
        if "!" <= char <= "~":
            continue
        if char.isspace():
            what = "whitespace"
        elif unicodedata.category(char) == "Cc":
            what = "a control character"
        else:
            what = unicodedata.name(char, "a non-ASCII character")
        return f"has {what} (U+{ord(char):04X}) at character {position} of {len(key)}"
    return None


def check_api_key(key: str, source: str = "api_key argument") -> str:
    """Return the key if it can be sent; else raise MalformedAPIKeyError naming the problem."""
    if not isinstance(key, str):
        raise MalformedAPIKeyError(f"the API key from the {source} must be a string")
    if (problem := key_problem(key)) is not None:
        raise MalformedAPIKeyError(
            f"the API key from the {source} {problem}: copy it again from the StepFun "
            "console (keys are plain ASCII letters, digits and punctuation)"
        )
    return key


def resolve_api_key(explicit: str | None = None) -> str:
    """Return the explicit key, else the first of the key variables; raise if none is usable."""
    found = find_api_key(explicit)
    if found is None:
        raise MissingAPIKeyError(MISSING_KEY_MESSAGE)
    return check_api_key(found.value, found.source)


# RFC 9110 token characters: what a header name may hold.
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
# Headers that frame the body: one set by hand disagrees with the body sent (h11 then raises its
# own error, after the headers went out).
_FRAMING_HEADERS = frozenset({"content-length", "transfer-encoding"})


def check_headers(
    headers: Mapping[str, str] | None, argument: str = "default_headers"
) -> dict[str, str]:
    """Copy extra headers, refusing names and values HTTP cannot carry, without quoting them.

    (h11 refuses them only when sending, quoting the value: a proxy's password would be shown.)
    """
    if headers is not None and not isinstance(headers, Mapping):
        raise InvalidParameterError(f"{argument}: must be a mapping of header names to values")
    checked: dict[str, str] = {}
    for name, value in (headers or {}).items():
        if not isinstance(name, str) or not _TOKEN.fullmatch(name):
            raise InvalidParameterError(
                f"{argument}: {str(name)[:40]!r} is not a valid header name"
            )
        if name.lower() in _FRAMING_HEADERS:
            raise InvalidParameterError(
                f"{argument}: {name} is set by the HTTP client for each body, not by hand"
            )
        if not isinstance(value, str):
            raise InvalidParameterError(f"{argument}[{name!r}]: the value must be a string")
        for position, char in enumerate(value, start=1):
            if not (" " <= char <= "~" or char == "\t"):
                raise InvalidParameterError(
                    f"{argument}[{name!r}]: the value has a character HTTP headers cannot "
                    f"carry (U+{ord(char):04X}) at character {position}"
                )
        checked[name] = value
    return checked


def headers_over(base: Mapping[str, str] | None, extra: Any) -> dict[str, str]:
    """``extra_headers`` (OpenAI's name for a call's headers) over ``base``, both checked.

    Names are compared regardless of case (HTTP's rule): an extra header replaces the base one,
    and of one name given twice in a mapping the last is kept.
    """
    merged = {k.lower(): (k, v) for k, v in check_headers(base).items()}
    merged.update((k.lower(), (k, v)) for k, v in check_headers(extra, "extra_headers").items())
    return dict(merged.values())


def find_base_url(explicit: str | None = None, *, argument: str = "base_url") -> Found:
    """The base URL and its source: the argument, the environment, else the default."""
    return _find(explicit, argument, BASE_URL_ENV_VARS) or Found(DEFAULT_BASE_URL, "default")


def has_dns_labels(url: httpx.URL) -> bool:
    """True if each label of the URL's host name has 1-63 bytes (RFC 1035; an IP address passes).

    Python's idna codec raises UnicodeError on others, and only when a sync request looks the
    host up.
    """
    host = url.raw_host
    return b":" in host or all(0 < len(label) < 64 for label in host.rstrip(b".").split(b"."))


@lru_cache(maxsize=128)  # a pure function of its text; models are made again and again
def check_base_url(url: str, source: str = "base_url argument") -> str:
    """Return the base URL without a trailing slash, or raise InvalidParameterError.

    Refused, without quoting the URL: no http(s) scheme or host, credentials (httpx would send them
    in place of the key), a fragment, plain http to StepFun. A query is kept after the path.
    """
    where = f"base_url (from the {source})"
    try:
        parsed = httpx.URL(url)
        host = parsed.host.lower().rstrip(".")  # an invalid IDNA label fails here
    except (httpx.InvalidURL, TypeError, ValueError):
        raise InvalidParameterError(f"{where} is not a valid URL") from None
    if not has_dns_labels(parsed):
        raise InvalidParameterError(f"{where} has an empty or over-long part in its host name")
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise InvalidParameterError(
            f"{where} must be an http(s) URL with a host, such as {DEFAULT_BASE_URL}"
        )
    if parsed.userinfo:
        raise InvalidParameterError(
            f"{where} carries credentials (user:password@): remove them and pass the key "
            "as api_key; a proxy's credentials belong in a proxy setting or http_client"
        )
    if parsed.fragment or str(url).strip().endswith("#"):
        raise InvalidParameterError(f"{where} has a fragment (#...): remove it")
    if parsed.port is not None and not 0 < parsed.port < 65536:
        raise InvalidParameterError(f"{where} has a port outside 1-65535")
    if parsed.scheme == "http" and any(
        host.endswith(f".{d}") or host == d for d in _STEPFUN_DOMAINS
    ):
        raise InvalidParameterError(
            f"{where} uses http:// for StepFun's own host, which would send the key in clear "
            "text: use https://"
        )
    return str(url).strip().rstrip("/") if not parsed.query else str(url).strip()


def resolve_base_url(explicit: str | None = None) -> str:
    """Return the explicit base URL, else the environment's, else the international default."""
    found = find_base_url(explicit)
    return check_base_url(found.value, found.source)


def endpoint_url(base_url: str, path: str) -> httpx.URL:
    """``base_url`` + ``path``, with a query of the base URL kept after the path."""
    base = httpx.URL(base_url)
    return base.copy_with(path=base.path.rstrip("/") + path)


# What a caller may pass as a timeout: seconds (the read budget), an httpx or httpx2 Timeout, or
# a (connect, read, write, pool) tuple.
Timeouts = tuple[float | None, float | None, float | None, float | None]
# Connect fast; reads may idle for as long as a reasoning model thinks. The server itself
# ends requests after 10 minutes with a 503 (docs/wire.md#timeouts-and-limits), so 600 s never
# cuts early.
DEFAULT_TIMEOUTS: Timeouts = (5.0, 600.0, 600.0, 600.0)
# httpx's own pool sizes: enough for a burst of 1,000 streams, and the idle ones kept small, as
# httpcore scans its connections on every request (benchmarks/README.md, "At scale").
DEFAULT_MAX_CONNECTIONS = 1000
DEFAULT_MAX_KEEPALIVE_CONNECTIONS = 100


def timeout_phases(timeout: Any) -> Any:
    """An httpx (or httpx2) Timeout as its (connect, read, write, pool); anything else as it is."""
    if all(hasattr(timeout, phase) for phase in ("connect", "read", "write", "pool")):
        return (timeout.connect, timeout.read, timeout.write, timeout.pool)
    return timeout


def as_timeouts(timeout: Any) -> Timeouts:
    """A caller's timeout as (connect, read, write, pool); None: the defaults."""
    if timeout is None:
        return DEFAULT_TIMEOUTS
    timeout = timeout_phases(timeout)
    if isinstance(timeout, tuple) and len(timeout) == 4:
        for value in timeout:
            check_seconds("timeout", value)
        return timeout
    seconds = check_seconds("timeout", timeout)
    assert seconds is not None  # None took the defaults above
    return (min(5.0, seconds), seconds, seconds, seconds)


def check_seconds(name: str, value: Any, *, zero: bool = False) -> float | None:
    """A number of seconds a wait can take (above 0, or also 0); None stays None."""
    if value is None:
        return None
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not number or not (value >= 0 if zero else value > 0):  # NaN is neither
        least = "of at least 0" if zero else "above 0"
        msg = f"{name}: must be a number of seconds {least}, got {quoted(value)}"
        raise InvalidParameterError(msg)
    if value > threading.TIMEOUT_MAX:  # inf, or beyond what a blocking wait can take
        # A timeout's hint, not a retry delay's; timeout=None takes the defaults (5 s, 600 s).
        unset = "httpx.Timeout(None)" if name == "timeout" else "None"
        hint = f"; {unset} means no limit" if name.endswith("timeout") else ""
        msg = f"{name}: {quoted(value)} seconds is more than a wait can last{hint}"
        raise InvalidParameterError(msg)
    return float(value)


def check_count(name: str, value: Any, low: int, default: int) -> int:
    """An integer setting of at least ``low``; None takes the default."""
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        msg = f"{name}: must be an integer of at least {low}, got {quoted(value)}"
        raise InvalidParameterError(msg)
    if value >= sys.maxsize:  # zlib (the byte cap) and other C code take no more
        raise InvalidParameterError(f"{name}: must be below {sys.maxsize}")
    return value


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything a client is made from, checked once; also the key its clients are kept under.

    Make one with `Settings.make`; the adapters map their fields onto these names.
    """

    api_key: str = field(repr=False)
    base_url: str = DEFAULT_BASE_URL
    timeout: Timeouts = DEFAULT_TIMEOUTS
    max_retries: int = DEFAULT_MAX_RETRIES
    # Extra headers, as pairs (they may hold a proxy's credentials: never shown).
    default_headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    # Seconds a stream may go without a data event (keep-alives don't count); None: no limit.
    stream_idle_timeout: float | None = None
    # Seconds a whole call may take, retries included (a stream: until its headers).
    total_timeout: float | None = None
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    # The shared pool's size (a caller's own client keeps its own).
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    max_keepalive_connections: int = DEFAULT_MAX_KEEPALIVE_CONNECTIONS
    # Where earlier reasoning is echoed: where this server and model take it ("auto", learnt
    # on the first refusal: stepfun_core.history), or always under one field.
    reasoning_echo_field: EchoField = "auto"

    @classmethod
    def make(
        cls,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: Any = None,
        max_retries: int | None = None,
        default_headers: Mapping[str, str] | None = None,
        stream_idle_timeout: float | None = None,
        total_timeout: float | None = None,
        max_response_bytes: int | None = None,
        max_connections: int | None = None,
        max_keepalive_connections: int | None = None,
        reasoning_echo_field: str | None = None,
    ) -> Settings:
        """Check and complete the settings; None takes the environment's value or the default."""
        return cls(
            resolve_api_key(api_key),
            resolve_base_url(base_url),
            as_timeouts(timeout),
            check_count("max_retries", max_retries, 0, DEFAULT_MAX_RETRIES),
            tuple(check_headers(default_headers).items()),
            # 0 is off too, as langchain-openai's stream_chunk_timeout=0 (users bring it).
            check_seconds("stream_idle_timeout", stream_idle_timeout, zero=True) or None,
            check_seconds("total_timeout", total_timeout),
            check_count("max_response_bytes", max_response_bytes, 1, DEFAULT_MAX_RESPONSE_BYTES),
            check_count("max_connections", max_connections, 1, DEFAULT_MAX_CONNECTIONS),
            check_count(
                "max_keepalive_connections",
                max_keepalive_connections,
                0,
                DEFAULT_MAX_KEEPALIVE_CONNECTIONS,
            ),
            one_of("reasoning_echo_field", reasoning_echo_field or "auto", get_args(EchoField)),
        )

    def replace(self, **changes: Any) -> Settings:
        """These settings with some changed (checked like `make`); no change: ``self``."""
        if not changes:
            return self
        if unknown := set(changes) - set(SETTING_NAMES):
            raise InvalidParameterError(f"unknown client settings: {sorted(unknown)}")
        values = {name: getattr(self, name) for name in SETTING_NAMES}
        return Settings.make(**{**values, "default_headers": dict(self.default_headers), **changes})


SETTING_NAMES: tuple[str, ...] = tuple(f.name for f in fields(Settings))
