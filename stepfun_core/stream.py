"""Streams: a sans-I/O state (bytes to chunks, errors with what was received) and two drivers."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

import httpx

from stepfun_core.accumulator import StreamAccumulator
from stepfun_core.drain import aread_tail, read_tail
from stepfun_core.errors import (
    APIStatusError,
    MalformedResponseError,
    ResponseTooLargeError,
    StepFunError,
    StreamError,
    StreamIdleTimeoutError,
    StreamInterruptedError,
    StreamTimeoutError,
    make_status_error,
)
from stepfun_core.http import araw_pieces, raw_pieces
from stepfun_core.jsonio import MAX_DEPTH, decode_json, load_json
from stepfun_core.limits import DEFAULT_MAX_RESPONSE_BYTES, MAX_ERROR_BODY_BYTES, Inflater, Tries
from stepfun_core.parse import parse_chunk
from stepfun_core.redact import without_secret
from stepfun_core.sse import ServerSentEvent, SSEDecodeError, SSEDecoder
from stepfun_core.surrogates import SurrogateJoiner
from stepfun_core.transport import classes
from stepfun_core.types import Chunk, Completion

_DONE = "[DONE]"
_EMPTY_EVENTS = frozenset({"", "{}"})
_NOT_JSON = object()  # an event's value when its data does not parse
_SSE_FIELDS = ("data", "event", "id", "retry")
_FIELD = re.compile(r"[A-Za-z][\w-]*\Z")  # a field name, as a server would send one
# What may end a stream that is sent again (if nothing came yet and the policy allows): a cut,
# or an error the server sent in place of the stream (a gateway's 429 as a JSON body).
_RESTARTABLE = (StreamInterruptedError, APIStatusError)
_REUSED = "this stream was already read or closed: send a new request"
# The setting an idle timeout's error names (LangChain's, like ChatOpenAI's, is another name).
_IDLE = " (stream_idle_timeout; stream_chunk_timeout in LangChain)"
# An async stream gives the event loop a turn at least this often (seconds), even when its
# bytes are already buffered: other streams, timers and connects must not starve.
FAIR_SLICE = 0.00025


def _has_content(chunk: Chunk) -> bool:
    """True if the chunk adds anything to a choice (StepFun's opening chunk adds nothing)."""
    return any(
        d.content or d.reasoning or d.tool_calls or d.finish_reason or d.refusal or d.audio
        for d in chunk.choices
    )


class StreamState:
    """Turns the bytes of one stream into chunks and keeps everything received so far."""

    __slots__ = (
        "_corrupt",
        "_inflater",
        "_last_event",
        "_opening",
        "_surrogates",
        "accumulator",
        "content_yielded",
        "decoder",
        "done",
        "idle_timeout",
        "secret",
        "trace_id",
    )

    def __init__(
        self,
        trace_id: str | None = None,
        idle_timeout: float | None = None,
        *,
        max_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        content_encoding: str | None = None,
        n: int = 1,
        secret: str = "",
    ) -> None:
        self._inflater = Inflater(content_encoding, max_bytes)
        # Corrupt compressed data met: raised once the events inflated before it are out.
        self._corrupt: MalformedResponseError | None = None
        self.secret = secret  # the key the request sent: masked in the errors made here
        # Whether a chunk with something in it was yielded: StepFun's opening chunk has an empty
        # delta (docs/wire.md#current-stream), and a stream cut after it can be sent again.
        self.content_yielded = False
        self.decoder = SSEDecoder()
        self.accumulator = StreamAccumulator(n)
        self._surrogates = SurrogateJoiner()
        self.done = False
        self.trace_id = trace_id
        # Keep-alive comments and trickled bytes of an unfinished event reset the socket's read
        # timeout but not this watchdog: only complete data events do.
        self.idle_timeout = idle_timeout
        self._last_event = time.monotonic()
        # The body's first bytes until an event comes: a gateway's JSON error or HTML page sent
        # as an event stream is then told from a cut (MAX_ERROR_BODY_BYTES of it).
        self._opening: bytes | None = b""

    def feed(self, data: bytes) -> Iterator[Chunk]:
        """Decode a raw piece of the body into chunks, each accumulated just before it is yielded.

        ``data: [DONE]`` ends the stream (``done``): what follows is never parsed. Failures
        raise a StreamError carrying what was received so far.
        """
        if not self.done:
            yield from self._chunks(self._events(data))
            if self._corrupt is not None:  # after its events: the error carries them
                raise self._corrupted(self._corrupt) from self._corrupt

    def _chunks(self, events: list[ServerSentEvent]) -> Iterator[Chunk]:
        # Once per token: the common path is inline (a helper call per event costs ~5%).
        for event in events:
            payload = event.data
            try:
                # Up to MAX_DEPTH characters cannot nest deeper; longer text is checked first.
                obj = json.loads(payload) if len(payload) <= MAX_DEPTH else load_json(payload)
            except ValueError:
                obj = _NOT_JSON
            if type(obj) is not dict:
                stripped = payload.strip()
                if stripped.startswith(_DONE):  # never JSON; "data:  [DONE]" has a space too many
                    yield from self._end()
                    return
                # An empty ``data:`` event (a proxy's keep-alive) carries nothing, and junk once
                # every choice has finished cannot spoil a whole answer.
                if (obj is _NOT_JSON and not stripped) or self.accumulator.finished:
                    continue
                what = "an event that is not JSON" if obj is _NOT_JSON else "an unexpected event"
                raise self.error(
                    MalformedResponseError,
                    f"the stream sent {what}: {without_secret(payload, self.secret)[:200]!r}",
                )
            if obj.get("error") or (event.event == "error" and not self.accumulator.finished):
                raise self.event_error(decode_json(without_secret(payload, self.secret)))
            chunk = parse_chunk(obj)
            # Only a \uD8xx-\uDFxx escape makes a UTF-16 half (raw UTF-8 cannot).
            escaped = "\\u" in payload and ("\\ud" in payload or "\\uD" in payload)
            if escaped or self._surrogates.holding:
                self._surrogates.fix(chunk)
            self.accumulator.add(chunk)
            self.content_yielded = self.content_yielded or _has_content(chunk)
            yield chunk

    def _events(self, raw: bytes) -> list[ServerSentEvent]:
        """The events a piece of the body completes, within the byte cap and the watchdog."""
        try:
            data = self._inflater.feed(raw)
        except MalformedResponseError as exc:
            self._corrupt, data = exc, exc.body  # its events first (see ``feed``)
        if self._inflater.left < 0:
            raise self.error(
                ResponseTooLargeError,
                "the stream went over max_response_bytes (after decompression)",
            )
        try:
            events = self.decoder.feed(data)
        except SSEDecodeError as exc:
            raise self.error(MalformedResponseError, f"bad event stream: {exc}") from exc
        if self.idle_timeout is not None:
            now = time.monotonic()
            # Empty events (``data:``, ``data: {}``) are a proxy's keep-alives, not progress.
            if any(e.data.strip() not in _EMPTY_EVENTS for e in events):
                self._last_event = now
            elif now - self._last_event > self.idle_timeout:
                seconds = f"{self.idle_timeout:g} s"
                message = f"no data for {seconds} (only keep-alives): the stream looks stuck{_IDLE}"
                raise self.error(StreamIdleTimeoutError, message)
        if self._opening is not None:
            room = MAX_ERROR_BODY_BYTES - len(self._opening)
            self._opening = None if events else self._opening + data[:room]
        return events

    def _end(self) -> tuple[Chunk, ...]:
        """End the stream; a half still held becomes U+FFFD, in a last chunk returned."""
        self.done = True
        tail = self._surrogates.flush()
        if tail is None:
            return ()
        self.accumulator.add(tail)  # not yet yielded: a restart is still possible if one raises
        return (tail,)

    def finish(self, cut: Exception | None = None) -> tuple[Chunk, ...]:
        """End at the body's end, or at ``cut`` (a failure or the idle watchdog); yield the chunks.

        A last event whose closing blank line never came still counts if it is whole ([DONE]
        or a JSON object). A stream must end in [DONE] or with every choice finished: once the
        finish reason has come only ``[DONE]`` is lost (a cut, a proxy sending only keep-alives),
        and a whole answer is never an error. If it raises, no chunk reaches the caller, who may
        still send again.
        """
        if isinstance(cut, StreamIdleTimeoutError):
            if self.accumulator.finished:
                return self._ended()
            raise cut
        yielded = self.content_yielded
        last = () if self.done else tuple(self._chunks(self._unended_events()))
        try:
            if cut is not None and not (self.done or self.accumulator.finished):
                raise self.interrupted(cut) from cut
            return last + self._ended()
        except StepFunError:
            self.content_yielded = yielded
            raise

    def _unended_events(self) -> list[ServerSentEvent]:
        """The event the body ended in without its blank line, if it is whole."""
        if not self.decoder.has_partial_event:
            return []
        events = [
            e
            for e in self.decoder.feed(b"\n\n")
            if e.data.startswith(_DONE) or type(decode_json(e.data)) is dict
        ]
        if events:
            self._opening = None
        return events

    def _ended(self) -> tuple[Chunk, ...]:
        """End the stream; the chunk returned is a held half's U+FFFD, if any."""
        if self.done:
            return ()
        tail = self._end()
        if not self.accumulator.finished:
            raise self._cut()
        return tail

    def _cut(self) -> StepFunError:
        """The error for a body that ended too soon, or that was never an event stream."""
        text = (self._opening or b"").decode("utf-8", "replace").removeprefix("\ufeff")
        text = without_secret(text, self.secret)
        lines = [line for line in text.splitlines() if line.strip() and line[0] != ":"]
        name, colon, _ = lines[0].partition(":") if lines else ("data", ":", "")
        # Nothing, an event cut, or a field SSE ignores (a "heartbeat:"): a cut.
        if any(field.startswith(name) for field in _SSE_FIELDS) or (colon and _FIELD.match(name)):
            message = "the stream ended before [DONE] and before every choice had finished"
            return self.error(StreamInterruptedError, message)
        body = decode_json("\n".join(lines))  # keep-alive comments may come first
        if isinstance(body, dict) and body.get("error"):
            return make_status_error(None, body, trace_id=self.trace_id)
        message = f"expected an event stream, got: {text[:200]!r}"
        return MalformedResponseError(message, trace_id=self.trace_id, body=text)

    def _corrupted(self, corrupt: MalformedResponseError) -> StepFunError:
        """The error for corrupt compressed data: a gateway's error sent as the stream, else it.

        Never a success: a failed check cannot tell a bad trailer from altered text.
        """
        if self._opening and isinstance(error := self._cut(), APIStatusError):
            return error
        return self.error(MalformedResponseError, corrupt.message)

    def error(self, cls: type[StepFunError], message: str) -> StepFunError:
        """An error of the given class with the trace id and everything received so far."""
        return cls(message, trace_id=self.trace_id, partial=self.accumulator.result())

    def event_error(self, body: dict[str, Any]) -> StepFunError:
        """The error for a ``data: {"error": ...}`` event: its known class, else a StreamError."""
        error: StepFunError = make_status_error(None, body, trace_id=self.trace_id)
        if type(error) is APIStatusError:
            error = StreamError(
                error.message, error_type=error.error_type, trace_id=self.trace_id, body=body
            )
        error.message = f"error event in the stream: {error.message}"
        error.args = (error.message,)
        error.partial = self.accumulator.result()
        return error

    def reused(self, exc: RuntimeError) -> BaseException:
        """The error for iterating a stream again, or after closing it (httpx's own is raw)."""
        if not isinstance(exc, classes("StreamConsumed") + classes("StreamClosed")):
            return exc
        return self.error(StreamError, _REUSED)

    def interrupted(self, exc: Exception) -> StepFunError:
        """The error for a transport failure in the middle of the body."""
        if isinstance(exc, classes("ReadTimeout")):
            if self.idle_timeout is not None:
                # The client capped the stream's read timeout at the idle timeout.
                return self.error(
                    StreamIdleTimeoutError,
                    f"no data within the read or idle timeout: the stream looks stuck{_IDLE}",
                )
            return self.error(StreamTimeoutError, "the stream sent nothing within the read timeout")
        return self.error(
            StreamInterruptedError, f"the stream broke off: {type(exc).__name__}: {exc}"
        )


# An open stream: its response, its state, and what its call has spent (for a restart).
Opened = tuple[httpx.Response, StreamState, Tries]


class _OpenStream:
    """What both stream drivers share: the response and everything received so far.

    A stream cut (or ended without a finish reason) before any chunk with something in it is sent
    again as the retry policy allows; one cut later is an error carrying what arrived.
    """

    def __init__(self, client: Any, payload: Mapping[str, Any], opened: Opened) -> None:
        self._client = client  # sends the request again; keeps the final usage (token counts)
        self._payload = payload
        self._response, self._state, self._tries = opened
        self._started = False
        self._closed = False  # by close(): never sent again, even if nothing came yet

    def _start(self) -> None:
        """A stream is read once (httpx would raise its own error)."""
        if self._started:
            raise self._state.error(StreamError, _REUSED)
        self._started = True

    def _restart_delay(self, error: StepFunError) -> float:
        """Seconds to wait before sending again; raise ``error`` if nothing is to be sent.

        A refusal (an error event in place of the stream) sends the call's next payload at once;
        another restart is one more retry of the call: within its ``max_retries`` and deadline.
        """
        # Content was yielded (sending again would repeat it), or close() was called.
        if self._state.content_yielded or self._closed:
            raise error
        tries = self._tries
        if self._client._refused(error, tries):
            return 0.0
        request = self._response.request
        delay = self._client._planned_delay(request, tries.attempt, error, tries.deadline)
        if delay is None:
            raise error
        tries.attempt += 1
        return float(delay)

    def _restarted(self, opened: Opened) -> None:
        """Read on from the request sent again, into the same accumulator, cleared.

        Callers may hold ``stream.accumulator`` from the start (LlamaIndex's responses read it as
        the stream goes): it must be the one that fills.
        """
        response, state, _ = opened
        state.accumulator = self._state.accumulator
        state.accumulator.clear()  # an opening chunk's id and usage belong to the attempt cut
        self._response, self._state = response, state

    def _if_taken(self) -> None:
        """Keep the echo field once content came: a refusal comes before any (in its place)."""
        if self._state.content_yielded:
            self._client._took(self._payload, self._tries)

    @property
    def accumulator(self) -> StreamAccumulator:
        """Everything received so far."""
        return self._state.accumulator

    def completion(self) -> Completion:
        """The completion received so far (the whole one once iteration has ended)."""
        return self._state.accumulator.result()


class ChatStream(_OpenStream):
    """A sync stream of chunks; use it in a ``with`` block or iterate it to the end."""

    def __iter__(self) -> Iterator[Chunk]:
        self._start()
        while True:
            try:
                yield from self._chunks()
                self._client._remember(self._payload, self._state.accumulator.usage)
                return
            except _RESTARTABLE as error:
                cut = error
            time.sleep(self._restart_delay(cut))
            if self._closed:  # during the wait
                raise cut
            self._restarted(self._client._open(self._payload, self._tries))
            if self._closed:  # while the request was sent again
                self.close()
                raise cut

    def _chunks(self) -> Iterator[Chunk]:
        state = self._state
        pieces = raw_pieces(self._response)
        try:
            for data in pieces:
                yield from state.feed(data)
                if state.done:
                    break
            yield from state.finish()
        except (StreamIdleTimeoutError, *self._client._errors) as exc:
            yield from state.finish(exc)
        except RuntimeError as exc:
            raise state.reused(exc) from None
        finally:
            self._if_taken()
            try:
                if state.done:
                    read_tail(self._response, pieces)
            finally:
                self._response.close()

    def close(self) -> None:
        """Close the connection (safe to call twice); the request is never sent again."""
        self._closed = self._started = True
        self._response.close()

    def __enter__(self) -> ChatStream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class AsyncChatStream(_OpenStream):
    """An async stream of chunks; use it in an ``async with`` block or iterate it to the end."""

    async def __aiter__(self) -> AsyncIterator[Chunk]:
        self._start()
        while True:
            try:
                async for chunk in self._chunks():
                    yield chunk
                self._client._remember(self._payload, self._state.accumulator.usage)
                return
            except _RESTARTABLE as error:
                cut = error
            await asyncio.sleep(self._restart_delay(cut))
            if self._closed:  # during the wait
                raise cut
            self._restarted(await self._client._open(self._payload, self._tries))
            if self._closed:  # while the request was sent again
                await self.close()
                raise cut

    async def _chunks(self) -> AsyncIterator[Chunk]:
        state = self._state
        pieces = araw_pieces(self._response)
        turn_ends = time.monotonic() + FAIR_SLICE
        try:
            async for data in pieces:
                for chunk in state.feed(data):
                    yield chunk
                    if time.monotonic() >= turn_ends:  # buffered bytes: let others run too
                        await asyncio.sleep(0)
                        turn_ends = time.monotonic() + FAIR_SLICE
                if state.done:
                    break
            for tail in state.finish():
                yield tail
        except (StreamIdleTimeoutError, *self._client._errors) as exc:
            for tail in state.finish(exc):
                yield tail
        except RuntimeError as exc:
            raise state.reused(exc) from None
        finally:
            self._if_taken()
            try:
                if state.done:
                    await aread_tail(self._response, pieces)
            finally:
                await self._response.aclose()

    async def close(self) -> None:
        """Close the connection (safe to call twice); the request is never sent again."""
        self._closed = self._started = True
        await self._response.aclose()

    async def __aenter__(self) -> AsyncChatStream:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
