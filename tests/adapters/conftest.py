"""The adapter under test: each framework in each mode, or each framework (for construction)."""

from __future__ import annotations

import pytest

from tests.adapters.drivers import ADAPTERS, Adapter

MODES = ("sync", "async")


@pytest.fixture(params=[(f, m) for f in ADAPTERS for m in MODES], ids="-".join)
def adapter(request: pytest.FixtureRequest) -> Adapter:
    """Each framework's adapter, called through its sync and its async entry points."""
    framework, mode = request.param
    return ADAPTERS[framework](mode)


@pytest.fixture(params=list(ADAPTERS))
def framework(request: pytest.FixtureRequest) -> Adapter:
    """Each framework's adapter, for what happens before any call (construction)."""
    return ADAPTERS[request.param]("sync")
