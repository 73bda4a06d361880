"""What each StepFun model can do: context window, inputs, reasoning tiers, tool calling."""

from __future__ import annotations

from dataclasses import dataclass, replace

K = 1024


@dataclass(frozen=True)
class ModelInfo:
    """Capabilities of one model (stepfun-wire.md §3.1)."""

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
    # ``response_format: json_schema``: documented for the current generation only; older and
    # unknown models are assumed to take json_object alone (an unconfirmed assumption that
    # `stepfun doctor --probe` checks on a live key).
    json_schema: bool = False
    known: bool = True


_THREE_TIERS = ("low", "medium", "high")

_MODELS: dict[str, ModelInfo] = {
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
        ModelInfo(
            "step-3.7-flash",
            256 * K,
            image_input=True,
            video_input=True,
            reasoning=True,
            reasoning_efforts=_THREE_TIERS,
            default_reasoning_effort="medium",
            json_schema=True,
        ),
        ModelInfo(
            "step-5-preview",
            1024 * K,
            max_output_tokens=64 * K,
            image_input=True,
            video_input=True,
            reasoning=True,
            reasoning_efforts=_THREE_TIERS,
            json_schema=True,
        ),
        ModelInfo("step-3", 64 * K, image_input=True, reasoning=True, json_schema=True),
        ModelInfo("step-r1-v-mini", 100 * K, image_input=True, reasoning=True, tool_calling=False),
        ModelInfo("step-1o-turbo-vision", 32 * K, image_input=True, video_input=True),
        ModelInfo("step-1o-vision-32k", 32 * K, image_input=True),
        ModelInfo("step-router-v1", 256 * K, reasoning=True, json_schema=True),
        ModelInfo("step-1-8k", 8 * K),
        ModelInfo("step-1-32k", 32 * K),
        ModelInfo("step-1-128k", 128 * K),
        ModelInfo("step-1-256k", 256 * K),
        ModelInfo("step-1-flash", 8 * K),
        ModelInfo("step-1v-8k", 8 * K, image_input=True),
        ModelInfo("step-1v-32k", 32 * K, image_input=True),
        ModelInfo("step-2-mini", 8 * K),
        ModelInfo("step-2-16k", 16 * K),
        ModelInfo("step-2-16k-exp", 16 * K),
        ModelInfo("step-audio-2", 32 * K, audio_input=True),
        ModelInfo("step-1o-audio", 32 * K, audio_input=True),
        ModelInfo("stepaudio-2.5-chat", 32 * K, audio_input=True),
        ModelInfo("step-audio-r1.1", 32 * K, audio_input=True, reasoning=True),
    )
}


# Longest names first, so "step-3.5-flash-2603-x" matches its own family before "step-3.5-flash".
_FAMILIES = sorted(_MODELS.items(), key=lambda item: -len(item[0]))


def get_model_info(name: str) -> ModelInfo:
    """Return what is known of a model; unknown names get safe defaults, never an error."""
    info = _MODELS.get(name)
    if info is not None:
        return info
    # A dated variant such as "step-3.7-flash-2611" inherits its family's entry.
    for known, candidate in _FAMILIES:
        if name.startswith(known + "-"):
            return replace(candidate, name=name, known=False)
    return ModelInfo(name, known=False)


def known_models() -> list[str]:
    """Names of the models in the catalog."""
    return sorted(_MODELS)
