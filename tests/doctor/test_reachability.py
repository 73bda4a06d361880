"""Step 2, reachability: DNS, TCP and TLS verdicts, direct and through a proxy."""

from __future__ import annotations

import errno
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from stepfun_core.doctor import Verdict
from stepfun_core.doctor.report import EXIT_FAILED, KEY_AND_REGION, MODELS, WIRE
from tests.doctor.conftest import Doctor, RefusingProxy, check
from tests.replica import Replica


def skipped_after(report: Any) -> bool:
    """Steps 3 to 5 were skipped: nothing was sent to an unreachable API."""
    skipped = [c.step for c in report.checks if c.verdict is Verdict.SKIPPED]
    return skipped == [KEY_AND_REGION, MODELS, WIRE]


def test_all_clear_over_http(doctor: Doctor) -> None:
    report = doctor()
    assert check(report, "DNS").verdict is Verdict.OK and "127.0.0.1" in check(report, "DNS").detail
    assert check(report, "TCP").verdict is Verdict.OK and " ms)" in check(report, "TCP").detail
    tls = check(report, "TLS")
    assert tls.verdict is Verdict.INFO and "not used" in tls.detail
    assert report.exit_code() == 0


def test_no_network_is_a_dns_failure(doctor: Doctor, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_dns(host: Any, *args: Any, **kwargs: Any) -> Any:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    report = doctor(base_url="https://api.stepfun.ai/v1")
    dns = check(report, "DNS")
    assert dns.verdict is Verdict.FAIL and "cannot resolve api.stepfun.ai" in dns.detail
    assert "network" in (dns.fix or "") and "HTTPS_PROXY" in (dns.fix or "")
    assert skipped_after(report) and report.exit_code() == EXIT_FAILED


def test_a_resolver_that_hangs_times_out(doctor: Doctor, monkeypatch: pytest.MonkeyPatch) -> None:
    def slow(host: Any, *args: Any, **kwargs: Any) -> Any:
        time.sleep(5.0)  # far past the timeout: a pause of the test process must not decide it
        raise socket.gaierror(socket.EAI_AGAIN, "late")

    monkeypatch.setattr(socket, "getaddrinfo", slow)
    started = time.monotonic()
    report = doctor(base_url="https://api.stepfun.ai/v1", timeout=0.2)
    assert time.monotonic() - started < 3
    dns = check(report, "DNS")
    assert dns.verdict is Verdict.FAIL and "no answer within 0.2 s" in dns.detail


def test_a_refused_port(doctor: Doctor, refused_port: int) -> None:
    report = doctor(base_url=f"http://127.0.0.1:{refused_port}/v1")
    tcp = check(report, "TCP")
    assert tcp.verdict is Verdict.FAIL and "refuses connections" in tcp.detail
    assert "base URL" in (tcp.fix or "")
    assert skipped_after(report) and report.exit_code() == EXIT_FAILED


@pytest.mark.parametrize(
    ("error", "said"),
    [
        (TimeoutError("timed out"), "did not answer in time"),
        (OSError(errno.ENETUNREACH, "Network is unreachable"), "no route to"),
        (OSError(errno.EACCES, "Permission denied"), "cannot connect to"),
    ],
)
def test_connect_failures(
    doctor: Doctor, monkeypatch: pytest.MonkeyPatch, error: OSError, said: str
) -> None:
    def fail(self: socket.socket, address: Any) -> None:
        raise error

    monkeypatch.setattr(socket.socket, "connect", fail)
    report = doctor()
    tcp = check(report, "TCP")
    assert tcp.verdict is Verdict.FAIL and said in tcp.detail and tcp.fix


def test_tls_with_a_trusted_certificate(
    doctor: Doctor, tls_replica: Replica, ca_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))  # what a user with a company CA sets
    report = doctor(base_url=tls_replica.base_url)
    tls = check(report, "TLS")
    assert tls.verdict is Verdict.OK and "TLSv1." in tls.detail and "valid until" in tls.detail
    assert check(report, "key").verdict is Verdict.OK  # the API call used the same trust
    assert report.exit_code() == 0


def test_tls_with_a_certificate_nobody_trusts(doctor: Doctor, tls_replica: Replica) -> None:
    report = doctor(base_url=tls_replica.base_url)
    tls = check(report, "TLS")
    assert tls.verdict is Verdict.FAIL and "certificate problem" in tls.detail
    assert "SSL_CERT_FILE" in (tls.fix or "")
    assert skipped_after(report) and report.exit_code() == EXIT_FAILED


def test_tls_to_a_plain_http_server(doctor: Doctor, replica: Replica) -> None:
    report = doctor(base_url=f"https://127.0.0.1:{replica.port}/v1")
    tls = check(report, "TLS")
    assert tls.verdict is Verdict.FAIL and "TLS handshake" in tls.detail
    assert "http://" in (tls.fix or "")


def test_a_proxy_that_refuses_connections(
    doctor: Doctor, monkeypatch: pytest.MonkeyPatch, refused_port: int
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{refused_port}")
    report = doctor(base_url="https://api.stepfun.ai/v1")
    dns = check(report, "DNS")
    assert dns.verdict is Verdict.OK and dns.detail.startswith("127.0.0.1")  # the proxy's host
    tcp = check(report, "TCP")
    assert tcp.verdict is Verdict.FAIL and "(the proxy http://127.0.0.1" in tcp.detail
    assert "HTTPS_PROXY" in (tcp.fix or "")
    assert report.exit_code() == EXIT_FAILED


def test_a_proxy_that_refuses_the_tunnel(
    doctor: Doctor, monkeypatch: pytest.MonkeyPatch, refusing_proxy: RefusingProxy
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{refusing_proxy.port}")
    report = doctor(base_url="https://api.stepfun.ai/v1")
    assert check(report, "TCP").verdict is Verdict.OK
    tls = check(report, "TLS")
    assert tls.verdict is Verdict.SKIPPED and "through the proxy" in tls.detail
    key = check(report, "key")
    assert key.verdict is Verdict.FAIL and "the proxy refused to connect" in key.detail
    assert "HTTPS_PROXY" in (key.fix or "")
    assert refusing_proxy.requests == [b"CONNECT api.stepfun.ai:443 HTTP/1.1"]
    assert report.exit_code() == EXIT_FAILED


def test_a_proxy_is_named_without_its_credentials(
    doctor: Doctor, monkeypatch: pytest.MonkeyPatch, refused_port: int
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", f"http://alice:Pq%2FZx%23W0rK@127.0.0.1:{refused_port}")
    report = doctor(base_url="https://api.stepfun.ai/v1")
    tcp = check(report, "TCP")
    assert f"(the proxy http://***@127.0.0.1:{refused_port})" in tcp.detail
    assert "alice" not in repr(report.to_dict()) and "Zx%23" not in repr(report.to_dict())
