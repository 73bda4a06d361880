"""What the sync and async clients share: settings, request building, retries, replies.

Everything here is sans-I/O; ``stepfun_core.client`` holds the two drivers, which only send,
read and sleep.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, Generic, TypeVar

import httpx

from stepfun_core.errors import (
    InvalidParameterError,
    MalformedResponseError,
    StepFunError,
    make_status_error,
)
from stepfun_core.http import (
    CHAT_PATH,
    build_headers,
    encode_body,
    log_attempt,
    trace_id_of,
)
from stepfun_core.jsonio import decode_json
from stepfun_core.limits import (
    DEFAULT_MAX_RESPONSE_BYTES,
    MAX_ERROR_BODY_BYTES,
    BodyReader,
    Deadline,
)
from stepfun_core.ownership import refuse_to_pickle, share_in_copy
from stepfun_core.parse import parse_completion
from stepfun_core.retry import RetryPolicy
from stepfun_core.settings import (
    DEFAULT_MAX_RETRIES,
    as_timeout,
    check_headers,
    display_url,
    endpoint_url,
    resolve_api_key,
    resolve_base_url,
)
from stepfun_core.stream import StreamState
from stepfun_core.transport import (
    AsyncHTTP,
    SyncHTTP,
    check_http_client,
    request_errors,
    status_errors,
    timeout_tuple,
)
from stepfun_core.types import Completion

HttpClient = TypeVar("HttpClient", SyncHTTP, AsyncHTTP)
# httpx takes its own parsed URL (parsing a string again costs ~10 us a request); httpx2 a string.
_HTTPX_CLIENTS = (httpx.Client, httpx.AsyncClient)


def _positive(name: str, value: float | None) -> float | None:
    if value is not None and (isinstance(value, bool) or not value > 0):
        raise InvalidParameterError(f"{name}: must be a number of seconds above 0, got {value!r}")
    return value


def client_options(
    *,
    api_key: str | None = None,
    base_url: str | None = None,
    timeout: float | httpx.Timeout | None = None,
    max_retries: int = DEFAULT_MAX_RETRIES,
    default_headers: Mapping[str, str] | None = None,
    stream_idle_timeout: float | None = None,
    total_timeout: float | None = None,
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
) -> dict[str, Any]:
    """Check a client's settings without making one; return them as the clients take them.

    Adapters call this when they are made, so a mangled key, a URL with a password or a bad
    header fails at construction, not at the first call.
    """
    resolve_api_key(api_key)
    resolve_base_url(base_url)
    check_headers(default_headers)
    if timeout is not None:
        as_timeout(timeout)
    _positive("stream_idle_timeout", stream_idle_timeout)
    _positive("total_timeout", total_timeout)
    return {
        "api_key": api_key,
        "base_url": base_url,
        "timeout": timeout,
        "max_retries": max_retries,
        "default_headers": default_headers,
        "stream_idle_timeout": stream_idle_timeout,
        "total_timeout": total_timeout,
        "max_response_bytes": max_response_bytes,
    }


class BaseClient(Generic[HttpClient]):
    """Settings, request building and the retry decision, shared by both clients."""

    _asynchronous = False

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
        total_timeout: float | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        # A missing or mangled key, a bad URL or header fails here, before any request.
        self._api_key = resolve_api_key(api_key)
        self.base_url = resolve_base_url(base_url)
        # Parsed once: httpx would parse a string URL again on every request.
        self._url = endpoint_url(self.base_url, CHAT_PATH)
        # A caller's own client keeps its own timeout unless one is given here.
        self.timeout: httpx.Timeout | None = (
            as_timeout(timeout) if timeout is not None or http_client is None else None
        )
        self.retry_policy = retry_policy or RetryPolicy(max_retries=max_retries)
        self.default_headers = check_headers(default_headers)
        self._headers = {
            stream: build_headers(self._api_key, self.default_headers, stream=stream)
            for stream in (False, True)
        }
        # The caller's httpx or httpx2 client (never closed by us); its library's errors.
        self._http_client: HttpClient | None = check_http_client(
            http_client, asynchronous=self._asynchronous
        )
        self._errors = request_errors(http_client)
        # A caller's event hook may call raise_for_status(): typed (and retried) like any status.
        self._status_errors = status_errors(http_client)
        # Seconds a stream may go without a data event before it counts as stuck; None: no limit
        # beyond the read timeout.
        self.stream_idle_timeout = _positive("stream_idle_timeout", stream_idle_timeout)
        # Seconds a whole non-streaming call may take, retries included (a stream: until its
        # headers); None: no limit beyond the per-read timeouts.
        self.total_timeout = _positive("total_timeout", total_timeout)
        self.max_response_bytes = max_response_bytes

    def __repr__(self) -> str:
        shown = display_url(self.base_url)
        return f"{type(self).__name__}(base_url={shown!r}, api_key='**********')"

    def __getstate__(self) -> dict[str, Any]:
        """Pickle the settings; refuse clearly when the client holds the caller's httpx client."""
        refuse_to_pickle(type(self).__name__, "http_client", self._http_client)
        return dict(self.__dict__)

    def __deepcopy__(self, memo: dict[int, Any]) -> BaseClient[HttpClient]:
        """A copy that shares the caller's HTTP client (it is never copied)."""
        share_in_copy(memo, self._http_client)
        copied = type(self).__new__(type(self))
        memo[id(self)] = copied
        for name, value in self.__dict__.items():
            setattr(copied, name, copy.deepcopy(value, memo))
        return copied

    def _build(
        self, http: HttpClient, payload: Mapping[str, Any], *, stream: bool
    ) -> httpx.Request:
        body = dict(payload)
        body["stream"] = stream
        # httpx2's Request and Response have httpx's API: typed here as httpx's.
        request: httpx.Request = http.build_request(  # type: ignore[assignment]
            "POST",
            self._url if isinstance(http, _HTTPX_CLIENTS) else str(self._url),  # type: ignore[arg-type]
            content=encode_body(body),
            headers=self._headers[stream],
            timeout=self._timeout_for(http, stream=stream),
        )
        return request

    def _timeout_for(
        self, http: HttpClient, *, stream: bool
    ) -> tuple[float | None, float | None, float | None, float | None]:
        connect, read, write, pool = timeout_tuple(
            self.timeout if self.timeout is not None else http.timeout
        )
        idle = self.stream_idle_timeout
        if stream and idle is not None and (read is None or read > idle):
            # Total silence then ends the stream too, not only keep-alive-only stretches.
            read = idle
        return (connect, read, write, pool)

    @staticmethod
    def _usable(http: HttpClient) -> HttpClient:
        if http.is_closed:  # only a caller's client: the shared pool is made again
            raise InvalidParameterError("http_client: the client was closed; pass an open one")
        return http

    def _start(self, request: httpx.Request) -> tuple[Deadline | None, dict[str, Any]]:
        """The call's deadline, and the per-phase timeouts an attempt starts from."""
        if self.total_timeout is None:
            return None, {}
        return Deadline(self.total_timeout), dict(request.extensions["timeout"])

    @staticmethod
    def _limit_attempt(
        request: httpx.Request, deadline: Deadline | None, timeouts: dict[str, Any]
    ) -> None:
        if deadline is not None:
            request.extensions["timeout"] = deadline.cap(timeouts)

    def _reader(self, response: httpx.Response, deadline: Deadline | None) -> BodyReader:
        if response.is_success:
            return BodyReader(self.max_response_bytes, deadline)
        return BodyReader(MAX_ERROR_BODY_BYTES, deadline, truncate=True)

    def _retry_delay(
        self, request: httpx.Request, attempt: int, error: StepFunError, deadline: Deadline | None
    ) -> float:
        delay = self.retry_policy.delay_for(attempt, error)
        if deadline is not None and delay is not None and delay >= deadline.remaining():
            delay = None  # waiting would overrun the budget: report the error now
        log_attempt(request.url, attempt, type(error).__name__, delay)
        if delay is not None:
            return delay
        if deadline is not None and deadline.remaining() <= 0:
            raise deadline.error() from error
        raise error

    def _stream_state(self, response: httpx.Response) -> StreamState:
        return StreamState(
            trace_id_of(response), self.stream_idle_timeout, max_bytes=self.max_response_bytes
        )


# One attempt's result: the response and its body, or the error the retry policy weighs.
Outcome = tuple[httpx.Response, bytes] | StepFunError


def close_late_outcome(outcome: Any) -> None:
    """Close the response of an attempt that finished after its deadline."""
    if isinstance(outcome, tuple):
        outcome[0].close()


def encoding_error(response: httpx.Response) -> StepFunError | None:
    """A reply compressed more than once is refused before it is read.

    httpx inflates every layer of each network read with no limit on the output: 1.8 KB of
    gzip inside gzip becomes 1 GiB in one step, before any cap can look at it.
    """
    raw = response.headers.get("content-encoding")
    if not raw or "," not in raw:
        return None
    codings = [c for c in raw.split(",") if c.strip()]
    if len(codings) <= 1:
        return None
    listed = ", ".join(c.strip() for c in codings)[:80]
    return MalformedResponseError(
        f"the reply is compressed {len(codings)} times over (Content-Encoding: {listed}): "
        "refused, as it could inflate without limit",
        trace_id=trace_id_of(response),
    )


def completion_from(response: httpx.Response, content: bytes) -> Completion:
    """Parse a non-streaming reply; a JSON error envelope under 200 is still an error."""
    data = decode_json(content)
    if not isinstance(data, dict):
        raise MalformedResponseError(
            "the API answered with something that is not a JSON object",
            trace_id=trace_id_of(response),
            body=content[:500].decode("utf-8", "replace"),
        )
    if data.get("error"):
        raise make_status_error(response.status_code, data, trace_id=trace_id_of(response))
    # Only a \uD8xx-\uDFxx escape makes a UTF-16 half: one scan of the bytes decides.
    halves = b"\\ud" in content or b"\\uD" in content
    completion = parse_completion(data, surrogates=halves)
    completion.raw = data
    return completion
