"""The repository's cassettes, in one place: how they are written, read, matched and redacted.

The format is vcrpy's (what pytest-recording and the tour replay), with these conventions:

- readable YAML: UTF-8 text kept as text (CJK, emoji), multi-line bodies (SSE streams) as block
  literals; bodies that are not UTF-8 (media) stay ``!!binary``;
- the ``Authorization`` header (and the other key headers) redacted; of the response headers
  only an allow-list kept;
- request bodies matched as JSON once random ids (uuid4s, LangChain's ``lc_...``) are
  normalized.

The test suite, the tour in ``examples/`` and ``stepfun doctor --record`` all use this module,
which needs PyYAML only (the ``doctor`` extra; the ``examples`` extra includes it).
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from stepfun_core.doctor.account import REPLICA_HEADER
from stepfun_core.redact import without_secret

if TYPE_CHECKING:
    from stepfun_probes.capture import Exchange

REDACTED = "REDACTED"
SECRET_REQUEST_HEADERS = ("authorization", "api-key", "x-api-key")
ALLOWED_RESPONSE_HEADERS = frozenset({"content-type", "x-trace-id", REPLICA_HEADER, "retry-after"})

_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
# uuid4s (tool_example_to_messages tool-call ids) and langchain's random "lc_<uuid|hex>" ids.
_RANDOM_ID = re.compile(rf"(?:lc_(?:run-+)?)?{_UUID}|lc_[0-9a-fA-F]{{32}}")
# Line breaks other than "\n": a block literal reads them back as "\n", and PyYAML writes NEL
# and the Unicode separators unescaped in single quotes (read back as spaces). Double quotes
# escape them.
_OTHER_BREAKS = re.compile("[\r\x85\u2028\u2029]")
# The safe loader, libyaml's when PyYAML has it (vcrpy's, without its python-tag extensions:
# cassettes written here hold none).
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


# --- the YAML --------------------------------------------------------------------------------
class _ReadableDumper(yaml.SafeDumper):
    """A safe dumper (pure Python: libyaml escapes emoji and refuses block style for them)."""


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    style = '"' if _OTHER_BREAKS.search(data) else "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_ReadableDumper.add_representer(str, _represent_str)


class ReadableYamlSerializer:
    """A vcrpy serializer (register it as ``yaml``: every cassette of vcrpy's loads)."""

    @staticmethod
    def serialize(cassette_dict: dict[str, Any]) -> str:
        """A cassette as readable YAML."""
        return str(yaml.dump(cassette_dict, Dumper=_ReadableDumper, allow_unicode=True, width=1000))

    @staticmethod
    def deserialize(cassette_string: str) -> Any:
        """A cassette read back (a safe loader)."""
        return yaml.load(cassette_string, Loader=_LOADER)


# --- matching and recording ------------------------------------------------------------------
def normalize_ids(value: Any) -> Any:
    """Random ids (uuid4, ``lc_...``) replaced by a placeholder; tool descriptions dedented."""
    if isinstance(value, str):
        return _RANDOM_ID.sub("<random-id>", value)
    if isinstance(value, list):
        return [normalize_ids(v) for v in value]
    if isinstance(value, dict):
        return {
            # Python 3.13 strips a docstring's indentation when it compiles it, so a tool's
            # description differs from the one recorded on 3.11 by its indentation alone.
            k: inspect.cleandoc(v)
            if k == "description" and isinstance(v, str)
            else normalize_ids(v)
            for k, v in value.items()
        }
    return value


def tool_results_in_call_order(body: Any) -> Any:
    """The results of parallel tool calls (a run of tool messages) in one order.

    Frameworks run parallel tools concurrently (LlamaIndex's FunctionAgent in a thread pool), so
    their results are sent in whichever order they finished: the run is compared as a set.
    """
    messages = body.get("messages") if isinstance(body, dict) else None
    if not isinstance(messages, list):
        return body
    ordered: list[Any] = []
    run: list[Any] = []
    for message in [*messages, None]:
        if isinstance(message, dict) and message.get("role") == "tool":
            run.append(message)
            continue
        # By the whole message: ids that look random are all "<random-id>" by now.
        ordered += sorted(run, key=lambda m: json.dumps(m, sort_keys=True))
        run = []
        if message is not None:
            ordered.append(message)
    return {**body, "messages": ordered}


def _body_of(request: Any) -> Any:
    body = request.body
    if body in (None, b"", ""):
        return None
    raw = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)
    try:
        return ("json", tool_results_in_call_order(normalize_ids(json.loads(raw))))
    except ValueError:
        return ("raw", raw)


def stepfun_json_body(r1: Any, r2: Any) -> None:
    """A vcrpy matcher: equal JSON bodies once random ids are normalized (raw text otherwise)."""
    a, b = _body_of(r1), _body_of(r2)
    assert a == b, f"request bodies differ:\n{a!r}\n{b!r}"


def keep_allowed_headers(response: dict[str, Any]) -> dict[str, Any]:
    """``before_record_response``: keep only the allow-listed headers (content-type stays)."""
    headers = response.get("headers") or {}
    response["headers"] = {
        k: v for k, v in headers.items() if k.lower() in ALLOWED_RESPONSE_HEADERS
    }
    return response


# --- the doctor's --record -------------------------------------------------------------------
def _text(data: bytes, secrets: Sequence[str]) -> str | bytes:
    """A body as text with secrets replaced; bytes (stored as !!binary) if it is not UTF-8."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return data
    for secret in secrets:
        text = without_secret(text, secret, REDACTED, shortest=1)  # as written, or JSON-escaped
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
    """Write the exchanges (those that got a response) as one cassette; the secrets replaced."""
    secrets = [s for s in secrets if s]
    answered = [e for e in exchanges if e.status is not None]
    cassette = {"interactions": [interaction(e, secrets) for e in answered], "version": 1}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(ReadableYamlSerializer.serialize(cassette), encoding="utf-8")
