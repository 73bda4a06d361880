"""Round 2, deadlines that clean up: nothing outlives a call ended by ``total_timeout`` or Ctrl-C.

- Five calls in a row against a server that trickles its response headers a byte at a time
  (each byte well within the read timeout) each end in ``TotalTimeoutError`` on time, and
  within a second of each, the calling process has no thread and no socket more than before.
- A real SIGINT while a sync stream waits for its headers, twice, on a client whose pool holds
  two connections: the answers that arrive later are closed, so later calls still get one
  (before the fix: ``PoolTimeout``, the two connections held by responses nobody closes).

The calls run in a child process, counted from outside through /proc (``watch.Child``).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import Any

import pytest

from tests.reliability.conftest import (
    ROUND2,
    TARGETS,
    Combo,
    Outcome,
    Row,
    acall,
    combos,
    run_async,
)
from tests.reliability.raw_server import (
    ANSWER,
    END,
    RawServer,
    Send,
    answer_events,
    answers,
    chunk,
    completion,
    head,
    hold,
    whole,
)
from tests.reliability.watch import Child, needs_proc

TOTAL_TIMEOUT = 0.5
CALLS = 5
ON_TIME = TOTAL_TIMEOUT + 1.5  # generous: a call must not wait for the server (~20 s)


TRICKLE = b"HTTP/1.1 200 OK\r\nX-Padding: " + b"p" * 160  # never ends its headers


def trickles_headers(send: Send, request: Any) -> bool:
    """Header bytes, one per 50 ms for 9 s (each read well within any timeout), then a close.

    Nine seconds: longer than the five calls of a variant, so a connection left behind by one
    call is still there at the fifth; short enough that it is gone before the next variant.
    """
    for byte in TRICKLE:
        send(bytes([byte]))
        time.sleep(0.05)
    return False


# --- abandoned attempts: threads and sockets counted before and after ---------------------------
_ABANDON = r"""
import json, sys
from tests.reliability.conftest import build, call

target, trickle_url, healthy_url, total, calls = sys.argv[1:6]
variants = json.loads(sys.argv[6])
for mode, stream in variants:  # warm up each path, total_timeout included (a lazy helper thread
    # or pool made on first use is part of the baseline, not a leak)
    out = call(target, build(target, healthy_url, max_retries=0, total_timeout=5.0), mode, stream)
    assert out.error is None, repr(out.error)
slow = build(target, trickle_url, max_retries=0, timeout=5.0, total_timeout=float(total))
print(json.dumps({"ready": True}), flush=True)
for mode, stream in variants:
    for _ in range(int(calls)):
        sys.stdin.readline()
        out = call(target, slow, mode, stream, "hi")
        print(json.dumps({"error": type(out.error).__name__, "elapsed": out.elapsed,
                          "classes": [c.__name__ for c in type(out.error).__mro__]}), flush=True)
"""

VARIANTS = combos()


@cache
def abandoned_calls(target: str) -> dict[str, dict[str, Any]]:
    """Per variant of ``target``: each call's error and time, and what was left after each."""
    variants = [p.values[0] for p in VARIANTS if p.values[0].target == target]
    spec = json.dumps([[c.mode, c.stream] for c in variants])
    found: dict[str, dict[str, Any]] = {}
    with (
        RawServer(trickles_headers) as slow,
        RawServer(answers) as healthy,
        Child(
            _ABANDON, target, slow.base_url, healthy.base_url, str(TOTAL_TIMEOUT), str(CALLS), spec
        ) as child,
    ):
        child.read()
        threads, sockets = child.threads(), child.sockets()
        for combo in variants:
            # What an earlier variant left behind (before the fix) is gone first: the server
            # closes each trickle after 9 s.
            child.settle(threads, sockets, within=len(TRICKLE) * 0.05 + 3)
            calls, left = [], []
            for _ in range(CALLS):
                child.send("go")
                calls.append(child.read())
                after = child.settle(threads, sockets, within=1.0)
                left.append((after[0] - threads, after[1] - sockets))
            found[combo.label] = {"calls": calls, "left": left, "baseline": (threads, sockets)}
    return found


@needs_proc
@pytest.mark.parametrize("combo", VARIANTS)
def test_a_call_ended_by_its_deadline_leaves_no_thread_or_socket(combo: Combo, row: Row) -> None:
    row.set(
        category=ROUND2,
        case=(
            f"{CALLS} calls in a row, headers trickled a byte per 50 ms "
            f"(total_timeout={TOTAL_TIMEOUT} s; child process)"
        ),
        adapter=combo.target,
        mode=combo.label,
        expected="TotalTimeoutError each time; 1 s later no extra thread or socket",
        requests=CALLS,
    )
    result = abandoned_calls(combo.target)[combo.label]
    calls, left = result["calls"], result["left"]
    extra_threads = max(t for t, _ in left)
    extra_sockets = max(s for _, s in left)
    row.set(
        observed=(
            f"{', '.join(sorted({c['error'] for c in calls}))} in <= "
            f"{max(c['elapsed'] for c in calls):.2f} s; threads/sockets left after each call: "
            + " ".join(f"{t:+d}/{s:+d}" for t, s in left)
        ),
    )
    assert all("TotalTimeoutError" in c["classes"] for c in calls), calls
    assert all(c["elapsed"] < ON_TIME for c in calls), [c["elapsed"] for c in calls]
    assert extra_threads <= 0, f"threads left running 1 s after each call: {left}"
    assert extra_sockets <= 0, f"sockets left open 1 s after each call: {left}"


# --- max_connections: the bound the Ctrl-C test relies on ---------------------------------------
class InFlight:
    """A script answering after 0.5 s that counts the requests it serves at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now = 0
        self.most = 0

    def __call__(self, send: Send, request: Any) -> bool:
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
        hold(0.5)
        with self.lock:
            self.now -= 1
        return answers(send, request)


PARALLEL = 4


@pytest.mark.parametrize("combo", combos(stream=(False,)))
def test_max_connections_bounds_the_pool(combo: Combo, row: Row) -> None:
    script = InFlight()
    row.set(
        category=ROUND2,
        case=f"max_connections=2, {PARALLEL} calls at once (each answered after 0.5 s)",
        adapter=combo.target,
        mode=combo.label,
        expected="all answered, at most 2 at a time; the setting never sent",
    )
    with RawServer(script) as server:
        try:
            inst = combo.build(server.base_url, max_retries=0, timeout=10.0, max_connections=2)
        except Exception as exc:  # the setting refused when the instance is made
            row.set(observed=f"refused: {exc!r:.100}", requests=0)
            raise
        if combo.mode == "sync":
            with ThreadPoolExecutor(PARALLEL) as pool:
                outs = list(pool.map(lambda _: combo.call(inst, "hi"), range(PARALLEL)))
        else:

            async def burst() -> list[Outcome]:
                calls = [acall(combo.target, inst, False, "hi") for _ in range(PARALLEL)]
                return list(await asyncio.gather(*calls))

            outs = run_async(burst)
    sent_setting = [r for r in server.requests if "max_connections" in r]
    errors = [o.error for o in outs if o.error]
    row.set(
        observed=(
            repr(errors[0])[:120]
            if errors
            else f"{PARALLEL}/{PARALLEL} answered, at most {script.most} at a time"
            + (f"; sent in {len(sent_setting)} bodies" if sent_setting else "")
        ),
        requests=len(server.requests),
    )
    assert [o.error for o in outs] == [None] * PARALLEL, [o.error for o in outs]
    assert script.most <= 2, f"{script.most} requests served at once"
    assert not sent_setting, "max_connections was sent to the API"


# --- Ctrl-C while a sync stream waits for its headers ---------------------------------------------
def answers_late_then_at_once(late: int) -> Any:
    """The first ``late`` requests get their answer (a stream) after 1 s; later ones at once."""
    seen = [0]

    def script(send: Send, request: Any) -> bool:
        seen[0] += 1
        if seen[0] <= late:
            hold(1.0)
        if isinstance(request, dict) and request.get("stream"):
            send(head() + b"".join(chunk(e) for e in answer_events()))
            send(chunk(b"data: [DONE]\n\n") + END)
        else:
            send(whole(200, completion()))
        return True

    return script


_INTERRUPTED = r"""
import json, sys, time, types
import httpx
from tests.reliability.conftest import SECRET, build, call

target, base_url, pool, interrupts = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
settings = dict(max_retries=0, timeout=2.0, total_timeout=5.0)  # timeout: the pool's wait too
if pool == "max_connections=2":
    settings["max_connections"] = 2
else:  # the caller's own client, limited to 2 connections
    settings["http_client"] = httpx.Client(limits=httpx.Limits(max_connections=2))
if target == "core":
    import stepfun_core
    inst = types.SimpleNamespace(
        sync=stepfun_core.StepFunClient(api_key=SECRET, base_url=base_url, **settings)
    )
else:
    inst = build(target, base_url, **settings)
print(json.dumps({"ready": True}), flush=True)
for _ in range(interrupts):
    sys.stdin.readline()
    print(json.dumps({"calling": True}), flush=True)
    try:
        out = call(target, inst, "sync", True, "hi")
        print(json.dumps({"interrupted": False, "error": repr(out.error)}), flush=True)
    except KeyboardInterrupt:
        print(json.dumps({"interrupted": True}), flush=True)
sys.stdin.readline()
later = [call(target, inst, "sync", stream, "hi") for stream in (True, False, True)]
print(json.dumps([{"text": o.text, "error": repr(o.error), "elapsed": o.elapsed} for o in later]),
      flush=True)
"""

INTERRUPTS = 2
POOLS = ("max_connections=2", "http_client with 2 connections")


def _wait_for_requests(server: RawServer, count: int, within: float = 10.0) -> None:
    end = time.monotonic() + within
    while len(server.requests) < count:
        assert time.monotonic() < end, f"the server saw {len(server.requests)} requests"
        time.sleep(0.01)


@needs_proc
@pytest.mark.parametrize("pool", POOLS)
@pytest.mark.parametrize("target", TARGETS)
def test_ctrl_c_while_waiting_for_headers_leaves_no_connection_behind(
    target: str, pool: str, row: Row
) -> None:
    row.set(
        category=ROUND2,
        case=(
            f"{INTERRUPTS} real SIGINTs while a sync stream waits for headers "
            f"(total_timeout=5 s, {pool}), then 3 calls"
        ),
        adapter=target,
        mode="sync stream",
        expected="KeyboardInterrupt each time; the later calls answered",
    )
    with (
        RawServer(answers_late_then_at_once(INTERRUPTS)) as server,
        Child(_INTERRUPTED, target, server.base_url, pool, str(INTERRUPTS)) as child,
    ):
        try:
            child.read()
        except AssertionError:
            row.set(observed=f"the child failed: {child.stderr.strip().splitlines()[-1][:100]}")
            raise
        interrupted = []
        for i in range(INTERRUPTS):
            child.send("go")
            child.read()
            _wait_for_requests(server, i + 1)
            time.sleep(0.2)  # well inside the wait for headers (the answer comes after 1 s)
            child.interrupt()
            interrupted.append(child.read()["interrupted"])
        time.sleep(1.5)  # the late answers have arrived
        child.send("go")
        later = child.read()
    ok = sum(o["text"] == ANSWER for o in later)
    failure = next((o["error"] for o in later if o["text"] != ANSWER), "")
    row.set(
        observed=f"{sum(interrupted)} KeyboardInterrupt; later calls: {ok}/{len(later)} answered"
        + (f" ({failure})" if failure else ""),
        requests=len(server.requests),
    )
    assert interrupted == [True] * INTERRUPTS
    assert not [r for r in server.requests if "max_connections" in r], "the setting was sent"
    assert ok == len(later), later
    assert all(o["elapsed"] < 1.5 for o in later), later
