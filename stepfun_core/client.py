"""Sync and async clients for ``POST /chat/completions``: only I/O here, the rest is shared."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import threading
import time
import weakref
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, cast

import httpx

from stepfun_core.catalog import ServedModel, parse_models
from stepfun_core.client_base import BaseClient, Outcome
from stepfun_core.closing import close_in_full, kept
from stepfun_core.drain import shut_down
from stepfun_core.errors import StepFunError, TotalTimeoutError
from stepfun_core.http import (
    araw_pieces,
    completion_from,
    is_json_reply,
    raw_pieces,
    refused_unread,
    reply_outcome,
    status_error,
    transport_error,
)
from stepfun_core.jsonio import decode_json
from stepfun_core.limits import BodyReader, Deadline, Tries
from stepfun_core.pools import shared_async_client, shared_sync_client
from stepfun_core.stream import AsyncChatStream, ChatStream, Opened
from stepfun_core.transport import AsyncHTTP, SyncHTTP, classes
from stepfun_core.types import Completion
from stepfun_core.waits import within

__all__ = ["AsyncStepFunClient", "StepFunClient"]


def _cut_errors() -> tuple[type[BaseException], ...]:
    """What may end a body's reading after the whole of it (a transport failure, the deadline).

    Not corrupt compressed data: a failed check cannot tell a bad trailer from altered text.
    """
    return (*classes("TransportError"), TotalTimeoutError)


class StepFunClient(BaseClient[SyncHTTP]):
    """Blocking client; pooled connections are shared across instances by default."""

    @property
    def http(self) -> SyncHTTP:
        """The httpx client in use: the caller's, or the shared pool.

        With ``total_timeout`` its pool keeps no idle connection: each attempt opens its own, so
        that one missing its deadline can be cut (see `by_deadline`).
        """
        if self._http_client is not None:
            return self._http_client
        size, keepalive = self._pool_size
        return shared_sync_client((size, 0 if self.settings.total_timeout else keepalive))

    @staticmethod
    def read_body(response: httpx.Response, reader: BodyReader) -> bytes:
        """A whole body through ``reader`` (its caps, its deadline), then the response closed."""
        try:
            for piece in raw_pieces(response):
                if not reader.add(piece):
                    break
        except _cut_errors() as error:
            if not reader.whole_despite(error):
                raise
        finally:
            response.close()
        return reader.content()

    def _attempt(
        self, http: SyncHTTP, request: httpx.Request, stream: bool, deadline: Deadline | None
    ) -> Outcome:
        """One try: the response (left open for a stream) and its body, or the error."""
        try:
            response = cast(httpx.Response, http.send(request, stream=True))  # type: ignore[arg-type]
            if (refused := refused_unread(response, stream=stream)) is not None:
                response.close()
                return refused
            if response.is_success and stream and not is_json_reply(response):
                return response, b""  # a JSON answer is read whole, then refused by _opened
            content = self.read_body(response, self._reader(response, deadline))
        except self._errors as exc:
            return transport_error(exc)
        except UnicodeError as exc:
            # The idna codec refusing a host (a proxy's from HTTPS_PROXY: base_url's is checked
            # when the client is made) in the sync lookup; async lookups raise ConnectError.
            return transport_error(exc)
        except self._status_errors as exc:
            return status_error(cast(httpx.HTTPStatusError, exc).response, b"")
        return reply_outcome(response, content)

    def _send(
        self, payload: Mapping[str, Any] | None, *, stream: bool, tries: Tries | None = None
    ) -> tuple[httpx.Response, bytes]:
        """Send ``payload`` (None: ``GET /models``), retried as the policy says."""
        http = self._usable(self.http)
        tries = tries or self._tries(stream=stream)
        request = self._build(http, self._current_payload(payload, tries), stream=stream)
        deadline = tries.deadline
        while True:
            work = functools.partial(self._attempt, http, request, stream, deadline)
            outcome = work() if deadline is None else by_deadline(deadline, request, work)
            if not isinstance(outcome, StepFunError):
                if not stream:  # a stream's refusal may still come as its first event
                    self._took(payload, tries)
                return outcome
            if self._refused(outcome, tries):  # sent again as the plan's next payload
                request = self._build(http, self._current_payload(payload, tries), stream=stream)
                continue
            time.sleep(self._retry_delay(request, tries.attempt, outcome, deadline))
            tries.attempt += 1

    def create(self, payload: Mapping[str, Any]) -> Completion:
        """Send a request built by ``build_chat_request`` and return the completion."""
        completion = completion_from(*self._send(self._body(payload), stream=False))
        self._remember(payload, completion.usage)
        return completion

    def list_models(self) -> list[ServedModel]:
        """The models the API serves to this key (``GET /models``), for `stepfun_core.learn`."""
        return parse_models(decode_json(self._send(None, stream=False)[1]))

    def stream(self, payload: Mapping[str, Any]) -> ChatStream:
        """Send the request with ``stream: true`` and return the open stream."""
        return ChatStream(self, payload, self._open(self._body(payload)))

    def _open(self, payload: Mapping[str, Any], tries: Tries | None = None) -> Opened:
        tries = tries or self._tries(stream=True)
        return self._opened(payload, *self._send(payload, stream=True, tries=tries), tries)

    def close(self) -> None:
        """Nothing to release: the shared pool lives on, and a caller's client is theirs."""


def by_deadline(deadline: Deadline, request: httpx.Request, work: Callable[[], Outcome]) -> Outcome:
    """Run one blocking attempt, or cut it at the deadline (or on Ctrl-C) and raise.

    A blocking read cannot be interrupted, and a server trickling its headers resets every read
    timeout; so the attempt runs in its own thread. One given up on has its socket shut down (the
    ``trace`` extension shows it), which ends the thread; a response still arriving is closed.
    """
    deadline.limit(request)  # every phase within what is left
    sockets = Sockets()
    result: list[Any] = []  # the outcome, or what the attempt raised
    context = contextvars.copy_context()  # tracing and callbacks see the caller's context
    done = threading.Event()
    given_up = threading.Event()

    def run() -> None:
        try:
            result.append(context.run(work))
        except BaseException as exc:  # handed to the caller's thread
            result.append(exc)
        finally:
            done.set()
            if given_up.is_set() and isinstance(result[0], tuple):
                result[0][0].close()

    request.extensions["trace"] = sockets.note
    threading.Thread(target=run, name="stepfun-attempt", daemon=True).start()
    try:
        if not done.wait(deadline.remaining()):
            raise deadline.error()
    except BaseException:
        given_up.set()
        if result and isinstance(result[0], tuple):  # a response already made
            result[0][0].close()
        sockets.shut()
        raise
    value = result[0]
    if isinstance(value, BaseException) and not isinstance(value, StepFunError):
        raise value
    return cast(Outcome, value)


class Sockets:
    """The connections an attempt opened, seen through httpx's public ``trace`` extension.

    At the attempt's deadline they are ended by their sockets; an HTTP/2 connection never is,
    as other calls share it.
    """

    __slots__ = ("opened", "shared")

    def __init__(self) -> None:
        self.opened: list[Any] = []
        self.shared = False

    def note(self, event: str, info: dict[str, Any]) -> None:
        """The trace callback (sync; `anote` for async requests)."""
        if event.startswith("http2."):
            self.shared = True
        elif event.endswith((".connect_tcp.complete", ".start_tls.complete")):
            self.opened.append(info.get("return_value"))

    async def anote(self, event: str, info: dict[str, Any]) -> None:
        """`note`, as httpcore awaits it for async requests."""
        self.note(event, info)

    def shut(self) -> None:
        """Shut the sockets down: the attempt's reads fail at once (its thread ends)."""
        for network_stream in [] if self.shared else self.opened:
            shut_down(network_stream)


class AsyncStepFunClient(BaseClient[AsyncHTTP]):
    """Async client; pooled connections are shared per event loop by default."""

    _asynchronous = True

    @staticmethod
    async def read_body(response: httpx.Response, reader: BodyReader) -> bytes:
        """`StepFunClient.read_body`, without blocking the event loop."""
        try:
            async for piece in araw_pieces(response):
                if not reader.add(piece):
                    break
        except _cut_errors() as error:
            if not reader.whole_despite(error):
                raise
        finally:
            await response.aclose()
        return reader.content()

    async def _attempt(
        self, http: AsyncHTTP, request: httpx.Request, stream: bool, deadline: Deadline | None
    ) -> Outcome:
        """One try: the response (left open for a stream) and its body, or the error."""
        try:
            if self._http_client is None:  # our pool: httpcore's, whose pitfall it avoids
                response = await _sent_in_turn(http, request, deadline)
            else:  # a caller's client may have any transport: sent as it comes
                response = cast(httpx.Response, await http.send(request, stream=True))  # type: ignore[arg-type]
            close_in_full(response)
            if (refused := refused_unread(response, stream=stream)) is not None:
                await response.aclose()
                return refused
            if response.is_success and stream and not is_json_reply(response):
                return response, b""  # a JSON answer is read whole, then refused by _opened
            content = await self.read_body(response, self._reader(response, deadline))
        except self._errors as exc:
            return transport_error(exc)
        except self._status_errors as exc:
            return status_error(cast(httpx.HTTPStatusError, exc).response, b"")
        except RuntimeError as exc:
            # A caller's client run in a second event loop (asyncio.run again) fails on each
            # connection the first, closed loop left (asyncio's words): each is dropped as it
            # fails, so a retry may go through, and the last error says what to change. Any
            # other RuntimeError (a hook's, a transport's) is the caller's own, raised as it is.
            if type(exc) is not RuntimeError or str(exc) != "Event loop is closed":
                raise
            error = transport_error(exc)
            error.message += " (an httpx.AsyncClient belongs to one event loop: one per loop)"
            error.args = (error.message,)
            return error
        return reply_outcome(response, content)

    async def _send(
        self, payload: Mapping[str, Any] | None, *, stream: bool, tries: Tries | None = None
    ) -> tuple[httpx.Response, bytes]:
        """Send ``payload`` (None: ``GET /models``), retried as the policy says."""
        http = self._usable(self._http_client or await shared_async_client(self._pool_size))
        tries = tries or self._tries(stream=stream)
        request = self._build(http, self._current_payload(payload, tries), stream=stream)
        deadline = tries.deadline
        while True:
            work = self._attempt(http, request, stream, deadline)
            outcome = await (work if deadline is None else _until(deadline, request, work))
            if not isinstance(outcome, StepFunError):
                if not stream:  # a stream's refusal may still come as its first event
                    self._took(payload, tries)
                return outcome
            if self._refused(outcome, tries):  # sent again as the plan's next payload
                request = self._build(http, self._current_payload(payload, tries), stream=stream)
                continue
            await asyncio.sleep(self._retry_delay(request, tries.attempt, outcome, deadline))
            tries.attempt += 1

    async def create(self, payload: Mapping[str, Any]) -> Completion:
        """Send a request built by ``build_chat_request`` and return the completion."""
        completion = completion_from(*await self._send(self._body(payload), stream=False))
        self._remember(payload, completion.usage)
        return completion

    async def list_models(self) -> list[ServedModel]:
        """The models the API serves to this key (``GET /models``), for `stepfun_core.learn`."""
        return parse_models(decode_json((await self._send(None, stream=False))[1]))

    async def stream(self, payload: Mapping[str, Any]) -> AsyncChatStream:
        """Send the request with ``stream: true`` and return the open stream."""
        return AsyncChatStream(self, payload, await self._open(self._body(payload)))

    async def _open(self, payload: Mapping[str, Any], tries: Tries | None = None) -> Opened:
        tries = tries or self._tries(stream=True)
        return self._opened(payload, *await self._send(payload, stream=True, tries=tries), tries)

    async def close(self) -> None:
        """Nothing to release: the shared pool lives on, and a caller's client is theirs."""


# How long past its deadline an async attempt may run before it is cancelled (see `_until`).
LAST_RESORT_SECONDS = 0.5


async def _until(deadline: Deadline, request: httpx.Request, work: Awaitable[Outcome]) -> Outcome:
    """Await one attempt within the deadline, ending it by its socket rather than cancelling it.

    Cancelled at each deadline, calls filled httpcore 1.x's pool (encode/httpcore#1093). Only an
    attempt still running `LAST_RESORT_SECONDS` later (on a reused or an HTTP/2 connection, whose
    socket is not ours to shut) is cancelled.
    """
    deadline.limit(request)  # every phase within what is left
    sockets = Sockets()
    request.extensions["trace"] = sockets.anote
    cut = asyncio.get_running_loop().call_later(deadline.remaining(), sockets.shut)
    try:
        outcome = await within(work, deadline.remaining() + LAST_RESORT_SECONDS)
    except asyncio.TimeoutError:  # TimeoutError itself from 3.11
        raise deadline.error() from None
    finally:
        cut.cancel()
        if request.extensions["trace"] == sockets.anote:  # else an abandoned send's, kept
            del request.extensions["trace"]
    if deadline.remaining() > 0 or (isinstance(outcome, tuple) and outcome[0].is_closed):
        return outcome  # a whole answer stays one
    if isinstance(outcome, tuple):
        # A stream's headers, read after the deadline (from bytes already buffered when its
        # socket was shut, or on a reused connection): not opened.
        await outcome[0].aclose()
    raise deadline.error() from None


# The least pool wait a request is sent into httpcore with (see `_sent_in_turn`).
MIN_POOL_WAIT = 0.05


class _Turn(asyncio.Lock):
    """The turn to enter one HTTP client's pool (each belongs to one event loop).

    It counts the requests queued for it: a released lock looks free before its next waiter
    runs, and a request taking it then would queue behind that one with no time limit.
    """

    waiting = 0


_turns: weakref.WeakKeyDictionary[Any, _Turn] = weakref.WeakKeyDictionary()


async def _sent_in_turn(
    http: AsyncHTTP, request: httpx.Request, deadline: Deadline | None = None
) -> httpx.Response:
    """Send once the request before has claimed its connection (httpcore#822: docs/performance.md).

    The wait for the turn counts in the pool timeout and deadline; under `MIN_POOL_WAIT` left it
    times out here, not in httpcore 1.x, which may then keep a new connection (httpcore#1093).
    """
    turn = _turns.get(http) or _turns.setdefault(http, _Turn())
    timeouts = request.extensions["timeout"]  # httpx sets it on every request
    if not (turn.locked() or turn.waiting):
        await turn.acquire()  # free: taken at once
    else:
        await _waited_for(turn, request, deadline)
    entry = _Entry(turn, request.extensions.get("trace"))  # `_until`'s trace callback first
    request.extensions["trace"] = entry.trace
    sending = asyncio.ensure_future(http.send(request, stream=True))  # type: ignore[arg-type]
    try:
        return cast(httpx.Response, await asyncio.shield(sending))
    except asyncio.CancelledError:
        # Cancelled inside httpcore 1.x before its request is under way (waiting in its pool,
        # or between connecting and sending), a request leaves its new connection in the pool
        # for good (encode/httpcore#1093): such a send goes on to its next trace event, and ends
        # there, before anything is sent. One under way is cancelled: httpcore then closes it.
        if entry.under_way:
            sending.cancel()
        entry.abandoned = True
        sending.add_done_callback(entry.ended)
        raise
    finally:
        if not entry.abandoned:  # an abandoned send still reads its extensions
            entry.claim()
            request.extensions["timeout"] = timeouts  # a retry waits afresh
            if entry.earlier is None:
                del request.extensions["trace"]
            else:
                request.extensions["trace"] = entry.earlier


async def _waited_for(turn: _Turn, request: httpx.Request, deadline: Deadline | None) -> None:
    """Take the turn within the pool timeout, which the wait then shortens (see `_sent_in_turn`)."""
    timeouts = request.extensions["timeout"]
    started = time.monotonic()
    turn.waiting += 1
    try:
        await within(turn.acquire(), timeouts.get("pool"))
    except asyncio.TimeoutError:
        raise httpx.PoolTimeout("no connection within the pool timeout") from None
    finally:
        turn.waiting -= 1
    if deadline is not None:
        deadline.limit(request)  # every phase within what is left
    left = request.extensions["timeout"].get("pool")
    if timeouts.get("pool") is not None:
        left = min(left, timeouts["pool"] - (time.monotonic() - started))
    if left is not None and left < MIN_POOL_WAIT:
        turn.release()
        request.extensions["timeout"] = timeouts
        raise httpx.PoolTimeout("no connection within the pool timeout")
    request.extensions["timeout"] = {**request.extensions["timeout"], "pool": left}


# The trace events at which an abandoned send ends: before connecting, and before sending the
# request (its connection then closed by httpcore, as for any failed send).
_STARTS = ("connect_tcp.started", "send_request_headers.started")


class _Abandoned(Exception):
    """Ends a send whose caller was cancelled, from within httpcore's trace callback."""


class _Entry:
    """One request's way into the shared pool, followed through httpx's ``trace`` extension."""

    __slots__ = ("abandoned", "claimed", "earlier", "turn", "under_way")

    def __init__(self, turn: _Turn, earlier: Any) -> None:
        self.turn, self.earlier = turn, earlier
        self.claimed = self.under_way = self.abandoned = False

    async def trace(self, event: str, info: dict[str, Any]) -> None:
        """The trace callback: the first event hands the turn on."""
        if self.earlier is not None:
            await self.earlier(event, info)
        self.claim()
        if getattr(info.get("request"), "method", None) == b"CONNECT":
            return  # a proxy's tunnel: httpcore 1.x leaves one cut half-way taken, so it is made
        if self.abandoned and event.endswith(_STARTS):  # no socket yet, or one httpcore closes
            raise _Abandoned
        self.under_way = self.under_way or event.endswith(_STARTS[1])

    def claim(self) -> None:
        """Hand the turn on (once): the request has its connection, or will never need one."""
        if not self.claimed:
            self.claimed = True
            self.turn.release()

    def ended(self, sending: asyncio.Future[Any]) -> None:
        """An abandoned send's end: a response that came anyway is closed."""
        self.claim()
        if not sending.cancelled() and sending.exception() is None:
            kept(sending.result().aclose())  # closed in the background: its caller is gone
