"""One doctor run, step by step, each step only when the one before left something to check.

No key: stop. Not reachable: no request. Key refused: no model list, no probe.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import httpx

from stepfun_core.doctor.account import check_key
from stepfun_core.doctor.configuration import Setup, check_configuration
from stepfun_core.doctor.models import check_models, listed
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
from stepfun_core.redact import display_url
from stepfun_core.settings import DEFAULT_MODEL

# A probe asks a reasoning model for up to a thousand tokens: generous, but not the core's 600 s.
READ_TIMEOUT = 120.0
INSTALL_PROBES = 'pip install "stepfun-integrations[doctor]"'
# What the wire probes need beyond the runtime: their package, and PyYAML for --record.
_PROBE_MODULES = ("stepfun_probes", "yaml")


class ProbesNotInstalledError(ValueError):
    """A probe option was given, but the ``doctor`` extra (the wire probes) is not installed."""


@contextmanager
def probe_tooling() -> Iterator[None]:
    """Around an import of `stepfun_probes`: its absence becomes one line naming the extra.

    The wire probes and ``--record`` are maintainers' tooling, imported only when a probe option
    asks for them, so the doctor most users run loads none of it.
    """
    try:
        yield
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] not in _PROBE_MODULES:
            raise
        msg = f"--probe, --only and --record need the wire probes: {INSTALL_PROBES}"
        raise ProbesNotInstalledError(msg) from exc


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


def doctor_http_client(
    ssl_context: ssl.SSLContext,
    timeout: float,
    event_hooks: Mapping[str, list[Callable[[Any], None]]] | None = None,
) -> httpx.Client:
    """An httpx client like the core's shared one (env proxies kept), with the doctor's timeouts.

    ``Accept-Encoding: identity`` keeps the bytes read what the server meant, uncompressed, so
    the probes (which log them through ``event_hooks``) and cassettes read them directly;
    compression changes no JSON shape.
    """
    return httpx.Client(
        verify=ssl_context,
        timeout=httpx.Timeout(READ_TIMEOUT, connect=timeout),
        headers={"Accept-Encoding": "identity"},
        event_hooks=event_hooks,
    )


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
    report.base_url = display_url(setup.base_url)
    ssl_context = doctor_ssl_context()
    reachability = check_reachability(setup.base_url, setup.proxy, ssl_context, options.timeout)
    for check in reachability:
        report.add(check)
    if any(check.failed for check in reachability):
        _skip(report, "the API is not reachable", KEY_AND_REGION, MODELS, WIRE)
        return report
    with doctor_http_client(ssl_context, options.timeout) as http:
        served = _check_account(report, http=http, setup=setup, options=options, regions=regions)
    if served is not None and _can_probe(report, served, options):
        with probe_tooling():
            from stepfun_probes.probing import probe_wire  # noqa: PLC0415 (maintainers' tooling)
        probe_wire(report, setup, served, options, ssl_context)
    return report


def _check_account(
    report: Report,
    *,
    http: httpx.Client,
    setup: Setup,
    options: DoctorOptions,
    regions: Sequence[Region],
) -> list[str] | None:
    """Steps 3 and 4; the served models, or None when ``GET /models`` failed."""
    checks, answer = check_key(http, setup, regions, options.timeout)
    report.replica = answer.replica
    for check in checks:
        report.add(check)
    if answer.models is None:
        _skip(report, "GET /models did not succeed", MODELS, WIRE)
        return None
    for check in check_models(answer.models, options.model):
        report.add(check)
    return answer.ids


def _can_probe(report: Report, served: Sequence[str], options: DoctorOptions) -> bool:
    """Whether step 5 runs: a probe option was given and the model to probe is served."""
    if not (options.probe or options.only):
        detail = "not run: add --probe to check the wire (well under a cent of tokens)"
        report.add(Check(WIRE, "probes", Verdict.SKIPPED, detail, needed=False))
        return False
    model = options.model or DEFAULT_MODEL
    if model not in served:
        fix = f"pass --model with a served model ({listed(served)})"
        detail = f"cannot probe: {model} is not served to this key"
        report.add(Check(WIRE, "probes", Verdict.FAIL, detail, fix))
        return False
    return True
