"""The doctor's findings: a `Check` per line of the setup steps, a `ProbeResult` per assumption."""

from __future__ import annotations

import enum
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from stepfun_core import __version__

CONFIGURATION = "Configuration"
REACHABILITY = "Reachability"
KEY_AND_REGION = "Key and region"
MODELS = "Models"
WIRE = "Wire conformance"
STEPS = (CONFIGURATION, REACHABILITY, KEY_AND_REGION, MODELS, WIRE)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CONFIGURATION = 2


class Verdict(str, enum.Enum):
    """How one setup check came out."""

    OK = "ok"
    INFO = "info"
    WARN = "warn"
    FAIL = "fail"
    SKIPPED = "skipped"


class Outcome(str, enum.Enum):
    """How one wire probe came out."""

    AS_EXPECTED = "as expected"
    DIFFERS = "differs"
    UNSUPPORTED = "unsupported"
    ERROR = "error"


@dataclass
class Check:
    """One line of a setup step: what was checked, the verdict, and what to do when it failed.

    ``needed`` says whether the user's setup depends on it: a needed check that fails makes
    the exit status non-zero; a warning never does.
    """

    step: str
    name: str
    verdict: Verdict
    detail: str
    fix: str | None = None
    needed: bool = True
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        """A needed check that failed."""
        return self.needed and self.verdict is Verdict.FAIL


@dataclass
class Tokens:
    """Tokens the API billed for some requests."""

    prompt: int = 0
    completion: int = 0
    total: int = 0

    def __add__(self, other: Tokens) -> Tokens:
        return Tokens(
            self.prompt + other.prompt,
            self.completion + other.completion,
            self.total + other.total,
        )


@dataclass
class ProbeResult:
    """One assumption checked against the API: verdict, one line, the observed shape."""

    assumption: str
    outcome: Outcome
    detail: str
    observed: str | None = None
    model: str | None = None
    requests: int = 0
    tokens: Tokens = field(default_factory=Tokens)


Listener = Callable[[Any], None]


@dataclass
class Report:
    """Everything one run found; `exit_code` turns it into the command's exit status."""

    base_url: str | None = None
    replica: bool = False
    configuration_error: bool = False
    checks: list[Check] = field(default_factory=list)
    probes: list[ProbeResult] = field(default_factory=list)
    listener: Listener | None = field(default=None, repr=False, compare=False)

    def add(self, item: Check | ProbeResult) -> None:
        """Record a finding and tell the listener (the command line prints it at once)."""
        if isinstance(item, Check):
            self.checks.append(item)
        else:
            self.probes.append(item)
        if self.listener is not None:
            self.listener(item)

    @property
    def tokens(self) -> Tokens:
        """Tokens spent by every probe."""
        total = Tokens()
        for probe in self.probes:
            total += probe.tokens
        return total

    @property
    def requests(self) -> int:
        """Requests sent by every probe."""
        return sum(probe.requests for probe in self.probes)

    def exit_code(self) -> int:
        """2 for a configuration error, 1 when a needed check failed or a probe differs."""
        if self.configuration_error:
            return EXIT_CONFIGURATION
        if any(check.failed for check in self.checks):
            return EXIT_FAILED
        if any(p.outcome in (Outcome.DIFFERS, Outcome.ERROR) for p in self.probes):
            return EXIT_FAILED
        return EXIT_OK

    def to_dict(self) -> dict[str, Any]:
        """The whole report as JSON-ready data (what ``--json FILE`` writes)."""
        return {
            "doctor": f"stepfun-integrations {__version__}",
            "python": sys.version.split()[0],
            "base_url": self.base_url,
            "target": "the loopback replica" if self.replica else "the StepFun API",
            "replica": self.replica,
            "exit_code": self.exit_code(),
            "checks": [_plain(asdict(check)) for check in self.checks],
            "probes": [_plain(asdict(probe)) for probe in self.probes],
            "requests": self.requests,
            "tokens": asdict(self.tokens),
        }


def _plain(value: Any) -> Any:
    """Enums as their values, recursively, so the data dumps as JSON."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
