"""LangChain's standard unit tests for ChatStepFun (no network)."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import Any

import pytest
from langchain_tests.unit_tests import ChatModelUnitTests

from langchain_stepfun import ChatStepFun

CLASS_PATH = ("langchain_stepfun", "chat_models", "ChatStepFun")


@pytest.fixture(autouse=True)
def _loadable_as_partner() -> Iterator[None]:
    """Let ``load(..., allowed_objects="all")`` in ``test_serdes`` revive ChatStepFun.

    langchain-core's ``"all"`` allow-list holds only the partner classes of its own mapping
    table; a package outside it is loaded with ``allowed_objects=[ChatStepFun]`` (see
    ``test_serialization_round_trip`` in test_model.py). This adds our one class path to the
    ``"all"`` list for the duration of a test, and removes it afterwards.
    """
    load_module = importlib.import_module("langchain_core.load.load")
    allowed = load_module._get_default_allowed_class_paths("all")
    added = CLASS_PATH not in allowed
    allowed.add(CLASS_PATH)
    yield
    if added:
        allowed.discard(CLASS_PATH)


class TestChatStepFunUnit(ChatModelUnitTests):
    @property
    def chat_model_class(self) -> type[ChatStepFun]:
        return ChatStepFun

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"model": "step-3.7-flash", "api_key": "test-key"}

    @property
    def init_from_env_params(self) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
        return (
            {"STEP_API_KEY": "env-key", "STEP_BASE_URL": "https://api.stepfun.com/v1"},
            {"model": "step-3.5-flash"},
            {"api_key": "env-key", "base_url": "https://api.stepfun.com/v1"},
        )
