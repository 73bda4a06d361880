"""Steps 3 and 4: the key at its base URL and the other regions, then the models it is served."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from stepfun_core.doctor import Verdict
from stepfun_core.doctor.report import EXIT_FAILED, MODELS, WIRE
from tests.doctor.conftest import KEY, Doctor, check
from tests.reliability.raw_server import END, RawServer, Send, chunk, head
from tests.replica import Fault, Replica


def test_an_accepted_key_and_the_replica_is_named(doctor: Doctor, replica: Replica) -> None:
    report = doctor()
    key = check(report, "key")
    assert key.verdict is Verdict.OK and "accepted by the international API" in key.detail
    target = check(report, "target")
    assert "loopback replica" in target.detail and report.replica
    assert report.to_dict()["target"] == "the loopback replica"
    assert [(r.method, r.path) for r in replica.requests] == [("GET", "/v1/models")]
    assert replica.requests[0].headers["authorization"] == f"Bearer {KEY}"


def test_a_key_of_the_other_region(
    doctor: Doctor, replica: Replica, other_replica: Replica
) -> None:
    replica.accept_keys("sk-international")
    other_replica.accept_keys(KEY)
    report = doctor()
    key = check(report, "key")
    assert key.verdict is Verdict.FAIL
    assert "401 invalid_api_key at the international API, but the China API accepts" in key.detail
    assert (
        key.fix
        == f"set STEP_BASE_URL={other_replica.base_url} (or pass base_url=... to the client)"
    )
    assert key.data["tried"] == ["China"]
    assert [c.step for c in report.checks if c.verdict is Verdict.SKIPPED] == [MODELS, WIRE]
    assert report.exit_code() == EXIT_FAILED


def test_a_step_plan_key_on_the_pay_as_you_go_url(
    doctor: Doctor, replica: Replica, other_replica: Replica
) -> None:
    replica.accept_keys("sk-international", path_prefix="/v1")
    replica.accept_keys(KEY, path_prefix="/step_plan/v1")
    other_replica.accept_keys("sk-china")
    report = doctor()
    key = check(report, "key")
    assert "the international Step Plan API accepts this key" in key.detail
    assert key.fix is not None and f"STEP_BASE_URL={replica.url}/step_plan/v1" in key.fix
    assert key.data["tried"] == ["China", "international Step Plan"]


def test_a_key_no_region_accepts(doctor: Doctor, replica: Replica, other_replica: Replica) -> None:
    replica.accept_keys("sk-a")
    other_replica.accept_keys("sk-b")
    report = doctor()
    key = check(report, "key")
    assert key.verdict is Verdict.FAIL and "wrong or revoked" in (key.fix or "")
    assert key.data["tried"] == ["China", "international Step Plan", "China Step Plan"]


def test_a_key_refused_by_a_gateway_is_never_sent_to_stepfun(
    doctor: Doctor, replica: Replica, other_replica: Replica
) -> None:
    # Round 14: a 401 from a base URL of no region (a gateway's) sent its key to all four of
    # StepFun's URLs, then advised a new StepFun key.
    replica.accept_keys("sk-the-gateway-expects")
    report = doctor(base_url=f"{replica.url}/gateway/v1")
    key = check(report, "key")
    assert key.verdict is Verdict.FAIL and "refused this key" in key.detail
    assert "gateway" in (key.fix or "") and key.data["tried"] == []
    assert not other_replica.requests
    assert [r.path for r in replica.requests] == ["/gateway/v1/models"]


@pytest.mark.parametrize(
    ("fault", "fix"),
    [
        (Fault.status(402), "top up the balance"),
        (Fault.status(403), "permissions"),
        (Fault.status(429), "wait a minute"),
        (Fault.status(404, error_type="not_found"), "has no /models endpoint"),
        (Fault.status(500), "X-Trace-Id"),
        (Fault.status(200, {"object": "list"}), "X-Trace-Id"),
    ],
)
def test_other_failures_of_the_model_list(
    doctor: Doctor, replica: Replica, fault: Fault, fix: str
) -> None:
    replica.enqueue(fault)
    report = doctor()
    key = check(report, "key")
    assert key.verdict is Verdict.FAIL and "GET /models failed" in key.detail
    assert fix in (key.fix or "")
    assert report.exit_code() == EXIT_FAILED


def test_a_connection_that_breaks(doctor: Doctor, replica: Replica) -> None:
    replica.enqueue(Fault.drop())
    key = check(doctor(), "key")
    assert key.verdict is Verdict.FAIL and "did not answer" in (key.fix or "")


# Servers that would hold GET /models for ever: httpx's timeouts bound each read, not the request.
_ENDED = threading.Event()  # set when the test is done: a silent script stops waiting


def _silent(send: Send, request: object) -> bool:
    _ENDED.wait(60)
    return False


def _trickles(opening: bytes, piece: bytes) -> Callable[[Send, object], bool]:
    def script(send: Send, request: object) -> bool:
        send(opening)
        while not _ENDED.wait(0.05):  # a client that gave up ends it (the send fails)
            send(piece)
        return False

    return script


def _endless(send: Send, request: object) -> bool:
    send(head(200, "application/json") + chunk(b'{"object": "list", "data": ['))
    while not _ENDED.is_set():
        send(chunk(b'{"id": "step-3.5-flash"}, ' * 40_000))  # about 1 MB a chunk
    send(END)
    return False


@pytest.mark.parametrize(
    ("script", "said"),
    [
        (_silent, ("timed out", "within the timeout (1 s)")),  # httpx's, or the deadline's
        (_trickles(b"HTTP/1.1 200 OK\r\n", b"X"), ("within the timeout (1 s)",)),  # a header
        (_trickles(head(200, "application/json"), chunk(b" ")), ("within the timeout (1 s)",)),
        (_endless, ("max_response_bytes",)),
    ],
    ids=["silent", "trickled-headers", "trickled-body", "endless-body"],
)
def test_a_server_that_holds_the_model_list_is_given_up_at_the_timeout(
    doctor: Doctor, script: Callable[[Send, object], bool], said: tuple[str, ...]
) -> None:
    _ENDED.clear()
    try:
        with RawServer(script) as server:
            started = time.monotonic()
            key = check(doctor(base_url=server.base_url, timeout=1.0), "key")
            took = time.monotonic() - started
    finally:
        _ENDED.set()
    assert key.verdict is Verdict.FAIL and any(s in key.detail for s in said), key.detail
    assert took < 10  # a hang, not a speed, is what this checks (it held 120 s, or for ever)


def test_served_models_beside_the_catalog(doctor: Doctor, replica: Replica) -> None:
    replica.serve_models("step-3.5-flash", "step-9-turbo")
    report = doctor()
    assert check(report, "served").detail == "step-3.5-flash, step-9-turbo"
    gaps = check(report, "catalog gaps")
    assert gaps.verdict is Verdict.WARN and "step-9-turbo" in gaps.detail and not gaps.needed
    missing = check(report, "not served")
    assert missing.verdict is Verdict.INFO and "step-3.7-flash" in missing.detail
    default = check(report, "step-3.5-flash")
    assert default.verdict is Verdict.OK and "256K context" in default.detail
    assert report.exit_code() == 0


def test_the_named_model_with_what_we_believe(doctor: Doctor) -> None:
    line = check(doctor(model="step-3.7-flash"), "step-3.7-flash")
    assert line.verdict is Verdict.OK
    assert line.detail == (
        "served; 256K context, inputs text/image/video, reasoning (low/medium/high), "
        "tool calling, json_schema"
    )


def test_a_served_model_the_catalog_lacks(doctor: Doctor, replica: Replica) -> None:
    replica.serve_models("step-3.5-flash", "step-9-turbo")
    line = check(doctor(model="step-9-turbo"), "step-9-turbo")
    assert line.verdict is Verdict.OK and "not in our catalog: safe defaults" in line.detail


def test_a_named_model_the_key_cannot_use(doctor: Doctor, replica: Replica) -> None:
    replica.serve_models("step-3.5-flash")
    report = doctor(model="step-3.7-flash")
    line = check(report, "step-3.7-flash")
    assert line.verdict is Verdict.FAIL and "not served to this key" in line.detail
    assert line.fix == "pick a served model (step-3.5-flash)"
    assert report.exit_code() == EXIT_FAILED


def test_the_default_model_not_served_only_warns(doctor: Doctor, replica: Replica) -> None:
    replica.serve_models("step-3.7-flash")
    report = doctor()
    line = check(report, "step-3.5-flash")
    assert line.verdict is Verdict.WARN and "default model" in line.detail
    assert report.exit_code() == 0


def test_probes_cannot_run_without_a_served_model(doctor: Doctor, replica: Replica) -> None:
    replica.serve_models("step-3.7-flash")
    report = doctor(probe=True)
    probes = check(report, "probes")
    assert probes.verdict is Verdict.FAIL and "step-3.5-flash is not served" in probes.detail
    assert report.probes == [] and report.exit_code() == EXIT_FAILED


def test_without_probe_nothing_is_spent(doctor: Doctor, replica: Replica) -> None:
    report = doctor()
    probes = check(report, "probes")
    assert probes.verdict is Verdict.SKIPPED and "--probe" in probes.detail
    assert [r.path for r in replica.requests] == ["/v1/models"]


def test_what_the_server_states_is_compared_with_the_catalog(
    doctor: Doctor, replica: Replica
) -> None:
    replica.describe_models()
    report = doctor(model="step-3.5-flash")
    line = check(report, "catalog vs server")
    assert line.verdict is Verdict.WARN and not line.needed
    # Field by field: the replica states 1,024-token K windows and effort tiers.
    assert "step-3.5-flash: context_window 262144 (catalog: 256000)" in line.detail
    assert "reasoning_efforts ('low', 'high') (catalog: ())" in line.detail
    assert "step-5-preview" not in line.detail  # where they agree, nothing is said
    named = check(report, "step-3.5-flash")
    assert "262K context, inputs text, reasoning (low/high)" in named.detail  # as stated
    assert report.exit_code() == 0


def test_a_server_stating_nothing_more_gets_no_comparison(doctor: Doctor, replica: Replica) -> None:
    report = doctor()
    assert all(c.name != "catalog vs server" for c in report.checks)
