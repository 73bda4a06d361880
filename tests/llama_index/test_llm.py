"""The class itself: settings, metadata, secrets, errors, callbacks and instrumentation."""

from __future__ import annotations

import json
import pickle

import httpx
import pytest
from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.callbacks import CallbackManager, TokenCountingHandler
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events import BaseEvent
from llama_index.core.llms.function_calling import FunctionCallingLLM

from llama_index_stepfun import StepFun
from stepfun_core import (
    AuthenticationError,
    RateLimitError,
    StreamInterruptedError,
)
from tests.core.wire_samples import CURRENT_STREAM, REASONING_REPLY, current_chunk, sse
from tests.llama_index.conftest import SECRET, Driver, MockAPI, json_reply, sse_reply, user


def test_is_a_function_calling_llm_with_a_unique_name() -> None:
    assert issubclass(StepFun, FunctionCallingLLM)
    assert StepFun.class_name() == "StepFunLLM"


@pytest.mark.parametrize(
    ("model", "window", "tools"),
    [
        ("step-3.5-flash", 256_000, True),
        ("step-5-preview", 1_000_000, True),
        ("step-1-8k", 8_000, True),
        ("step-r1-v-mini", 100_000, False),
        ("some-future-model", 32_000, True),
    ],
)
def test_metadata_from_the_catalog(model: str, window: int, tools: bool) -> None:
    meta = StepFun(model=model, api_key="k").metadata
    assert meta.context_window == window
    assert meta.is_chat_model is True
    assert meta.is_function_calling_model is tools
    assert meta.model_name == model
    assert 1024 < meta.num_output <= window // 4


def test_metadata_overrides() -> None:
    meta = StepFun(api_key="k", context_window=5000, max_tokens=300).metadata
    assert (meta.context_window, meta.num_output) == (5000, 300)


def test_default_model_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STEP_API_KEY", raising=False)
    monkeypatch.delenv("STEP_BASE_URL", raising=False)
    monkeypatch.setenv("STEPFUN_API_KEY", "from-env")
    monkeypatch.setenv("STEPFUN_BASE_URL", "https://api.stepfun.com/v1/")
    llm = StepFun()
    assert llm.model == "step-3.5-flash"
    assert llm.api_key is not None and llm.api_key.get_secret_value() == "from-env"
    assert llm.api_base == "https://api.stepfun.com/v1"


def test_an_unknown_argument_is_not_dropped_silently() -> None:
    # LlamaIndex's OpenAI drops it silently (pydantic ignores unknown names): a mistyped
    # setting would never reach the API. (Core names of settings: tests/adapters.)
    with pytest.warns(UserWarning, match="'temprature'"):
        StepFun(api_key="k", temprature=0.2)


def test_the_key_never_leaks() -> None:
    llm = StepFun(api_key=SECRET, default_headers={"X-Auth": SECRET})
    for text in (repr(llm), str(llm), json.dumps(llm.to_dict(), default=str), llm.to_json()):
        assert SECRET not in text
    if hasattr(llm, "to_payload"):  # llama-index-core 0.14.23 and newer
        assert SECRET not in json.dumps(llm.to_payload(), default=str)
    assert llm.to_dict()["class_name"] == "StepFunLLM"
    assert StepFun.from_dict({**llm.to_dict(), "api_key": "other"}).model == llm.model


def test_the_key_never_leaks_in_events(driver: Driver) -> None:
    events: list[BaseEvent] = []

    class Collect(BaseEventHandler):
        def handle(self, event: BaseEvent, **kwargs: object) -> None:
            events.append(event)

    handler = Collect()
    dispatcher = get_dispatcher()
    dispatcher.add_event_handler(handler)
    try:
        driver.chat(MockAPI(json_reply(REASONING_REPLY)).llm(), user("hi"))
    finally:
        dispatcher.event_handlers.remove(handler)
    names = [type(e).__name__ for e in events]
    assert names == ["LLMChatStartEvent", "LLMChatEndEvent"]
    assert all(SECRET not in e.model_dump_json() for e in events)


def test_one_client_pair_per_instance(driver: Driver) -> None:
    api = MockAPI(json_reply(REASONING_REPLY))
    llm = api.llm()
    clients = (llm.client, llm.async_client)
    driver.chat(llm, user("a"))
    driver.chat(llm, user("b"))
    assert (llm.client, llm.async_client) == clients
    assert len(api.requests) == 2


def test_pickles_without_the_clients_breaking() -> None:
    llm = StepFun(api_key="k")
    assert pickle.loads(pickle.dumps(llm)).model == "step-3.5-flash"


@pytest.mark.parametrize("stream", [False, True])
def test_token_counting_sees_each_call_once(driver: Driver, stream: bool) -> None:
    counter = TokenCountingHandler()
    api = MockAPI(sse_reply(CURRENT_STREAM) if stream else json_reply(REASONING_REPLY))
    llm = api.llm(callback_manager=CallbackManager([counter]))
    if stream:
        driver.stream_complete(llm, "hi")
        driver.stream_chat(llm, user("hi"))
    else:
        driver.complete(llm, "hi")
        driver.chat(llm, user("hi"))
    assert len(counter.llm_token_counts) == 2
    expected = (85, 616) if stream else (85, 340)
    for event in counter.llm_token_counts:
        assert (event.prompt_token_count, event.completion_token_count) == expected


def test_status_errors_come_from_the_core_unchanged(driver: Driver) -> None:
    body = {"error": {"message": "Incorrect API key provided", "type": "invalid_api_key"}}
    api = MockAPI(json_reply(body, status=401))
    with pytest.raises(AuthenticationError, match="Incorrect API key") as info:
        driver.chat(api.llm(max_retries=2), user("hi"))
    assert info.value.status_code == 401
    assert len(api.requests) == 1  # 401 is not retried


def test_the_core_is_the_only_retry_layer(driver: Driver) -> None:
    body = {"error": {"message": "slow down", "type": "rate_limit_exceeded"}}
    api = MockAPI(json_reply(body, status=429))
    llm = api.llm(max_retries=0)
    with pytest.raises(RateLimitError):
        driver.stream_chat(llm, user("hi"))
    assert len(api.requests) == 1


def test_a_cut_stream_raises_with_the_partial_reply(driver: Driver) -> None:
    body = sse(current_chunk({"content": "Hel"}, 1), done=False)
    api = MockAPI(sse_reply(body))
    with pytest.raises(StreamInterruptedError) as info:
        driver.stream_chat(api.llm(), user("hi"))
    assert info.value.partial is not None and info.value.partial.first.content == "Hel"


def test_a_stream_of_only_done_ends_in_one_empty_response(driver: Driver) -> None:
    # It yielded nothing: LlamaIndex's stream_complete wrapper then failed on its own (a
    # pydantic error), as it does for OpenAILike, and an agent read no response.
    api = MockAPI(sse_reply(b"data: [DONE]\n\n"))
    [response] = driver.stream_chat(api.llm(), user("hi"))
    assert response.message.content == "" and response.delta == ""
    [completion] = driver.stream_complete(api.llm(), "hi")
    assert completion.text == ""


def test_caller_http_clients_are_used() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["x-mine"])
        return httpx.Response(200, json=REASONING_REPLY)

    transport = httpx.MockTransport(handler)
    llm = StepFun(
        api_key="k",
        http_client=httpx.Client(transport=transport, headers={"x-mine": "sync"}),
        async_http_client=httpx.AsyncClient(transport=transport, headers={"x-mine": "async"}),
    )
    llm.chat([ChatMessage(role="user", content="hi")])
    import asyncio

    asyncio.run(llm.achat([ChatMessage(role="user", content="hi")]))
    assert seen == ["sync", "async"]
