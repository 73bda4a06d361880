"""Cassette conventions shared by the conftest, the recorder and the hygiene test.

- a YAML serializer that keeps bodies readable: UTF-8 text unescaped (CJK too), multi-line SSE
  streams as block literals; bodies that are not UTF-8 (media) stay ``!!binary``;
- the ``stepfun_json_body`` matcher: JSON bodies compared after normalizing random ids;
- the response-header allow-list applied before recording.
"""

from __future__ import annotations

import inspect
import json
import re
from typing import Any

import yaml
from vcr.serializers import yamlserializer

# The doctor's --record writes cassettes by the same rules: one definition, the doctor's
# (re-exported for the conftest, the recorder and the hygiene test).
from stepfun_core.doctor.cassette import ALLOWED_RESPONSE_HEADERS as ALLOWED_RESPONSE_HEADERS
from stepfun_core.doctor.cassette import REDACTED as REDACTED
from stepfun_core.doctor.cassette import SECRET_REQUEST_HEADERS as SECRET_REQUEST_HEADERS

_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
# uuid4s (tool_example_to_messages tool-call ids) and langchain's random "lc_<uuid|hex>" ids.
_RANDOM_ID = re.compile(rf"(?:lc_(?:run-+)?)?{_UUID}|lc_[0-9a-fA-F]{{32}}")
_NO_BLOCK = re.compile("[\r\x85\u2028\u2029]")


class _ReadableDumper(yaml.SafeDumper):
    """A safe dumper (pure Python: libyaml escapes emoji and refuses block style for them)."""


def _represent_str(dumper: Any, data: str) -> yaml.Node:
    # Block literals can't hold CR or Unicode line separators byte-exactly: quote those instead.
    style = "|" if "\n" in data and not _NO_BLOCK.search(data) else None
    node: yaml.Node = dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)
    return node


_ReadableDumper.add_representer(str, _represent_str)


class ReadableYamlSerializer:
    """Drop-in for vcrpy's ``yaml`` serializer (same loader, so old cassettes load)."""

    @staticmethod
    def serialize(cassette_dict: dict[str, Any]) -> str:
        """Dump a cassette dict to YAML with unicode kept as text."""
        return str(yaml.dump(cassette_dict, Dumper=_ReadableDumper, allow_unicode=True, width=1000))

    @staticmethod
    def deserialize(cassette_string: str) -> Any:
        """Load a cassette with vcrpy's safe loader."""
        return yamlserializer.deserialize(cassette_string)


def normalize_ids(value: Any) -> Any:
    """Replace random ids (uuid4, ``lc_...``) by a placeholder; tool descriptions dedented."""
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


def _body_of(request: Any) -> Any:
    body = request.body
    if body is None or body == b"" or body == "":
        return None
    raw = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)
    try:
        return ("json", normalize_ids(json.loads(raw)))
    except ValueError:
        return ("raw", raw)


def stepfun_json_body(r1: Any, r2: Any) -> None:
    """vcrpy matcher: equal JSON bodies once random ids are normalized (raw text otherwise)."""
    a, b = _body_of(r1), _body_of(r2)
    assert a == b, f"request bodies differ:\n{a!r}\n{b!r}"


def keep_allowed_headers(response: dict[str, Any]) -> dict[str, Any]:
    """``before_record_response``: keep only the allow-listed headers (content-type stays, §3.6)."""
    headers = response.get("headers") or {}
    response["headers"] = {
        k: v for k, v in headers.items() if k.lower() in ALLOWED_RESPONSE_HEADERS
    }
    return response
