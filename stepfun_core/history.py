"""Assistant turns of the history as the API takes them back: text, tool calls, reasoning.

Earlier reasoning is echoed under ``reasoning``, as StepFun's own client does; whether a server
takes it there, as ``reasoning_content`` (a public report has 400 "Unrecognized chat message."
for it) or not at all is unsettled (docs/wire.md#reasoning-echo). So a request refused with
``request_params_invalid`` is sent again with the other field, then without; what worked is
kept per base URL and model for the process.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from typing import Any, Literal, get_args

# When earlier reasoning is sent back on assistant messages: on those that called tools (the
# official cookbook echoes it there), on every one, or never.
EchoReasoning = Literal["tool_calls", "always", "never"]
ECHO_REASONING: tuple[EchoReasoning, ...] = get_args(EchoReasoning)
# Under which field: the one that works for this server and model ("auto"), or a pinned one.
EchoField = Literal["auto", "reasoning", "reasoning_content"]
ECHO_FIELDS = ("reasoning", "reasoning_content")

logger = logging.getLogger("stepfun_core")
# (base URL, model) -> the echo field that server took ("" for none): learnt once per process.
_learnt: dict[tuple[str, str], str] = {}
_lock = threading.Lock()


def wire_tool_call(call_id: str | None, name: str | None, arguments: Any) -> dict[str, Any]:
    """A tool call of the history in the wire shape; arguments as JSON text (UTF-8 kept).

    Arguments that are not JSON (a set, bytes, a cycle, too deep) raise InvalidParameterError
    naming the call. NaN and Infinity go back as written: models write them, the frameworks
    parse them, and the API takes arguments as a string (docs/wire.md#reply-tool-calls).
    """
    if not isinstance(arguments, str):
        # Imported here: jsonio's imports (errors, surrogates, types) come back to this module.
        from stepfun_core.jsonio import json_text  # noqa: PLC0415 (an import cycle)

        where = f"tool call {call_id or name!r} arguments"
        arguments = json_text(arguments or {}, where, allow_nan=True)
    return {
        "id": call_id or "",
        "type": "function",
        "function": {"name": name or "", "arguments": arguments},
    }


def unwritten_text(extra: Mapping[str, Any]) -> str:
    """An assistant turn's words kept beside its text, in its ``additional_kwargs``.

    An audio answer's transcript, else a refusal the API stated (OpenAI's ``message.refusal``):
    sent back as the turn's text when it has none, so the model sees what it said.
    """
    audio, refusal = extra.get("audio"), extra.get("refusal")
    transcript = audio.get("transcript") if isinstance(audio, Mapping) else None
    return next((words for words in (transcript, refusal) if isinstance(words, str) and words), "")


def assistant_message(
    content: str, tool_calls: Sequence[dict[str, Any]], reasoning: str, echo: EchoReasoning
) -> dict[str, Any]:
    """An assistant message of the history, with its reasoning echoed as ``echo`` says.

    Content stays ``""`` beside tool calls, as the API itself answers them.
    """
    wire: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls:
        wire["tool_calls"] = list(tool_calls)
    if reasoning and (echo == "always" or (echo == "tool_calls" and tool_calls)):
        wire["reasoning"] = reasoning
    return wire


def _echoed(message: Any) -> bool:
    return isinstance(message, Mapping) and any(field in message for field in ECHO_FIELDS)


def with_echo_field(payload: Mapping[str, Any], field: str) -> dict[str, Any]:
    """The payload with every echoed reasoning moved under ``field`` ("" drops it)."""
    return {
        **payload,
        "messages": [_moved(m, field) if _echoed(m) else m for m in payload["messages"]],
    }


def _moved(message: Mapping[str, Any], field: str) -> dict[str, Any]:
    reasoning = next(message[f] for f in ECHO_FIELDS if f in message)
    moved = {k: v for k, v in message.items() if k not in ECHO_FIELDS}
    if field:
        moved[field] = reasoning
    return moved


def echo_variants(payload: Mapping[str, Any], base_url: str, pinned: EchoField) -> list[str]:
    """The echo fields to try, in order, for a payload ([] when it echoes nothing)."""
    if not any(_echoed(m) for m in payload.get("messages") or ()):
        return []
    if pinned != "auto":
        return [pinned]
    learnt = _learnt.get((base_url, str(payload.get("model"))))
    return [learnt] if learnt is not None else [*ECHO_FIELDS, ""]


def log_echo_refused(field: str | None, next_field: str | None) -> None:
    """Log at DEBUG that the API refused the reasoning echoed under one field, and what is next."""
    then = f"echoing it as {next_field!r}" if next_field else "not echoing it"
    logger.debug("the API refused the reasoning echoed as %r; %s", field, then)


def learn_echo_field(base_url: str, model: str, field: str, tried: int) -> None:
    """Keep the field a server took after ``tried`` refusals (logged once, when it adapted)."""
    key = (base_url, model)
    with _lock:
        if key in _learnt:
            return
        _learnt[key] = field
    if tried:
        logger.warning(
            "the API refused earlier reasoning echoed as %s; %s for %s from now on",
            " or ".join(ECHO_FIELDS[:tried]),
            f"sending it as {field!r}" if field else "not echoing it",
            model,
        )
