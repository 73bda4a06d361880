"""The doctor's text output: a line per finding as it is made, then the probe table and result."""

from __future__ import annotations

from collections import Counter
from typing import Any, TextIO

from stepfun_core.doctor.report import (
    EXIT_CONFIGURATION,
    EXIT_OK,
    WIRE,
    Check,
    Outcome,
    ProbeResult,
    Report,
    Verdict,
)
from stepfun_core.redact import without_secret

VERDICT_WIDTH = 12
NAME_WIDTH = 26
INDENT = " " * (2 + VERDICT_WIDTH + NAME_WIDTH)


def check_lines(check: Check) -> list[str]:
    """A check's line, and the line saying what to do when it failed or warns."""
    lines = [f"  {check.verdict.value:<{VERDICT_WIDTH}}{check.name:<{NAME_WIDTH}}{check.detail}"]
    if check.fix and check.verdict in (Verdict.FAIL, Verdict.WARN):
        lines.append(f"{INDENT}-> {check.fix}")
    return lines


def probe_lines(result: ProbeResult) -> list[str]:
    """A probe's line, and the observed shape when it differs."""
    model = f" [{result.model}]" if result.model else ""
    lines = [
        f"  {result.outcome.value:<{VERDICT_WIDTH}}{result.assumption:<{NAME_WIDTH}}"
        f"{result.detail}{model}"
    ]
    if result.observed is not None:
        lines.append(f"{INDENT}observed: {result.observed}")
    return lines


def probe_table(report: Report) -> list[str]:
    """The closing table of the probes, their tokens and what was probed."""
    if not report.probes:
        return []
    tokens = report.tokens
    target = "the loopback replica" if report.replica else "the StepFun API"
    rows = [(p.assumption, p.model or "-", p.outcome.value) for p in report.probes]
    widths = [max(len(row[i]) for row in [("probe", "model", "verdict"), *rows]) for i in range(3)]
    lines = [
        "",
        f"Probe summary ({target}): {len(report.probes)} probes, {report.requests} requests, "
        f"{tokens.total:,} tokens ({tokens.prompt:,} prompt + {tokens.completion:,} completion)",
    ]
    for row in [("probe", "model", "verdict"), tuple("-" * w for w in widths), *rows]:
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        lines.append(("  " + "  ".join(cells)).rstrip())
    counts = Counter(p.outcome for p in report.probes)
    lines.append("  " + ", ".join(f"{counts[o]} {o.value}" for o in Outcome if counts[o]))
    return lines


def result_line(report: Report) -> str:
    """The last line: what the exit status means for this run."""
    code = report.exit_code()
    replica = " (answered by the loopback replica, not StepFun)" if report.replica else ""
    if code == EXIT_OK:
        return f"Result: everything checked works{replica}. Exit status 0."
    if code == EXIT_CONFIGURATION:
        return "Result: fix the configuration above first. Exit status 2."
    failed = [c.name for c in report.checks if c.failed]
    probes = [p.assumption for p in report.probes if p.outcome in (Outcome.DIFFERS, Outcome.ERROR)]
    parts = ([f"failed: {', '.join(failed)}"] if failed else []) + (
        [f"probes to look at: {', '.join(probes)}"] if probes else []
    )
    return f"Result: {'; '.join(parts)}{replica}. Exit status 1."


def one_line(text: str, secret: str = "") -> str:
    """``text`` as one line of a terminal: the key masked, control characters escaped.

    What a server sends (a model's id, an HTML error page, a body quoting the key) is printed
    as text: a newline or an escape sequence would break the layout or fake a line.
    """
    text = without_secret(text, secret, shortest=1)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class Printer:
    """Prints each finding as the run makes it, with a heading when a step begins."""

    def __init__(self, out: TextIO, secret: str = "") -> None:
        self.out = out
        self.secret = secret  # the key in use: never printed, whatever a server quotes back
        self._step: str | None = None

    def _heading(self, step: str) -> None:
        if step != self._step:
            self._step = step
            self.out.write(f"\n{step}\n")

    def __call__(self, item: Any) -> None:
        """Print a `Check` or a `ProbeResult`."""
        if isinstance(item, Check):
            self._heading(item.step)
            lines = check_lines(item)
        else:
            self._heading(WIRE)
            lines = probe_lines(item)
        self.out.write("\n".join(one_line(line, self.secret) for line in lines) + "\n")
        self.out.flush()

    def finish(self, report: Report) -> None:
        """The probe table and the result line."""
        lines = [*probe_table(report), "", result_line(report)]
        self.out.write("\n".join(one_line(line, self.secret) for line in lines) + "\n")
        self.out.flush()
