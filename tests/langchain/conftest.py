"""Fixtures for the LangChain suite: sync/async drivers, offline media, replica faults.

Media: the standard multimodal tests download sample files from the internet with
``httpx.get``. There is no internet in the test run, so ``offline_media`` serves exactly those
URLs from the local files in ``tests/media/`` (every other URL goes to the real ``httpx.get``,
which the harness then refuses unless it is loopback).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.tools import tool

from langchain_stepfun import ChatStepFun
from tests.conftest import _RECORDING
from tests.modes import Mode
from tests.replica import Fault

ASYNC_STREAMING_NEEDS_311 = (
    "LangGraph streams a model's tokens in async code only on Python 3.11+ (asyncio tasks take "
    "a context from 3.11; on 3.10 its callbacks do not reach the model, called without streaming)"
)

MEDIA = Path(__file__).resolve().parent.parent / "media"
# URL used by langchain-tests -> the local stand-in (same media type).
MEDIA_URLS = {
    "https://raw.githubusercontent.com/langchain-ai/docs/4d11d08b6b0e210bd456943f7a22febbd168b543/"
    "src/images/agentic-rag-output.png": MEDIA / "tiny.png",
    "https://upload.wikimedia.org/wikipedia/commons/6/6a/Northern_Flicker_202280456.wav": MEDIA
    / "tiny.wav",
}


@pytest.fixture
def vcr_config(vcr_config: dict[str, Any]) -> dict[str, Any]:
    """The harness's VCR settings, with replays repeatable.

    The sync and async runs of one test share a cassette, and ``test_stream_time`` replays its
    one recorded stream in a benchmark loop.
    """
    return {**vcr_config, "allow_playback_repeats": True}


@pytest.fixture
def offline_media(monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """Serve the standard tests' media downloads from ``tests/media/`` (and nothing else)."""
    real_get = httpx.get

    def get(url: Any, *args: Any, **kwargs: Any) -> httpx.Response:
        local = MEDIA_URLS.get(str(url))
        if local is None:
            return real_get(url, *args, **kwargs)
        request = httpx.Request("GET", str(url))
        return httpx.Response(200, content=local.read_bytes(), request=request)

    monkeypatch.setattr(httpx, "get", get)
    # langchain-tests asks for a User-Agent for wikimedia; nothing is fetched from there.
    monkeypatch.setenv("LANGCHAIN_TESTS_USER_AGENT", "stepfun-integrations tests (offline)")
    return MEDIA_URLS


@pytest.fixture
def default_cassette_name(request: pytest.FixtureRequest) -> str:
    """``[Class.]test_name[params]`` without the sync/async parameter.

    So the sync and the async run of a test share one cassette: both must send the same
    request and both read the same recorded answer.
    """
    marker = request.node.get_closest_marker("default_cassette")
    if marker is not None:
        return str(marker.args[0])
    name: str = request.node.name
    base, _, params = name.partition("[")
    kept = [p for p in params.rstrip("]").split("-") if p and p not in ("sync", "async")]
    prefix = f"{request.cls.__name__}." if request.cls else ""
    return prefix + base + (f"[{'-'.join(kept)}]" if kept else "")


@pytest.fixture
def faults(vcr: Any) -> Callable[..., None]:
    """Queue replica faults for a test that is recording; replays read them from the cassette."""

    def inject(*items: Fault) -> None:
        replica = _RECORDING.get("replica")
        if vcr is not None and not vcr.write_protected and replica is not None:
            replica.enqueue(*items)

    return inject


class Driver(Mode):
    """Runs one model call through the sync or the async entry point."""

    def invoke(self, model: Any, messages: Any, **kwargs: Any) -> AIMessage:
        result = self.run(model, messages, **kwargs)
        assert isinstance(result, AIMessage)
        return result

    def stream(self, model: Any, messages: Any, **kwargs: Any) -> list[AIMessageChunk]:
        return self.collect(
            lambda: model.stream(messages, **kwargs), lambda: model.astream(messages, **kwargs)
        )

    def run(self, runnable: Any, value: Any, **kwargs: Any) -> Any:
        return self.call(
            lambda: runnable.invoke(value, **kwargs), lambda: runnable.ainvoke(value, **kwargs)
        )


@pytest.fixture(params=["sync", "async"])
def driver(request: pytest.FixtureRequest) -> Driver:
    """Parametrizes a test over the sync and the async path (they share one cassette)."""
    return Driver(request.param)


# The tools of the cassette tests (their names, docstrings and signatures are in the requests).
@tool
def get_weather(city: str) -> str:
    """Get the current weather of a city."""
    return f"It is sunny in {city}."


@tool
def get_time(city: str) -> str:
    """Get the local time of a city."""
    return f"It is 10:00 in {city}."


def aggregate(chunks: list[AIMessageChunk]) -> AIMessageChunk:
    """Add up a stream's chunks."""
    full = chunks[0]
    for chunk in chunks[1:]:
        full = full + chunk
    return full


def model(**kwargs: Any) -> ChatStepFun:
    """A model with retries off, so error cassettes hold exactly one request."""
    return ChatStepFun(**{"max_retries": 0, **kwargs})


def final_usage(cassette: Any, index: int = -1) -> dict[str, Any]:
    """The usage of the last event of a recorded stream: what the API says was used."""
    body = cassette.responses[index]["body"]["string"]
    text = body.decode() if isinstance(body, bytes) else body
    events = [line[6:] for line in text.splitlines() if line.startswith("data: {")]
    usage: dict[str, Any] = json.loads(events[-1])["usage"]
    return usage


def sent_body(cassette: Any, index: int = -1) -> dict[str, Any]:
    """A recorded request's JSON body (replays match on it, so it is what was sent)."""
    body = cassette.requests[index].body
    result: dict[str, Any] = json.loads(body)
    return result


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The audio-model class runs only the audio test; the main class covers the rest."""
    selected, deselected = [], []
    for item in items:
        if "TestChatStepFunAudioStandard" in item.nodeid and (
            item.name not in ("test_audio_inputs", "test_no_overrides_DO_NOT_OVERRIDE")
        ):
            deselected.append(item)
        else:
            selected.append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = selected
