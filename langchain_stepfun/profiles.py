"""LangChain model profiles built from the core's model catalog."""

from __future__ import annotations

from langchain_core.language_models import ModelProfile

from stepfun_core import get_model_info


def model_profile(model: str) -> ModelProfile:
    """What ``model`` can do, in LangChain's profile keys (unknown models get safe defaults)."""
    info = get_model_info(model)
    profile = ModelProfile(
        max_input_tokens=info.context_window,
        text_inputs=True,
        image_inputs=info.image_input,
        image_url_inputs=info.image_input,
        audio_inputs=info.audio_input,
        video_inputs=info.video_input,
        pdf_inputs=False,
        # Tool messages take text only (the API's tool content is a string).
        image_tool_message=False,
        pdf_tool_message=False,
        reasoning_output=info.reasoning,
        text_outputs=True,
        tool_calling=info.tool_calling,
        tool_choice=info.tool_calling,
        tool_call_streaming=info.tool_calling,
        structured_output=info.json_schema,
        temperature=True,
    )
    if info.max_output_tokens is not None:
        profile["max_output_tokens"] = info.max_output_tokens
    if info.reasoning_efforts:
        profile["reasoning_effort_levels"] = list(info.reasoning_efforts)
    if info.default_reasoning_effort:
        profile["reasoning_effort_default"] = info.default_reasoning_effort
    return profile
