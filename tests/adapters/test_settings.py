"""The adapter's fields and the environment reach the core's settings, and their checks.

The core's own tests (tests/core/test_hardening_requests.py, test_settings_catalog_media.py)
decide which keys, headers, URLs and limits are refused and what the error shows; here each
adapter's own field names (``api_base`` in LlamaIndex) lead to those checks when a model is made,
with the adapter's error class and no secret in it.
"""

from __future__ import annotations

import httpx
import pytest

import stepfun_core as core
from tests.adapters.drivers import Adapter, raised
from tests.hostile import OK, RecordingAPI, assert_not_shown, each, json_reply

BAD_KEY_CHARS = {"space": " ", "control": "\x07", "zwsp": "\u200b", "en-dash": "\u2013"}


def test_malformed_key_is_refused_at_construction(framework: Adapter) -> None:
    def check(char: str) -> None:
        key = f"sk-SECRETSECRET{char}XYZ"  # a name on the raising line: the traceback shows it
        with raised(framework, core.MalformedAPIKeyError) as caught:
            framework.make(api_key=key)
        assert f"U+{ord(char):04X}" in str(caught.value)
        assert "character 16" in str(caught.value)
        assert_not_shown(caught.value, "SECRET", "XYZ")

    each(BAD_KEY_CHARS, check)


def test_malformed_key_from_the_environment_is_refused(
    framework: Adapter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("STEPFUN_API_KEY", raising=False)

    def check(char: str) -> None:
        monkeypatch.setenv("STEP_API_KEY", f"sk-SECRETSECRET{char}XYZ")
        with raised(framework, core.MalformedAPIKeyError) as caught:
            framework.make()
        assert framework.env_key_source in str(caught.value)
        assert_not_shown(caught.value, "SECRET", "XYZ")

    each({"zwsp": "\u200b", "en-dash": "\u2013"}, check)


ENVIRONMENT = ("STEP_API_KEY", "STEPFUN_API_KEY", "STEP_BASE_URL", "STEPFUN_BASE_URL")


@pytest.mark.parametrize("key_variable", ["STEP_API_KEY", "STEPFUN_API_KEY"])
@pytest.mark.parametrize("url_variable", ["STEP_BASE_URL", "STEPFUN_BASE_URL"])
def test_key_and_base_url_from_the_environment(
    framework: Adapter, monkeypatch: pytest.MonkeyPatch, key_variable: str, url_variable: str
) -> None:
    for name in ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(key_variable, "from-env")
    monkeypatch.setenv(url_variable, core.CHINA_BASE_URL)
    model = framework.make()
    assert framework.setting(model, "api_key").get_secret_value() == "from-env"
    assert framework.setting(model, "base_url") == core.CHINA_BASE_URL
    assert model.client.base_url == core.CHINA_BASE_URL


def test_missing_key_names_the_variables(
    framework: Adapter, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    with raised(framework, core.MissingAPIKeyError) as caught:
        framework.make()
    assert "STEP_API_KEY" in str(caught.value)


def test_empty_variables_are_skipped_like_the_core(
    framework: Adapter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STEP_API_KEY", "")
    monkeypatch.setenv("STEPFUN_API_KEY", "sk-second")
    monkeypatch.setenv("STEP_BASE_URL", " ")
    monkeypatch.setenv("STEPFUN_BASE_URL", core.CHINA_BASE_URL)
    model = framework.make()
    assert framework.setting(model, "api_key").get_secret_value() == "sk-second"
    assert framework.setting(model, "base_url") == core.CHINA_BASE_URL
    assert model.client.base_url == core.CHINA_BASE_URL


def test_bad_header_value_is_refused_at_construction(framework: Adapter) -> None:
    def check(value: str) -> None:
        with raised(framework, core.InvalidParameterError) as caught:
            framework.make(api_key="sk-test", default_headers={"X-Proxy-Auth": value})
        assert "X-Proxy-Auth" in str(caught.value)
        assert_not_shown(caught.value, "SECRET")

    each({"nl": "Bearer proxy-SECRET\nX-Evil: 1", "utf": "Bearer proxy-SECRET\u00e9"}, check)


def test_base_url_with_credentials_is_refused(framework: Adapter) -> None:
    url = "https://user:p4ss@api.example.com/v1"
    with raised(framework, core.InvalidParameterError) as caught:
        framework.make(api_key="sk-test", base_url=url)
    assert "credentials" in str(caught.value)
    assert_not_shown(caught.value, "p4ss")


def test_unusable_base_urls_are_refused(framework: Adapter) -> None:
    def check(url: str) -> None:
        with raised(framework, core.InvalidParameterError) as caught:
            framework.make(api_key="sk-test", base_url=url)
        assert "base_url" in str(caught.value)

    each({"fragment": "https://api.example.com/v1#frag", "no-scheme": "api.stepfun.ai/v1"}, check)


def test_base_url_query_is_kept_after_the_path(adapter: Adapter) -> None:
    api = RecordingAPI(json_reply(OK))
    model = adapter.over(api, base_url="https://api.example.com/v1?token=tenant-a-secret")
    adapter.invoke(model, "hi")
    (request,) = api.requests
    assert request.url.path == "/v1/chat/completions"
    assert request.url.params["token"] == "tenant-a-secret"
    # Round 13: the model's repr showed the query (docs/configuration.md says reprs hide it),
    # and the values of extra headers given among the extra body parameters.
    extra = {"extra_headers": {"X-Proxy-Auth": "proxy-secret"}, "top_k": 3}
    setattr(model, type(model)._EXTRA_PARAMS_FIELD, extra)
    for shown in (repr(model), str(model)):
        assert "tenant-a-secret" not in shown and "api.example.com/v1?..." in shown
        assert "proxy-secret" not in shown and "X-Proxy-Auth" in shown and "top_k" in shown


def test_total_timeout_must_be_positive(framework: Adapter) -> None:
    def check(value: float) -> None:
        with raised(framework, core.InvalidParameterError) as caught:
            framework.make(api_key="sk-test", total_timeout=value)
        assert "total_timeout" in str(caught.value)

    each({"zero": 0, "negative": -1}, check)


def test_a_clients_own_timeout_is_a_timeout_setting(framework: Adapter) -> None:
    # The README's "pass timeout=client.timeout to keep the client's": LlamaIndex's field took
    # seconds only (a ValidationError). Kept as its phases, it still serializes as JSON.
    client = httpx.Client(timeout=httpx.Timeout(30, connect=3))
    model = framework.make(api_key="sk-test", http_client=client, timeout=client.timeout)
    assert model.settings().timeout == (3.0, 30.0, 30.0, 30.0)


def test_the_extra_parameters_field_is_checked_when_assigned(adapter: Adapter) -> None:
    # Hostile round 8: a non-dict assigned to model_kwargs / additional_kwargs (assignment is
    # not validated) failed every later call with AttributeError or a plain ValueError.
    api = RecordingAPI(json_reply(OK))
    model = adapter.over(api)
    field = type(model)._EXTRA_PARAMS_FIELD
    for value in (5, "x", [("a", 1)], {"messages": []}):
        with raised(adapter, core.InvalidParameterError) as caught:
            setattr(model, field, value)
        assert field in str(caught.value)
    setattr(model, field, None)  # unset
    adapter.invoke(model, "hi")
    with raised(
        adapter,
        core.InvalidParameterError,
    ) as caught:
        model.model = None
    assert "model" in str(caught.value)
    setattr(model, field, {"top_k": 3})
    adapter.invoke(model, "hi")
    assert [body.get("top_k") for body in api.bodies] == [None, 3]
    # Docs audit: the constructor refuses what assignment refuses (it did at the first call).
    for extras in ("extra_body", field):
        if extras in type(model).model_fields:
            with raised(adapter, core.InvalidParameterError) as caught:
                adapter.make(api_key="sk-test", **{extras: {"stream": True}})
            assert f"{extras}['stream']" in str(caught.value)
    assert len(api.requests) == 2
