"""A cancelled async call ends cancelled, whenever the cancellation lands.

Round 10 at scale: 0.1-0.6% of 1,000 cancelled streams ran to the end and returned normally,
and with ``total_timeout`` each such call left a pool slot taken for good. ``asyncio.wait_for``
(before Python 3.12) returns the result when the cancellation comes in the turn its work ends
(python/cpython#86296); ``stepfun_core.waits.within`` awaits in the task itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import httpcore
import httpx
import pytest

import stepfun_core as core
from stepfun_core import client, pools
from stepfun_core.limits import Deadline
from stepfun_core.waits import within
from tests.core.conftest import Driver
from tests.reliability.raw_server import RawServer, Send, completion, whole

PAYLOAD = core.build_chat_request("step-3.5-flash", [{"role": "user", "content": "Owls?"}])

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


class NeverSent(httpx.AsyncByteStream):
    """An HTTP client standing in for the shared pool: counts what it sent, and closes."""

    def __init__(self) -> None:
        self.sent = self.closed = 0

    async def send(self, request: httpx.Request, stream: bool = True) -> httpx.Response:
        # httpcore calls the trace extension before it writes the request, which takes turns.
        await request.extensions["trace"]("http11.send_request_headers.started", {})
        await asyncio.sleep(0)
        self.sent += 1
        return httpx.Response(200, request=request, stream=self)

    async def aclose(self) -> None:
        self.closed += 1


@LOST_ON_310
@pytest.mark.parametrize("turns", [0, 1, 2, 3, 4])
def test_a_call_cancelled_while_its_turn_comes_sends_nothing(turns: int) -> None:
    # The request waiting for its turn on the shared pool (client._sent_in_turn) was sent
    # anyway when the cancellation came as the turn was handed over.
    async def run() -> tuple[bool, Any, NeverSent]:
        http = NeverSent()
        turn = client._turns.setdefault(http, client._Turn())
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
            outcome: Any = (await waiting).status_code
        except asyncio.CancelledError:
            outcome = "cancelled"
        await asyncio.sleep(0.01)  # a send abandoned on its way ends
        return accepted, outcome, http

    accepted, outcome, http = asyncio.run(run())
    if accepted and turns < 2:  # cancelled as the turn came: cancelled, and nothing sent
        assert (outcome, http.sent) == ("cancelled", 0)
    elif accepted:  # cancelled as the send ended: what came back is closed, not left open
        assert outcome == "cancelled" and http.sent == http.closed
    else:  # it had already sent (a later turn): that is no cancellation lost
        assert (outcome, http.sent) == (200, 1)


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


class Watched(httpx.AsyncBaseTransport):
    """A real transport that notes how each request through it ended."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.ended: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await self.inner.handle_async_request(request)
        except BaseException as exc:
            self.ended.append(type(exc).__name__)
            raise


def test_a_missed_deadline_ends_the_attempt_by_its_socket_not_by_cancelling_it() -> None:
    # Round 15: each async attempt was cancelled at its deadline, inside httpcore, whose pool can
    # keep the slot of an operation cancelled there for good (encode/httpcore#1093): 1-4 slots
    # per 1,000 streams, until every call failed with PoolTimeout. A server trickling its
    # headers (each byte resets the read timeout) is now cut at its socket.
    def trickles(send: Send, request: Any) -> bool:
        send(b"HTTP/1.1 200 OK\r\n")
        while True:
            time.sleep(0.05)
            send(b"X")

    async def run(base_url: str, transport: Watched) -> None:
        async with httpx.AsyncClient(transport=transport) as http:
            model = core.AsyncStepFunClient(
                api_key="k", base_url=base_url, http_client=http, total_timeout=0.5, max_retries=0
            )
            with pytest.raises(core.TotalTimeoutError):
                await model.create(PAYLOAD)

    transport = Watched()
    with RawServer(trickles) as server:
        asyncio.run(run(server.base_url, transport))
    assert transport.ended and "CancelledError" not in transport.ended, transport.ended


def test_a_stream_opened_past_its_deadline_is_closed_not_handed_over() -> None:
    # Review of round 15: the deadline's timer shut a connection's socket in the same turn its
    # headers (already buffered) were read: the stream was handed over dead.
    response = httpx.Response(200, stream=httpx.ByteStream(b"data: [DONE]\n\n"))

    async def late() -> Any:
        await asyncio.sleep(0.05)
        return response, b""

    async def run() -> None:
        deadline = Deadline(0.01, {"pool": None})
        request = httpx.Request("POST", "http://x/", extensions={"timeout": {}})
        with pytest.raises(core.TotalTimeoutError):
            await client._until(deadline, request, late())

    asyncio.run(run())
    assert response.is_closed


class NetworkStream:
    def __init__(self) -> None:
        self.shut = False

    def get_extra_info(self, name: str) -> Any:
        return self if name == "socket" else None

    def shutdown(self, how: int) -> None:
        self.shut = True


def test_a_deadline_never_shuts_an_http2_connection_other_calls_share() -> None:
    # Review of round 15: one call's deadline ended every stream on a caller's HTTP/2 client.
    http1, http2 = client.Sockets(), client.Sockets()
    for sockets, protocol in ((http1, "http11"), (http2, "http2")):
        sockets.opened.append(NetworkStream())
        sockets.note(f"{protocol}.send_request_headers.started", {})
        sockets.shut()
    assert [s.opened[0].shut for s in (http1, http2)] == [True, False]


class Noted:
    """An HTTP client standing in for the shared pool: notes the pool timeout it is sent with."""

    def __init__(self) -> None:
        self.pools: list[float] = []

    async def send(self, request: httpx.Request, stream: bool = True) -> str:
        self.pools.append(request.extensions["timeout"]["pool"])
        return "response"


@pytest.mark.parametrize("pool", [5.0, 0.32])
def test_the_wait_for_a_turn_counts_in_the_pool_timeout(pool: float) -> None:
    # Round 15: a request waited for its turn up to the pool timeout, then for a connection up
    # to the pool timeout again. Its review: entering httpcore with almost none left timed out
    # there, where httpcore 1.x may keep a new connection for good; that times out here.
    async def run() -> tuple[Noted, Any, dict[str, Any]]:
        http = Noted()
        turn = client._turns.setdefault(http, client._Turn())
        await turn.acquire()  # the request before holds the turn for 0.3 s
        asyncio.get_running_loop().call_later(0.3, turn.release)
        request = httpx.Request("POST", "http://x/", extensions={"timeout": {"pool": pool}})
        try:
            outcome: Any = await client._sent_in_turn(http, request)  # type: ignore[arg-type]
        except httpx.PoolTimeout as exc:
            outcome = exc
        assert not turn.locked()  # handed on either way
        return http, outcome, request.extensions

    http, outcome, extensions = asyncio.run(run())
    assert extensions["timeout"] == {"pool": pool} and "trace" not in extensions
    if pool == 5.0:
        assert outcome == "response" and http.pools[0] <= 4.75
    else:  # under MIN_POOL_WAIT left: never sent into httpcore
        assert isinstance(outcome, httpx.PoolTimeout) and http.pools == []


def test_a_turn_just_released_to_a_waiter_is_still_waited_for_within_the_pool_timeout() -> None:
    # Third review of round 15: a released lock looks free before its next waiter runs; a request
    # arriving in that step waited behind it with no time limit at all.
    class Slow(Noted):
        async def send(self, request: httpx.Request, stream: bool = True) -> str:
            await asyncio.sleep(1.0)  # holds the turn: it never claims a connection
            return await super().send(request, stream)

    async def run() -> tuple[Any, float]:
        http = Slow()
        turn = client._turns.setdefault(http, client._Turn())
        await turn.acquire()
        first = httpx.Request("POST", "http://x/", extensions={"timeout": {"pool": 5.0}})
        waiting = asyncio.ensure_future(client._sent_in_turn(http, first))  # type: ignore[arg-type]
        await asyncio.sleep(0)  # it waits for the turn now
        turn.release()  # handed to it, which has not run yet
        second = httpx.Request("POST", "http://x/", extensions={"timeout": {"pool": 0.2}})
        started = time.monotonic()
        try:
            outcome: Any = await client._sent_in_turn(http, second)  # type: ignore[arg-type]
        except httpx.PoolTimeout as exc:
            outcome = exc
        took = time.monotonic() - started
        await waiting
        return outcome, took

    outcome, took = asyncio.run(run())
    assert isinstance(outcome, httpx.PoolTimeout) and took < 0.9, (outcome, took)


def test_calls_cancelled_at_random_never_fill_the_shared_pool() -> None:
    # Round 17: a caller's own timeouts (asyncio.wait_for) left httpcore 1.x's pool full for
    # good, two ways. A cancellation inside a response's close left its request counted active;
    # one while a request waited for a new connection left that connection unconnected
    # (encode/httpcore#1093). On a pool of 4, every later call failed with PoolTimeout after
    # 6-24 rounds of 40 calls. The server closes each connection: each call needs a new one.
    pace = random.Random(7)

    def answers_then_closes(send: Send, request: Any) -> bool:
        time.sleep(0.01 + pace.random() * 0.02)
        send(whole(200, completion(), Connection="close"))
        return False

    async def run(base_url: str) -> None:
        model = core.AsyncStepFunClient(
            api_key="k", base_url=base_url, max_retries=0, max_connections=2,
            max_keepalive_connections=2, timeout=httpx.Timeout(5, pool=2),
        )  # fmt: skip
        timeouts = random.Random(1)

        async def cancelled_at_random() -> None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(model.create(PAYLOAD), timeouts.uniform(0.02, 0.15))

        for _ in range(30):
            await asyncio.gather(*(cancelled_at_random() for _ in range(40)))
        answer = await model.create(PAYLOAD)  # a PoolTimeout if the pool had filled
        assert answer.choices[0].content
        await pools.aclose_loop_pools()

    with RawServer(answers_then_closes) as server:
        asyncio.run(run(server.base_url))


class SlowToClose(httpx.AsyncByteStream):
    """A whole answer whose close takes a while (httpcore's, closing its socket)."""

    def __init__(self) -> None:
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield completion()

    async def aclose(self) -> None:
        await asyncio.sleep(0.05)
        self.closed = True  # httpcore's pool takes the connection back here


def test_a_cancellation_during_the_close_of_a_response_does_not_stop_the_close() -> None:
    # Round 17: the caller's timeout landing as the body ended stopped httpcore's close half-way,
    # and its pool counted the request active for good. The close runs on; the call is cancelled.
    body = SlowToClose()

    async def run() -> None:
        # As httpcore's (the only responses whose close matters to a pool).
        extensions = {"network_stream": object()}
        answer = httpx.Response(
            200, headers={"Content-Type": "application/json"}, stream=body, extensions=extensions
        )
        async with httpx.AsyncClient(transport=httpx.MockTransport(lambda _: answer)) as http:
            model = core.AsyncStepFunClient(api_key="k", base_url="http://x/v1", http_client=http)
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(model.create(PAYLOAD), 0.02)
            assert not body.closed  # the call ended at its timeout, before the close
            await asyncio.sleep(0.1)

    asyncio.run(run())
    assert body.closed


def test_a_call_cancelled_as_its_new_connection_is_made_leaves_no_connection_behind() -> None:
    # Round 17 (encode/httpcore#1093): a call cancelled after httpcore 1.x gave it a new
    # connection, but before it began connecting, left that connection in the pool, never to
    # connect or be reaped. On a pool of one, the next call then failed with PoolTimeout.
    async def run(base_url: str) -> None:
        model = core.AsyncStepFunClient(
            api_key="k", base_url=base_url, max_retries=0, max_connections=1,
            max_keepalive_connections=1, timeout=httpx.Timeout(5, pool=1),
        )  # fmt: skip
        for turns in range(6):  # the cancellation lands at each step of the way in
            calls = [asyncio.ensure_future(model.create(PAYLOAD)) for _ in range(2)]
            for _ in range(turns):
                await asyncio.sleep(0)
            for call in calls:
                call.cancel()
            await asyncio.gather(*calls, return_exceptions=True)
        answer = await model.create(PAYLOAD)  # a PoolTimeout if the one connection was kept
        assert answer.choices[0].content
        await pools.aclose_loop_pools()

    def answers(send: Send, request: Any) -> bool:
        send(whole(200, completion()))
        return True

    with RawServer(answers) as server:
        asyncio.run(run(server.base_url))


def test_a_send_through_a_proxy_is_under_way_only_once_its_own_request_is() -> None:
    # Review of round 17: behind HTTPS_PROXY, httpcore sends the proxy's CONNECT with the
    # request's extensions, so the tunnel's events counted as the request's. A call cancelled
    # while the tunnel was made was cancelled inside httpcore, which cleans up no tunnel cut
    # half-way: on a pool of 2, both connections stayed taken (a loopback proxy and TLS server).
    # The send goes on through the tunnel and ends before its own request.
    async def run() -> None:
        entry = client._Entry(client._Turn(), None)
        await entry.turn.acquire()
        tunnel = {"request": httpcore.Request(b"CONNECT", "http://proxy.test:3128/")}
        own = {"request": httpcore.Request(b"POST", "https://api.test/v1/chat/completions")}
        await entry.trace("http11.send_request_headers.started", tunnel)
        assert not entry.under_way and not entry.turn.locked()  # the turn handed on
        entry.abandoned = True  # the caller is cancelled now
        await entry.trace("http11.send_request_headers.started", tunnel)  # the tunnel goes on
        with pytest.raises(client._Abandoned):
            await entry.trace("http11.send_request_headers.started", own)

    asyncio.run(run())
