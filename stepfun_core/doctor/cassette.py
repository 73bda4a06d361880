"""``--record DIR``: each probe's exchanges as a cassette in the repository's format.

The format is vcrpy's (what pytest-recording replays), with the repository's conventions
(``tests/replica/cassette_format.py``; a test keeps the constants below equal to those): the
``Authorization`` header redacted, only allow-listed response headers kept, bodies as readable
text. The key is also replaced wherever else it might appear. So a maintainer can record a
live run into ``cassettes/doctor/``, see the diff against the replica's, and replay it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from stepfun_core.doctor.capture import Exchange
from stepfun_core.doctor.yaml_text import dump

REDACTED = "REDACTED"
SECRET_REQUEST_HEADERS = ("authorization", "api-key", "x-api-key")
ALLOWED_RESPONSE_HEADERS = frozenset(
    {"content-type", "x-trace-id", "x-stepfun-replica", "retry-after"}
)


def _text(data: bytes, secrets: Sequence[str]) -> str | bytes:
    """A body as text with secrets replaced; bytes (stored as !!binary) if it is not UTF-8."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return data
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    return text


def _headers(pairs: Iterable[tuple[str, str]], keep: Any) -> dict[str, list[str]]:
    headers: dict[str, list[str]] = {}
    for name, value in pairs:
        if keep(name.lower()):
            headers.setdefault(name.lower(), []).append(value)
    return headers


def interaction(exchange: Exchange, secrets: Sequence[str]) -> dict[str, Any]:
    """One exchange as a vcrpy interaction, redacted."""
    request_headers = _headers(exchange.request_headers, lambda name: True)
    for name in SECRET_REQUEST_HEADERS:
        if name in request_headers:
            request_headers[name] = [REDACTED]
    return {
        "request": {
            "body": _text(exchange.request_body, secrets) if exchange.request_body else None,
            "headers": request_headers,
            "method": exchange.method,
            "uri": exchange.url,
        },
        "response": {
            "body": {"string": _text(bytes(exchange.body), secrets)},
            "headers": _headers(
                exchange.response_headers, lambda name: name in ALLOWED_RESPONSE_HEADERS
            ),
            "status": {"code": exchange.status, "message": exchange.reason},
        },
    }


def write_cassette(path: Path, exchanges: Sequence[Exchange], secrets: Sequence[str]) -> None:
    """Write the exchanges (those that got a response) as one cassette file."""
    secrets = [s for s in secrets if s]
    answered = [e for e in exchanges if e.status is not None]
    cassette = {"interactions": [interaction(e, secrets) for e in answered], "version": 1}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dump(cassette), encoding="utf-8")
