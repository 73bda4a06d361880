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


def test_a_calls_key_headers_and_base_url_are_hidden_in_traces_and_cache_keys() -> None:
    """A key, headers and a base URL given to one call are call settings: LangChain traces a
    call's arguments (LangSmith keeps them) and puts them in the LLM cache key."""
    from langchain_core.caches import InMemoryCache
    from langchain_core.tracers.run_collector import RunCollectorCallbackHandler
    from pydantic import SecretStr

    from tests.hostile import OK, RecordingAPI, json_reply

    api = RecordingAPI(json_reply(OK))
    model = ChatStepFun(
        **api.options("http_async_client"),
        model_kwargs={"extra_headers": {"X-Proxy-Auth": "model-" + KEY}},
    )
    call = {
        "api_key": "call-" + KEY,
        "default_headers": {"X-Proxy-Auth": "defaults-" + KEY},
        "extra_headers": {"X-Proxy-Auth": "extra-" + KEY},
        "base_url": "https://gw.example.com/v1?token=query-" + KEY,
    }
    runs = RunCollectorCallbackHandler()
    cache = InMemoryCache()
    model.cache = cache
    model.invoke("hi", config={"callbacks": [runs]}, **call)  # type: ignore[arg-type]
    (run,) = runs.traced_runs
    assert KEY not in repr(run.extra)  # the traced parameters, model_kwargs' headers too
    # The model's own serialization shows its model_kwargs, headers too (as ChatOpenAI's does:
    # LangChain escapes a secret marker nested there, so credentials go in default_headers).
    assert KEY not in (repr(run.serialized) + repr(cache._cache)).replace("model-" + KEY, "")
    assert "X-Proxy-Auth" in repr(run.extra)  # which headers were given still shows
    (sent,) = api.requests
    assert sent.headers["Authorization"] == "Bearer call-" + KEY  # hidden, not dropped
    assert sent.url.host == "gw.example.com"
    # A key may be given as a SecretStr too (so that a binding's repr and dumps hide it).
    bound = model.bind(api_key=SecretStr("bound-" + KEY))
    model.cache = None
    bound.invoke("hi")
    assert api.requests[-1].headers["Authorization"] == "Bearer bound-" + KEY
    assert "bound-" + KEY not in repr(bound)
