"""Fixtures for the downstream suite: an echo server on loopback (the second replica is the
suite-wide ``other_replica``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from stepfun_core.pools import close_sync_pools
from tests.downstream.echo import EchoServer


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


@pytest.fixture(autouse=True)
def _fresh_sync_pool() -> Iterator[None]:
    """Each test starts and ends without pooled connections (public API: a closed pool is
    replaced on the next request)."""
    close_sync_pools()
    yield
    close_sync_pools()
