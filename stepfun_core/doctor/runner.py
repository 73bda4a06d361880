"""One doctor run, step by step, each step only when the one before left something to check.

No key: stop. Not reachable: no request. Key refused: no model list, no probe.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import httpx

from stepfun_core.client import StepFunClient
from stepfun_core.doctor.account import check_key
from stepfun_core.doctor.capture import ExchangeLog, doctor_http_client
from stepfun_core.doctor.configuration import Setup, check_configuration
from stepfun_core.doctor.models import check_models, listed
from stepfun_core.doctor.probes import ProbeContext
from stepfun_core.doctor.probing import run_probes
from stepfun_core.doctor.reach import check_reachability
from stepfun_core.doctor.regions import REGIONS, Region
from stepfun_core.doctor.report import (
    KEY_AND_REGION,
    MODELS,
    WIRE,
    Check,
    Listener,
    Report,
    Verdict,
)
from stepfun_core.settings import DEFAULT_MODEL


@dataclass(frozen=True)
class DoctorOptions:
    """What the command line passes to a run."""

    api_key: str | None = None
    base_url: str | None = None
    model: str | None = None
    probe: bool = False
    only: tuple[str, ...] = ()
    timeout: float = 10.0
    record_dir: Path | None = None
    show_traceback: bool = False


@lru_cache(maxsize=4)
def _ssl_context(cert_file: str | None, cert_dir: str | None) -> ssl.SSLContext:
    return httpx.create_ssl_context()


def doctor_ssl_context() -> ssl.SSLContext:
    """The SSL context for the certificate variables as they are now.

    Not the core's shared context: that one is made once per process, so it would miss an
    SSL_CERT_FILE set since. Building one costs about 20 ms, hence one per variable setting.
    """
    return _ssl_context(os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))


def _skip(report: Report, reason: str, *steps: str) -> None:
    for step in steps:
        report.add(Check(step, "not run", Verdict.SKIPPED, reason, needed=False))


def run_doctor(
    options: DoctorOptions | None = None,
    *,
    regions: Sequence[Region] = REGIONS,
    listener: Listener | None = None,
) -> Report:
    """Run every step the options ask for; ``listener`` hears each finding as it is made.

    ``regions`` is the base-URL table searched when a key is refused (tests point it at
    loopback replicas).
    """
    options = options or DoctorOptions()
    report = Report(listener=listener)
    checks, setup = check_configuration(options.api_key, options.base_url, regions)
    for check in checks:
        report.add(check)
    if setup is None:
        report.configuration_error = True
        return report
    report.base_url = setup.base_url
    ssl_context = doctor_ssl_context()
    reachability = check_reachability(setup.base_url, setup.proxy, ssl_context, options.timeout)
    for check in reachability:
        report.add(check)
    if any(check.failed for check in reachability):
        _skip(report, "the API is not reachable", KEY_AND_REGION, MODELS, WIRE)
        return report
    log = ExchangeLog()
    with doctor_http_client(log, ssl_context, options.timeout) as http:
        _check_account(report, http=http, log=log, setup=setup, options=options, regions=regions)
    return report


def _check_account(
    report: Report,
    *,
    http: httpx.Client,
    log: ExchangeLog,
    setup: Setup,
    options: DoctorOptions,
    regions: Sequence[Region],
) -> None:
    """Steps 3 to 5, which share the doctor's logging http client."""
    checks, answer = check_key(http, setup, regions)
    report.replica = answer.replica
    for check in checks:
        report.add(check)
    if answer.ids is None:
        _skip(report, "GET /models did not succeed", MODELS, WIRE)
        return
    for check in check_models(answer.ids, options.model):
        report.add(check)
    if not (options.probe or options.only):
        detail = "not run: add --probe to check the wire (a few cents of tokens)"
        report.add(Check(WIRE, "probes", Verdict.SKIPPED, detail, needed=False))
        return
    model = options.model or DEFAULT_MODEL
    if model not in answer.ids:
        fix = f"pass --model with a served model ({listed(answer.ids)})"
        detail = f"cannot probe: {model} is not served to this key"
        report.add(Check(WIRE, "probes", Verdict.FAIL, detail, fix))
        return
    # No retries: a probe reports what one request got, and never pays twice for it.
    client = StepFunClient(
        api_key=setup.api_key, base_url=setup.base_url, max_retries=0, http_client=http
    )
    run_probes(
        report,
        ProbeContext(client, log, model, answer.ids),
        only=options.only,
        record_dir=options.record_dir,
        secrets=[setup.api_key],
        show_traceback=options.show_traceback,
    )
