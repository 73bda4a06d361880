"""Profile one contestant on one scenario with cProfile: self time by package, top functions.

    python -m benchmarks.profile chatstepfun stream_text [--repeat 5] [--top 25] [--mode mock]

Self time of C functions (``json.loads``'s scanner, ``str.join``...) is charged to the package of
the Python function that called them, so the package table adds up to the whole profile.
cProfile inflates code made of many tiny calls; compare packages, not absolute figures.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import pstats
from collections import defaultdict

from benchmarks.contestants import BY_KEY, Setup
from benchmarks.fixtures import build_fixtures, digest_all
from benchmarks.transport import LoopbackNetwork, MockNetwork

PACKAGES = (
    "stepfun_core",
    "langchain_stepfun",
    "llama_index_stepfun",
    "langchain_openai",
    "langchain_core",
    "langsmith",
    "llama_index/llms",
    "llama_index/core/instrumentation",
    "llama_index_instrumentation",
    "llama_index/core",
    "openai",
    "httpx",
    "httpcore",
    "anyio",
    "pydantic_core",
    "pydantic",
    "tenacity",
    "benchmarks",
    "json",
    "asyncio",
    "uuid",
    "contextvars",
    "typing",
    "copy",
    "dataclasses",
)


def package_of(filename: str) -> str:
    path = filename.replace("\\", "/")
    for name in PACKAGES:
        if f"/{name}/" in path or path.endswith(f"/{name}.py"):
            return name
    if path.startswith("~") or path == "<string>":
        return "builtins"
    return "stdlib/other" if "/lib/python" in path else path.rsplit("/", 1)[-1]


def by_package(stats: pstats.Stats) -> dict[str, float]:
    totals: dict[str, float] = defaultdict(float)
    raw = stats.stats  # type: ignore[attr-defined]
    for func, (_cc, _nc, tt, _ct, callers) in raw.items():
        pkg = package_of(func[0])
        if pkg != "builtins" or not callers:
            totals[pkg] += tt
            continue
        share = sum(c[2] for c in callers.values()) or 1.0
        for caller, c in callers.items():
            caller_pkg = package_of(caller[0])
            totals[caller_pkg if caller_pkg != "builtins" else "builtins"] += tt * c[2] / share
    return dict(totals)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile")
    parser.add_argument("contestant")
    parser.add_argument("scenario", help="call | async | stream_text | stream_reasoning | ...")
    parser.add_argument("--mode", choices=("mock", "loopback"), default="mock")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--sort", default="tottime")
    parser.add_argument("--dump", help="write the raw pstats to this path")
    args = parser.parse_args(argv)

    fixtures = build_fixtures(2000, 2000)
    if args.mode == "mock":
        net = MockNetwork(fixtures)
    else:
        net = LoopbackNetwork(fixtures, ["--memory-chunks", "2000"], digest_all(fixtures))
    fixture_name = "call" if args.scenario == "async" else args.scenario
    fixture = fixtures[fixture_name]
    driver = BY_KEY[args.contestant].make(
        Setup(fixture, net.base_url(fixture_name), net.sync_client(), net.async_client())
    )
    loop = asyncio.new_event_loop()
    if args.scenario == "async":

        async def many() -> None:
            await asyncio.gather(*(driver.acall() for _ in range(200)))

        def op() -> None:
            loop.run_until_complete(many())
    else:
        op = driver.stream if fixture.stream else driver.call
    repeat = args.repeat if fixture.stream or args.scenario == "async" else args.repeat * 200
    for _ in range(3):
        op()
    gc.collect()
    gc.freeze()  # as in the timed runs: set-up objects stay out of the collections
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(repeat):
        op()
    profiler.disable()
    net.close()
    stats = pstats.Stats(profiler)
    if args.dump:
        stats.dump_stats(args.dump)
    totals = by_package(stats)
    whole = sum(totals.values()) or 1.0
    print(
        f"{args.contestant} / {args.scenario} ({args.mode}), {repeat} runs under cProfile: "
        f"{whole / repeat * 1e3:.2f} ms per run"
    )
    print("self time by package (C calls charged to their Python caller):")
    for pkg, t in sorted(totals.items(), key=lambda kv: -kv[1]):
        if t / whole >= 0.005:
            print(f"  {pkg:34s} {t / repeat * 1e3:9.3f} ms/run  {100 * t / whole:5.1f}%")
    print()
    stats.sort_stats(args.sort).print_stats(args.top)


if __name__ == "__main__":
    main()
