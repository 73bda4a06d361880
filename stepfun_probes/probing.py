"""The doctor's step 5, wire conformance (``--probe``): run the probes, count tokens, record.

Tokens are counted from the bytes the server sent (the last usage of a stream, the usage of a
reply), so the total is what the API billed, whatever a probe did with the answer.
"""

from __future__ import annotations

import json
import ssl
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from stepfun_core.client import StepFunClient
from stepfun_core.doctor.configuration import Setup
from stepfun_core.doctor.report import ProbeResult, Report, Tokens
from stepfun_core.doctor.runner import DoctorOptions, doctor_http_client
from stepfun_core.errors import StepFunError
from stepfun_core.redact import without_secret
from stepfun_core.settings import DEFAULT_MODEL
from stepfun_core.types import Usage
from stepfun_probes.assumptions import ASSUMPTIONS, Assumption
from stepfun_probes.capture import Exchange, ExchangeLog
from stepfun_probes.cassette_format import write_cassette
from stepfun_probes.probes import PROBES, Finding, Probe, ProbeContext
from stepfun_probes.probes.kit import failed

TRIM_TEXT = 60  # characters of a string kept in an observed shape
TRIM_ITEMS = 4  # items of a list kept
TRIM_TOTAL = 480  # characters of the whole observed shape


def select(only: Sequence[str]) -> list[Assumption]:
    """The assumptions to probe: all, or those named (unknown ids raise ValueError)."""
    unknown = sorted(set(only) - {a.id for a in ASSUMPTIONS})
    if unknown:
        known = ", ".join(a.id for a in ASSUMPTIONS)
        raise ValueError(f"unknown probe {', '.join(unknown)}; the probes are: {known}")
    return [a for a in ASSUMPTIONS if not only or a.id in only]


def trim(value: Any, secrets: Sequence[str] = ()) -> str:
    """An observed shape in one short line: long strings cut, long lists cut, then the whole.

    ``secrets`` are masked before anything is cut: a key cut short is no longer found.
    """

    def cut(item: Any) -> Any:
        if isinstance(item, str):
            for secret in secrets:
                item = without_secret(item, secret, shortest=1)
            return item[:TRIM_TEXT] + "…" if len(item) > TRIM_TEXT else item
        if isinstance(item, dict):
            return {k: cut(v) for k, v in item.items()}
        if isinstance(item, list):
            kept = [cut(v) for v in item[:TRIM_ITEMS]]
            return kept + ([f"… {len(item) - TRIM_ITEMS} more"] if len(item) > TRIM_ITEMS else [])
        return item

    text = json.dumps(cut(value), ensure_ascii=False, separators=(",", ":"))
    return text if len(text) <= TRIM_TOTAL else text[:TRIM_TOTAL] + "…"


def tokens_of(exchanges: Sequence[Exchange]) -> Tokens:
    """Tokens billed for these exchanges: each reply's usage, or a stream's last one."""
    total = Tokens()
    for exchange in exchanges:
        if exchange.is_stream:
            usages = [e["usage"] for e in exchange.events() if isinstance(e, dict) and "usage" in e]
            raw = usages[-1] if usages else None
        else:
            body = exchange.json()
            raw = body.get("usage") if isinstance(body, dict) else None
        usage = Usage.from_wire(raw)
        if usage is not None:
            total += Tokens(usage.prompt_tokens, usage.completion_tokens, usage.total_tokens)
    return total


def _run_one(probe: Probe, context: ProbeContext, show_traceback: bool) -> Finding:
    """A probe's finding; an exception becomes an ``error`` finding (a traceback only if asked)."""
    try:
        return probe(context)
    except StepFunError as exc:
        return failed(str(exc), context.model)
    except Exception as exc:  # reported as an error; the run goes on
        if show_traceback:
            traceback.print_exc()
        return failed(f"the probe broke: {type(exc).__name__}: {exc}", context.model)


def run_probes(
    report: Report,
    context: ProbeContext,
    *,
    only: Sequence[str] = (),
    record_dir: Path | None = None,
    secrets: Sequence[str] = (),
    show_traceback: bool = False,
) -> None:
    """Run each selected probe, adding its result to the report (and its cassette if asked).

    ``secrets`` (the key) are replaced wherever they appear in a recorded cassette.
    """
    log = context.log
    for assumption in select(only):
        start = len(log.exchanges)
        finding = _run_one(PROBES[assumption.id], context, show_traceback)
        exchanges = log.since(start)
        report.replica = report.replica or any(e.from_replica for e in exchanges)
        observed = None if finding.observed is None else trim(finding.observed, secrets)
        report.add(
            ProbeResult(
                assumption.id,
                finding.outcome,
                finding.detail,
                observed,
                finding.model,
                len(exchanges),
                tokens_of(exchanges),
            )
        )
        if record_dir is not None and exchanges:
            write_cassette(record_dir / f"{assumption.id}.yaml", exchanges, secrets)


def probe_wire(
    report: Report,
    setup: Setup,
    served: Sequence[str],
    options: DoctorOptions,
    ssl_context: ssl.SSLContext,
) -> None:
    """Step 5 as ``run_doctor`` calls it: the probes, through a client that logs every exchange."""
    log = ExchangeLog()
    with doctor_http_client(ssl_context, options.timeout, log.event_hooks) as http:
        # No retries: a probe reports what one request got, and never pays twice for it.
        client = StepFunClient(
            api_key=setup.api_key, base_url=setup.base_url, max_retries=0, http_client=http
        )
        run_probes(
            report,
            ProbeContext(client, log, options.model or DEFAULT_MODEL, served),
            only=options.only,
            record_dir=options.record_dir,
            secrets=[setup.api_key],
            show_traceback=options.show_traceback,
        )
