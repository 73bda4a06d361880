"""Fixtures for the downstream suite: an echo server and a second replica, both on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from stepfun_core.http import shared_sync_client
from tests.downstream.echo import EchoServer
from tests.replica import Replica


@pytest.fixture(scope="session")
def echo_server() -> Iterator[EchoServer]:
    with EchoServer(hold=0.005) as server:
        yield server


@pytest.fixture
def echo(echo_server: EchoServer) -> Iterator[EchoServer]:
    """The echo server, with no request recorded."""
    echo_server.reset()
    yield echo_server
    echo_server.reset()


@pytest.fixture(scope="session")
def other_replica_server() -> Iterator[Replica]:
    with Replica() as server:
        yield server


@pytest.fixture
def other_replica(other_replica_server: Replica) -> Iterator[Replica]:
    """A second replica (another host:port), reset for this test."""
    other_replica_server.reset()
    yield other_replica_server
    other_replica_server.reset()


@pytest.fixture(autouse=True)
def _fresh_sync_pool() -> Iterator[None]:
    """Each test starts and ends without pooled connections (public API: a closed pool is
    replaced on the next request)."""
    shared_sync_client().close()
    yield
    shared_sync_client().close()
