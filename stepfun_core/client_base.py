"""What the sync and async clients share (sans-I/O): settings, requests, retries, replies."""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping
from typing import Any, Generic, TypeVar

import httpx

from stepfun_core.errors import (
    BadRequestError,
    ContextOverflowError,
    InvalidParameterError,
    StepFunError,
)
from stepfun_core.history import (
    echo_variants,
    learn_echo_field,
    log_echo_refused,
    with_echo_field,
)
from stepfun_core.http import (
    CHAT_PATH,
    MODELS_PATH,
    build_headers,
    is_json_reply,
    json_reply_error,
    trace_id_of,
)
from stepfun_core.json_mode import in_json_mode, learn_refusal, refused_before, refuses_json_schema
from stepfun_core.jsonio import encode_json
from stepfun_core.limits import BodyReader, Deadline, Tries, coding_of
from stepfun_core.redact import display_url, sent_key
from stepfun_core.retry import RetryPolicy
from stepfun_core.settings import Settings, Timeouts, endpoint_url
from stepfun_core.stream import Opened, StreamState
from stepfun_core.tokens import remember_prompt_tokens
from stepfun_core.transport import (
    AsyncHTTP,
    SyncHTTP,
    check_http_client,
    classes,
    refuse_to_pickle,
    share_in_copy,
)
from stepfun_core.types import Usage

logger = logging.getLogger("stepfun_core")
HttpClient = TypeVar("HttpClient", SyncHTTP, AsyncHTTP)
Self = TypeVar("Self", bound="BaseClient[Any]")
# One attempt's result: the response and its body, or the error the retry policy weighs.
Outcome = tuple[httpx.Response, bytes] | StepFunError


class BaseClient(Generic[HttpClient]):
    """Settings, request building and the retry decision, shared by both clients.

    Made from a `Settings` value, or from its fields as keywords (``api_key=...``, ...).
    ``http_client`` is your own httpx or httpx2 client (never closed by us), else a shared pool is
    used. Our ``timeout`` applies to your client's requests too: pass ``timeout=client.timeout``
    to keep its own.
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
        self._http_client: HttpClient | None = check_http_client(
            http_client, asynchronous=self._asynchronous
        )
        # Transport failures of the client's library (httpx, or httpx2 for a caller's client).
        self._errors: tuple[type[Exception], ...] = classes("RequestError")
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

    def __copy__(self) -> BaseClient[HttpClient]:
        """A copy that shares everything, the caller's HTTP client too (pickling refuses it)."""
        copied = type(self).__new__(type(self))
        copied.__dict__.update(self.__dict__)
        return copied

    def __deepcopy__(self, memo: dict[int, Any]) -> BaseClient[HttpClient]:
        """A copy that shares the caller's HTTP client (it is never copied)."""
        share_in_copy(memo, self._http_client)
        copied = type(self).__new__(type(self))
        memo[id(self)] = copied
        copied.__dict__.update(copy.deepcopy(self.__dict__, memo))
        return copied

    def _build(
        self, http: HttpClient, payload: Mapping[str, Any] | None, *, stream: bool
    ) -> httpx.Request:
        """``POST /chat/completions`` with this payload, or ``GET /models`` for None."""
        url: Any = self._url if payload is not None else self._models_url
        # httpx takes its own parsed URL (parsing a string again costs ~10 us); httpx2 a string.
        if not isinstance(http, (httpx.Client, httpx.AsyncClient)):
            url = str(url)
        # httpx2's Request and Response have httpx's API: typed here as httpx's.
        return http.build_request(  # type: ignore[return-value]
            "POST" if payload is not None else "GET",
            url,
            content=None if payload is None else encode_json({**payload, "stream": stream}),
            headers=self._headers[stream],
            timeout=self._timeout(stream=stream),
        )

    @staticmethod
    def _body(payload: Any) -> Mapping[str, Any]:
        """The request body, refused before sending unless it is one (a model and messages)."""
        if isinstance(payload, Mapping) and "messages" in payload and "model" in payload:
            return payload
        what = "no model or messages" if isinstance(payload, Mapping) else type(payload).__name__
        msg = f"payload: must be a request body from build_chat_request, got {what}"
        raise InvalidParameterError(msg)

    def _echo_plan(self, payload: Mapping[str, Any] | None) -> list[tuple[str | None, Any]]:
        """The payloads to try in turn: the echoed reasoning under each field worth trying."""
        if payload is None:  # GET /models
            return [(None, None)]
        settings = self.settings
        if "response_format" in payload and refused_before(settings.base_url, payload):
            payload = in_json_mode(payload) or payload
        fields = echo_variants(payload, settings.base_url, settings.reasoning_echo_field)
        return [(f, with_echo_field(payload, f)) for f in fields] if fields else [(None, payload)]

    def _current_payload(self, payload: Mapping[str, Any] | None, tries: Tries) -> Any:
        """The payload the call sends now: its plan's, made on its first attempt."""
        if not tries.plan:
            tries.plan = self._echo_plan(payload)
        return tries.plan[tries.tried][1]

    def _refused(self, error: StepFunError, tries: Tries) -> bool:
        """Move the call's plan past a refused payload; False if ``error`` is no such refusal.

        The plan's payloads echo reasoning under each field in turn; a refused ``json_schema``
        puts the plan in JSON mode in place. A refusal may come as an error status or as the
        first event of a 200 stream (a gateway's), so streams ask this too before a restart.
        """
        plan, tried = tries.plan, tries.tried
        payload = plan[tried][1]
        fallback = in_json_mode(payload) if payload and refuses_json_schema(error) else None
        # A prompt over the window is no refusal of the echo (it shares the error type): sent
        # shorter, it would hide the overflow that callers act on and learn "never echo".
        refused = (
            isinstance(error, BadRequestError)
            and not isinstance(error, ContextOverflowError)
            and error.error_type == "request_params_invalid"
        )
        if fallback is not None:  # the plan goes on, each payload left in JSON mode
            learn_refusal(self.settings.base_url, fallback)
            plan[tried:] = [(field, in_json_mode(later)) for field, later in plan[tried:]]
        elif refused and tried + 1 < len(plan):
            log_echo_refused(plan[tried][0], plan[tried + 1][0])
            tries.tried += 1
        else:
            return False
        tries.attempt = 0  # the next payload starts its own retries, on the same deadline
        return True

    def _took(self, payload: Any, tries: Tries) -> None:
        """Keep the echo field the server took (a stream's once content came: not refused)."""
        field = tries.plan[tries.tried][0]
        if field is not None and self.settings.reasoning_echo_field == "auto":
            learn_echo_field(self.settings.base_url, str(payload.get("model")), field, tries.tried)

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

    def _tries(self, *, stream: bool) -> Tries:
        """A new call's budget: its deadline (which caps each attempt's timeouts), if any."""
        if (seconds := self.settings.total_timeout) is None:
            return Tries(None)
        return Tries(Deadline(seconds, httpx.Timeout(self._timeout(stream=stream)).as_dict()))

    def _reader(self, response: httpx.Response, deadline: Deadline | None) -> BodyReader:
        return BodyReader(response, self.settings.max_response_bytes, deadline)

    def _planned_delay(
        self, request: httpx.Request, attempt: int, error: StepFunError, deadline: Deadline | None
    ) -> float | None:
        """Seconds to wait before sending again, or None: no retry left, or no time (logged)."""
        delay = self.retry_policy.delay_for(attempt, error)
        if deadline is not None and delay is not None and delay >= deadline.remaining():
            delay = None  # waiting would overrun the budget: report the error now
        then = "giving up" if delay is None else f"retrying in {delay:.2f}s"  # never headers
        logger.debug(
            "%s attempt %d: %s; %s", request.url.path, attempt + 1, type(error).__name__, then
        )
        return delay

    def _retry_delay(
        self, request: httpx.Request, attempt: int, error: StepFunError, deadline: Deadline | None
    ) -> float:
        """Seconds to wait before the next attempt; else raise the error (or the deadline's)."""
        if (delay := self._planned_delay(request, attempt, error, deadline)) is not None:
            return delay
        if deadline is not None and deadline.remaining() <= 0:
            raise deadline.error() from error
        raise error

    def _opened(
        self, payload: Mapping[str, Any], response: httpx.Response, content: bytes, tries: Tries
    ) -> Opened:
        """A stream whose headers are in; a JSON answer is refused with what it says."""
        if is_json_reply(response):
            raise json_reply_error(response, content)
        if tries.deadline is not None:
            # total_timeout bounds a stream until its headers: the body gets the full timeouts.
            # httpcore reads this extension (httpx's public one) when the body is read; a
            # transport reading it earlier keeps the capped ones, which only ends sooner.
            response.request.extensions["timeout"] = tries.deadline.timeouts
        n = payload.get("n")
        state = StreamState(
            trace_id_of(response),
            self.settings.stream_idle_timeout,
            max_bytes=self.settings.max_response_bytes,
            content_encoding=coding_of(response),
            n=n if isinstance(n, int) and n > 1 else 1,  # whole once all n choices finished
            secret=sent_key(response.request.headers),
        )
        return response, state, tries
