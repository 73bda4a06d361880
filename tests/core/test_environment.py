"""Proxy and certificate variables, read as httpx reads them.

A pool is refused (a ``ConfigurationError`` naming the variable, never showing a password)
exactly when ``httpx.Client()`` cannot be made in that environment, and never when it can: a
lowercase variable wins over its uppercase twin and an empty one removes it, ``NO_PROXY=*``
means no proxy, and ``SSL_CERT_DIR`` counts only without ``SSL_CERT_FILE``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import certifi
import httpx
import pytest

from stepfun_core.errors import ConfigurationError
from stepfun_core.pools import environment_problem

PASSWORD = "s3cr/etPassw0rd"  # the raw '/' ends the authority: httpx reads a port "s3cr"
VARIABLES = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY", "SSL_CERT_FILE", "SSL_CERT_DIR")
SOCKS = "socks5://127.0.0.1:1080"
BROKEN = f"http://alice:{PASSWORD}@proxy.example:3128"
GOOD = "http://127.0.0.1:9"

# name: (environment, the variable a refusal names)
CASES: dict[str, tuple[dict[str, str], str]] = {
    "lowercase socks5 over a valid uppercase": (
        {"HTTPS_PROXY": GOOD, "https_proxy": SOCKS},
        "https_proxy",
    ),
    "lowercase with a broken password over a valid uppercase": (
        {"HTTPS_PROXY": GOOD, "https_proxy": BROKEN},
        "https_proxy",
    ),
    "a broken uppercase replaced by a valid lowercase": (
        {"HTTPS_PROXY": BROKEN, "https_proxy": GOOD},
        "",
    ),
    "a broken uppercase removed by an empty lowercase": (
        {"HTTPS_PROXY": BROKEN, "https_proxy": ""},
        "",
    ),
    "a broken uppercase alone": ({"HTTPS_PROXY": BROKEN}, "HTTPS_PROXY"),
    "socks5 under NO_PROXY=*": ({"ALL_PROXY": SOCKS, "NO_PROXY": "localhost, *"}, ""),
    "socks5h": ({"all_proxy": "socks5h://127.0.0.1:1080"}, "all_proxy"),
    "a valid SSL_CERT_FILE beside a missing SSL_CERT_DIR": (
        {"SSL_CERT_FILE": certifi.where(), "SSL_CERT_DIR": "/nonexistent/certs"},
        "",
    ),
}


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    return monkeypatch


def _httpx_refuses() -> bool:
    try:
        httpx.Client().close()
    except Exception:  # whatever httpx raises: ImportError, InvalidURL, SSLError...
        return True
    return False


@pytest.mark.parametrize("case", list(CASES))
def test_refused_exactly_when_httpx_cannot_make_a_client(
    case: str, environment: pytest.MonkeyPatch
) -> None:
    variables, named = CASES[case]
    for name, value in variables.items():
        environment.setenv(name, value)
    problem = environment_problem()
    assert (problem is not None) == _httpx_refuses(), problem
    if problem is not None:
        assert isinstance(problem, ConfigurationError) and named in str(problem)
        assert PASSWORD not in str(problem) and "s3cr" not in str(problem)


def test_a_certificate_file_fixed_in_place_is_read_again(
    environment: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bundle = tmp_path / "company-ca.pem"
    bundle.write_bytes(b"\x30\x82\x01\x0a not a PEM bundle")
    environment.setenv("SSL_CERT_FILE", str(bundle))
    assert "no usable certificates" in str(environment_problem())
    shutil.copyfile(certifi.where(), bundle)  # fixed, at the same path, in the same process
    assert environment_problem() is None
