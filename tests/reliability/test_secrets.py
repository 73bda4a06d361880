"""Secret probes: the API key must never appear anywhere but the Authorization header it is sent in.

The fake key is distinctive (``SECRET``) so a plain substring search is a complete probe.
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import stepfun_core as core
from tests.reliability.conftest import (
    MODES,
    REPO,
    SECRET,
    TARGETS,
    Row,
    build,
    call,
    closed_port,
    debug_logs,
    error_text,
)
from tests.replica import Fault, Replica


def clean(text: str) -> bool:
    # The key, and any long piece of it (a partially masked key still leaks most of it).
    return SECRET not in text and SECRET[8:30] not in text


def probe(row: Row, target: str, name: str, where: str, text: str, mode: str = "") -> None:
    row.set(
        category="secret",
        case=name,
        adapter=target,
        mode=mode,
        expected="key absent",
        observed=f"key absent from {len(text)} chars" if clean(text) else f"KEY FOUND in {where}",
    )
    assert clean(text), f"the API key appears in {where}"


# --- the objects themselves ----------------------------------------------------------------------
def _serializations(target: str, inst: Any) -> dict[str, Callable[[], str]]:
    forms: dict[str, Callable[[], str]] = {"repr": lambda: repr(inst), "str": lambda: str(inst)}
    if target == "core":
        forms["repr of each client"] = lambda: repr(inst.sync) + repr(inst.aio)
        return forms
    forms["model_dump"] = lambda: repr(inst.model_dump())
    forms["model_dump_json"] = inst.model_dump_json
    forms["model_dump (python, all fields)"] = lambda: repr(inst.model_dump(mode="python"))
    if target == "langchain":
        from langchain_core.load import dumpd, dumps

        forms["dumpd"] = lambda: json.dumps(dumpd(inst))
        forms["dumps"] = lambda: dumps(inst)
        forms["dumps (pretty)"] = lambda: dumps(inst, pretty=True)
        forms["_identifying_params"] = lambda: repr(inst._identifying_params)
        forms["invocation params"] = lambda: repr(inst._get_invocation_params())
    else:
        forms["to_dict"] = lambda: repr(inst.to_dict())
        forms["to_json"] = inst.to_json
        forms["metadata"] = lambda: repr(inst.metadata)
    return forms


SERIALIZATIONS = [
    ("core", "repr"),
    ("core", "str"),
    ("core", "repr of each client"),
    *[
        (t, f)
        for t in ("langchain", "llamaindex")
        for f in ("repr", "str", "model_dump", "model_dump_json", "model_dump (python, all fields)")
    ],
    *[
        ("langchain", f)
        for f in ("dumpd", "dumps", "dumps (pretty)", "_identifying_params", "invocation params")
    ],
    *[("llamaindex", f) for f in ("to_dict", "to_json", "metadata")],
]


@pytest.mark.parametrize(("target", "form"), SERIALIZATIONS)
def test_serialization_has_no_key(target: str, form: str, server: Replica, row: Row) -> None:
    inst = build(target, server.base_url)
    text = _serializations(target, inst)[form]()
    probe(row, target, f"object: {form}", form, text)


@pytest.mark.parametrize("target", ("langchain", "llamaindex"))
def test_pickle_round_trip_has_no_key_in_text_forms(target: str, server: Replica, row: Row) -> None:
    """A pickled copy may hold the key (it must work), but its repr/str/dump must not show it."""
    inst = build(target, server.base_url)
    copy = pickle.loads(pickle.dumps(inst))
    text = repr(copy) + str(copy) + repr(copy.model_dump())
    probe(row, target, "object: unpickled copy's repr/str/model_dump", "unpickled copy", text)


# --- logs at DEBUG -------------------------------------------------------------------------------
def _log_text(records: list[Any]) -> str:
    parts = []
    for record in records:
        parts.append(record.getMessage())
        parts.append(repr(record.args))
        parts.append(repr(getattr(record, "__dict__", {})))
    return "\n".join(parts)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("target", TARGETS)
def test_debug_logs_have_no_key(target: str, mode: str, server: Replica, row: Row) -> None:
    """Success, retry and failure paths, streamed and not, with every logger at DEBUG."""
    server.enqueue(Fault.status(429, headers={"Retry-After": "0"}), Fault.status(503))
    with debug_logs() as records:
        inst = build(target, server.base_url, max_retries=2)
        for stream in (False, True):
            call(target, inst, mode, stream)
        server.enqueue(Fault.status(401), Fault.drop(after=4))
        failures = [call(target, inst, mode, False), call(target, inst, mode, True)]
    assert all(f.error is not None for f in failures)
    assert len(records) > 10, "DEBUG logging did not capture the exchange"
    probe(
        row,
        target,
        f"DEBUG logs ({len(records)} records)",
        "a log record",
        _log_text(records),
        mode,
    )


# --- exceptions ----------------------------------------------------------------------------------
FAILURES: dict[str, Callable[[Replica], Any]] = {
    "401": lambda s: s.enqueue(Fault.status(401)),
    # Hostile round 9: a gateway quoting the key it refused put it in the error.
    "401 quoting the key": lambda s: s.enqueue(
        Fault.status(401, message=f"Incorrect API key provided: Bearer {SECRET}")
    ),
    "500 past retries": lambda s: s.enqueue(*[Fault.status(500)] * 3),
    "stream cut": lambda s: s.enqueue(Fault.drop(after=4)),
    "malformed chunk": lambda s: s.enqueue(Fault.malformed(after=2)),
    "error event": lambda s: s.enqueue(Fault.error_event(after=2)),
}


@pytest.mark.parametrize("failure", [*FAILURES, "connection refused"])
@pytest.mark.parametrize("target", TARGETS)
def test_exceptions_have_no_key(target: str, failure: str, server: Replica, row: Row) -> None:
    stream = failure in ("stream cut", "malformed chunk", "error event")
    if failure == "connection refused":
        with closed_port() as port:
            out = call(target, build(target, f"http://127.0.0.1:{port}/v1"), "sync", stream)
    else:
        FAILURES[failure](server)
        out = call(target, build(target, server.base_url, max_retries=2), "async", stream)
    assert out.error is not None
    text = error_text(out.error)
    probe(row, target, f"exception: {failure} (str, repr, traceback, causes)", "the error", text)


# --- what goes over the wire ---------------------------------------------------------------------
@pytest.mark.parametrize("target", TARGETS)
def test_key_only_in_the_authorization_header(target: str, server: Replica, row: Row) -> None:
    inst = build(target, server.base_url)
    for stream in (False, True):
        call(target, inst, "sync", stream)
    assert len(server.requests) == 2
    elsewhere = []
    for sent in server.requests:
        assert sent.headers["authorization"] == f"Bearer {SECRET}"
        elsewhere.append(sent.body.decode())
        elsewhere += [f"{k}: {v}" for k, v in sent.headers.items() if k != "authorization"]
    probe(
        row,
        target,
        "request: body and headers other than Authorization",
        "the request",
        "\n".join(elsewhere),
    )


# --- framework hooks -----------------------------------------------------------------------------
def test_langchain_callbacks_have_no_key(server: Replica, row: Row) -> None:
    from langchain_core.callbacks import BaseCallbackHandler

    seen: list[str] = []

    class Spy(BaseCallbackHandler):
        def on_chat_model_start(self, serialized: Any, messages: Any, **kwargs: Any) -> None:
            seen.append(repr(serialized) + repr(kwargs))

        def on_llm_end(self, response: Any, **kwargs: Any) -> None:
            seen.append(repr(response) + repr(kwargs))

        def on_llm_error(self, error: BaseException, **kwargs: Any) -> None:
            seen.append(repr(error) + repr(kwargs))

    inst = build("langchain", server.base_url)
    inst.invoke("hi", config={"callbacks": [Spy()]})
    list(inst.stream("hi", config={"callbacks": [Spy()]}))
    server.enqueue(Fault.status(401))
    with pytest.raises(core.AuthenticationError):
        inst.invoke("hi", config={"callbacks": [Spy()]})
    assert len(seen) >= 5
    probe(
        row,
        "langchain",
        "callback payloads (serialized, invocation params, errors)",
        "a callback",
        "\n".join(seen),
    )


def test_llamaindex_instrumentation_has_no_key(server: Replica, row: Row) -> None:
    from llama_index.core.instrumentation import get_dispatcher
    from llama_index.core.instrumentation.event_handlers import BaseEventHandler

    seen: list[str] = []

    class Spy(BaseEventHandler):
        @classmethod
        def class_name(cls) -> str:
            return "ReliabilitySpy"

        def handle(self, event: Any, **kwargs: Any) -> None:
            seen.append(repr(event) + event.model_dump_json())

    dispatcher = get_dispatcher()
    spy = Spy()
    dispatcher.add_event_handler(spy)
    try:
        inst = build("llamaindex", server.base_url)
        call("llamaindex", inst, "sync", False)
        call("llamaindex", inst, "sync", True)
        inst.complete("hi")
        server.enqueue(Fault.status(401))
        call("llamaindex", inst, "sync", False)
    finally:
        dispatcher.event_handlers.remove(spy)
    assert len(seen) >= 4
    probe(
        row,
        "llamaindex",
        "instrumentation events (model_dict, responses)",
        "an event",
        "\n".join(seen),
    )


# --- cassettes -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def vcr_cassette_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tmp_path_factory.mktemp("cassettes"))


@pytest.fixture
def vcr_config(vcr_config: dict[str, Any]) -> dict[str, Any]:
    """The project's cassette settings (redaction included), recording for real."""
    return {**vcr_config, "record_mode": "all"}


@pytest.mark.vcr
@pytest.mark.parametrize("target", TARGETS)
def test_recorded_cassette_has_no_key(
    target: str, server: Replica, row: Row, vcr: Any, vcr_cassette_dir: str
) -> None:
    recorded = Path(vcr_cassette_dir)
    inst = build(target, server.base_url)
    for mode in MODES:
        for stream in (False, True):
            assert call(target, inst, mode, stream).error is None
    vcr._save(force=True)
    files = list(recorded.rglob("*.yaml"))
    assert files, "no cassette was written"
    text = "\n".join(f.read_text(encoding="utf-8") for f in files)
    assert "Bearer" not in text or "REDACTED" in text
    probe(row, target, "a cassette recorded through the project's VCR config", "the cassette", text)


def test_committed_cassettes_have_no_key(row: Row) -> None:
    root = REPO / "cassettes"
    files = [p for p in root.rglob("*") if p.is_file()] if root.exists() else []
    text = "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in files)
    leaked = [
        p.name for p in files if "Bearer sk-" in p.read_text(encoding="utf-8", errors="replace")
    ]
    probe(row, "all", f"cassettes/ in the repository ({len(files)} files)", "cassettes/", text)
    assert not leaked, f"unredacted Authorization in {leaked}"


def test_the_probes_can_fail() -> None:
    """A key planted in a DEBUG record, an error or a dump is found by the same checks."""
    import logging

    with debug_logs() as records:
        logging.getLogger("httpx").debug("header %s", f"Bearer {SECRET}")
    assert not clean(_log_text(records))
    assert not clean(error_text(ValueError(f"bad key {SECRET[:30]}***")))
