"""Fixtures for the doctor: an HTTPS replica with a self-signed CA, a refused port, a proxy
that refuses tunnels, and a runner bound to them (its second replica, the other region, is the
suite-wide ``other_replica``).
"""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme

from stepfun_core.doctor import DoctorOptions, Region, Report, run_doctor
from stepfun_core.doctor.proxy import PROXY_VARIABLES
from stepfun_core.settings import API_KEY_ENV_VARS, BASE_URL_ENV_VARS
from tests.replica import Replica

ENV = (*API_KEY_ENV_VARS, *BASE_URL_ENV_VARS, *PROXY_VARIABLES)
KEY = "sk-doctor-test-key-0123456789"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No key, base URL or proxy from the outside: each test sets what it needs."""
    for name in ENV:
        monkeypatch.delenv(name, raising=False)


def regions_of(main: Replica, other: Replica) -> tuple[Region, ...]:
    """The region table with its rows on two replicas (Step Plan URLs under /step_plan/v1)."""
    return (
        Region("international", main.base_url),
        Region("China", other.base_url),
        Region("international Step Plan", f"{main.url}/step_plan/v1", step_plan=True),
        Region("China Step Plan", f"{other.url}/step_plan/v1", step_plan=True),
    )


class Doctor:
    """Runs the doctor against the replica (as the international API) and its twin."""

    def __init__(self, replica: Replica, other: Replica) -> None:
        self.replica = replica
        self.other = other

    def __call__(self, **options: Any) -> Report:
        options.setdefault("api_key", KEY)
        options.setdefault("base_url", self.replica.base_url)
        options.setdefault("timeout", 2.0)
        return run_doctor(DoctorOptions(**options), regions=regions_of(self.replica, self.other))

    def probe(self, probe_id: str, **options: Any) -> Any:
        """Run one probe; return its result."""
        report = self(only=(probe_id,), probe=True, **options)
        assert [p.assumption for p in report.probes] == [probe_id], report.checks
        return report.probes[0]


@pytest.fixture
def doctor(replica: Replica, other_replica: Replica) -> Doctor:
    return Doctor(replica, other_replica)


def check(report: Report, name: str) -> Any:
    """The one check of that name."""
    found = [c for c in report.checks if c.name == name]
    assert len(found) == 1, [(c.name, c.detail) for c in report.checks]
    return found[0]


# --- TLS ----------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def certificate_authority() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="session")
def ca_file(certificate_authority: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    certificate_authority.cert_pem.write_to_path(str(path))
    return path


@pytest.fixture(scope="session")
def tls_server(certificate_authority: trustme.CA) -> Iterator[Replica]:
    """The replica over HTTPS with a certificate of a CA nobody trusts by default."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    certificate_authority.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    with Replica(ssl_context=context) as server:
        yield server


@pytest.fixture
def tls_replica(tls_server: Replica) -> Iterator[Replica]:
    tls_server.reset()
    yield tls_server
    tls_server.reset()


# --- refusing things ----------------------------------------------------------------------------
@pytest.fixture
def refused_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RefusingProxy:
    """An HTTP proxy that answers every request, CONNECT included, with 403."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = int(self.sock.getsockname()[1])
        self.requests: list[bytes] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                head = b""
                while b"\r\n\r\n" not in head:
                    piece = conn.recv(4096)
                    if not piece:
                        break
                    head += piece
                if head:  # the doctor's TCP check connects and closes without a request
                    self.requests.append(head.split(b"\r\n", 1)[0])
                conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def refusing_proxy() -> Iterator[RefusingProxy]:
    proxy = RefusingProxy()
    yield proxy
    proxy.close()
