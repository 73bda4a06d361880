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
    BadRequestError,
    InvalidParameterError,
    MalformedResponseError,
    StepFunError,
    make_status_error,
)
from stepfun_core.history import echo_variants, learn_echo_field, with_echo_field
from stepfun_core.http import (
    CHAT_PATH,
    MODELS_PATH,
    build_headers,
    encode_body,
    log_attempt,
    trace_id_of,
)
from stepfun_core.jsonio import decode_json
from stepfun_core.limits import MAX_ERROR_BODY_BYTES, BodyReader, Deadline, coding_problem
from stepfun_core.ownership import refuse_to_pickle, share_in_copy
from stepfun_core.parse import parse_completion
from stepfun_core.retry import RetryPolicy
from stepfun_core.settings import Settings, Timeouts, display_url, endpoint_url
from stepfun_core.stream import StreamState, coding_of
from stepfun_core.tokens import remember_prompt_tokens
from stepfun_core.transport import AsyncHTTP, SyncHTTP, check_http_client, classes
from stepfun_core.types import Completion, Usage

HttpClient = TypeVar("HttpClient", SyncHTTP, AsyncHTTP)
Self = TypeVar("Self", bound="BaseClient[Any]")


class BaseClient(Generic[HttpClient]):
    """Settings, request building and the retry decision, shared by both clients.

    Made from a `Settings` value, or from its fields as keywords (``api_key=...``,
    ``base_url=...``, ``timeout=...``, ...); ``http_client`` is your own httpx or httpx2 client
    (never closed by us), else the shared pool of ``settings.max_connections`` is used. Our
    ``timeout`` applies to every request, your client's included; to keep your client's own,
    pass it: ``timeout=your_client.timeout``.
    """

    _asynchronous = False

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        http_client: HttpClient | None = None,
        retry_policy: RetryPolicy | None = None,
        **options: Any,
    ) -> None:
        # A missing or mangled key, a bad URL or header fails here, before any request.
        self.settings = settings.replace(**options) if settings else Settings.make(**options)
        # Parsed once: httpx would parse a string URL again on every request.
        self._url = endpoint_url(self.settings.base_url, CHAT_PATH)
        self._models_url = endpoint_url(self.settings.base_url, MODELS_PATH)
        self._custom_policy = retry_policy
        self.retry_policy = retry_policy or RetryPolicy(max_retries=self.settings.max_retries)
        headers = dict(self.settings.default_headers)
        self._headers = {
            stream: build_headers(self.settings.api_key, headers, stream=stream)
            for stream in (False, True)
        }
        # The caller's httpx or httpx2 client (never closed by us), and the errors to catch.
        self._http_client: HttpClient | None = check_http_client(
            http_client, asynchronous=self._asynchronous
        )
        self._errors = classes("RequestError")
        # A caller's event hook may call raise_for_status(): typed (and retried) like any status.
        self._status_errors = classes("HTTPStatusError")
        self._pool_size = (self.settings.max_connections, self.settings.max_keepalive_connections)

    def with_settings(self: Self, **changes: Any) -> Self:
        """A client like this one with some settings changed (the same HTTP client)."""
        policy = None if "max_retries" in changes else self._custom_policy
        settings = self.settings.replace(**changes)
        return type(self)(settings, http_client=self._http_client, retry_policy=policy)

    @property
    def base_url(self) -> str:
        """The API's base URL."""
        return self.settings.base_url

    def __repr__(self) -> str:
        shown = display_url(self.settings.base_url)
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
        self, http: HttpClient, payload: Mapping[str, Any] | None, *, stream: bool
    ) -> httpx.Request:
        """``POST /chat/completions`` with this payload, or ``GET /models`` for None."""
        url = self._url if payload is not None else self._models_url
        content = None
        if payload is not None:
            content = encode_body({**payload, "stream": stream})
        # httpx takes its own parsed URL (parsing a string again costs ~10 us); httpx2 a string.
        if not isinstance(http, (httpx.Client, httpx.AsyncClient)):
            url = str(url)  # type: ignore[assignment]
        # httpx2's Request and Response have httpx's API: typed here as httpx's.
        request: httpx.Request = http.build_request(  # type: ignore[assignment]
            "POST" if payload is not None else "GET",
            url,  # type: ignore[arg-type]
            content=content,
            headers=self._headers[stream],
            timeout=self._timeout(stream=stream),
        )
        return request

    def _echo_plan(self, payload: Mapping[str, Any]) -> list[tuple[str | None, Mapping[str, Any]]]:
        """The payloads to try in turn: the echoed reasoning under each field worth trying."""
        settings = self.settings
        fields = echo_variants(payload, settings.base_url, settings.reasoning_echo_field)
        if not fields:
            return [(None, payload)]
        return [(field, with_echo_field(payload, field)) for field in fields]

    def _refused(self, error: StepFunError, tried: int, plan: list[Any]) -> bool:
        """True when a payload with echoed reasoning was refused and another is left to try."""
        return (
            isinstance(error, BadRequestError)
            and error.error_type == "request_params_invalid"
            and tried + 1 < len(plan)
        )

    def _took(self, payload: Mapping[str, Any], field: str | None, tried: int) -> None:
        if field is not None and self.settings.reasoning_echo_field == "auto":
            learn_echo_field(self.settings.base_url, str(payload.get("model")), field, tried)

    @staticmethod
    def _remember(payload: Mapping[str, Any], usage: Usage | None) -> None:
        """Keep the API's count of this prompt's tokens (token counting prefers it)."""
        if usage is not None:
            remember_prompt_tokens(payload["messages"], payload.get("tools"), usage.prompt_tokens)

    def _timeout(self, *, stream: bool) -> Timeouts:
        connect, read, write, pool = self.settings.timeout
        idle = self.settings.stream_idle_timeout
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
        if self.settings.total_timeout is None:
            return None, {}
        return Deadline(self.settings.total_timeout), dict(request.extensions["timeout"])

    @staticmethod
    def _limit_attempt(
        request: httpx.Request, deadline: Deadline | None, timeouts: dict[str, Any]
    ) -> None:
        if deadline is not None:
            request.extensions["timeout"] = deadline.cap(timeouts)

    def _reader(self, response: httpx.Response, deadline: Deadline | None) -> BodyReader:
        encoding = coding_of(response)
        if response.is_success:
            limit = self.settings.max_response_bytes
            return BodyReader(limit, deadline, content_encoding=encoding)
        return BodyReader(MAX_ERROR_BODY_BYTES, deadline, truncate=True, content_encoding=encoding)

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
            trace_id_of(response),
            self.settings.stream_idle_timeout,
            max_bytes=self.settings.max_response_bytes,
            content_encoding=coding_of(response),
        )


# One attempt's result: the response and its body, or the error the retry policy weighs.
Outcome = tuple[httpx.Response, bytes] | StepFunError


def encoding_error(response: httpx.Response) -> StepFunError | None:
    """A reply in a coding we cannot inflate under the cap is refused before it is read."""
    problem = coding_problem(response.headers.get("content-encoding"))
    if problem is None:
        return None
    return MalformedResponseError(
        f"the reply's Content-Encoding {problem}: refused unread, as it could inflate "
        "without limit",
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
