"""Both adapters refresh what they believe of a model from ``GET /models`` (the replica stating
live-endpoint details): LangChain's ``profile`` (which token-based trimming and summarisation
read) and LlamaIndex's ``metadata`` (which prompt helpers and memory read), sync and async."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from langchain_stepfun import ChatStepFun
from llama_index_stepfun import StepFun
from stepfun_core import catalog
from tests.replica import Replica

STATED_WINDOW = 262144  # the replica's figure; the catalog's is 256,000


@pytest.fixture(autouse=True)
def _fresh_catalog(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(catalog, "_learnt", {})
    yield


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_chatstepfun_refreshes_its_profile(replica: Replica, mode: str) -> None:
    replica.describe_models()
    model = ChatStepFun(model="step-3.5-flash", api_key="k", base_url=replica.base_url)
    assert model.profile is not None and model.profile["max_input_tokens"] == 256_000
    refresh = (
        model.refresh_profile if mode == "sync" else lambda: asyncio.run(model.arefresh_profile())
    )
    profile = refresh()
    assert profile["max_input_tokens"] == STATED_WINDOW == model.profile["max_input_tokens"]
    assert profile["reasoning_effort_levels"] == ["low", "high"]
    later = ChatStepFun(model="step-3.5-flash", api_key="k", base_url=replica.base_url)
    assert later.profile is not None and later.profile["max_input_tokens"] == STATED_WINDOW


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_llamaindex_refreshes_its_metadata(replica: Replica, mode: str) -> None:
    replica.describe_models()
    llm = StepFun(model="step-3.7-flash", api_key="k", api_base=replica.base_url)
    assert llm.metadata.context_window == 256_000
    refresh = (
        llm.refresh_metadata if mode == "sync" else lambda: asyncio.run(llm.arefresh_metadata())
    )
    assert refresh().context_window == STATED_WINDOW == llm.metadata.context_window
