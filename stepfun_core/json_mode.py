"""JSON mode in place of a refused ``json_schema``: the schema goes in the prompt instead.

The 2026-06 reference lists ``response_format: json_schema`` for step-3.5-flash, yet a capture
shows it refused with 400 ``input_invalid`` "... must be text or json_object"
(docs/wire.md#disputed). Such a request is sent again in JSON mode with the schema in a system
message (the reply is parsed and checked as before), and the refusal is kept per base URL and
model for the process.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Mapping
from typing import Any

from stepfun_core.errors import BadRequestError, ContextOverflowError, StepFunError

logger = logging.getLogger("stepfun_core")
# The opening of a Markdown code fence a JSON-mode reply may come in (models write the tag in
# either case).
_OPENING_FENCE = re.compile(r"\s*```(?:json)?", re.IGNORECASE)
# (base URL, model) that refused json_schema: their requests go in JSON mode from the start.
_refused: set[tuple[str, str]] = set()
_lock = threading.Lock()


def refuses_json_schema(error: StepFunError) -> bool:
    """True for the API's refusal of ``response_format: json_schema``."""
    # Its words as captured; a schema the server takes but finds fault with is no refusal.
    return (
        isinstance(error, BadRequestError)
        and not isinstance(error, ContextOverflowError)
        and error.error_type == "input_invalid"
        and "response_format" in error.message
        and "json_object" in error.message
    )


def in_json_mode(payload: Mapping[str, Any]) -> dict[str, Any] | None:
    """The payload in JSON mode with its schema in a system message; None without a schema.

    A ``strict`` schema stays refused: JSON mode would answer without the shape it guarantees.
    """
    response_format = payload.get("response_format")
    if not isinstance(response_format, Mapping) or response_format.get("type") != "json_schema":
        return None
    spec = response_format.get("json_schema")
    spec = spec if isinstance(spec, Mapping) else {}
    if spec.get("strict") is True:  # a guarantee of the server that a prompt cannot give
        return None
    about = ": ".join(str(spec[key]) for key in ("name", "description") if spec.get(key))
    instruction = (
        f"Answer with one JSON object that is an instance of this JSON schema"
        f"{f' ({about})' if about else ''}, and "
        f"nothing else:\n{json.dumps(spec.get('schema'), ensure_ascii=False)}"
    )
    messages = list(payload["messages"])
    first = messages[0] if messages else None
    if (
        isinstance(first, Mapping)
        and first.get("role") == "system"
        and isinstance(first.get("content"), str)
    ):  # one system message, as the history had it
        messages[0] = {**first, "content": f"{first['content']}\n\n{instruction}"}
    else:
        messages.insert(0, {"role": "system", "content": instruction})
    return {**payload, "response_format": {"type": "json_object"}, "messages": messages}


def refused_before(base_url: str, payload: Mapping[str, Any]) -> bool:
    """True if this server and model refused ``json_schema`` earlier in the process."""
    return (base_url, str(payload.get("model"))) in _refused


def learn_refusal(base_url: str, payload: Mapping[str, Any]) -> None:
    """Keep that this server and model refuse ``json_schema`` (logged once)."""
    key = (base_url, str(payload.get("model")))
    with _lock:
        if key in _refused:
            return
        _refused.add(key)
    logger.warning(
        "the API refused response_format json_schema for %s; sending the schema in the prompt "
        "with json_object from now on",
        key[1],
    )


def unfenced(content: str | None) -> str:
    """The JSON of a reply, whole or streamed so far, out of any Markdown code fence."""
    text = content or ""
    opening = _OPENING_FENCE.match(text)
    if opening is None:
        return text.strip()
    # The closing fence as far as it has arrived: JSON never ends in a backtick, and one left at
    # the end of a stream's text would make its partial object unreadable.
    return text[opening.end() :].rstrip().rstrip("`").strip()
