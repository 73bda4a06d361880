"""``--record DIR`` writes cassettes in the repository's format that replay like any other.

A maintainer turns a live ``--probe`` run into ``cassettes/doctor/`` this way; the committed
ones were recorded from the replica (see the README's Troubleshooting section) and replay here
with the suite's own VCR set-up.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import vcr

from stepfun_core import StepFunClient
from stepfun_core.errors import APIStatusError
from stepfun_core.history import ECHO_FIELDS
from stepfun_probes.assumptions import ASSUMPTIONS
from stepfun_probes.capture import Exchange
from stepfun_probes.cassette_format import (
    ALLOWED_RESPONSE_HEADERS,
    REDACTED,
    ReadableYamlSerializer,
    stepfun_json_body,
    write_cassette,
)
from tests.conftest import CASSETTES
from tests.doctor.conftest import KEY, Doctor
from tests.replica import Replica

COMMITTED = CASSETTES / "doctor"
COMMITTED_FILES = sorted(COMMITTED.glob("*.yaml"))


def load(path: Path) -> list[dict[str, Any]]:
    data = ReadableYamlSerializer.deserialize(path.read_text(encoding="utf-8"))
    return list(data["interactions"])


def suite_vcr() -> vcr.VCR:
    """A VCR with the serializer and matcher the suite's conftest registers for pytest-recording."""
    my_vcr = vcr.VCR()
    my_vcr.register_serializer("yaml", ReadableYamlSerializer())
    my_vcr.register_matcher("stepfun_json_body", stepfun_json_body)
    return my_vcr


def replay_through_the_client(path: Path) -> None:
    """Send each recorded request again with a plain client call; check what comes back."""
    for interaction in load(path):
        request, response = interaction["request"], interaction["response"]
        payload = json.loads(request["body"])
        streamed = payload.pop("stream", False)
        base_url = request["uri"].rsplit("/chat/completions", 1)[0]
        # The echo probe pins each field in turn: send each request's echo where it was.
        echoed = [f for m in payload["messages"] for f in ECHO_FIELDS if f in m] or ["auto"]
        client = StepFunClient(
            api_key="replay", base_url=base_url, max_retries=0, reasoning_echo_field=echoed[0]
        )
        status = response["status"]["code"]
        if status >= 400:
            with pytest.raises(APIStatusError) as caught:
                client.create(payload)
            assert caught.value.status_code == status
        elif streamed:
            with client.stream(payload) as stream:
                received = "".join(c.choices[0].content for c in stream if c.choices)
            assert received == streamed_content(response["body"]["string"])
        else:
            assert client.create(payload).raw == json.loads(response["body"]["string"])


def streamed_content(sse: str) -> str:
    events = [line[6:] for line in sse.splitlines() if line.startswith("data: {")]
    deltas = [(json.loads(e).get("choices") or [{}])[0].get("delta", {}) for e in events]
    return "".join(d.get("content") or "" for d in deltas)


@pytest.fixture
def recorded(doctor: Doctor, replica: Replica, tmp_path: Path) -> Path:
    report = doctor(probe=True, record_dir=tmp_path)
    assert report.exit_code() == 0
    replica.reset()
    return tmp_path


def test_every_probe_left_a_cassette(recorded: Path) -> None:
    assert sorted(p.stem for p in recorded.glob("*.yaml")) == sorted(a.id for a in ASSUMPTIONS)


def test_recorded_cassettes_are_clean_and_readable(recorded: Path) -> None:
    for path in recorded.glob("*.yaml"):
        text = path.read_text(encoding="utf-8")
        assert KEY not in text and "!!binary" not in text, path.name
        for interaction in load(path):
            headers = interaction["request"]["headers"]
            assert headers["authorization"] == [REDACTED]
            assert isinstance(interaction["request"]["body"], str)
            assert isinstance(interaction["response"]["body"]["string"], str)
            kept = set(interaction["response"]["headers"])
            assert kept <= ALLOWED_RESPONSE_HEADERS and "x-stepfun-replica" in kept


def test_recorded_cassettes_replay_through_a_client(
    recorded: Path, replica: Replica, vcr_config: dict[str, Any]
) -> None:
    # The suite's own VCR options (tests/conftest.py), replay only, on the recorded folder.
    replay = {**vcr_config, "cassette_library_dir": str(recorded), "record_mode": "none"}
    my_vcr = suite_vcr()
    for path in sorted(recorded.glob("*.yaml")):
        with my_vcr.use_cassette(path.name, **replay) as played:
            replay_through_the_client(path)
        assert played.all_played, path.name
    assert replica.requests == []  # everything came from the cassettes


def test_the_key_is_replaced_wherever_it_shows(tmp_path: Path) -> None:
    exchange = Exchange(
        "POST",
        "http://127.0.0.1/v1/chat/completions",
        [("Authorization", f"Bearer {KEY}"), ("X-Api-Key", KEY)],
        b'{"model":"m"}',
        401,
        "Unauthorized",
        [("Content-Type", "application/json"), ("Set-Cookie", "session=1")],
        bytearray(f'{{"error":{{"message":"bad key {KEY}"}}}}'.encode()),
    )
    write_cassette(tmp_path / "c.yaml", [exchange], [KEY])
    text = (tmp_path / "c.yaml").read_text(encoding="utf-8")
    assert KEY not in text and "bad key REDACTED" in text and "session" not in text


# --- the committed cassettes ----------------------------------------------------------------------
@pytest.fixture
def default_cassette_name(cassette_file: Path) -> str:
    """pytest-recording plays ``cassettes/doctor/<probe>.yaml`` for each parameter."""
    return cassette_file.stem


@pytest.mark.vcr
@pytest.mark.parametrize("cassette_file", COMMITTED_FILES, ids=[p.stem for p in COMMITTED_FILES])
def test_committed_cassettes_replay(cassette_file: Path, replica: Replica) -> None:
    replay_through_the_client(cassette_file)
    assert replica.requests == []


def test_committed_replica_cassettes_are_what_the_doctor_sends(recorded: Path) -> None:
    """A changed probe needs its cassette re-recorded (README, Troubleshooting, says how)."""
    assert COMMITTED_FILES, "cassettes/doctor is empty"
    for path in COMMITTED_FILES:
        interactions = load(path)
        if not all(i["response"]["headers"].get("x-stepfun-replica") for i in interactions):
            continue  # recorded live: the probe may have picked other models
        now = [json.loads(i["request"]["body"]) for i in load(recorded / path.name)]
        then = [json.loads(i["request"]["body"]) for i in interactions]
        assert now == then, f"{path.name} is stale: re-record cassettes/doctor"


def test_a_short_key_is_masked_in_cassettes_too() -> None:
    # Second review of round 15: a key under 8 characters (a gateway's "sk-1234") quoted back in
    # a body was written into the cassette in clear; --json and the console masked it.
    from stepfun_probes.cassette_format import _text

    assert _text(b'{"error": "key sk-1234 is not allowed"}', ["sk-1234"]) == (
        f'{{"error": "key {REDACTED} is not allowed"}}'
    )
