"""What an adversarial review found in ChatStepFun, pinned so it stays fixed."""

from __future__ import annotations

import traceback
from typing import Any

import pytest
from langchain_core.messages import HumanMessage, SystemMessage

from langchain_stepfun import (
    ChatStepFun,
    StepFunInvalidParameterError,
    StepFunMalformedAPIKeyError,
)

KEY = "sk-adversary-SECRET-0123456789"


def test_a_plain_string_key_assigned_or_copied_stays_secret() -> None:
    model = ChatStepFun(api_key="sk-first-0123456789")
    model.api_key = KEY  # type: ignore[assignment]
    copied = model.model_copy(update={"api_key": KEY})
    for shown in (repr(model), str(model), repr(copied), str(model.model_dump())):
        assert KEY not in shown
    assert model.client.create  # the new key is usable
    model.model_dump_json()  # a SecretStr serializes; a plain str field would fail here


def test_a_key_that_is_not_a_string_is_refused_without_echoing_it() -> None:
    with pytest.raises(StepFunMalformedAPIKeyError) as caught:
        ChatStepFun(api_key=[KEY])
    assert KEY not in "".join(traceback.format_exception(caught.value))


@pytest.mark.parametrize(
    "message",
    [
        HumanMessage(content=[{"type": "text"}]),
        HumanMessage(content=[{"type": "image", "source_type": "base64", "source": "x"}]),
        SystemMessage(content=[{"type": "text", "text": None}]),
    ],
)
def test_a_content_block_that_cannot_be_read_names_its_message(message: Any) -> None:
    model = ChatStepFun(api_key=KEY)
    with pytest.raises(StepFunInvalidParameterError, match=r"messages\[1\]"):
        model._payload([HumanMessage("hi"), message], None, {})


def test_traced_params_hide_a_query_that_may_hold_a_token() -> None:
    model = ChatStepFun(api_key=KEY, base_url="https://gw.example.com/v1?token=s3cret")
    assert "s3cret" not in str(model._identifying_params)
    assert "s3cret" not in str(model._get_invocation_params())
