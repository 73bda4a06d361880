"""Step 1, configuration: key source and shape, base URL and region, versions, proxy, CAs."""

from __future__ import annotations

import importlib.metadata
import json

import pytest

from stepfun_core.doctor import DoctorOptions, Verdict, cli, run_doctor
from stepfun_core.doctor.configuration import check_configuration
from stepfun_core.doctor.report import EXIT_CONFIGURATION, REACHABILITY
from tests.doctor.conftest import KEY, Doctor, check
from tests.replica import Replica


def test_no_key_explains_how_to_get_one_and_stops() -> None:
    report = run_doctor(DoctorOptions(base_url="http://127.0.0.1:9/v1"))
    key = check(report, "API key")
    assert key.verdict is Verdict.FAIL
    assert "STEP_API_KEY" in key.detail and "STEPFUN_API_KEY" in key.detail
    assert (
        key.fix is not None
        and "platform.stepfun.ai" in key.fix
        and "export STEP_API_KEY" in key.fix
    )
    assert report.exit_code() == EXIT_CONFIGURATION
    assert not [c for c in report.checks if c.step == REACHABILITY]  # it stopped


def test_key_from_the_argument_is_named_never_shown(doctor: Doctor) -> None:
    report = doctor(api_key=KEY)
    key = check(report, "API key")
    assert key.verdict is Verdict.OK and "--api-key argument" in key.detail
    assert KEY not in repr(report.to_dict()) and KEY[:8] not in key.detail


@pytest.mark.parametrize("variable", ["STEP_API_KEY", "STEPFUN_API_KEY"])
def test_key_from_each_variable(
    doctor: Doctor, monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    monkeypatch.setenv(variable, KEY)
    report = doctor(api_key=None)
    key = check(report, "API key")
    assert key.verdict is Verdict.OK and f"environment variable {variable}" in key.detail
    assert report.exit_code() == 0


@pytest.mark.parametrize(
    ("pasted", "named"),
    [
        ("sk-abc\u200bdef", "ZERO WIDTH SPACE (U+200B)"),
        ("sk-abc def", "whitespace (U+0020)"),
        ("sk-abc\u2013def", "EN DASH (U+2013)"),
    ],
)
def test_a_pasted_character_is_named_without_the_key(pasted: str, named: str) -> None:
    report = run_doctor(DoctorOptions(api_key=pasted))
    key = check(report, "API key")
    assert key.verdict is Verdict.FAIL and named in key.detail
    assert "sk-abc" not in key.detail and "copy the key again" in (key.fix or "")
    assert report.exit_code() == EXIT_CONFIGURATION


def test_two_key_variables_that_differ_warn(
    doctor: Doctor, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STEP_API_KEY", KEY)
    monkeypatch.setenv("STEPFUN_API_KEY", "sk-another-key-0000")
    report = doctor(api_key=None)
    shadowed = check(report, "key variables")
    assert shadowed.verdict is Verdict.WARN and "STEP_API_KEY is used" in shadowed.detail
    assert report.exit_code() == 0  # a warning never fails the run


def test_an_invalid_base_url_is_a_configuration_error() -> None:
    report = run_doctor(DoctorOptions(api_key=KEY, base_url="ftp://user:secret@example.com/v1"))
    url = check(report, "base URL")
    assert url.verdict is Verdict.FAIL and "secret" not in url.detail
    assert "https://api.stepfun.ai/v1" in (url.fix or "")
    assert report.exit_code() == EXIT_CONFIGURATION


@pytest.mark.parametrize(
    ("url", "region"),
    [
        ("https://api.stepfun.ai/v1", "the international API"),
        ("https://api.stepfun.com/v1/", "the China API"),
        ("https://api.stepfun.ai/step_plan/v1", "the international Step Plan API"),
        ("https://api.stepfun.com/step_plan/v1", "the China Step Plan API"),
        ("https://gateway.example.com/v1", "a URL of its own"),
        # Round 15: StepFun's own URL with its default port or a trailing dot read as a gateway.
        ("https://api.stepfun.ai:443/v1", "the international API"),
        ("https://API.stepfun.com./v1", "the China API"),
        ("https://api.stepfun.ai:8443/v1", "a URL of its own"),
    ],
)
def test_the_base_url_region_is_named(url: str, region: str) -> None:
    checks, setup = check_configuration(KEY, url)
    line = next(c for c in checks if c.name == "base URL")
    assert line.verdict is Verdict.OK and region in line.detail
    assert setup is not None and setup.base_url == url.rstrip("/")


def test_a_token_in_the_base_url_query_stays_out_of_the_report(
    doctor: Doctor, replica: Replica
) -> None:
    # Round 15: the base URL line, a 401's line and the JSON report showed the query's token.
    replica.accept_keys("sk-another-key-0123456789")
    report = doctor(base_url=f"{replica.base_url}?token=qtok-9d8e7f6a5b")
    assert check(report, "key").verdict is Verdict.FAIL
    assert "qtok" not in json.dumps(report.to_dict()) and "?..." in report.base_url


def test_the_default_base_url_and_its_source() -> None:
    checks, setup = check_configuration(KEY, None)
    line = next(c for c in checks if c.name == "base URL")
    assert "https://api.stepfun.ai/v1 (from the default)" in line.detail
    assert setup is not None and setup.region is not None and setup.region.name == "international"


def test_plain_http_to_a_stepfun_host_is_refused() -> None:
    # The core refuses it (the key would travel in clear text); the doctor reports that.
    checks, _ = check_configuration(KEY, "http://api.stepfun.ai/v1")
    line = next(c for c in checks if c.name == "base URL")
    assert line.verdict is Verdict.FAIL and "https://" in line.detail


def test_versions_come_from_package_metadata() -> None:
    checks, _ = check_configuration(KEY, None)
    line = next(c for c in checks if c.name == "versions")
    for name in ("stepfun-integrations", "httpx", "pydantic", "langchain-core", "llama-index-core"):
        assert f"{name} {importlib.metadata.version(name)}" in line.detail
    assert "Python 3." in line.detail


def test_a_missing_framework_reads_not_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.metadata.version

    def version(name: str) -> str:
        if name == "llama-index-core":
            raise importlib.metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(importlib.metadata, "version", version)
    checks, _ = check_configuration(KEY, None)
    line = next(c for c in checks if c.name == "versions")
    assert "llama-index-core not installed" in line.detail


def test_no_proxy_variables() -> None:
    checks, setup = check_configuration(KEY, None)
    assert next(c for c in checks if c.name == "proxy").detail == "no proxy variable is set"
    assert setup is not None and setup.proxy is None


def test_proxy_variables_are_listed_with_credentials_masked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://alice:hunter2@proxy.corp:3128")
    monkeypatch.setenv("NO_PROXY", "localhost,.internal")
    checks, setup = check_configuration(KEY, None)
    line = next(c for c in checks if c.name == "proxy")
    assert "hunter2" not in line.detail and "alice" not in line.detail
    assert "***@proxy.corp:3128" in line.detail and "NO_PROXY=localhost,.internal" in line.detail
    assert "requests go through" in line.detail
    assert setup is not None and setup.proxy == "http://alice:hunter2@proxy.corp:3128"


@pytest.mark.parametrize(
    ("no_proxy", "url", "bypassed"),
    [
        ("api.stepfun.ai", "https://api.stepfun.ai/v1", True),
        ("stepfun.ai", "https://api.stepfun.ai/v1", True),
        (".stepfun.ai", "https://api.stepfun.ai/v1", True),
        (".stepfun.ai", "https://stepfun.ai/v1", False),
        ("*", "https://api.stepfun.com/v1", True),
        ("127.0.0.1", "http://127.0.0.1:8000/v1", True),
        ("example.com", "https://api.stepfun.ai/v1", False),
    ],
)
def test_no_proxy_as_httpx_reads_it(
    monkeypatch: pytest.MonkeyPatch, no_proxy: str, url: str, bypassed: bool
) -> None:
    monkeypatch.setenv("ALL_PROXY", "http://proxy.corp:3128")
    monkeypatch.setenv("NO_PROXY", no_proxy)
    checks, setup = check_configuration(KEY, url)
    assert setup is not None and (setup.proxy is None) is bypassed
    line = next(c for c in checks if c.name == "proxy")
    assert ("not used for this URL" in line.detail) is bypassed


def test_certificate_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    checks, _ = check_configuration(KEY, None)
    assert "certifi" in next(c for c in checks if c.name == "certificates").detail
    monkeypatch.setenv("SSL_CERT_FILE", "/etc/corp-ca.pem")
    checks, _ = check_configuration(KEY, None)
    line = next(c for c in checks if c.name == "certificates")
    assert "SSL_CERT_FILE=/etc/corp-ca.pem" in line.detail


@pytest.mark.parametrize(
    "proxy",
    [
        "http://alice:Pq/Zx#W0rK@proxy.corp:3128",  # httpx: "Invalid port: 'Pq'"
        "http://alice:Hq?Zv#2Kx@proxy.corp:3128",
        "http://alice:2024/06#99@proxy.corp:3128",  # parses, as a host "alice" on port 2024
        "http://alice:Pq@Zx/W0rK@proxy.corp:3128",
    ],
)
def test_a_password_that_breaks_the_proxy_url_is_never_shown(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], proxy: str
) -> None:
    secret = proxy.split("://alice:", 1)[1].rsplit("@", 1)[0]
    monkeypatch.setenv("HTTPS_PROXY", proxy)
    report = run_doctor(DoctorOptions(api_key=KEY, base_url="https://api.stepfun.ai/v1"))
    line = check(report, "proxy")
    assert line.verdict is Verdict.FAIL and "HTTPS_PROXY=http://***@proxy.corp:3128" in line.detail
    assert "percent-encode" in (line.fix or "") and "%2F" in (line.fix or "")
    assert report.exit_code() == EXIT_CONFIGURATION  # stopped: every request would fail
    assert not [c for c in report.checks if c.step == REACHABILITY]
    assert cli.main(["doctor", "--api-key", KEY]) == EXIT_CONFIGURATION
    out, err = capsys.readouterr()
    for text in (repr(report.to_dict()), out + err):
        assert "alice" not in text
        pieces = {secret[i : i + 3] for i in range(len(secret) - 2)}
        assert not [piece for piece in pieces if piece in text], text


def test_a_percent_encoded_password_is_used_and_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    proxy = "http://alice:pa%2Fss%23w0rd@proxy.corp:3128"
    monkeypatch.setenv("HTTPS_PROXY", proxy)
    checks, setup = check_configuration(KEY, None)
    line = next(c for c in checks if c.name == "proxy")
    assert line.verdict is Verdict.INFO and "go through http://***@proxy.corp:3128" in line.detail
    assert "pa%2F" not in repr(line) and setup is not None and setup.proxy == proxy
