"""A catalog that tracks the API: ``list_models()``, `learn`, and retired models named.

``GET /models`` is read from the loopback replica with and without the details live endpoints
add (model type, window, reasoning, image input, effort tiers); odd entries and new fields are
tolerated; what a server states wins over the built-in entry once learnt; a retired model warns
once, with its date and replacement.
"""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

import stepfun_core as core
from stepfun_core import catalog
from tests.replica import Replica


@pytest.fixture(autouse=True)
def _fresh_catalog(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(catalog, "_learnt", {})
    monkeypatch.setattr(catalog, "_warned", set())
    yield


def listed(replica: Replica, mode: str) -> list[core.ServedModel]:
    if mode == "sync":
        return core.StepFunClient(api_key="k", base_url=replica.base_url).list_models()
    client = core.AsyncStepFunClient(api_key="k", base_url=replica.base_url)
    return asyncio.run(client.list_models())


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_list_models_with_only_the_documented_fields(replica: Replica, mode: str) -> None:
    models = listed(replica, mode)
    assert [m.id for m in models][:2] == ["step-3.7-flash", "step-3.5-flash"]
    assert all(m.owned_by == "stepai" and not m.known_fields() for m in models)
    assert replica.requests[-1].method == "GET" and replica.requests[-1].path == "/v1/models"


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_list_models_with_the_details_live_endpoints_add(replica: Replica, mode: str) -> None:
    replica.describe_models()
    flash = next(m for m in listed(replica, mode) if m.id == "step-3.5-flash")
    assert flash.model_type == "大语言模型" and flash.max_input_tokens == 262144
    assert flash.reasoning is True and flash.image_input is False
    assert flash.reasoning_efforts == ("low", "high")
    assert catalog.get_model_info("step-3.5-flash").context_window == 256_000  # not learnt yet
    core.learn([flash])
    learnt = catalog.get_model_info("step-3.5-flash")
    assert learnt.context_window == 262144 and learnt.reasoning_efforts == ("low", "high")
    assert learnt.model_type == "chat" and learnt.json_schema  # unstated fields are kept


def test_entries_are_read_leniently() -> None:
    body = {
        "data": [
            {"id": "step-9", "max_input_tokens": "lots", "enable_reason": 1, "new_field": [1]},
            {"id": ""},
            "not an object",
            {"no": "id"},
            {"id": "step-x", "max_input_tokens": True, "reasoning_effort_support_list": "high"},
        ]
    }
    nine, x = catalog.parse_models(body)
    assert (nine.id, nine.max_input_tokens, nine.reasoning, nine.raw["new_field"]) == (
        "step-9",
        None,
        None,
        [1],
    )
    assert x.max_input_tokens is None and x.reasoning_efforts is None
    assert catalog.parse_models({"data": "nope"}) == [] == catalog.parse_models(None)
    assert catalog.parse_models({"data": 5}) == []  # once a TypeError


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(), st.lists, max_leaves=8))
def test_any_entry_value_parses_without_error(value: object) -> None:
    fields = ("max_input_tokens", "model_type", "enable_reason", "reasoning_effort_support_list")
    body = {"data": [{"id": "m", **{key: value for key in fields}}]}
    [model] = catalog.parse_models(body)
    assert catalog.merged(catalog.get_model_info("m"), model).context_window > 0


def test_a_router_is_described_as_one_and_windows_are_counted_in_thousands() -> None:
    router = catalog.get_model_info("step-router-v1")
    assert router.model_type == "router" and not router.reasoning and router.known
    assert catalog.get_model_info("step-3.7-flash").context_window == 256_000


@pytest.mark.parametrize(
    ("model", "when", "instead"),
    [
        ("step-3", "on 2026-07-08", "step-3.7-flash"),
        ("step-1-8k", "on 2026-07-08", "step-1o-turbo-vision"),
        ("step-1-128k", "no longer listed", None),
    ],
)
def test_a_retired_model_warns_once_with_its_date_and_replacement(
    model: str, when: str, instead: str | None
) -> None:
    messages = [{"role": "user", "content": "hi"}]
    with pytest.warns(core.RetiredModelWarning) as caught:
        core.build_chat_request(model, messages)
        core.build_chat_request(model, messages)
    assert len(caught) == 1
    text = str(caught[0].message)
    assert when in text and (instead is None or instead in text)
    assert caught[0].filename == __file__  # attributed to the caller, not to the library
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        core.build_chat_request("step-3.7-flash", messages)  # a current model: no warning


def test_a_model_the_server_lists_is_no_longer_retired() -> None:
    core.learn(catalog.parse_models({"data": [{"id": "step-3", "max_input_tokens": 64000}]}))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        core.build_chat_request("step-3", [{"role": "user", "content": "hi"}])
