"""A cancelled async call ends cancelled, whenever the cancellation lands.

Round 10 at scale: 0.1-0.6% of 1,000 cancelled streams ran to the end and returned normally,
and with ``total_timeout`` each such call left a pool slot taken for good. ``asyncio.wait_for``
(before Python 3.12) returns the result when the cancellation comes in the turn its work ends
(python/cpython#86296); ``stepfun_core.waits.within`` awaits in the task itself.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import httpx
import pytest

import stepfun_core as core
from stepfun_core import client
from stepfun_core.waits import within
from tests.core.conftest import Driver

LOST_ON_310 = pytest.mark.skipif(
    sys.version_info < (3, 11),
    reason="Python 3.10 has no asyncio.timeout; its wait_for loses such a cancellation "
    "(python/cpython#86296)",
)


@LOST_ON_310
def test_a_cancellation_as_the_work_ends_is_never_lost() -> None:
    async def run() -> None:
        ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        waiting = asyncio.ensure_future(within(ready, 60))
        await asyncio.sleep(0)  # it waits for the future now
        ready.set_result("done")
        assert waiting.cancel()  # in the same turn: the result is ready, the cancel accepted
        with pytest.raises(asyncio.CancelledError):
            await waiting

    asyncio.run(run())


def test_within_times_out_and_returns_results() -> None:
    async def run() -> None:
        assert await within(asyncio.sleep(0, "ok"), 1) == "ok"
        assert await within(asyncio.sleep(0, "ok"), None) == "ok"
        with pytest.raises(asyncio.TimeoutError):
            await within(asyncio.sleep(5), 0.01)

    asyncio.run(run())


class NeverSent:
    """An HTTP client standing in for the shared pool: counts what it was asked to send."""

    def __init__(self) -> None:
        self.sent = 0

    async def send(self, request: httpx.Request, stream: bool = True) -> str:
        self.sent += 1
        return "response"


@LOST_ON_310
@pytest.mark.parametrize("turns", [0, 1, 2])
def test_a_call_cancelled_while_its_turn_comes_sends_nothing(turns: int) -> None:
    # The request waiting for its turn on the shared pool (client._sent_in_turn) was sent
    # anyway when the cancellation came as the turn was handed over.
    async def run() -> tuple[bool, Any, int]:
        http = NeverSent()
        turn = client._turns.setdefault(http, asyncio.Lock())
        await turn.acquire()  # the request before holds the turn
        request = httpx.Request("POST", "http://x/", extensions={"timeout": {"pool": 60.0}})
        waiting = asyncio.ensure_future(client._sent_in_turn(http, request))  # type: ignore[arg-type]
        await asyncio.sleep(0)
        await asyncio.sleep(0)  # it waits for the turn now
        turn.release()
        for _ in range(turns):
            await asyncio.sleep(0)
        accepted = waiting.cancel()
        try:
            outcome: Any = await waiting
        except asyncio.CancelledError:
            outcome = "cancelled"
        return accepted, outcome, http.sent

    accepted, outcome, sent = asyncio.run(run())
    if accepted:  # cancelled before it was done: cancelled, and nothing sent
        assert (outcome, sent) == ("cancelled", 0)
    else:  # it had already sent (a later turn): that is no cancellation lost
        assert (outcome, sent) == ("response", 1)


def test_a_pool_timeout_says_to_raise_max_connections(driver: Driver) -> None:
    # Round 10: a full pool read "raise timeout= for slow answers"; more connections help.
    def full(request: httpx.Request) -> httpx.Response:
        raise httpx.PoolTimeout("no connection", request=request)

    with pytest.raises(core.APITimeoutError, match="max_connections"):
        driver.create(
            full,
            core.build_chat_request("step-3.5-flash", [{"role": "user", "content": "hi"}]),
            max_retries=0,
        )
