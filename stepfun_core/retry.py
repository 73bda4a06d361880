"""The retry decision: which failures are retried, and how long to wait first."""

from __future__ import annotations

import email.utils
import math
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass

from stepfun_core.errors import InvalidParameterError, StepFunError
from stepfun_core.settings import check_count, check_seconds


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff like the Stainless SDKs: ``min(initial * 2**n, max) * (1 - 0.25 * U)``."""

    max_retries: int = 2
    initial_delay: float = 0.5
    max_delay: float = 8.0
    # A server asking for longer than this gets no retry: the error is raised at once.
    max_retry_after: float = 120.0

    def __post_init__(self) -> None:
        """Refuse now what would fail only after a first failure: a wait no sleep can take."""
        if unset := [name for name, value in vars(self).items() if value is None]:
            raise InvalidParameterError(f"RetryPolicy: {', '.join(unset)} must be set, not None")
        check_count("RetryPolicy.max_retries", self.max_retries, 0, 0)
        for name in ("initial_delay", "max_delay", "max_retry_after"):
            check_seconds(f"RetryPolicy.{name}", getattr(self, name), zero=True)

    def delay_for(self, attempt: int, error: StepFunError) -> float | None:
        """Seconds to wait before retry number ``attempt + 1``, or None to give up."""
        if attempt >= self.max_retries or not error.is_retryable:
            return None
        # "Retry-After: 0" gets the backoff below (as in openai-python): honoured literally, a
        # server answering 429 forever would be asked again without pause.
        if error.retry_after is not None and error.retry_after > 0:
            return error.retry_after if error.retry_after <= self.max_retry_after else None
        # Past 2**1023 a float overflows (a product past its range is inf, which min() takes).
        backoff = min(self.initial_delay * 2.0 ** min(attempt, 1023), self.max_delay)
        return backoff * (1.0 - 0.25 * random.random())


def _date_seconds(raw: str, now: float | None) -> float | None:
    """Seconds until an HTTP-date Retry-After (RFC 9110 §10.2.3); a past date means now."""
    try:
        parsed = email.utils.parsedate_tz(raw)
        if parsed is None:
            return None
        seconds = email.utils.mktime_tz(parsed) - (time.time() if now is None else now)
    except (OverflowError, ValueError, TypeError, IndexError):
        # A date past the calendar's range (year 99999), or a time zone offset of hundreds of
        # digits (an int too large for the float it is taken from): a wait far too long to honour.
        return math.inf
    return None if math.isnan(seconds) else max(0.0, seconds)


def _seconds(raw: str) -> float | None:
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if value >= 0 else None  # a negative number (or NaN) is garbage


def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Read ``retry-after-ms`` or ``retry-after`` (seconds or an HTTP date) as seconds.

    None (the normal backoff) when absent or unreadable; ``inf`` past any clock (no retry).
    """
    if (milliseconds := _seconds(headers.get("retry-after-ms") or "")) is not None:
        return milliseconds / 1000.0
    raw = (headers.get("retry-after") or "").strip()
    seconds = _seconds(raw)
    return _date_seconds(raw, now) if seconds is None and raw else seconds
