"""One HTTP exchange as sync and async share it: request headers, replies to results or errors."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping

import httpx

from stepfun_core import __version__
from stepfun_core.errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    InvalidParameterError,
    MalformedResponseError,
    StepFunError,
    make_status_error,
)
from stepfun_core.jsonio import decode_json
from stepfun_core.limits import ACCEPT_ENCODING, CODINGS, content_codings
from stepfun_core.parse import parse_completion
from stepfun_core.redact import display_url, sent_key, without_secret
from stepfun_core.retry import parse_retry_after
from stepfun_core.settings import headers_over
from stepfun_core.transport import classes
from stepfun_core.types import Completion

CHAT_PATH = "/chat/completions"
MODELS_PATH = "/models"
USER_AGENT = f"stepfun-integrations/{__version__} httpx/{httpx.__version__}"


def build_headers(api_key: str, extra: Mapping[str, str] | None, *, stream: bool) -> dict[str, str]:
    """Headers for one request; the key is only ever placed in Authorization."""
    headers = {
        "Authorization": f"Bearer {api_key}",
        "Content-Type": "application/json",
        "Accept": "text/event-stream" if stream else "application/json",
        "Accept-Encoding": ACCEPT_ENCODING,
        "User-Agent": USER_AGENT,
    }
    merged = headers_over(headers, extra)  # an "authorization" of theirs replaces ours
    if stream:  # read as events whatever Accept the caller set for JSON replies
        return headers_over(merged, {"Accept": "text/event-stream"})
    return merged


def trace_id_of(response: httpx.Response) -> str | None:
    """The server's X-Trace-Id, for support requests."""
    value: str | None = response.headers.get("x-trace-id")
    return value


def status_error(response: httpx.Response, content: bytes) -> APIStatusError:
    """The typed error of a non-success response, from the (possibly capped) body read."""
    content = _without_our_key(content, response.request)
    error = make_status_error(
        response.status_code,
        decode_json(content),
        trace_id=trace_id_of(response),
        retry_after=parse_retry_after(response.headers),
        text=content.decode("utf-8", "replace"),
    )
    location = response.headers.get("location")
    if response.is_redirect and location:
        # Redirects are not followed (the key must not travel): say where it pointed, without
        # the query, which may hold a token.
        error.message += f" (redirected to {display_url(location)}; check base_url)"
        error.args = (error.message,)
    return error


def _without_our_key(content: bytes, request: httpx.Request) -> bytes:
    """The body with the key this request sent masked (`redact.without_secret`)."""
    key = sent_key(request.headers)
    if len(key) < 8:  # the common case: no decoding
        return content
    return without_secret(content.decode("utf-8", "replace"), key).encode("utf-8")


def transport_error(exc: Exception) -> StepFunError:
    """Wrap an httpx (or httpx2) failure: connection, timeout, or a request it cannot send."""
    error: StepFunError
    # Failures on our side of the wire: a header or URL httpx refuses to send. Their messages
    # can quote a header value (h11's "Illegal header value b'Bearer ...'"), so they are never
    # shown, never chained, and never retried.
    local = ("LocalProtocolError", "UnsupportedProtocol", "InvalidURL")
    if isinstance(exc, tuple(cls for name in local for cls in classes(name))):
        error = InvalidParameterError(
            f"the request could not be sent ({type(exc).__name__}): a header or the URL holds "
            "a character HTTP does not allow; check default_headers and base_url"
        )
        error.__suppress_context__ = True
        return error
    if isinstance(exc, classes("PoolTimeout")):  # every connection busy: more of them helps
        error = APITimeoutError(
            "no connection came free within the pool timeout (PoolTimeout): more calls at once "
            "than the pool has connections (max_connections, or your http_client's limits), or "
            "connections that calls cancelled mid-request keep (httpcore 1.x)"
        )
    elif isinstance(exc, classes("TimeoutException")):
        error = APITimeoutError(
            f"request timed out ({type(exc).__name__}); raise timeout= for slow answers"
        )
    else:
        error = APIConnectionError(f"connection error: {type(exc).__name__}: {exc}")
    error.__cause__ = exc
    return error


def refused_unread(response: httpx.Response, *, stream: bool) -> StepFunError | None:
    """Why a reply is refused unread, or None: its Content-Encoding, or a stream's content type.

    A stream request answered with neither an event stream nor JSON is refused (a missing
    content type is tolerated: cassettes).
    """
    kind = response.headers.get("content-type", "").lower()  # media types ignore case
    unexpected = kind and "event-stream" not in kind and "json" not in kind
    if stream and response.is_success and unexpected:
        return MalformedResponseError(
            f"expected an event stream, got content type {kind!r}", trace_id=trace_id_of(response)
        )
    codings = content_codings(response.headers.get("content-encoding"))
    if len(codings) > 1:
        problem = f"is compressed {len(codings)} times over"
    elif codings and codings[0] not in CODINGS:
        problem = f"uses {codings[0][:40]!r}, which was not asked for"
    else:
        return None
    message = f"the reply's Content-Encoding {problem}: refused unread (it may inflate without end)"
    if not response.is_success:  # its status still says what went wrong, and if to retry
        error = status_error(response, b"")
        error.message = f"{error.message}; {message}"
        error.args = (error.message,)
        return error
    return MalformedResponseError(message, trace_id=trace_id_of(response))


def raw_pieces(response: httpx.Response) -> Iterator[bytes]:
    """The body as it arrives (or whole, when httpx already read it)."""
    return iter((response.content,)) if response.is_stream_consumed else response.iter_raw()


async def _whole(content: bytes) -> AsyncIterator[bytes]:
    yield content


def araw_pieces(response: httpx.Response) -> AsyncIterator[bytes]:
    """The body as it arrives (or whole, when httpx already read it)."""
    return _whole(response.content) if response.is_stream_consumed else response.aiter_raw()


def reply_outcome(
    response: httpx.Response, content: bytes
) -> tuple[httpx.Response, bytes] | APIStatusError:
    """A reply and its body, or the error the retry policy weighs.

    A JSON error envelope under 200 is an error too (a gateway's ``rate_limit_exceeded`` is
    retried like a 429).
    """
    if not response.is_success:
        return status_error(response, content)
    # A completion's text holds ``"error"`` only escaped (\"error\"): most bodies are parsed once.
    if b'"error"' not in content:
        return response, content
    return _envelope(response, content) or (response, content)


def _envelope(response: httpx.Response, content: bytes) -> APIStatusError | None:
    """The error of a JSON error envelope (``{"error": {...}}``, our key masked), or None."""
    body = decode_json(_without_our_key(content, response.request))
    if isinstance(body, dict) and body.get("error"):
        return make_status_error(response.status_code, body, trace_id=trace_id_of(response))
    return None


def _shown(response: httpx.Response, content: bytes) -> str:
    """The start of a body an error quotes, our key masked in it."""
    return _without_our_key(content, response.request)[:500].decode("utf-8", "replace")


def completion_from(response: httpx.Response, content: bytes) -> Completion:
    """Parse a non-streaming reply; a JSON error envelope under 200 is still an error."""
    data = decode_json(content)
    if not isinstance(data, dict):
        raise MalformedResponseError(
            "the API answered with something that is not a JSON object",
            trace_id=trace_id_of(response),
            body=_shown(response, content),
        )
    if data.get("error") and (error := _envelope(response, content)):
        raise error  # an envelope whose key was escaped ("\u0065rror")
    # Only a \uD8xx-\uDFxx escape makes a UTF-16 half: one scan of the bytes decides.
    completion = parse_completion(data, surrogates=b"\\ud" in content or b"\\uD" in content)
    completion.raw = data
    return completion


def is_json_reply(response: httpx.Response) -> bool:
    """True when a stream request was answered with JSON (not an event stream)."""
    content_type = response.headers.get("content-type", "").lower()
    return "json" in content_type and "event-stream" not in content_type


def json_reply_error(response: httpx.Response, content: bytes) -> StepFunError:
    """The error for a JSON answer to a stream request (it carries what the JSON held)."""
    body = decode_json(content)
    if isinstance(body, dict) and (error := _envelope(response, content)):
        return error
    what = "a JSON document"
    if body is None:  # labelled JSON but not JSON (a proxy relabelling a stream): keep its text
        what = "a body labelled JSON that is not"
        body = _shown(response, content)
    return MalformedResponseError(
        f"asked for a stream but the API answered with {what}",
        trace_id=trace_id_of(response),
        body=body,
        partial=parse_completion(body) if isinstance(body, dict) else None,
    )
