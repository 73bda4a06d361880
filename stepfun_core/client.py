"""Sync and async clients for ``POST /chat/completions``: only I/O here, the rest is shared."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any, Generic, TypeVar

import httpx

from stepfun_core.errors import MalformedResponseError, StepFunError, make_status_error
from stepfun_core.http import (
    CHAT_PATH,
    build_headers,
    decode_json,
    encode_body,
    log_attempt,
    shared_async_client,
    shared_sync_client,
    status_error,
    trace_id_of,
    transport_error,
)
from stepfun_core.parse import parse_completion
from stepfun_core.retry import RetryPolicy
from stepfun_core.settings import DEFAULT_MAX_RETRIES, as_timeout, resolve_api_key, resolve_base_url
from stepfun_core.stream import (
    AsyncChatStream,
    ChatStream,
    StreamState,
    check_content_type,
    is_json_reply,
    json_reply_error,
)
from stepfun_core.types import Completion

HttpClient = TypeVar("HttpClient", httpx.Client, httpx.AsyncClient)


class BaseClient(Generic[HttpClient]):
    """Settings and request building shared by both clients."""

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        default_headers: Mapping[str, str] | None = None,
        http_client: HttpClient | None = None,
        retry_policy: RetryPolicy | None = None,
        stream_idle_timeout: float | None = None,
    ) -> None:
        # A missing key fails here, before any request can be made.
        self._api_key = resolve_api_key(api_key)
        self.base_url = resolve_base_url(base_url)
        # Parsed once: httpx would parse a string URL again on every request.
        self._url = httpx.URL(self.base_url + CHAT_PATH)
        # A caller's own client keeps its own timeout unless one is given here.
        self.timeout: httpx.Timeout | None = (
            as_timeout(timeout) if timeout is not None or http_client is None else None
        )
        self.retry_policy = retry_policy or RetryPolicy(max_retries=max_retries)
        self.default_headers = dict(default_headers or {})
        self._headers = {
            stream: build_headers(self._api_key, self.default_headers, stream=stream)
            for stream in (False, True)
        }
        self._http_client: HttpClient | None = http_client
        # Seconds a stream may go without a data event before it counts as stuck; None: no limit
        # beyond the read timeout.
        self.stream_idle_timeout = stream_idle_timeout

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}, api_key='**********')"

    def _build(
        self, http: HttpClient, payload: Mapping[str, Any], *, stream: bool
    ) -> httpx.Request:
        body = dict(payload)
        body["stream"] = stream
        return http.build_request(
            "POST",
            self._url,
            content=encode_body(body),
            headers=self._headers[stream],
            timeout=self._timeout_for(http, stream=stream),
        )

    def _timeout_for(self, http: HttpClient, *, stream: bool) -> httpx.Timeout:
        timeout = self.timeout if self.timeout is not None else http.timeout
        idle = self.stream_idle_timeout
        if stream and idle is not None and (timeout.read is None or timeout.read > idle):
            # Total silence then ends the stream too, not only keep-alive-only stretches.
            return httpx.Timeout(
                connect=timeout.connect, read=idle, write=timeout.write, pool=timeout.pool
            )
        return timeout

    def _retry_delay(self, request: httpx.Request, attempt: int, error: StepFunError) -> float:
        delay = self.retry_policy.delay_for(attempt, error)
        log_attempt(request.url, attempt, type(error).__name__, delay)
        if delay is None:
            raise error
        return delay


def completion_from(response: httpx.Response) -> Completion:
    """Parse a non-streaming reply; a JSON error envelope under 200 is still an error."""
    data = decode_json(response.content)
    if not isinstance(data, dict):
        raise MalformedResponseError(
            "the API answered with something that is not a JSON object",
            trace_id=trace_id_of(response),
            body=response.content[:500].decode("utf-8", "replace"),
        )
    if data.get("error"):
        raise make_status_error(response.status_code, data, trace_id=trace_id_of(response))
    completion = parse_completion(data)
    completion.raw = data
    return completion


class StepFunClient(BaseClient[httpx.Client]):
    """Blocking client; pooled connections are shared across instances by default."""

    @property
    def http(self) -> httpx.Client:
        """The httpx client in use (the caller's, or the shared pool)."""
        return self._http_client or shared_sync_client()

    def _send(self, payload: Mapping[str, Any], *, stream: bool) -> httpx.Response:
        request = self._build(self.http, payload, stream=stream)
        attempt = 0
        while True:
            error: StepFunError
            try:
                response = self.http.send(request, stream=stream)
                if response.is_success:
                    return response
                try:
                    response.read()
                finally:
                    response.close()
                error = status_error(response)
            except httpx.RequestError as exc:
                error = transport_error(exc)
            time.sleep(self._retry_delay(request, attempt, error))
            attempt += 1

    def create(self, payload: Mapping[str, Any]) -> Completion:
        """Send a request built by ``build_chat_request`` and return the completion."""
        return completion_from(self._send(payload, stream=False))

    def stream(self, payload: Mapping[str, Any]) -> ChatStream:
        """Send the request with ``stream: true`` and return the open stream."""
        response = self._send(payload, stream=True)
        try:
            check_content_type(response)
            if is_json_reply(response):
                response.read()
                raise json_reply_error(response)
        except httpx.RequestError as exc:
            response.close()
            raise transport_error(exc) from exc
        except StepFunError:
            response.close()
            raise
        return ChatStream(response, StreamState(trace_id_of(response), self.stream_idle_timeout))

    def close(self) -> None:
        """Nothing to release: the shared pool lives on, and a caller's client is theirs."""


class AsyncStepFunClient(BaseClient[httpx.AsyncClient]):
    """Async client; pooled connections are shared per event loop by default."""

    @property
    def http(self) -> httpx.AsyncClient:
        """The httpx client in use (the caller's, or the shared pool of this loop)."""
        return self._http_client or shared_async_client()

    async def _send(self, payload: Mapping[str, Any], *, stream: bool) -> httpx.Response:
        request = self._build(self.http, payload, stream=stream)
        attempt = 0
        while True:
            error: StepFunError
            try:
                response = await self.http.send(request, stream=stream)
                if response.is_success:
                    return response
                try:
                    await response.aread()
                finally:
                    await response.aclose()
                error = status_error(response)
            except httpx.RequestError as exc:
                error = transport_error(exc)
            await asyncio.sleep(self._retry_delay(request, attempt, error))
            attempt += 1

    async def create(self, payload: Mapping[str, Any]) -> Completion:
        """Send a request built by ``build_chat_request`` and return the completion."""
        return completion_from(await self._send(payload, stream=False))

    async def stream(self, payload: Mapping[str, Any]) -> AsyncChatStream:
        """Send the request with ``stream: true`` and return the open stream."""
        response = await self._send(payload, stream=True)
        try:
            check_content_type(response)
            if is_json_reply(response):
                await response.aread()
                raise json_reply_error(response)
        except httpx.RequestError as exc:
            await response.aclose()
            raise transport_error(exc) from exc
        except StepFunError:
            await response.aclose()
            raise
        state = StreamState(trace_id_of(response), self.stream_idle_timeout)
        return AsyncChatStream(response, state)

    async def close(self) -> None:
        """Nothing to release: the shared pool lives on, and a caller's client is theirs."""
