"""Running one call through a sync or an async entry point, chosen by a test parameter."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass
class Mode:
    """``sync`` or ``async``: which of a pair of entry points a test's calls go through."""

    mode: str

    @property
    def is_async(self) -> bool:
        return self.mode == "async"

    def call(self, sync: Callable[[], T], concurrent: Callable[[], Coroutine[Any, Any, T]]) -> T:
        """The sync call's result, or the async one's in a fresh event loop."""
        return asyncio.run(concurrent()) if self.is_async else sync()

    def collect(self, sync: Callable[[], Iterable[T]], concurrent: Callable[[], Any]) -> list[T]:
        """Every item of a sync iterable, or of an async one (or an awaitable giving one)."""
        if not self.is_async:
            return list(sync())

        async def run() -> list[T]:
            items = concurrent()
            if isinstance(items, Awaitable):
                items = await items
            assert isinstance(items, AsyncIterable)
            return [item async for item in items]

        return asyncio.run(run())
