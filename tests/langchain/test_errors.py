"""Error bodies on cassettes, sync and async, invoke and stream.

Each error is both the core's error and LangChain's (``langchain_core.exceptions``), with
``is_retryable`` set as ``ModelRetryMiddleware`` expects. Bodies follow docs/wire.md#error-types
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from langchain_core import exceptions as lc

import stepfun_core as core
from tests.langchain.conftest import Driver, model
from tests.replica import Fault

pytestmark = pytest.mark.vcr

MODES = ["invoke", "stream"]


def call(driver: Driver, mode: str, chat: Any, prompt: str = "Hello") -> Any:
    if mode == "invoke":
        return driver.invoke(chat, prompt)
    return driver.stream(chat, prompt)


@pytest.mark.parametrize("mode", MODES)
def test_unknown_model(driver: Driver, mode: str) -> None:
    with pytest.raises(lc.ModelNotFoundError) as info:
        call(driver, mode, model(model="missing-model"))
    error = info.value
    assert isinstance(error, core.NotFoundError)
    assert error.status_code == 404
    assert error.error_type == "model_invalid"
    assert "missing-model" in error.message
    assert error.is_retryable is False


OVERFLOW = "The input exceeds the model's maximum context length of 262144 tokens"
STATUS_CASES = {
    "401": (401, lc.ModelAuthenticationError, core.AuthenticationError, False, None),
    "402": (402, lc.ModelPermissionDeniedError, core.PaymentRequiredError, False, None),
    "429": (429, lc.ModelRateLimitError, core.RateLimitError, True, None),
    "451": (451, lc.ModelInvalidRequestError, core.ContentModerationError, False, None),
    "503": (503, lc.ModelAPIError, core.InternalServerError, True, None),
    "overflow": (400, lc.ContextOverflowError, core.ContextOverflowError, False, OVERFLOW),
}


@pytest.mark.parametrize(
    ("status", "lc_class", "core_class", "retryable", "message"),
    [pytest.param(*case, id=name) for name, case in STATUS_CASES.items()],
)
@pytest.mark.parametrize("mode", MODES)
def test_status_errors(
    driver: Driver,
    faults: Callable[..., None],
    mode: str,
    status: int,
    lc_class: type[Exception],
    core_class: type[Exception],
    retryable: bool,
    message: str | None,
) -> None:
    faults(Fault.status(status, message=message, headers={"Retry-After": "3"}))
    with pytest.raises(lc_class) as info:
        call(driver, mode, model(model="step-3.5-flash"), f"Trigger {status} for {mode}")
    assert isinstance(info.value, core_class)
    error: Any = info.value
    assert error.status_code == status
    assert error.is_retryable is retryable
    assert error.message
    if status == 429:
        assert error.retry_after == 3.0


def test_error_event_mid_stream(driver: Driver, faults: Callable[..., None]) -> None:
    faults(Fault.error_event(after=3, message="quota exceeded", error_type="quota_exceeded"))
    with pytest.raises(lc.ModelError) as info:
        driver.stream(model(model="step-3.5-flash"), "Tell me about error events.")
    error: Any = info.value
    assert isinstance(error, core.StepFunError)
    assert "quota exceeded" in str(error)
    assert error.partial is not None  # what arrived before the error


def test_stream_cut_before_the_end(driver: Driver, faults: Callable[..., None]) -> None:
    faults(Fault.no_done(after=4))
    with pytest.raises(lc.ModelConnectionError) as info:
        driver.stream(model(model="step-3.5-flash"), "Tell me about cut streams.")
    error: Any = info.value
    assert isinstance(error, core.StreamInterruptedError)
    assert error.is_retryable is True
