"""The ``stepfun`` command line: ``stepfun doctor [--probe] ...``.

``python -m stepfun_core.doctor`` runs the same command. Errors are explained in a line; a
traceback is printed only with ``--traceback``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from stepfun_core import __version__
from stepfun_core.doctor.render import Printer
from stepfun_core.doctor.report import EXIT_CONFIGURATION, EXIT_FAILED, Report
from stepfun_core.doctor.runner import DoctorOptions, probe_tooling, run_doctor
from stepfun_core.redact import without_secret
from stepfun_core.settings import find_api_key

DESCRIPTION = """\
Diagnose a StepFun setup: configuration, reachability, key and region, models; with --probe,
also check the API's wire format against what this library assumes (well under a cent of tokens).
The key and base URL are found as the clients find them: --api-key / --base-url, else
STEP_API_KEY or STEPFUN_API_KEY and STEP_BASE_URL or STEPFUN_BASE_URL."""

EXIT_STATUS = """\
exit status:
  0  everything the setup needs works (and, with --probe, no probe differs or failed)
  1  a needed check failed, or a probe differs or failed
  2  usage or configuration error (no key, a malformed key, an invalid base URL)"""


def build_parser() -> argparse.ArgumentParser:
    """The ``stepfun`` parser with its ``doctor`` command."""
    parser = argparse.ArgumentParser(prog="stepfun", description="StepFun integrations tools.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="command")
    doctor = commands.add_parser(
        "doctor",
        help="diagnose a setup and check the wire",
        description=DESCRIPTION,
        epilog=EXIT_STATUS,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    doctor.add_argument("--api-key", help="the key (prefer STEP_API_KEY: shell history keeps this)")
    doctor.add_argument(
        "--base-url", help="the base URL (default: STEP_BASE_URL, else the intl API)"
    )
    doctor.add_argument("--model", help="the model you use: checked against the served list")
    doctor.add_argument(
        "--probe",
        action="store_true",
        help="check the wire (spends tokens; needs the [doctor] extra)",
    )
    doctor.add_argument(
        "--only", action="append", default=[], metavar="PROBE", help="run only this probe"
    )
    doctor.add_argument("--timeout", type=seconds, default=10.0, help="seconds per network step")
    doctor.add_argument("--json", type=Path, metavar="FILE", help="write the whole report here")
    doctor.add_argument(
        "--record", type=Path, metavar="DIR", help="save each probe exchange as a cassette"
    )
    doctor.add_argument("--traceback", action="store_true", help="show tracebacks of failures")
    return parser


def _redacted(value: Any, secret: str | None) -> Any:
    if not secret:
        return value
    if isinstance(value, str):
        return without_secret(value, secret, shortest=1)  # as written, or JSON-escaped
    if isinstance(value, dict):
        return {k: _redacted(v, secret) for k, v in value.items()}
    if isinstance(value, list):
        return [_redacted(v, secret) for v in value]
    return value


def write_json(report: Report, path: Path, secret: str | None) -> None:
    """Write the report as JSON; the key never appears in it."""
    data = _redacted(report.to_dict(), secret)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


MAX_SECONDS = 86_400.0  # a day: more overflows the clock's arithmetic (1e10 did)


def seconds(text: str) -> float:
    """A positive number of seconds up to a day (argparse names the option when this raises)."""
    value = float(text)
    if not (0 < value <= MAX_SECONDS):
        raise ValueError(text)
    return value


def _writable(option: str, path: Path, directory: Path) -> None:
    """Make ``directory`` if need be and check a file can be written in it, before any run."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=directory).close()
    except OSError as exc:
        raise ValueError(f"{option} {path}: cannot be written ({exc.strerror})") from None


def _options(args: argparse.Namespace) -> DoctorOptions:
    if args.record is not None and not (args.probe or args.only):
        raise ValueError("--record saves probe exchanges: add --probe")
    # Output paths that cannot be written are usage errors before anything runs (or is paid).
    if args.json is not None and args.json.is_dir():
        raise ValueError(f"--json {args.json}: a directory; name the report's file")
    if args.record is not None and args.record.exists() and not args.record.is_dir():
        raise ValueError(f"--record {args.record}: a file; name a directory for the cassettes")
    if args.probe or args.only:
        with probe_tooling():  # without the doctor extra: one line naming it, before anything runs
            from stepfun_probes.probing import select  # noqa: PLC0415 (maintainers' tooling)
        select(args.only)  # unknown probe ids are a usage error, before anything runs
    if args.json is not None:
        _writable("--json", args.json, args.json.parent)
    if args.record is not None:
        _writable("--record", args.record, args.record)
    return DoctorOptions(
        api_key=args.api_key,
        base_url=args.base_url,
        model=args.model,
        probe=args.probe,  # --only alone probes too: run_doctor reads both
        only=tuple(args.only),
        timeout=args.timeout,
        record_dir=args.record,
        show_traceback=args.traceback,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (see ``stepfun doctor --help``)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        options = _options(args)
    except SystemExit as exc:  # --help, or a usage error argparse already explained
        return exc.code if isinstance(exc.code, int) else EXIT_CONFIGURATION
    except ValueError as exc:
        print(f"stepfun doctor: {exc}", file=sys.stderr)
        return EXIT_CONFIGURATION
    printer = Printer(sys.stdout, _key_in_use(options) or "")
    print(f"StepFun doctor (stepfun-integrations {__version__})", flush=True)
    try:
        report = run_doctor(options, listener=printer)
    except Exception as exc:  # one line; a traceback only if asked
        if options.show_traceback:
            traceback.print_exc()
        hint = "" if options.show_traceback else " (run with --traceback for details)"
        print(f"\nstepfun doctor failed: {type(exc).__name__}: {exc}{hint}", file=sys.stderr)
        return EXIT_FAILED
    printer.finish(report)
    if args.json is not None:
        try:
            write_json(report, args.json, _key_in_use(options))
        except OSError as exc:
            print(f"stepfun doctor: cannot write {args.json}: {exc.strerror}", file=sys.stderr)
            return EXIT_CONFIGURATION
        print(f"Report written to {args.json}")
    return report.exit_code()


def _key_in_use(options: DoctorOptions) -> str | None:
    found = find_api_key(options.api_key)
    return found.value if found else None
