"""Sync and async clients for ``POST /chat/completions``: only I/O here, the rest is shared."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any, cast

import httpx

from stepfun_core.client_base import (
    BaseClient,
    Outcome,
    client_options,
    close_late_outcome,
    completion_from,
    encoding_error,
)
from stepfun_core.errors import StepFunError
from stepfun_core.http import shared_async_client, shared_sync_client, status_error, transport_error
from stepfun_core.limits import BodyReader, Deadline, arun_by, run_by
from stepfun_core.stream import (
    AsyncChatStream,
    ChatStream,
    check_content_type,
    is_json_reply,
    json_reply_error,
)
from stepfun_core.transport import AsyncHTTP, SyncHTTP
from stepfun_core.types import Completion

__all__ = ["AsyncStepFunClient", "StepFunClient", "client_options"]


class StepFunClient(BaseClient[SyncHTTP]):
    """Blocking client; pooled connections are shared across instances by default."""

    @property
    def http(self) -> SyncHTTP:
        """The httpx client in use (the caller's, or the shared pool)."""
        return self._http_client or shared_sync_client()

    @staticmethod
    def _read(response: httpx.Response, reader: BodyReader) -> bytes:
        try:
            for piece in response.iter_bytes():
                if not reader.add(piece):
                    break
        finally:
            response.close()
        return reader.content()

    def _attempt(
        self, http: SyncHTTP, request: httpx.Request, stream: bool, deadline: Deadline | None
    ) -> Outcome:
        """One try: the response (left open for a stream) and its body, or the error."""
        try:
            response = cast(httpx.Response, http.send(request, stream=True))  # type: ignore[arg-type]
            refused = encoding_error(response)
            if refused is not None:
                response.close()
                raise refused
            if response.is_success and stream:
                return response, b""
            content = self._read(response, self._reader(response, deadline))
        except self._errors as exc:
            return transport_error(exc)
        except self._status_errors as exc:
            return status_error(cast(httpx.HTTPStatusError, exc).response, b"")
        return (response, content) if response.is_success else status_error(response, content)

    def _send(self, payload: Mapping[str, Any], *, stream: bool) -> tuple[httpx.Response, bytes]:
        http = self._usable(self.http)
        request = self._build(http, payload, stream=stream)
        deadline, timeouts = self._start(request)
        attempt = 0
        while True:
            self._limit_attempt(request, deadline, timeouts)
            if deadline is None:
                outcome = self._attempt(http, request, stream, None)
            else:
                outcome = run_by(
                    deadline,
                    lambda: self._attempt(http, request, stream, deadline),
                    close_late_outcome,
                )
            if not isinstance(outcome, StepFunError):
                return outcome
            time.sleep(self._retry_delay(request, attempt, outcome, deadline))
            attempt += 1

    def create(self, payload: Mapping[str, Any]) -> Completion:
        """Send a request built by ``build_chat_request`` and return the completion."""
        return completion_from(*self._send(payload, stream=False))

    def stream(self, payload: Mapping[str, Any]) -> ChatStream:
        """Send the request with ``stream: true`` and return the open stream."""
        response, _ = self._send(payload, stream=True)
        try:
            check_content_type(response)
            if is_json_reply(response):
                content = self._read(response, BodyReader(self.max_response_bytes, None))
                raise json_reply_error(response, content)
        except self._errors as exc:
            response.close()
            raise transport_error(exc) from exc
        except StepFunError:
            response.close()
            raise
        return ChatStream(response, self._stream_state(response), self._errors)

    def close(self) -> None:
        """Nothing to release: the shared pool lives on, and a caller's client is theirs."""


class AsyncStepFunClient(BaseClient[AsyncHTTP]):
    """Async client; pooled connections are shared per event loop by default."""

    _asynchronous = True

    @property
    def http(self) -> AsyncHTTP:
        """The httpx client in use (the caller's, or the shared pool of this loop)."""
        return self._http_client or shared_async_client()

    @staticmethod
    async def _read(response: httpx.Response, reader: BodyReader) -> bytes:
        try:
            async for piece in response.aiter_bytes():
                if not reader.add(piece):
                    break
        finally:
            await response.aclose()
        return reader.content()

    async def _attempt(
        self, http: AsyncHTTP, request: httpx.Request, stream: bool, deadline: Deadline | None
    ) -> Outcome:
        """One try: the response (left open for a stream) and its body, or the error."""
        try:
            sent = await http.send(request, stream=True)  # type: ignore[arg-type]
            response = cast(httpx.Response, sent)
            refused = encoding_error(response)
            if refused is not None:
                await response.aclose()
                raise refused
            if response.is_success and stream:
                return response, b""
            content = await self._read(response, self._reader(response, deadline))
        except self._errors as exc:
            return transport_error(exc)
        except self._status_errors as exc:
            return status_error(cast(httpx.HTTPStatusError, exc).response, b"")
        return (response, content) if response.is_success else status_error(response, content)

    async def _send(
        self, payload: Mapping[str, Any], *, stream: bool
    ) -> tuple[httpx.Response, bytes]:
        http = self._usable(self.http)
        request = self._build(http, payload, stream=stream)
        deadline, timeouts = self._start(request)
        attempt = 0
        while True:
            self._limit_attempt(request, deadline, timeouts)
            work = self._attempt(http, request, stream, deadline)
            outcome = await (work if deadline is None else arun_by(deadline, work))
            if not isinstance(outcome, StepFunError):
                return outcome
            await asyncio.sleep(self._retry_delay(request, attempt, outcome, deadline))
            attempt += 1

    async def create(self, payload: Mapping[str, Any]) -> Completion:
        """Send a request built by ``build_chat_request`` and return the completion."""
        return completion_from(*await self._send(payload, stream=False))

    async def stream(self, payload: Mapping[str, Any]) -> AsyncChatStream:
        """Send the request with ``stream: true`` and return the open stream."""
        response, _ = await self._send(payload, stream=True)
        try:
            check_content_type(response)
            if is_json_reply(response):
                content = await self._read(response, BodyReader(self.max_response_bytes, None))
                raise json_reply_error(response, content)
        except self._errors as exc:
            await response.aclose()
            raise transport_error(exc) from exc
        except StepFunError:
            await response.aclose()
            raise
        return AsyncChatStream(response, self._stream_state(response), self._errors)

    async def close(self) -> None:
        """Nothing to release: the shared pool lives on, and a caller's client is theirs."""
