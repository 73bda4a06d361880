"""How the tour talks to StepFun: replayed cassettes, the live API, or recording.

- replay (no key set): every request is answered from ``cassettes/examples/<section>.yaml``
  through vcrpy in record mode ``none``, matched on method, endpoint and JSON body (random ids
  normalized); a dummy key is set for the constructors, and nothing leaves the machine;
- live (``STEP_API_KEY`` or ``STEPFUN_API_KEY`` set): no VCR, the real API;
- record (``--record``): the cassettes are written afresh, from the real API when a key is
  set, else from the loopback replica in ``tests/replica`` (started in this process).

The cassettes are read, matched and written as the test suite's and the doctor's are, by
`stepfun_probes.cassette_format` (installed with the ``examples`` extra), so the tour works
without the test tree.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from vcr import VCR
from vcr.errors import CannotOverwriteExistingCassetteException

from stepfun_probes.cassette_format import (
    REDACTED,
    REPLICA_HEADER,
    SECRET_REQUEST_HEADERS,
    ReadableYamlSerializer,
    keep_allowed_headers,
    stepfun_json_body,
)

REPO = Path(__file__).resolve().parent.parent
CASSETTES = REPO / "cassettes" / "examples"
CASSETTE_DIR_ENV = "STEPFUN_EXAMPLES_CASSETTES"  # another folder of cassettes (tests use it)
KEY_ENV = ("STEP_API_KEY", "STEPFUN_API_KEY")
BASE_URL_ENV = ("STEP_BASE_URL", "STEPFUN_BASE_URL")
DUMMY_KEYS = frozenset({"replay", "replica-key"})


# --- cassettes --------------------------------------------------------------------------------
def endpoint(r1: Any, r2: Any) -> None:
    """vcrpy matcher: the same API endpoint under any base path (``/v1``, ``/step_plan/v1``)."""
    assert r1.path.rsplit("/v1/", 1)[-1] == r2.path.rsplit("/v1/", 1)[-1], "endpoints differ"


def cassette_source(path: Path) -> str | None:
    """``replica`` or ``api`` after the responses of a cassette; None if it has none."""
    try:
        interactions = ReadableYamlSerializer.deserialize(path.read_text(encoding="utf-8"))[
            "interactions"
        ]
    except (OSError, KeyError, TypeError, yaml.YAMLError):
        return None
    if not interactions:
        return None
    for interaction in interactions:
        headers = interaction["response"].get("headers") or {}
        if not any(name.lower() == REPLICA_HEADER for name in headers):
            return "api"
    return "replica"


# --- modes ------------------------------------------------------------------------------------
class TourError(Exception):
    """A failure the tour reports in one line, with what to do about it."""


def real_key() -> str | None:
    """The API key from the environment, ignoring the test suite's dummy keys."""
    for name in KEY_ENV:
        value = (os.environ.get(name) or "").strip()
        if value and value not in DUMMY_KEYS:
            return value
    return None


@dataclass
class Session:
    """One run of the tour: its mode, its cassettes and, when recording, the replica."""

    mode: str  # "replay", "live" or "record"
    cassettes: Path
    target: str = ""
    _replica: Any = field(default=None, repr=False)
    _vcr: VCR | None = field(default=None, repr=False)

    @classmethod
    def start(cls, *, record: bool) -> Session:
        """Pick the mode from the flags and the environment, and prepare the environment."""
        folder = Path(os.environ.get(CASSETTE_DIR_ENV) or CASSETTES)
        key = real_key()
        if record:
            session = cls("record", folder)
            session.target = "the real StepFun API" if key else session._start_replica()
        elif key:
            session = cls("live", folder, target="the StepFun API")
        else:
            session = cls("replay", folder)
            os.environ["STEP_API_KEY"] = "replay"  # the constructors want a key; none is sent
            for name in ("STEPFUN_API_KEY", *BASE_URL_ENV):
                os.environ.pop(name, None)  # the default URL: replay never reaches a network
        if session.mode != "live":
            session._vcr = session._make_vcr()
        return session

    def _start_replica(self) -> str:
        try:
            from tests.replica import Replica  # noqa: PLC0415 (only needed to record offline)
        except ImportError as exc:
            msg = (
                "recording without STEP_API_KEY needs the loopback replica in tests/replica: "
                "run from the repository root, or set STEP_API_KEY to record from the real API"
            )
            raise TourError(msg) from exc
        self._replica = Replica().start()
        for name in BASE_URL_ENV:
            os.environ[name] = self._replica.base_url
        os.environ["STEP_API_KEY"] = "replica-key"
        os.environ.pop("STEPFUN_API_KEY", None)
        return f"the loopback replica at {self._replica.base_url}"

    def _make_vcr(self) -> VCR:
        vcr = VCR(
            cassette_library_dir=str(self.cassettes),
            record_mode="all" if self.mode == "record" else "none",
            match_on=["method", "endpoint", "stepfun_json_body"],
            filter_headers=[(name, REDACTED) for name in SECRET_REQUEST_HEADERS],
            before_record_response=keep_allowed_headers,
            decode_compressed_response=True,
            serializer="readable_yaml",
        )
        vcr.register_serializer("readable_yaml", ReadableYamlSerializer())
        vcr.register_matcher("endpoint", endpoint)
        vcr.register_matcher("stepfun_json_body", stepfun_json_body)
        return vcr

    def close(self) -> None:
        """Stop the replica, if one was started."""
        if self._replica is not None:
            self._replica.stop()
            self._replica = None

    def cassette_path(self, name: str) -> Path:
        """Where the cassette of a section lives."""
        return self.cassettes / f"{name}.yaml"

    def describe(self, names: list[str]) -> str:
        """What the tour is about to talk to, in a sentence or two."""
        if self.mode == "live":
            base = next((os.environ[n] for n in BASE_URL_ENV if os.environ.get(n)), None)
            return f"Live: talking to the StepFun API{f' at {base}' if base else ''}."
        if self.mode == "record":
            return f"Recording cassettes/examples/ from {self.target}."
        sources = {cassette_source(self.cassette_path(n)) for n in names} - {None}
        origin = {
            frozenset({"replica"}): "recorded from the loopback replica of the StepFun API in "
            "tests/replica, so the answers are canned placeholders",
            frozenset({"api"}): "recorded from the real StepFun API",
        }.get(
            frozenset(sources),
            "recorded partly from the real StepFun API, partly from the loopback replica",
        )
        return (
            f"Replaying recorded responses from {_shown(self.cassettes)}/ ({origin}).\n"
            "No API key needed and nothing leaves this machine. To run it live against the real "
            "API:\n    STEP_API_KEY=<your key> .venv/bin/python -m examples"
        )

    @contextlib.contextmanager
    def cassette(self, name: str) -> Iterator[None]:
        """Run one section: through its cassette, or straight to the API when live."""
        if self._vcr is None:
            yield
            return
        path = self.cassette_path(name)
        if self.mode == "record":
            path.parent.mkdir(parents=True, exist_ok=True)
            path.unlink(missing_ok=True)
        elif not path.is_file():
            msg = (
                f"no recorded responses: {_shown(path)} is missing. Re-record with "
                "`.venv/bin/python -m examples --record`, or set STEP_API_KEY to run live"
            )
            raise TourError(msg)
        with self._vcr.use_cassette(path.name, allow_playback_repeats=True):
            yield


def _shown(path: Path) -> str:
    """A path relative to the repository when it is inside it."""
    try:
        return str(path.resolve().relative_to(REPO))
    except ValueError:
        return str(path)


def explain(error: BaseException, section: str, session: Session) -> str:
    """The one-line message for an exception raised by a section."""
    import stepfun_core  # noqa: PLC0415

    cause = _find(
        error, (TourError, CannotOverwriteExistingCassetteException, stepfun_core.StepFunError)
    )
    rerecord = "re-record with `.venv/bin/python -m examples --record`"
    if isinstance(cause, TourError):
        return str(cause)
    if isinstance(cause, CannotOverwriteExistingCassetteException):
        path = _shown(session.cassette_path(section))
        return (
            f"the example sent a request that {path} does not hold (was the example "
            f"changed?): {rerecord}, or set STEP_API_KEY to run live"
        )
    if isinstance(cause, stepfun_core.AuthenticationError):
        return (
            f"the API rejected the key ({_first_line(cause)}): check STEP_API_KEY; a key from "
            "China needs STEP_BASE_URL=https://api.stepfun.com/v1"
        )
    if isinstance(cause, stepfun_core.APIConnectionError):
        return f"could not reach the API ({_first_line(cause)}): check the network or STEP_BASE_URL"
    if isinstance(cause, stepfun_core.StepFunError):
        status = f"HTTP {cause.status_code}: " if cause.status_code else ""
        problem = f"{status}{_first_line(cause)}"
        return f"the StepFun API call failed ({problem}); retry, or check the request"
    return (
        f"{type(error).__name__}: {_first_line(error)} "
        "(run `.venv/bin/python -m examples --traceback` for the details)"
    )


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def _find(error: BaseException, kinds: tuple[type[BaseException], ...]) -> BaseException | None:
    """The first exception of ``kinds`` in the chain of causes (and exception groups)."""
    seen: set[int] = set()
    todo: list[BaseException] = [error]
    while todo:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, kinds):
            return current
        grouped = getattr(current, "exceptions", None)  # an ExceptionGroup (Python 3.11+)
        if isinstance(grouped, (list, tuple)):
            todo.extend(e for e in grouped if isinstance(e, BaseException))
        todo.extend(e for e in (current.__cause__, current.__context__) if e is not None)
    return None
