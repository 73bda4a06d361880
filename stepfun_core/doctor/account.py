"""Step 3, key and region: ``GET /models`` (free, no tokens) with the key, at the base URL.

On a 401 the same key is tried at the other base URLs of the region table: keys are
region-bound and the 401 body does not say which region refused it (docs/wire.md#authentication),
so "this key works at the China API: set STEP_BASE_URL=..." is the answer users need.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from stepfun_core.catalog import ServedModel, parse_models
from stepfun_core.client import StepFunClient, by_deadline
from stepfun_core.doctor.configuration import Setup
from stepfun_core.doctor.regions import Region, other_regions
from stepfun_core.doctor.report import KEY_AND_REGION, Check, Verdict
from stepfun_core.errors import (
    APIConnectionError,
    AuthenticationError,
    MalformedResponseError,
    PaymentRequiredError,
    PermissionDeniedError,
    RateLimitError,
    StepFunError,
    TotalTimeoutError,
)
from stepfun_core.http import build_headers, status_error, transport_error
from stepfun_core.jsonio import decode_json
from stepfun_core.limits import DEFAULT_MAX_RESPONSE_BYTES, BodyReader, Deadline
from stepfun_core.redact import display_url
from stepfun_core.settings import endpoint_url

MODELS_PATH = "/models"
# The loopback replica (tests/replica) marks its answers with this header.
REPLICA_HEADER = "x-stepfun-replica"


@dataclass
class ModelsAnswer:
    """What ``GET /models`` said: the served models, or the typed error."""

    models: list[ServedModel] | None
    error: StepFunError | None = None
    replica: bool = False

    @property
    def ids(self) -> list[str] | None:
        """The served model ids."""
        return None if self.models is None else [m.id for m in self.models]


def list_models(http: httpx.Client, base_url: str, api_key: str, timeout: float) -> ModelsAnswer:
    """``GET <base_url>/models`` with the key, in ``timeout`` seconds; never raises for a failure.

    httpx's timeouts bound each read, not the request: the core's deadline and byte cap keep a
    silent or trickling server, or an endless body, from holding the doctor.
    """
    headers = build_headers(api_key, None, stream=False)
    request = http.build_request("GET", endpoint_url(base_url, MODELS_PATH), headers=headers)
    deadline = Deadline(timeout, dict.fromkeys(("connect", "read", "write", "pool"), timeout))
    deadline.limit(request)

    def get() -> tuple[httpx.Response, bytes]:
        response = http.send(request, stream=True)
        reader = BodyReader(response, DEFAULT_MAX_RESPONSE_BYTES, deadline)
        return response, StepFunClient.read_body(response, reader)

    try:
        outcome = by_deadline(deadline, request, get)
    except httpx.RequestError as exc:
        outcome = transport_error(exc)
    except StepFunError as exc:
        outcome = exc
    if isinstance(outcome, TotalTimeoutError):  # named as the doctor's option, not the core's
        outcome = TotalTimeoutError(f"no whole answer within the timeout ({timeout:g} s)")
    if isinstance(outcome, StepFunError):  # a body over the cap too
        return ModelsAnswer(None, outcome)
    response, content = outcome
    replica = response.headers.get(REPLICA_HEADER) == "loopback"
    if not response.is_success:
        return ModelsAnswer(None, status_error(response, content), replica)
    body = decode_json(content)
    if not isinstance(body, dict) or not isinstance(body.get("data"), list):
        error = MalformedResponseError(f"GET {MODELS_PATH} did not answer with a list of models")
        return ModelsAnswer(None, error, replica)
    return ModelsAnswer(parse_models(body), None, replica)


def check_key(
    http: httpx.Client, setup: Setup, regions: Sequence[Region], timeout: float
) -> tuple[list[Check], ModelsAnswer]:
    """The key-and-region lines, and the models answer of the base URL."""
    answer = list_models(http, setup.base_url, setup.api_key, timeout)
    checks: list[Check] = []
    if answer.replica:
        detail = "answered by the loopback replica (X-StepFun-Replica: loopback), not StepFun"
        checks.append(Check(KEY_AND_REGION, "target", Verdict.INFO, detail, needed=False))
    if answer.ids is not None:
        where = setup.region.label if setup.region else display_url(setup.base_url)
        detail = f"accepted by {where}: GET /models lists {len(answer.ids)} models"
        checks.append(Check(KEY_AND_REGION, "key", Verdict.OK, detail))
    elif isinstance(answer.error, AuthenticationError):
        checks.append(_wrong_region(http, setup, regions, timeout))
    else:
        checks.append(_refused(answer.error, setup))
    return checks, answer


def _wrong_region(
    http: httpx.Client, setup: Setup, regions: Sequence[Region], timeout: float
) -> Check:
    if setup.region is None:  # a gateway's URL: its key is never sent to StepFun's own
        detail = f"401 at {display_url(setup.base_url)}: the server there refused this key"
        fix = "check the key that server expects (a gateway's own, not a StepFun key?)"
        return Check(KEY_AND_REGION, "key", Verdict.FAIL, detail, fix, data={"tried": []})
    tried: list[str] = []
    for region in other_regions(setup.base_url, regions):
        tried.append(region.name)
        if list_models(http, region.base_url, setup.api_key, timeout).ids is not None:
            detail = (
                f"401 invalid_api_key at {setup.region.label}, but {region.label} accepts this key"
            )
            fix = f"set STEP_BASE_URL={region.base_url} (or pass base_url=... to the client)"
            data = {"accepted_by": region.base_url, "tried": tried}
            return Check(KEY_AND_REGION, "key", Verdict.FAIL, detail, fix, data=data)
    detail = f"401 invalid_api_key here and at {', '.join(tried) or 'no other URL'}"
    fix = "the key is wrong or revoked: create a new one in the StepFun console"
    return Check(KEY_AND_REGION, "key", Verdict.FAIL, detail, fix, data={"tried": tried})


def _refused(error: StepFunError | None, setup: Setup) -> Check:
    detail = f"GET {MODELS_PATH} failed: {error}"
    if isinstance(error, APIConnectionError) and isinstance(error.__cause__, httpx.ProxyError):
        detail = f"the proxy refused to connect to the API: {error.__cause__}"
        fix = "check HTTPS_PROXY (and its credentials), or unset it to connect directly"
    elif isinstance(error, PaymentRequiredError):
        fix = "top up the balance, or check the Step Plan subscription, in the StepFun console"
    elif isinstance(error, PermissionDeniedError):
        fix = "this key may not list models: check its permissions in the StepFun console"
    elif isinstance(error, RateLimitError):
        fix = "rate limited: wait a minute and run the doctor again"
    elif error is not None and error.status_code == 404:
        fix = f"{display_url(setup.base_url)} has no /models endpoint: check STEP_BASE_URL"
    elif isinstance(error, APIConnectionError):
        fix = "the API did not answer: run the doctor again, or check the network and proxy"
    else:
        fix = "run the doctor again later; quote the X-Trace-Id to StepFun support if it lasts"
    return Check(KEY_AND_REGION, "key", Verdict.FAIL, detail, fix)
