"""What each StepFun model can do, as the docs state it and as the server states it.

The built-in entries come from public sources (docs/wire.md#models names each). A K of a window
is counted as 1,000 tokens, the smaller reading, so trimming never overshoots. What ``GET
/v1/models`` states (`ServedModel`, given to `learn`) wins over the built-in entry thereafter.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

K = 1000
RETIRED_ON = "2026-07-08"  # StepFun's model-migration page (docs/wire.md#retired-models)
# The current multimodal reasoning models: images and videos in, three effort tiers.
_SEES_AND_THINKS: dict[str, Any] = {
    "image_input": True,
    "video_input": True,
    "reasoning": True,
    "reasoning_efforts": ("low", "medium", "high"),
    "default_reasoning_effort": "medium",
    "json_schema": True,
}
_NO_TOOLS: dict[str, Any] = {"tool_calling": False, "model_type": "audio"}
# /v1/models' model_type values that are chat models (docs/wire.md#models-endpoint).
_MODEL_TYPES = {"大语言模型": "chat", "路由模型": "router"}


class RetiredModelWarning(UserWarning):
    """A model StepFun has retired (or no longer lists) was asked for."""


@dataclass(frozen=True)
class ModelInfo:
    """Capabilities of one model; unknown names get these defaults (``known=False``)."""

    name: str
    context_window: int = 32 * K
    max_output_tokens: int | None = None
    image_input: bool = False
    video_input: bool = False
    audio_input: bool = False
    reasoning: bool = False
    reasoning_efforts: tuple[str, ...] = ()
    default_reasoning_effort: str | None = None
    tool_calling: bool = True
    # ``response_format: json_schema``; even where documented, a server may refuse it.
    json_schema: bool = False
    # "chat", "router" (dispatches each request to another model) or "audio".
    model_type: str = "chat"
    # The date StepFun retired the model ("" when it only stopped listing it), and the model
    # it recommends instead.
    retired: str | None = None
    replacement: str | None = None
    known: bool = True


@dataclass(frozen=True)
class ServedModel:
    """One entry of ``GET /v1/models``; a field the server did not send is None."""

    id: str
    owned_by: str | None = None
    created: int | None = None
    model_type: str | None = None
    max_input_tokens: int | None = None
    reasoning: bool | None = None
    image_input: bool | None = None
    reasoning_efforts: tuple[str, ...] | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def known_fields(self) -> bool:
        """True if the server stated anything beyond the id (the documented shape does not)."""
        stated = (self.max_input_tokens, self.reasoning, self.image_input, self.reasoning_efforts)
        return self.model_type is not None or any(v is not None for v in stated)


def _retired(name: str, replacement: str, window: int = 32 * K, **flags: Any) -> ModelInfo:
    return ModelInfo(name, window, retired=RETIRED_ON, replacement=replacement, **flags)


def _unlisted(name: str, window: int, **flags: Any) -> ModelInfo:
    return ModelInfo(name, window, retired="", **flags)


_BUILT_IN: dict[str, ModelInfo] = {
    m.name: m
    for m in (
        ModelInfo("step-3.5-flash", 256 * K, reasoning=True, json_schema=True),
        ModelInfo(
            "step-3.5-flash-2603",
            256 * K,
            reasoning=True,
            reasoning_efforts=("low", "high"),
            json_schema=True,
        ),
        ModelInfo("step-3.7-flash", 256 * K, **_SEES_AND_THINKS),
        ModelInfo("step-5-preview", 1000 * K, max_output_tokens=64 * K, **_SEES_AND_THINKS),
        # A router: each request goes to one of its engines, so the smaller window holds.
        ModelInfo("step-router-v1", 256 * K, model_type="router"),
        ModelInfo("step-1o-turbo-vision", 32 * K, image_input=True, video_input=True),
        # Audio models: no public window; 32K is a placeholder.
        ModelInfo("step-audio-2", 32 * K, audio_input=True, model_type="audio"),
        ModelInfo("step-audio-2-mini", 32 * K, audio_input=True, **_NO_TOOLS),
        ModelInfo("step-1o-audio", 32 * K, audio_input=True, model_type="audio"),
        ModelInfo("stepaudio-2.5-chat", 32 * K, audio_input=True, **_NO_TOOLS),
        ModelInfo("step-audio-r1.1", 32 * K, audio_input=True, reasoning=True, **_NO_TOOLS),
        _unlisted("step-r1-v-mini", 100 * K, image_input=True, reasoning=True, tool_calling=False),
        _unlisted("step-1-128k", 128 * K),
        _unlisted("step-1-256k", 256 * K),
        _unlisted("step-1-flash", 8 * K),
        _unlisted("step-2-16k-exp", 16 * K),
        _retired("step-3", "step-3.7-flash", 64 * K, image_input=True, reasoning=True),
        _retired("step-1o-vision-32k", "step-1o-turbo-vision", image_input=True),
        _retired("step-1-8k", "step-1o-turbo-vision", 8 * K),
        _retired("step-1-32k", "step-1o-turbo-vision"),
        _retired("step-1v-8k", "step-1o-turbo-vision", 8 * K, image_input=True),
        _retired("step-1v-32k", "step-1o-turbo-vision", image_input=True),
        _retired("step-2-mini", "step-1o-turbo-vision", 8 * K),
        _retired("step-2-16k", "step-1o-turbo-vision", 16 * K),
    )
}
# Longest names first, so "step-3.5-flash-2603-x" matches its own family before "step-3.5-flash".
_FAMILIES = sorted(_BUILT_IN, key=len, reverse=True)
# What servers stated (`learn`), by name: it wins over the built-in entry.
_learnt: dict[str, ModelInfo] = {}
_warned: set[str] = set()


def get_model_info(name: str) -> ModelInfo:
    """Return what is known of a model; unknown names get safe defaults, never an error."""
    info = _learnt.get(name) or _BUILT_IN.get(name)
    if info is not None:
        return info
    # A dated variant such as "step-3.7-flash-2611" inherits its family's entry.
    for known in _FAMILIES:
        if name.startswith(known + "-"):
            return replace(_BUILT_IN[known], name=name, known=False, retired=None)
    return ModelInfo(name, known=False)


def known_models() -> list[str]:
    """Names of the models in the catalog (built in, and learnt from servers)."""
    return sorted(_BUILT_IN.keys() | _learnt.keys())


def warn_if_retired(name: str) -> None:
    """Warn once per process when a retired or unlisted model is asked for."""
    info = get_model_info(name)
    if info.retired is None or name in _warned:
        return
    _warned.add(name)
    when = f"on {info.retired}" if info.retired else "(it is no longer listed)"
    instead = f"; StepFun recommends {info.replacement}" if info.replacement else ""
    warnings.warn(
        f"StepFun retired the model {name!r} {when}{instead}", RetiredModelWarning, stacklevel=3
    )


def parse_models(body: Any) -> list[ServedModel]:
    """The entries of a ``GET /v1/models`` body, read leniently (odd entries are skipped)."""
    data = body.get("data") if isinstance(body, Mapping) else None
    entries = data if isinstance(data, list) else ()
    return [_served(entry) for entry in entries if isinstance(entry, Mapping) and _id(entry)]


def _id(entry: Mapping[str, Any]) -> str | None:
    value = entry.get("id")
    return value if isinstance(value, str) and value else None


def _served(entry: Mapping[str, Any]) -> ServedModel:
    def typed(key: str, kind: type) -> Any:
        value = entry.get(key)
        ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
        return value if ok else None

    efforts = entry.get("reasoning_effort_support_list")
    efforts = tuple(e for e in efforts if isinstance(e, str)) if isinstance(efforts, list) else None
    return ServedModel(
        id=str(_id(entry)),
        owned_by=typed("owned_by", str),
        created=typed("created", int),
        model_type=typed("model_type", str),
        max_input_tokens=typed("max_input_tokens", int),
        reasoning=typed("enable_reason", bool),
        image_input=typed("enable_vision_input", bool),
        reasoning_efforts=efforts,
        raw=dict(entry),
    )


def merged(info: ModelInfo, served: ServedModel) -> ModelInfo:
    """A catalog entry with what the server stated put over it (unstated fields kept)."""
    stated: dict[str, Any] = {
        "context_window": served.max_input_tokens,
        "reasoning": served.reasoning,
        "image_input": served.image_input,
        "reasoning_efforts": served.reasoning_efforts,
        "model_type": _MODEL_TYPES.get(served.model_type or "", served.model_type),
    }
    changes = {key: value for key, value in stated.items() if value is not None}
    if changes.get("context_window", 1) <= 0:
        del changes["context_window"]
    # Listed by the server: it is served, whatever the docs said; known if the server said more.
    known = info.known or served.known_fields()
    return replace(info, **changes, name=served.id, known=known, retired=None, replacement=None)


def learn(models: Iterable[ServedModel]) -> list[ModelInfo]:
    """Put what a server stated into this process's catalog; return the entries it changed."""
    entries = [merged(get_model_info(served.id), served) for served in models]
    _learnt.update((entry.name, entry) for entry in entries)
    return entries
