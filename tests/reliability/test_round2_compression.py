"""Round 2, compression: every encoding we accept is inflated under ``max_response_bytes``.

What we advertise: ``Accept-Encoding: gzip, deflate`` on every request, whatever decoders are
installed (httpx adds ``br`` and ``zstd`` when ``brotli``/``zstandard`` are importable, and
langsmith installs ``zstandard``). A gzip or deflate bomb ends in ``ResponseTooLargeError``
with the client's peak memory grown by a few times the cap; a body in an encoding we did not
advertise (br, zstd, anything else) is refused with ``MalformedResponseError`` unread.

Peak memory is the client process's own high-water mark (VmHWM), read from outside: the calls
run in a child process (``watch.Child``) whose peak is reset before each call.
"""

from __future__ import annotations

import importlib.util
import json
import time
from functools import cache
from typing import Any

import pytest

import stepfun_core as core
from tests.reliability.bombs import ENCODINGS, MIB, compressed_zeros
from tests.reliability.conftest import ROUND2, Combo, Row, combos
from tests.reliability.raw_server import (
    ANSWER,
    RawServer,
    Send,
    answers,
    completion,
    sized_head,
    whole,
)
from tests.reliability.watch import Child, child_env, needs_proc
from tests.replica import Replica

ALL = combos()
CAP = 1 * MIB  # max_response_bytes in these calls
INFLATED = 512 * MIB
# "A few times max_response_bytes": the cap, a network read and the decoder's window, with
# room for the allocator. Today a single gzip read of 64 KB inflates to 64 MB at once.
GROWTH_LIMIT_MIB = 8.0
ADVERTISED = "gzip, deflate"
NOT_ADVERTISED = ("br", "zstd")


def content_type(request: Any) -> str:
    stream = isinstance(request, dict) and request.get("stream")
    return "text/event-stream" if stream else "application/json"


def serves_bomb(body: bytes, encoding: str) -> Any:
    def script(send: Send, request: Any) -> bool:
        send(sized_head(200, len(body), content_type(request), Content_Encoding=encoding))
        # The body follows once the client has read the headers: its reads are then full
        # network reads (64 KB), as from a fast server, not whatever had arrived by chance.
        time.sleep(0.05)
        send(body)
        return False

    return script


# --- what we advertise ---------------------------------------------------------------------------
@pytest.mark.parametrize("combo", ALL)
def test_we_advertise_only_the_encodings_we_bound(combo: Combo, server: Replica, row: Row) -> None:
    out = combo.call(combo.build(server.base_url), "hi")
    sent = [r.headers.get("accept-encoding") for r in server.requests]
    row.set(
        category=ROUND2,
        case="Accept-Encoding of every request (zstandard installed)",
        adapter=combo.target,
        mode=combo.label,
        expected=f"Accept-Encoding: {ADVERTISED}",
        observed=", ".join(sorted({f"Accept-Encoding: {s}" for s in sent})),
        requests=len(server.requests),
    )
    assert out.error is None, repr(out.error)
    assert sent == [ADVERTISED], sent


# --- bombs, peak memory measured from outside --------------------------------------------------
# The child hands freed memory back to the system after each call (a fixed mmap threshold and
# malloc_trim), so that one call's freed buffers cannot hide the next call's growth.
_CHILD = r"""
import ctypes, gc, json, sys
from tests.reliability.conftest import build, call

def release():
    gc.collect()
    ctypes.CDLL(None).malloc_trim(0)

bomb_url, healthy_url, cap, variants = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
variants = json.loads(variants)
for target, mode, stream in variants:  # every path warmed up: imports, pools, SSL context
    out = call(target, build(target, healthy_url, max_retries=0), mode, stream, "hi")
    assert out.error is None, repr(out.error)
release()
print(json.dumps({"ready": True}), flush=True)
for target, mode, stream in variants:
    sys.stdin.readline()
    inst = build(target, bomb_url, max_retries=0, max_response_bytes=cap)
    out = call(target, inst, mode, stream, "hi")
    error = out.error
    print(json.dumps({
        "error": type(error).__name__ if error else None,
        "classes": [c.__name__ for c in type(error).__mro__] if error else [],
        "text": (out.text or "")[:80],
        "elapsed": out.elapsed,
    }), flush=True)
    del out, inst, error
    release()
"""


def _key(combo: Combo) -> str:
    return f"{combo.target}-{combo.label}"


def available(encoding: str) -> str | None:
    """Why a bomb of this encoding cannot be made or read here, or None."""
    if encoding == "zstd" and importlib.util.find_spec("zstandard") is None:
        return "zstandard is not installed: httpx neither advertises nor inflates zstd"
    return None


@cache
def bomb_of(encoding: str) -> bytes:
    return compressed_zeros(encoding, INFLATED)


@cache
def bomb_runs(encoding: str) -> dict[str, dict[str, Any]]:
    """Each variant's call against a bomb of this encoding: its error and peak growth (MiB)."""
    body = bomb_of(encoding)
    variants = [p.values[0] for p in ALL]
    results: dict[str, dict[str, Any]] = {}
    with (
        RawServer(serves_bomb(body, encoding)) as bomb,
        RawServer(answers) as healthy,
        Child(
            _CHILD,
            bomb.base_url,
            healthy.base_url,
            str(CAP),
            json.dumps([[c.target, c.mode, c.stream] for c in variants]),
            env=child_env(MALLOC_MMAP_THRESHOLD_=str(128 * 1024)),
        ) as child,
    ):
        child.read()
        for combo in variants:
            before = child.reset_peak()
            child.send("go")
            result = child.read()
            result["growth"] = child.peak_mib() - before
            results[_key(combo)] = result
    return results


@needs_proc
@pytest.mark.parametrize("combo", ALL)
@pytest.mark.parametrize("encoding", ENCODINGS)
def test_a_bomb_in_any_encoding_is_bounded(combo: Combo, encoding: str, row: Row) -> None:
    missing = available(encoding)
    if missing:
        pytest.skip(missing)
    advertised = encoding not in NOT_ADVERTISED
    expected = (
        "ResponseTooLargeError" if advertised else "MalformedResponseError, not inflated"
    ) + f"; peak memory grows < {GROWTH_LIMIT_MIB:g} MiB"
    row.set(
        category=ROUND2,
        case=(
            f"{len(bomb_of(encoding)) // 1024 or 1} KB of {encoding} inflating to 512 MiB "
            "(max_response_bytes 1 MiB; child process)"
        ),
        adapter=combo.target,
        mode=combo.label,
        expected=expected,
        requests=1,
    )
    result = bomb_runs(encoding)[_key(combo)]
    row.set(observed=f"{result['error']}; peak grew {max(result['growth'], 0):.0f} MiB (VmHWM)")
    classes = result["classes"]
    if advertised:
        assert "ResponseTooLargeError" in classes, result
    else:
        assert "MalformedResponseError" in classes, result
        assert "ResponseTooLargeError" not in classes, f"inflated before refusing: {result}"
    assert result["growth"] < GROWTH_LIMIT_MIB, (
        f"peak memory grew by {result['growth']:.0f} MiB for a {CAP // MIB} MiB cap"
    )


# --- a coding we never asked for ---------------------------------------------------------------
def labelled(coding: str) -> Any:
    """A plain, whole answer labelled with a Content-Encoding nobody asked for."""

    def script(send: Send, request: Any) -> bool:
        if isinstance(request, dict) and request.get("stream"):
            body = b"data: " + completion() + b"\n\ndata: [DONE]\n\n"
        else:
            body = completion()
        send(whole(200, body, content_type(request), Content_Encoding=coding))
        return False

    return script


def record(row: Row, combo: Combo, server: RawServer, **cells: str) -> None:
    """The report's row for one call to a scripted server: ``case``, ``expected``, ``observed``."""
    row.set(category=ROUND2, adapter=combo.target, mode=combo.label, **cells).set(
        requests=len(server.requests)
    )


@pytest.mark.parametrize("combo", ALL)
def test_a_coding_we_did_not_advertise_is_refused(combo: Combo, row: Row) -> None:
    with RawServer(labelled("snappy")) as server:
        out = combo.call(combo.build(server.base_url, max_retries=0), "hi")
    record(
        row,
        combo,
        server,
        case="a body labelled Content-Encoding: snappy (never advertised)",
        expected="MalformedResponseError (not read as plain text)",
        observed=type(out.error).__name__ if out.error else f"read as plain: {out.text!r:.40}",
    )
    assert isinstance(out.error, core.MalformedResponseError), (
        f"{out.error!r}; read as plain text: {out.text!r}"
    )
    assert not isinstance(out.error, core.ResponseTooLargeError), repr(out.error)
    assert len(server.requests) == 1


def outage_page_labelled_gzip() -> Any:
    """A proxy's plain 503 page labelled gzip, then the answer."""
    served: list[Any] = []

    def script(send: Send, request: Any) -> bool:
        served.append(request)
        if len(served) > 1:
            return answers(send, request)
        page = b"<html><body>503 Service Unavailable</body></html>"
        send(whole(503, page, "text/html", Content_Encoding="gzip"))
        return False

    return script


@pytest.mark.parametrize("combo", ALL)
def test_an_outage_page_mislabelled_as_gzip_is_retried(combo: Combo, row: Row) -> None:
    # Hostile round 9: the page's failed inflation was a MalformedResponseError, with no status,
    # so the outage was never retried.
    with RawServer(outage_page_labelled_gzip()) as server:
        out = combo.call(combo.build(server.base_url), "hi")
    record(
        row,
        combo,
        server,
        case="a 503 page labelled Content-Encoding: gzip (it is plain), then the answer",
        expected="retried as a 503; the answer",
        observed=type(out.error).__name__ if out.error else f"answer: {out.text!r:.40}",
    )
    assert out.error is None, repr(out.error)
    assert out.text == ANSWER and len(server.requests) == 2
