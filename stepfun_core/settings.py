"""Where to connect and with which key: base URLs, environment variables, timeouts."""

from __future__ import annotations

import os

import httpx

from stepfun_core.errors import MissingAPIKeyError

INTERNATIONAL_BASE_URL = "https://api.stepfun.ai/v1"
CHINA_BASE_URL = "https://api.stepfun.com/v1"
INTERNATIONAL_STEP_PLAN_BASE_URL = "https://api.stepfun.ai/step_plan/v1"
CHINA_STEP_PLAN_BASE_URL = "https://api.stepfun.com/step_plan/v1"
DEFAULT_BASE_URL = INTERNATIONAL_BASE_URL
DEFAULT_MODEL = "step-3.5-flash"

API_KEY_ENV_VARS = ("STEP_API_KEY", "STEPFUN_API_KEY")
BASE_URL_ENV_VARS = ("STEP_BASE_URL", "STEPFUN_BASE_URL")

DEFAULT_MAX_RETRIES = 2
# Connect fast; reads may idle for as long as a reasoning model thinks. The server itself
# ends requests after 10 minutes with a 503 (stepfun-wire.md §2.2), so 600 s never cuts early.
DEFAULT_TIMEOUT = httpx.Timeout(600.0, connect=5.0)


def _first_env(names: tuple[str, ...]) -> str | None:
    for name in names:
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return None


def resolve_api_key(explicit: str | None = None) -> str:
    """Return the explicit key, else the first of the key variables; raise if none is set."""
    key = (explicit or "").strip() or _first_env(API_KEY_ENV_VARS)
    if not key:
        raise MissingAPIKeyError(
            "No StepFun API key: pass api_key=... or set STEP_API_KEY (or STEPFUN_API_KEY)."
        )
    return key


def resolve_base_url(explicit: str | None = None) -> str:
    """Return the explicit base URL, else the environment's, else the international default."""
    url = (explicit or "").strip() or _first_env(BASE_URL_ENV_VARS) or DEFAULT_BASE_URL
    return url.rstrip("/")


def env_api_key() -> str | None:
    """Return the API key from the environment, if any (never raises)."""
    return _first_env(API_KEY_ENV_VARS)


def env_base_url() -> str | None:
    """Return the base URL from the environment, if any."""
    return _first_env(BASE_URL_ENV_VARS)


def as_timeout(timeout: float | httpx.Timeout | None) -> httpx.Timeout:
    """Turn seconds (the read budget) or a Timeout into a Timeout; None means the default."""
    if timeout is None:
        return DEFAULT_TIMEOUT
    if isinstance(timeout, httpx.Timeout):
        return timeout
    return httpx.Timeout(float(timeout), connect=min(5.0, float(timeout)))
