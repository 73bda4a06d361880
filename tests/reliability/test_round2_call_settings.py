"""Round 2, per-call client settings: applied to that call, never posted to the API.

``ChatStepFun(...).invoke("hi", timeout=0.5)`` (and ``stream``/``ainvoke``/``astream``) and
LlamaIndex ``StepFun.chat(messages, timeout=0.5)`` (and ``stream_chat``/``achat``/
``astream_chat``) end after about half a second against a server that waits 3 s, and the body
sent holds no ``"timeout"``; the same for ``max_retries``, ``total_timeout``,
``max_response_bytes`` and the stream idle timeout (LangChain: ``stream_chunk_timeout``,
LlamaIndex: ``stream_idle_timeout``). An unknown per-call key still goes into the body.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

import stepfun_core as core
from tests.reliability.conftest import ROUND2, Combo, Outcome, Row, combos
from tests.reliability.raw_server import (
    END,
    RawServer,
    Send,
    answer_events,
    answers,
    chunk,
    completion,
    delta,
    event,
    head,
    hold,
    whole,
)

ADAPTERS = ("langchain", "llamaindex")
IDLE = {"langchain": "stream_chunk_timeout", "llamaindex": "stream_idle_timeout"}
QUICK = 2.5  # a call that must not wait out the server's 3 s


def waits_then_answers(send: Send, request: Any) -> bool:
    hold(3.0)
    return answers(send, request)


def server_error(send: Send, request: Any) -> bool:
    send(whole(500, b'{"error":{"message":"boom","type":"server_error"}}'))
    return True


LONG = "x" * 8192


def answers_long(send: Send, request: Any) -> bool:
    if isinstance(request, dict) and request.get("stream"):
        send(head() + chunk(event(delta(LONG, "stop"))) + chunk(b"data: [DONE]\n\n") + END)
    else:
        send(whole(200, completion(LONG)))
    return True


def goes_idle(send: Send, request: Any) -> bool:
    """One event, then only keep-alive comments for 3 s."""
    send(head() + chunk(answer_events()[0]))
    for _ in range(30):
        send(chunk(b": keep-alive\n\n"))
        time.sleep(0.1)
    return False


@dataclass(frozen=True)
class Setting:
    """A per-call setting, the server that shows it working, and the outcome it must give."""

    description: str
    script: Callable[[Send, Any], bool]
    params: Callable[[str], dict[str, Any]]
    error: type[BaseException]
    requests: int = 1
    quick: bool = True
    streams_only: bool = False
    built_with: tuple[tuple[str, Any], ...] = (("max_retries", 0),)


SETTINGS = {
    "timeout": Setting(
        "timeout=0.5, the server answers after 3 s",
        waits_then_answers,
        lambda target: {"timeout": 0.5},
        core.APITimeoutError,
    ),
    "max_retries": Setting(
        "max_retries=0 against a 500 (the instance has max_retries=2)",
        server_error,
        lambda target: {"max_retries": 0},
        core.InternalServerError,
        quick=False,
        built_with=(("max_retries", 2),),
    ),
    "total_timeout": Setting(
        "total_timeout=0.5, the server answers after 3 s",
        waits_then_answers,
        lambda target: {"total_timeout": 0.5},
        core.TotalTimeoutError,
        built_with=(("max_retries", 0), ("timeout", 10.0)),
    ),
    "max_response_bytes": Setting(
        "max_response_bytes=1024, an 8 KB answer",
        answers_long,
        lambda target: {"max_response_bytes": 1024},
        core.ResponseTooLargeError,
        quick=False,
    ),
    "idle timeout": Setting(
        "stream idle timeout 0.5 s (stream_chunk_timeout / stream_idle_timeout), "
        "keep-alives only for 3 s",
        goes_idle,
        lambda target: {IDLE[target]: 0.5},
        core.StreamIdleTimeoutError,
        streams_only=True,
        built_with=(("max_retries", 0), ("timeout", 10.0)),
    ),
}

CASES = [
    pytest.param(name, param.values[0], id=f"{name.replace(' ', '_')}-{param.id}")
    for name, setting in SETTINGS.items()
    for param in combos(targets=ADAPTERS, stream=(True,) if setting.streams_only else (False, True))
]


def observed(out: Outcome) -> str:
    if out.error is None:
        return f"answered in {out.elapsed:.2f} s"
    return f"{type(out.error).__name__} in {out.elapsed:.2f} s"


@pytest.mark.parametrize(("name", "combo"), CASES)
def test_a_per_call_setting_is_applied_and_never_sent(name: str, combo: Combo, row: Row) -> None:
    setting = SETTINGS[name]
    params = setting.params(combo.target)
    with RawServer(setting.script) as server:
        inst = combo.build(server.base_url, **dict(setting.built_with))
        out = combo.call(inst, "hi", **params)
    sent = sorted({key for body in server.requests for key in params if key in body})
    row.set(
        category=ROUND2,
        case=f"per call: {setting.description}",
        adapter=combo.target,
        mode=combo.label,
        expected=f"{setting.error.__name__}"
        + (f" within {QUICK} s" if setting.quick else "")
        + f"; {setting.requests} request; the setting not in the body",
        observed=observed(out) + (f"; {', '.join(sent)} sent in the body" if sent else ""),
        requests=len(server.requests),
    )
    assert isinstance(out.error, setting.error), (
        f"expected {setting.error.__name__}, got {out.error!r} after {out.elapsed:.2f} s"
    )
    if setting.quick:
        assert out.elapsed < QUICK, out.elapsed
    assert len(server.requests) == setting.requests, f"{len(server.requests)} requests"
    assert not sent, f"{sent} posted to the API"


@pytest.mark.parametrize("combo", combos(targets=ADAPTERS))
def test_an_unknown_per_call_key_is_still_sent(combo: Combo, row: Row) -> None:
    with RawServer(answers) as server:
        out = combo.call(combo.build(server.base_url, max_retries=0), "hi", foo=1)
    bodies = [body.get("foo") for body in server.requests]
    row.set(
        category=ROUND2,
        case="per call: foo=1, a key the library does not know",
        adapter=combo.target,
        mode=combo.label,
        expected='sent in the body ("foo": 1), as documented',
        observed=f"body foo={bodies}" if out.error is None else repr(out.error)[:100],
        requests=len(server.requests),
    )
    assert out.error is None, repr(out.error)
    assert bodies == [1]
