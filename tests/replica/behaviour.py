"""What a test told the replica beyond one-shot faults: keys, served models and wire deviations.

A fresh `Behaviour` (what `Replica.reset()` installs) changes nothing: any non-empty bearer key
is accepted, the default model list is served and every model is answered, and the wire shapes
are those of docs/wire.md. The doctor's tests use the rest:

- keys per path prefix, so that one replica (or two) can play the regions and the Step Plan URLs
  (a key of the other region gets 401 ``invalid_api_key``, docs/wire.md#authentication;
- a served model list, so that a model can be missing for a key;
- named deviations from the documented wire shapes and refused parameters, so that every probe
  of ``stepfun doctor --probe`` can be shown to say "differs" and "unsupported".
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tests.replica.brain import Choice, Reply

DEVIATIONS: dict[str, str] = {
    "stream_finish_null": "current-shape chunks carry finish_reason null before the last one",
    "legacy_as_current": "step-1/step-2 models stream the current shape",
    "reasoning_as_reasoning_content": "reasoning arrives as reasoning_content, never reasoning",
    "ignore_reasoning_format": "reasoning_format is ignored: only reasoning comes back",
    "tool_choice_ignored": "tool_choice is ignored: tools are called when the text names them",
    "no_tool_calls": "the model answers in text instead of calling tools",
    "single_tool_call": "at most one tool call per reply",
    "legacy_tool_deltas": "current models stream tool-call deltas without index and with '' ids",
    "json_in_fence": "JSON answers come wrapped in a ```json fence",
    "refuse_reasoning_echo": "assistant messages carrying reasoning_content are refused (400)",
    "refuse_reasoning_field_echo": "assistant messages carrying reasoning are refused (400)",
    "require_reasoning_echo": "assistant tool-call messages without reasoning echoed get a 400",
    "no_cached_tokens": "usage never reports cached tokens",
    "web_search_as_function": "web_search calls come back as type function, without results",
    "bad_model_400": "an unknown model is a 400 request_params_invalid, not a 404 model_invalid",
    "flat_error_bodies": 'error bodies lack the {"error": ...} envelope',
}

Problem = tuple[int, str, str]  # status, message, error type


@dataclass
class Behaviour:
    """Keys per path prefix, the served models, active deviations and refused parameters."""

    keys: dict[str, frozenset[str]] = field(default_factory=dict)
    models: tuple[str, ...] | None = None
    deviations: frozenset[str] = frozenset()
    refusals: tuple[tuple[str, Any], ...] = ()
    # GET /models also states each model's type, window, reasoning, image input and effort
    # tiers, as live endpoints do beyond the documented shape (docs/wire.md#models-endpoint).
    model_details: bool = False

    # keys and models -------------------------------------------------------------------------
    def key_accepted(self, token: str, path: str) -> bool:
        """Whether the key may use this path: the longest matching prefix's keys decide."""
        prefixes = [p for p in self.keys if path.startswith(p)]
        if not prefixes:
            return True
        return token in self.keys[max(prefixes, key=len)]

    def served(self, default: Iterable[str]) -> list[str]:
        """The model ids ``GET /models`` lists."""
        return list(default if self.models is None else self.models)

    def model_problem(self, model: str) -> Problem | None:
        """A model outside an explicit served list is unknown to this key."""
        if self.models is None or model in self.models:
            return None
        return self.unknown_model(model)

    def unknown_model(self, model: str) -> Problem:
        """The error for a model that does not exist or that the key may not use (§2.2)."""
        if "bad_model_400" in self.deviations:
            return 400, f"model {model} not supported", "request_params_invalid"
        message = f'The model "{model}" does not exist or you do not have access to it.'
        return 404, message, "model_invalid"

    # requests --------------------------------------------------------------------------------
    def request_problem(self, body: Mapping[str, Any]) -> Problem | None:
        """A 400 for a refused parameter or a refused (or missing) reasoning echo."""
        for name, value in self.refusals:
            if name in body and _matches(body[name], value):
                return 400, f"Request param: {name} is invalid", "request_params_invalid"
        assistants = [m for m in body["messages"] if m.get("role") == "assistant"]
        if "refuse_reasoning_echo" in self.deviations and any(
            "reasoning_content" in m for m in assistants
        ):
            return 400, "Request param: reasoning_content is invalid", "request_params_invalid"
        if "refuse_reasoning_field_echo" in self.deviations and any(
            "reasoning" in m for m in assistants
        ):
            # The body a public report quotes for a message the API does not recognise.
            return 400, "Unrecognized chat message.", "request_params_invalid"
        if "require_reasoning_echo" in self.deviations and any(
            m.get("tool_calls") and not (m.get("reasoning_content") or m.get("reasoning"))
            for m in assistants
        ):
            message = "reasoning_content is required on assistant messages with tool_calls"
            return 400, message, "request_params_invalid"
        return None

    def adjust_request(self, body: dict[str, Any]) -> dict[str, Any]:
        """The request as a deviating server would read it."""
        body = dict(body)
        if "tool_choice_ignored" in self.deviations:
            body.pop("tool_choice", None)
        if "ignore_reasoning_format" in self.deviations:
            body.pop("reasoning_format", None)
        if "no_tool_calls" in self.deviations:
            body["tool_choice"] = "none"
        return body

    # replies ---------------------------------------------------------------------------------
    def adjust_reply(self, reply: Reply) -> Reply:
        """Deviations of the abstract reply, shared by both wire shapes."""
        if "legacy_as_current" in self.deviations:
            reply = dataclasses.replace(reply, legacy=False)
        if "single_tool_call" in self.deviations:
            reply = dataclasses.replace(reply, choices=[_one_call(c) for c in reply.choices])
        if "json_in_fence" in self.deviations:
            reply = dataclasses.replace(reply, choices=[_fenced(c) for c in reply.choices])
        return reply

    def adjust_payload(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Deviations of one rendered JSON payload: a completion body or a stream chunk."""
        active = self.deviations
        if "no_cached_tokens" in active and isinstance(payload.get("usage"), dict):
            usage = dict(payload["usage"])
            usage.pop("cached_tokens", None)
            usage.pop("prompt_tokens_details", None)
            payload = {**payload, "usage": usage}
        for choice in payload.get("choices") or []:
            part = choice.get("message") or choice.get("delta") or {}
            if "reasoning_as_reasoning_content" in active and "reasoning" in part:
                part["reasoning_content"] = part.pop("reasoning")
            for call in part.get("tool_calls") or []:
                _adjust_call(call, active)
            is_chunk = payload.get("object") == "chat.completion.chunk"
            if "stream_finish_null" in active and is_chunk and "finish_reason" not in choice:
                choice["finish_reason"] = None
        return payload

    def error_body(self, message: str, error_type: str) -> dict[str, Any]:
        """The JSON of an error reply (the envelope of §2.1 unless told otherwise)."""
        if "flat_error_bodies" in self.deviations:
            return {"message": message, "type": error_type}
        return {"error": {"message": message, "type": error_type}}


def _matches(sent: Any, refused: Any) -> bool:
    """A refusal of ``None`` refuses any value; else the value, its ``type`` or a list item's."""
    if refused is None or sent == refused:
        return True
    if isinstance(sent, Mapping):
        return sent.get("type") == refused
    if isinstance(sent, list):
        return any(_matches(item, refused) for item in sent if item is not None)
    return False


def _adjust_call(call: dict[str, Any], active: frozenset[str]) -> None:
    if "web_search_as_function" in active and call.get("type") == "web_search":
        call["type"] = "function"
        call.get("function", {}).pop("results", None)
    elif "legacy_tool_deltas" in active and "index" in call and call.get("type") != "web_search":
        # The step-1 quirk on a current model (docs/wire.md#stream-tool-calls): no index, "" id
        # and type.
        del call["index"]
        call["id"] = ""
        call["type"] = ""


def _one_call(choice: Choice) -> Choice:
    return dataclasses.replace(choice, tool_calls=choice.tool_calls[:1])


def _fenced(choice: Choice) -> Choice:
    text = "".join(choice.content)
    if not text.startswith(("{", "[")):
        return choice
    return dataclasses.replace(choice, content=["```json\n", *choice.content, "\n```"])
