"""Error bodies and Retry-After headers: any value in, a typed answer out, nothing raised."""

from __future__ import annotations

import email.utils
import math
from typing import Any

import httpx
from hypothesis import example, given
from hypothesis import strategies as st

from stepfun_core import APIStatusError
from stepfun_core.errors import describe_error_body, make_status_error
from stepfun_core.retry import RetryPolicy, parse_retry_after
from tests.property.strategies import JSON_VALUES, heavy, texts

ERROR_BODIES = st.one_of(
    JSON_VALUES,
    st.fixed_dictionaries(
        {
            "error": st.fixed_dictionaries(
                {}, optional=dict.fromkeys(("message", "type", "code"), JSON_VALUES)
            )
        }
    ),
    st.fixed_dictionaries(
        {}, optional=dict.fromkeys(("message", "type", "code", "error"), JSON_VALUES)
    ),
)
STATUSES = st.one_of(st.none(), st.integers(0, 999), st.integers(-(2**40), 2**40))


@heavy()
@given(ERROR_BODIES)
@example({"error": {"message": 5, "type": ["x"]}})
@example({"error": {"message": {"nested": [1]}, "code": 0}})
@example({"error": "plain"})
@example([1, {"error": None}])
def test_describe_error_body(body: Any) -> None:
    message, kind = describe_error_body(body)
    assert message is None or isinstance(message, str)
    assert kind is None or isinstance(kind, str)


@heavy()
@given(
    STATUSES,
    ERROR_BODIES,
    st.one_of(st.none(), texts()),
    st.one_of(st.none(), st.floats()),
    texts(40),
)
@example(400, {"error": {"message": ["context length exceeded"]}}, None, None, "")
@example(None, {"error": {"type": {"a": 1}, "message": None}}, "t", math.nan, "body")
def test_make_status_error(
    status: int | None, body: Any, trace_id: str | None, retry_after: float | None, text: str
) -> None:
    error = make_status_error(status, body, trace_id=trace_id, retry_after=retry_after, text=text)
    assert isinstance(error, APIStatusError)
    assert error.status_code == status
    assert isinstance(error.message, str)
    assert isinstance(str(error), str)
    assert isinstance(repr(error), str)


# Retry-After values: numbers written every way, HTTP dates with any year and zone, garbage.
NUMBERS = st.one_of(
    st.floats().map(repr),
    st.floats().map(str),
    st.integers(-(10**30), 10**30).map(str),
    st.sampled_from(["nan", "-nan", "inf", "-inf", "Infinity", "1e400", "-1e400", "1_000", "0x10"]),
)
DAYS = st.sampled_from(["Mon", "Tue", "Sun", "Xyz", ""])
MONTHS = st.sampled_from(["Jan", "Feb", "Dec", "Foo", ""])
ZONES = st.sampled_from(["GMT", "UTC", "+0000", "-9999", "+9999", "EST", "", "Z", "+99999999"])


@st.composite
def http_dates(draw: st.DrawFn) -> str:
    day = draw(DAYS)
    year = draw(st.integers(-100, 10**7))
    clock = ":".join(str(draw(st.integers(0, 99))) for _ in range(3))
    date = f"{draw(st.integers(0, 99)):02d} {draw(MONTHS)} {year} {clock} {draw(ZONES)}"
    return f"{day}, {date}" if day else date


RETRY_VALUES = st.one_of(
    NUMBERS,
    http_dates(),
    texts(20, surrogates=False),
    st.text(alphabet="0123456789 ,:+-.eE", max_size=30),
)
HEADER_NAMES = st.sampled_from(["retry-after", "retry-after-ms"])


@given(st.dictionaries(HEADER_NAMES, RETRY_VALUES, max_size=2))
@example({"retry-after": "Mon, 01 Jan 99999 00:00:00 GMT"})
@example({"retry-after": "01 Jan 99999 00:00:00"})
@example({"retry-after": "Mon, 01 Jan 0 00:00:00 +9999"})
@example({"retry-after": "-5"})
@example({"retry-after": "nan"})
@example({"retry-after": "-inf"})
@example({"retry-after": "1e400"})
@example({"retry-after": "9" * 400})
@example({"retry-after-ms": "nan", "retry-after": "garbage"})
@example({"retry-after-ms": "-1e400"})
def test_parse_retry_after(headers: dict[str, str]) -> None:
    wire = httpx.Headers({k: v.encode("utf-8", "surrogatepass") for k, v in headers.items()})
    for given_headers in (headers, wire):
        value = parse_retry_after(given_headers)
        assert value is None or isinstance(value, float)
        if value is not None:
            assert not math.isnan(value)
            assert value >= 0  # inf means "longer than anyone should wait"
            # The retry policy turns it into a wait or a give-up, without raising either.
            error = make_status_error(429, {}, retry_after=value)
            delay = RetryPolicy(max_retries=3).delay_for(0, error)
            assert delay is None or (math.isfinite(delay) and delay >= 0)


@given(st.integers(0, 10**6), st.integers(0, 2**33))
def test_a_date_is_read_as_seconds_from_now(seconds: int, now: int) -> None:
    date = email.utils.formatdate(now + seconds, usegmt=True)
    value = parse_retry_after({"retry-after": date}, now=now)
    assert value is not None
    assert abs(value - seconds) <= 1


@given(st.one_of(st.floats(), st.integers(-(10**30), 10**30)))
def test_a_date_against_any_now_is_never_nan_or_negative(now: float) -> None:
    value = parse_retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, now=now)
    assert value is None or (not math.isnan(value) and value >= 0)
