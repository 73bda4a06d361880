"""ChatStepFun reads its key and base URL like the core, and keeps headers out of repr."""

from __future__ import annotations

import pytest
from langchain_core.load import dumps

from langchain_stepfun import ChatStepFun


def test_empty_variables_are_skipped_like_the_core(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STEP_API_KEY", "")
    monkeypatch.setenv("STEPFUN_API_KEY", "sk-second")
    monkeypatch.setenv("STEP_BASE_URL", " ")
    monkeypatch.setenv("STEPFUN_BASE_URL", "https://api.stepfun.com/v1")
    model = ChatStepFun()
    assert model.api_key is not None and model.api_key.get_secret_value() == "sk-second"
    assert model.base_url == "https://api.stepfun.com/v1"
    assert model.client.base_url == model.base_url


def test_default_headers_stay_out_of_repr_and_serialization() -> None:
    model = ChatStepFun(api_key="sk-x", default_headers={"X-Proxy-Key": "proxy-secret"})
    assert "proxy-secret" not in repr(model)
    assert "proxy-secret" not in dumps(model)
    assert model.client.settings.default_headers == (("X-Proxy-Key", "proxy-secret"),)
