"""Run every benchmark scenario in one process, side by side, and print and save the results.

python -m benchmarks [--mode mock|loopback|both] [--quick] [--json PATH] [--markdown PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.contestants import CONTESTANTS, Contestant, Driver, Setup, select
from benchmarks.fixtures import Fixture, build_fixtures, digest_all
from benchmarks.imports import run_imports
from benchmarks.measure import interleaved, machine
from benchmarks.memory import run_memory
from benchmarks.report import evaluate_targets, render_markdown, render_text
from benchmarks.transport import LoopbackNetwork, MockNetwork

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True)
class Scenario:
    key: str
    label: str
    fixture: str
    kind: str  # call | stream | async
    rounds: int
    batch: int
    warmup: int


def scenarios(quick: bool, concurrency: int) -> list[Scenario]:
    r = 3 if quick else 9
    return [
        Scenario("call", "one call", "call", "call", 5 if quick else 15, 10 if quick else 20, 20),
        Scenario("stream_text", "2,000-chunk text stream", "stream_text", "stream", r, 1, 2),
        Scenario(
            "stream_reasoning",
            "2,000-chunk reasoning+text stream",
            "stream_reasoning",
            "stream",
            r,
            1,
            2,
        ),
        Scenario(
            "stream_tools",
            "tool-call delta stream",
            "stream_tools",
            "stream",
            5 if quick else 15,
            2,
            3,
        ),
        Scenario(
            "async",
            f"{concurrency} concurrent async calls",
            "call",
            "async",
            3 if quick else 7,
            1,
            1,
        ),
    ]


def check(driver: Driver, fixture: Fixture) -> list[str]:
    """Differences between what the contestant read and what the fixture holds (checked once)."""
    e = fixture.expected
    got = driver.collect_stream() if fixture.stream else driver.collect_call()
    issues = []
    if got.content != e.content:
        issues.append(f"content differs ({len(got.content)} vs {len(e.content)} chars)")
    if got.reasoning != e.reasoning:
        issues.append(f"reasoning differs ({len(got.reasoning)} vs {len(e.reasoning)} chars)")
    want_args = tuple(a for _, _, a in e.tool_calls)
    if fixture.stream and got.tool_args != want_args:
        issues.append(f"tool-call arguments differ ({len(got.tool_args)} calls)")
    return issues


def run_mode(
    network, fixtures, contestants: list[Contestant], plan: list[Scenario], concurrency: int, log
) -> dict[str, Any]:
    loop = asyncio.new_event_loop()
    out: dict[str, Any] = {"scenarios": {}, "checks": {}, "errors": {}}
    try:
        for sc in plan:
            fixture = fixtures[sc.fixture]
            drivers: dict[str, Driver] = {}
            clients = []
            for c in contestants:
                http, ahttp = network.sync_client(), network.async_client()
                clients.append((http, ahttp))
                try:
                    drivers[c.key] = c.make(
                        Setup(fixture, network.base_url(sc.fixture), http, ahttp)
                    )
                    # Floors replay pre-built framework messages; only real clients are checked.
                    if sc.kind != "async" and (c.role != "floor" or c.key == "wire"):
                        issues = check(drivers[c.key], fixture)
                        if issues:
                            out["checks"].setdefault(c.key, {})[sc.key] = issues
                except Exception as exc:
                    drivers.pop(c.key, None)
                    out["errors"].setdefault(c.key, {})[sc.key] = f"{type(exc).__name__}: {exc}"[
                        :300
                    ]
            ops = {key: _op(d, sc.kind, loop, concurrency) for key, d in drivers.items()}
            # 200 sockets at once cost ~2 s per contestant per round (httpcore's pool is O(n^2)).
            rounds = (
                min(sc.rounds, 3) if sc.kind == "async" and network.mode != "mock" else sc.rounds
            )
            t0 = time.perf_counter()
            samples = interleaved(ops, rounds=rounds, batch=sc.batch, warmup=sc.warmup)
            out["scenarios"][sc.key] = {k: s.summary() for k, s in samples.items()}
            log(f"  [{network.mode}] {sc.label}: {time.perf_counter() - t0:.1f}s")
            for http, ahttp in clients:
                http.close()
                loop.run_until_complete(ahttp.aclose())
    finally:
        loop.close()
    return out


def _op(driver: Driver, kind: str, loop, concurrency: int):
    if kind == "call":
        return driver.call
    if kind == "stream":
        return driver.stream

    async def many() -> None:
        await asyncio.gather(*(driver.acall() for _ in range(concurrency)))

    return lambda: loop.run_until_complete(many())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--mode", choices=("mock", "loopback", "both"), default="both")
    parser.add_argument("--quick", action="store_true", help="fewer repeats: a smoke run")
    parser.add_argument("--json", type=Path, default=RESULTS / "latest.json")
    parser.add_argument("--markdown", type=Path, default=RESULTS / "latest.md")
    parser.add_argument("--only", help="comma-separated contestant keys")
    parser.add_argument("--skip", default="", help="comma-separated: imports,memory,timing")
    parser.add_argument("--concurrency", type=int, default=200)
    args = parser.parse_args(argv)
    skip = set(filter(None, args.skip.split(",")))
    started = time.perf_counter()

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    stream_chunks, memory_chunks = 2000, 2000 if args.quick else 20000
    fixtures = build_fixtures(stream_chunks, memory_chunks)
    contestants, missing = select(CONTESTANTS, args.only)
    for key, reason in missing.items():
        log(f"  missing contestant {key}: {reason}")

    result: dict[str, Any] = {
        "machine": machine(),
        "config": {
            "quick": args.quick,
            "mode": args.mode,
            "stream_chunks": stream_chunks,
            "memory_chunks": memory_chunks,
            "concurrency": args.concurrency,
            "fixture_digest": digest_all(fixtures),
            "metric": "median process CPU time (time.process_time); wall in 'wall_median'",
        },
        "contestants": {
            c.key: {"label": c.label, "family": c.family, "role": c.role} for c in CONTESTANTS
        },
        "missing": missing,
        "modes": {},
    }
    plan = scenarios(args.quick, args.concurrency)
    result["scenarios"] = {s.key: s.label for s in plan}
    modes = ["mock", "loopback"] if args.mode == "both" else [args.mode]
    if "timing" not in skip:
        for mode in modes:
            if mode == "mock":
                network = MockNetwork(fixtures)
            else:
                fixture_args = [
                    "--stream-chunks",
                    str(stream_chunks),
                    "--memory-chunks",
                    str(memory_chunks),
                ]
                network = LoopbackNetwork(fixtures, fixture_args, digest_all(fixtures))
            try:
                result["modes"][mode] = run_mode(
                    network, fixtures, contestants, plan, args.concurrency, log
                )
            finally:
                network.close()
    if "imports" not in skip:
        result["imports"] = run_imports(2 if args.quick else 7, log=log)
    if "memory" not in skip:
        result["memory"] = run_memory([c.key for c in contestants], memory_chunks, log=log)
    result["machine"]["loadavg_end"] = machine()["loadavg"]
    result["targets"] = evaluate_targets(result)
    result["elapsed_seconds"] = time.perf_counter() - started

    print(render_text(result))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=1))
    args.markdown.parent.mkdir(parents=True, exist_ok=True)
    args.markdown.write_text(render_markdown(result))
    log(f"wrote {args.json} and {args.markdown} ({result['elapsed_seconds']:.0f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
