"""Every core error class has a LangChain twin that is still an instance of the core class."""

from __future__ import annotations

import inspect

import pytest
from langchain_core.exceptions import ModelError

import stepfun_core.errors as core_errors
from langchain_stepfun.errors import to_langchain_error

CORE_CLASSES = sorted(
    (
        cls
        for _, cls in inspect.getmembers(core_errors, inspect.isclass)
        if issubclass(cls, core_errors.StepFunError) and cls is not core_errors.StepFunError
    ),
    key=lambda cls: cls.__name__,
)


@pytest.mark.parametrize("cls", CORE_CLASSES, ids=lambda cls: cls.__name__)
def test_the_dual_error_keeps_the_core_class_and_its_details(cls: type) -> None:
    error = cls("boom", status_code=418, error_type="t", trace_id="trace", retry_after=1.5)
    dual = to_langchain_error(error)
    assert isinstance(dual, cls)
    assert isinstance(dual, ModelError)
    assert (dual.message, dual.status_code, dual.error_type, dual.trace_id, dual.retry_after) == (
        "boom",
        418,
        "t",
        "trace",
        1.5,
    )
    assert dual.is_retryable == cls.is_retryable
