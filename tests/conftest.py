"""Test harness: no network, the loopback replica, and the VCR (pytest-recording) configuration.

Environment:
- ``VCR_RECORD_MODE``: ``none`` (default, replay only), ``once``, ``new_episodes``, ``all``,
  ``rewrite``.
  It is put in ``vcr_config`` and so overrides ``--record-mode`` (pytest-recording precedence).
- Recording without ``STEP_API_KEY``/``STEPFUN_API_KEY``: a session replica is started and
  ``STEP_BASE_URL``/``STEPFUN_BASE_URL`` and ``STEP_API_KEY=replica-key`` point the clients at it.
- Recording with a key: the real API (base URL untouched), and non-loopback sockets are allowed.
- Replaying: ``STEP_API_KEY=replay`` if no key is set; ``STEP_BASE_URL`` untouched.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from stepfun_probes.cassette_format import (
    REDACTED,
    SECRET_REQUEST_HEADERS,
    ReadableYamlSerializer,
    keep_allowed_headers,
    stepfun_json_body,
)
from tests.replica import Replica

REPO = Path(__file__).resolve().parent.parent
TESTS = Path(__file__).resolve().parent
CASSETTES = REPO / "cassettes"
DUMMY_KEYS = frozenset({"replay", "replica-key"})
_PRISTINE_TRANSPORTS = (
    httpx.HTTPTransport.handle_request,
    httpx.AsyncHTTPTransport.handle_async_request,
)


class NetworkBlockedError(RuntimeError):
    """A test tried to reach a host other than loopback."""


def record_mode() -> str:
    """The VCR record mode from ``VCR_RECORD_MODE`` (default ``none``)."""
    return os.environ.get("VCR_RECORD_MODE", "none") or "none"


def _real_key() -> str | None:
    for name in ("STEP_API_KEY", "STEPFUN_API_KEY"):
        value = os.environ.get(name)
        if value and value not in DUMMY_KEYS:
            return value
    return None


# --- no network -----------------------------------------------------------------------------------
def _is_loopback(address: Any) -> bool:
    host = address[0] if isinstance(address, tuple) else address
    if not isinstance(host, str):
        return False
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def _guard(family: int, address: Any) -> None:
    if family == getattr(socket, "AF_UNIX", -1):
        return
    if not _is_loopback(address):
        raise NetworkBlockedError(f"network access to {address!r} is blocked in tests")


_ORIGINAL: dict[str, Any] = {
    "connect": socket.socket.connect,
    "connect_ex": socket.socket.connect_ex,
    "getaddrinfo": socket.getaddrinfo,
}


def _guarded_connect(self: socket.socket, address: Any) -> Any:
    _guard(self.family, address)
    return _ORIGINAL["connect"](self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> Any:
    _guard(self.family, address)
    return _ORIGINAL["connect_ex"](self, address)


def _guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    # Fail fast on DNS for external names instead of waiting for a resolver timeout.
    name = host.decode() if isinstance(host, bytes) else host
    if name is not None and not _is_loopback(name):
        raise NetworkBlockedError(f"name resolution of {name!r} is blocked in tests")
    return _ORIGINAL["getaddrinfo"](host, *args, **kwargs)


def block_network() -> None:
    """Refuse socket connections (and DNS lookups) to anything but loopback and Unix sockets."""
    setattr(socket.socket, "connect", _guarded_connect)  # noqa: B010 (keeps mypy quiet)
    setattr(socket.socket, "connect_ex", _guarded_connect_ex)  # noqa: B010
    setattr(socket, "getaddrinfo", _guarded_getaddrinfo)  # noqa: B010


def unblock_network() -> None:
    """Undo `block_network`."""
    setattr(socket.socket, "connect", _ORIGINAL["connect"])  # noqa: B010
    setattr(socket.socket, "connect_ex", _ORIGINAL["connect_ex"])  # noqa: B010
    setattr(socket, "getaddrinfo", _ORIGINAL["getaddrinfo"])  # noqa: B010


# --- session set-up -------------------------------------------------------------------------------
_RECORDING: dict[str, Replica] = {}  # the replica started for a recording session


def pytest_configure(config: pytest.Config) -> None:
    mode = record_mode()
    if mode != "none" and _real_key():
        config.stash[_TARGET] = "the real StepFun API"
        return  # recording live: the network must stay open
    block_network()
    if mode != "none":
        server = _RECORDING["replica"] = Replica().start()
        os.environ["STEP_BASE_URL"] = os.environ["STEPFUN_BASE_URL"] = server.base_url
        os.environ["STEP_API_KEY"] = "replica-key"
        config.stash[_TARGET] = f"the loopback replica at {server.base_url}"
    elif not os.environ.get("STEP_API_KEY") and not os.environ.get("STEPFUN_API_KEY"):
        os.environ["STEP_API_KEY"] = "replay"


_TARGET = pytest.StashKey[str]()


def pytest_report_header(config: pytest.Config) -> str:
    target = config.stash.get(_TARGET, "cassettes only (replay)")
    return f"stepfun: VCR_RECORD_MODE={record_mode()}, recording target: {target}"


def pytest_unconfigure(config: pytest.Config) -> None:
    server = _RECORDING.pop("replica", None)
    if server is not None:
        server.stop()
    unblock_network()


def pytest_recording_configure(config: pytest.Config, vcr: Any) -> None:
    vcr.register_serializer("yaml", ReadableYamlSerializer())
    vcr.register_matcher("stepfun_json_body", stepfun_json_body)


# --- fixtures -------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def replica_server() -> Iterator[Replica]:
    """One replica for the whole session."""
    with Replica() as server:
        yield server


@pytest.fixture
def replica(replica_server: Replica) -> Iterator[Replica]:
    """The session replica, reset (no requests, no faults) for this test."""
    replica_server.reset()
    yield replica_server
    replica_server.reset()


@pytest.fixture(scope="session")
def other_replica_server() -> Iterator[Replica]:
    """A second replica for the session (another host:port)."""
    with Replica() as server:
        yield server


@pytest.fixture
def other_replica(other_replica_server: Replica) -> Iterator[Replica]:
    """A second replica (another host:port: the other region, another tenant), reset for
    this test."""
    other_replica_server.reset()
    yield other_replica_server
    other_replica_server.reset()


def suite_name(module_path: Path) -> str:
    """``tests/<suite>/test_x.py`` -> ``<suite>``; ``tests/test_x.py`` -> ``test_x``."""
    try:
        relative = module_path.resolve().relative_to(TESTS)
    except ValueError:
        return module_path.stem
    return relative.parts[0] if len(relative.parts) > 1 else module_path.stem


@pytest.fixture(scope="module")
def vcr_cassette_dir(request: pytest.FixtureRequest) -> str:
    """``<repo>/cassettes/<suite>``: one folder per suite."""
    return str(CASSETTES / suite_name(Path(str(request.node.path))))


@pytest.fixture
def vcr_config(vcr_cassette_dir: str) -> dict[str, Any]:
    """pytest-recording configuration (see the module docstring)."""
    return {
        "cassette_library_dir": vcr_cassette_dir,
        "record_mode": record_mode(),
        "match_on": ["method", "path", "stepfun_json_body"],
        "filter_headers": [(name, REDACTED) for name in SECRET_REQUEST_HEADERS],
        "decode_compressed_response": True,
        "before_record_response": keep_allowed_headers,
        "allow_playback_repeats": False,
    }


@pytest.fixture(autouse=True)
def _restore_httpx_transports() -> Iterator[None]:
    """Undo a VCR patch leaked by a failed cassette save (transport-notes §3.6 item 4)."""
    yield
    if (httpx.HTTPTransport.handle_request, httpx.AsyncHTTPTransport.handle_async_request) != (
        _PRISTINE_TRANSPORTS
    ):
        httpx.HTTPTransport.handle_request = _PRISTINE_TRANSPORTS[0]  # type: ignore[method-assign]
        httpx.AsyncHTTPTransport.handle_async_request = _PRISTINE_TRANSPORTS[1]  # type: ignore[method-assign]


@pytest.fixture
def no_collections() -> Iterator[None]:
    """Automatic garbage collection paused for the test (see tests.hostile.collections_paused)."""
    from tests.hostile import collections_paused

    with collections_paused():
        yield
