"""Cassettes hold no secrets, stay readable YAML, and say where they were recorded."""

from __future__ import annotations

import json
import os
import re
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import vcr

from stepfun_probes.cassette_format import (
    ALLOWED_RESPONSE_HEADERS,
    REDACTED,
    SECRET_REQUEST_HEADERS,
    ReadableYamlSerializer,
    keep_allowed_headers,
    normalize_ids,
    stepfun_json_body,
)
from tests.conftest import CASSETTES, DUMMY_KEYS
from tests.replica import Replica

STEPFUN_HOSTS = re.compile(r"(^|\.)stepfun\.(com|ai)$")
API_PATH = re.compile(r"/(chat/completions|models)(/|$)")
KEY_LIKE = re.compile(r"\bsk-[A-Za-z0-9_-]{16,}")
BEARER = re.compile(r"Bearer\s+([^\s\"'\]]+)")
FILES = sorted(p for p in CASSETTES.rglob("*") if p.is_file() and p.suffix in (".yaml", ".yml"))
NO_CASSETTES = [pytest.param(None, marks=pytest.mark.skip(reason="no cassettes recorded yet"))]


def cassette_params() -> list[Any]:
    return [pytest.param(p, id=str(p.relative_to(CASSETTES))) for p in FILES] or NO_CASSETTES


def load(path: Path) -> list[dict[str, Any]]:
    data = ReadableYamlSerializer.deserialize(path.read_text(encoding="utf-8"))
    return list((data or {}).get("interactions") or [])


def header(headers: dict[str, Any], name: str) -> list[str]:
    for key, value in (headers or {}).items():
        if key.lower() == name:
            return value if isinstance(value, list) else [value]
    return []


@pytest.mark.parametrize("path", cassette_params())
def test_no_secrets(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert not [v for v in BEARER.findall(text) if v != REDACTED], "unredacted Bearer token"
    assert not KEY_LIKE.search(text), "an sk-... key-like string"
    for name in ("STEP_API_KEY", "STEPFUN_API_KEY"):
        value = os.environ.get(name)
        if value and value not in DUMMY_KEYS and len(value) >= 8:
            assert value not in text, f"the value of {name}"
    for interaction in load(path):
        for name in SECRET_REQUEST_HEADERS:
            assert header(interaction["request"].get("headers", {}), name) in ([], [REDACTED]), name


@pytest.mark.parametrize("path", cassette_params())
def test_origin_is_known(path: Path) -> None:
    """Each interaction is from the replica (marker), the real API host, or a non-API download."""
    for interaction in load(path):
        url = urlsplit(interaction["request"]["uri"])
        marked = header(interaction["response"].get("headers", {}), "x-stepfun-replica") == [
            "loopback"
        ]
        real = bool(STEPFUN_HOSTS.search(url.hostname or ""))
        api_shaped = bool(API_PATH.search(url.path))
        assert marked or real or not api_shaped, (
            f"{url.geturl()}: StepFun-shaped but neither replica nor real"
        )


@pytest.mark.parametrize("path", cassette_params())
def test_readable_bodies(path: Path) -> None:
    for interaction in load(path):
        response = interaction["response"]
        content_type = " ".join(header(response.get("headers", {}), "content-type"))
        if "json" in content_type or "event-stream" in content_type:
            assert isinstance(response["body"]["string"], str), "JSON/SSE body stored as !!binary"
        request_body = interaction["request"].get("body")
        if request_body is not None and "json" in " ".join(
            header(interaction["request"].get("headers", {}), "content-type")
        ):
            assert isinstance(request_body, str), "JSON request body stored as !!binary"
        extra = {k.lower() for k in response.get("headers", {})} - ALLOWED_RESPONSE_HEADERS
        assert not extra, f"response headers outside the allow-list: {extra}"


# --- the harness itself --------------------------------------------------------------------------
def test_serializer_round_trips_and_stays_readable() -> None:
    sse = 'data: {"content":"你好 😊"}\n\ndata: [DONE]\n\n'
    cassette = {
        "interactions": [
            {"response": {"body": {"string": sse}}},
            {"odd": "a\r\nb\u2028c"},
            {"png": b"\x89PNG\xff"},
        ]
    }
    text = ReadableYamlSerializer.serialize(cassette)
    assert "你好 😊" in text and "\\u" not in text and "|" in text
    assert ReadableYamlSerializer.deserialize(text) == cassette


def test_json_body_matcher_ignores_random_ids() -> None:
    def request(tool_id: str) -> Any:
        body = f'{{"messages":[{{"tool_call_id":"{tool_id}"}}],"model":"m"}}'.encode()
        return vcr.request.Request("POST", "http://h/v1/chat/completions", body, {})

    stepfun_json_body(request(str(uuid.uuid4())), request(str(uuid.uuid4())))
    stepfun_json_body(request(f"lc_{uuid.uuid4()}"), request(f"lc_{uuid.uuid4()}"))
    with pytest.raises(AssertionError):
        stepfun_json_body(request("call_a"), request("call_b"))
    assert normalize_ids({"x": [f"id {uuid.uuid4()}"]}) == {"x": ["id <random-id>"]}


def test_json_body_matcher_takes_parallel_tool_results_in_any_order() -> None:
    """LlamaIndex's FunctionAgent runs tools in a thread pool: results come in finishing order."""

    def request(*roles_and_ids: tuple[str, str]) -> Any:
        messages = [{"role": role, "tool_call_id": id_} for role, id_ in roles_and_ids]
        body = json.dumps({"messages": messages, "model": "m"}).encode()
        return vcr.request.Request("POST", "http://h/v1/chat/completions", body, {})

    call_order = request(("assistant", ""), ("tool", "call_a"), ("tool", "call_b"))
    finishing_order = request(("assistant", ""), ("tool", "call_b"), ("tool", "call_a"))
    stepfun_json_body(call_order, finishing_order)
    # Only a run of tool results is a set: the turns around it keep their order.
    with pytest.raises(AssertionError):
        stepfun_json_body(
            request(("tool", "call_a"), ("user", ""), ("tool", "call_b")),
            request(("tool", "call_b"), ("user", ""), ("tool", "call_a")),
        )
    with pytest.raises(AssertionError):
        stepfun_json_body(
            call_order, request(("tool", "call_a"), ("assistant", ""), ("tool", "call_b"))
        )


def test_record_then_replay_through_vcr(tmp_path: Path, replica_server: Replica) -> None:
    """Record from the replica with the suite's settings, check the file, replay it offline."""
    my_vcr = vcr.VCR(
        cassette_library_dir=str(tmp_path),
        match_on=["method", "path", "stepfun_json_body"],
        filter_headers=[(n, REDACTED) for n in SECRET_REQUEST_HEADERS],
        decode_compressed_response=True,
        before_record_response=keep_allowed_headers,
    )
    my_vcr.register_serializer("yaml", ReadableYamlSerializer())
    my_vcr.register_matcher("stepfun_json_body", stepfun_json_body)

    def run(tool_id: str) -> tuple[str, str]:
        messages = [{"role": "user", "content": "你好, 'こんにちは' " + tool_id}]
        with httpx.Client(
            base_url=replica_server.base_url,
            headers={"Authorization": "Bearer sk-secret-abcdefghijklmnop"},
        ) as c:
            plain = c.post(
                "/chat/completions", json={"model": "step-3.7-flash", "messages": messages}
            ).text
            streamed = c.post(
                "/chat/completions",
                json={"model": "step-1-8k", "stream": True, "messages": messages},
            ).text
        return plain, streamed

    with my_vcr.use_cassette("demo.yaml", record_mode="all"):
        recorded = run(str(uuid.uuid4()))
    text = (tmp_path / "demo.yaml").read_text(encoding="utf-8")
    assert "sk-secret" not in text and REDACTED in text
    assert "こんにちは" in text and "!!binary" not in text and "data: [DONE]" in text
    assert "x-stepfun-replica" in text.lower() and "transfer-encoding" not in text.lower()
    replica_server.reset()
    with my_vcr.use_cassette("demo.yaml", record_mode="none"):
        replayed = run(str(uuid.uuid4()))  # a different uuid still matches
    assert replayed == recorded and replica_server.requests == []
