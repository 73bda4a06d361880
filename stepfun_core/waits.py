"""Awaiting within a time limit without losing the caller's cancellation.

Before Python 3.12, ``asyncio.wait_for`` returns the result when the task is cancelled in the
turn its work ends (python/cpython#86296): the cancelled call went on, sent its request, and a
stream it opened was never closed (its pool slot lost for good). ``asyncio.timeout`` (3.11)
awaits the work in the same task, so a cancellation reaches it as any other would.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


async def within(work: Awaitable[T], seconds: float | None) -> T:
    """``await work``, raising ``TimeoutError`` after ``seconds`` (None: no limit)."""
    if sys.version_info >= (3, 11):
        async with asyncio.timeout(seconds):
            return await work
    # Python 3.10 has no asyncio.timeout: wait_for's lost cancellation is a known limit there.
    return await asyncio.wait_for(work, seconds)  # pragma: no cover (3.10 only)
