"""LangChain's standard integration tests for ChatStepFun, replayed from cassettes.

Every test in this module runs under VCR (``pytestmark``): ``cassettes/langchain/`` holds one
cassette per test, recorded once (``python tests/record.py tests/langchain``) and replayed
offline. The media the multimodal tests download come from ``tests/media/`` (see the
``offline_media`` fixture in conftest.py).

Two classes: the main one on ``step-3.7-flash`` (text, images, video, reasoning, tools) and one
on the audio model ``step-audio-2`` that runs only the audio test (no StepFun model takes both
images and audio; everything else is covered by the main class).
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessage
from langchain_tests.integration_tests import ChatModelIntegrationTests

from langchain_stepfun import ChatStepFun

pytestmark = [pytest.mark.vcr, pytest.mark.usefixtures("offline_media")]

# A prompt over 256 tokens, the unit of StepFun's prompt cache (docs/wire.md#usage).
LONG_PROMPT = "Summarize this text in one sentence. " + " ".join(
    f"Sentence {i} describes the orbit of a small moon around a gas giant." for i in range(60)
)


class TestChatStepFunStandard(ChatModelIntegrationTests):
    @property
    def chat_model_class(self) -> type[ChatStepFun]:
        return ChatStepFun

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"model": "step-3.7-flash"}

    @property
    def has_tool_choice(self) -> bool:
        return True

    @property
    def supports_json_mode(self) -> bool:
        return True

    @property
    def supports_image_inputs(self) -> bool:
        return True

    @property
    def supports_image_urls(self) -> bool:
        return True

    @property
    def supports_audio_inputs(self) -> bool:
        return False  # step-3.7-flash takes no audio; see TestChatStepFunAudioStandard

    @property
    def supports_video_inputs(self) -> bool:
        return True

    @property
    def model_override_value(self) -> str:
        return "step-3.5-flash"

    @property
    def enable_vcr_tests(self) -> bool:
        return True

    @property
    def supported_usage_metadata_details(self) -> dict[Any, list[Any]]:
        details = ["reasoning_output", "cache_read_input"]
        return {"invoke": details, "stream": details}

    def _call(self, prompt: str, *, stream: bool) -> AIMessage:
        model = ChatStepFun(**self.chat_model_params)
        if not stream:
            return model.invoke(prompt)
        full: Any = None
        for chunk in model.stream(prompt):
            full = chunk if full is None else full + chunk
        assert isinstance(full, AIMessage)
        return full

    def invoke_with_reasoning_output(self, *, stream: bool = False) -> AIMessage:
        return self._call("Think step by step: what is 17 times 23?", stream=stream)

    def invoke_with_cache_read_input(self, *, stream: bool = False) -> AIMessage:
        return self._call(LONG_PROMPT, stream=stream)


class TestChatStepFunAudioStandard(ChatModelIntegrationTests):
    """Only ``test_audio_inputs`` runs here (the others are deselected in conftest.py)."""

    @property
    def chat_model_class(self) -> type[ChatStepFun]:
        return ChatStepFun

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"model": "step-audio-2"}

    @property
    def supports_audio_inputs(self) -> bool:
        return True
