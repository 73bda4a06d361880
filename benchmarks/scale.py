"""At scale: 1,000 concurrent streams in one event loop, threads of sync streams, and soaks.

python -m benchmarks.scale [--quick] [--streams N] [--rounds R] [--parts async,sync,soak,pools]

The server (``benchmarks.scale_server``) runs in its own process on 127.0.0.1, so the CPU time
recorded here is the client's alone. Every figure of a contestant is compared with the peers'
figures taken in the same run, round by round. Writes ``benchmarks/results/scale-latest.json``
(every figure) and ``scale-latest.md`` (the tables).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

from benchmarks.contestants import API_KEY, select
from benchmarks.fixtures import MESSAGES, MODEL, digest_all
from benchmarks.measure import machine
from benchmarks.scale_contestants import (
    BY_KEY,
    CONTESTANTS,
    RUNS_KEYS,
    SOAK_KEYS,
    SYNC_KEYS,
    Context,
    Driver,
    ServerProcess,
)
from benchmarks.scale_measure import (
    Burst,
    async_burst,
    asyncio_run_soak,
    open_fds,
    sequential_soak,
    thread_burst,
)
from benchmarks.scale_report import render_markdown, render_text
from benchmarks.scale_server import CALL_FIXTURE, STREAM_FIXTURE, scale_fixtures

RESULTS = Path(__file__).resolve().parent / "results"
PARTS = ("async", "sync", "soak", "pools")
DEFAULT_PARTS = "async,sync,soak"
CONFIGS = ("default", "sized")
WARMUP_STREAMS = 4
SETTLE_SECONDS = 0.2  # after a burst, for the server to see the connections the client closed
# Pools compared by the ``pools`` part: (library, max_connections, max_keepalive_connections).
# httpx2's pool (httpcore2) has neither the keep-alive count bug nor the quadratic scans.
POOL_VARIANTS: tuple[tuple[str, int | None, int], ...] = (
    ("httpx", 1000, 100),
    ("httpx", 1000, 1000),
    ("httpx", None, 100),
    ("httpx", None, 1000),
    ("httpx", 1000, 20),
    ("httpx2", 1000, 100),
    ("httpx2", 1000, 1000),
)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def rotated(keys: list[str], r: int) -> list[str]:
    """Round ``r``'s order: rotated by one each round and reversed every other round."""
    shift = r % len(keys)
    order = keys[shift:] + keys[:shift]
    return order[::-1] if r % 2 else order


class Run:
    """One benchmark run: the server, the options, and what each part found."""

    def __init__(self, args: argparse.Namespace, keys: list[str]) -> None:
        self.args = args
        self.keys = keys
        self.fixtures = scale_fixtures(args.chunks)
        self.expected = {name: len(f.expected.content) for name, f in self.fixtures.items()}
        self.server = ServerProcess(
            args.chunks, digest_all(self.fixtures), args.pace_ms, args.pace_events
        )

    def context(self, key: str, config: str, tag: str) -> Context:
        return Context(self.server, config, self.args.pool_size, f"{tag}-{key}", self.args.chunks)

    def measured(self, key: str, burst: Callable[[], Burst], network: bool) -> Burst:
        """Run one burst, with the server's connection counts around it."""
        before = self.server.stats() if network else None
        result = burst()
        if before is not None:
            time.sleep(SETTLE_SECONDS)
            after = self.server.stats()
            # The second stats request is one more connection accepted.
            result.conns_opened = after["accepted"] - before["accepted"] - 1
            result.conns_open_after = after["open"]
            result.conns_closed = before["open"] + result.conns_opened - after["open"]
        return result

    # --- 1,000 concurrent async streams ------------------------------------------------------

    def warm_up(self, key: str, config: str) -> str | None:
        """Load every code path with a throwaway driver in a throwaway loop; None if all went well.

        The measured driver starts with an empty pool: closing the loop closes our shared pool
        of that loop, and the throwaway's own clients are closed here.
        """
        n = min(WARMUP_STREAMS, self.args.streams)
        ctx = self.context(key, config, f"warm-{config}")
        loop = asyncio.new_event_loop()
        try:
            driver = BY_KEY[key].make(ctx, True)
            warm = loop.run_until_complete(
                async_burst(driver.astream, n, self.expected[STREAM_FIXTURE])
            )
            return f"warm-up errors: {warm.error_kinds}" if warm.errors else None
        except Exception as exc:
            return f"{type(exc).__name__}: {exc}"[:300]
        finally:
            loop.run_until_complete(ctx.aclose())
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def async_contestant(self, key: str, config: str, out: dict[str, Any]) -> None:
        """Round 1 from an empty pool, then the other rounds at once, in one event loop."""
        n, expected = self.args.streams, self.expected[STREAM_FIXTURE]
        failed = self.warm_up(key, config)
        if failed:
            out["setup"][key] = failed
            return
        ctx = self.context(key, config, config)
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            driver = BY_KEY[key].make(ctx, True)
            out["pool_via"][key] = ctx.pool_via
            for r in range(self.args.rounds):
                burst = self.measured(
                    key,
                    lambda: loop.run_until_complete(async_burst(driver.astream, n, expected)),
                    BY_KEY[key].network,
                )
                out["rounds"][key].append(burst.as_dict())
                log(
                    f"  [{config}] {key} round {r + 1}: {burst.errors} errors, stall "
                    f"{burst.stall_max:.2f} s, {burst.cpu_per_stream * 1e3:.1f} ms/stream, "
                    f"wall {burst.wall:.1f} s, opened {burst.conns_opened}"
                )
        finally:
            loop.run_until_complete(ctx.aclose())
            loop.run_until_complete(loop.shutdown_asyncgens())
            asyncio.set_event_loop(None)
            loop.close()

    def async_config(self, config: str) -> dict[str, Any]:
        out: dict[str, Any] = {"rounds": {k: [] for k in self.keys}, "pool_via": {}, "setup": {}}
        for key in self.keys:
            self.async_contestant(key, config, out)
        out["fds_after"] = open_fds()
        return out

    # --- threads of sync streams -------------------------------------------------------------

    def sync_part(self) -> dict[str, Any]:
        n, expected = self.args.sync_streams, self.expected[STREAM_FIXTURE]
        threads = self.args.threads
        keys = [k for k in self.keys if k in SYNC_KEYS]
        drivers: dict[str, Driver] = {}
        contexts: dict[str, Context] = {}
        out: dict[str, Any] = {"rounds": {k: [] for k in keys}, "setup": {}}
        for key in keys:
            ctx = contexts[key] = self.context(key, "default", "sync")
            try:
                drivers[key] = BY_KEY[key].make(ctx, False)
                warm = thread_burst(drivers[key].stream, min(WARMUP_STREAMS, n), threads, expected)
                if warm.errors:
                    out["setup"][key] = f"warm-up errors: {warm.error_kinds}"
            except Exception as exc:
                drivers.pop(key, None)
                out["setup"][key] = f"{type(exc).__name__}: {exc}"[:300]
        for r in range(self.args.rounds):
            for key in rotated(list(drivers), r):
                driver = drivers[key]
                burst = self.measured(
                    key, lambda d=driver: thread_burst(d.stream, n, threads, expected), True
                )
                out["rounds"][key].append(burst.as_dict())
                log(
                    f"  [sync x{threads}] round {r + 1} {key}: {burst.errors} errors, "
                    f"{burst.cpu_per_stream * 1e3:.1f} ms/stream"
                )
        for ctx in contexts.values():
            asyncio.run(ctx.aclose())
        return out

    # --- soaks -------------------------------------------------------------------------------

    def soak_part(self) -> dict[str, Any]:
        out: dict[str, Any] = {"sequential": {}, "asyncio_run": {}, "setup": {}}
        for key in [k for k in self.keys if k in SOAK_KEYS]:
            try:
                out["sequential"][key] = self.sequential(key)
                if key in RUNS_KEYS:
                    out["asyncio_run"][key] = self.asyncio_runs(key)
            except Exception as exc:
                out["setup"][key] = f"{type(exc).__name__}: {exc}"[:300]
        return out

    def sequential(self, key: str) -> dict[str, Any]:
        """``--soak-calls`` calls one after the other in one event loop."""
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        ctx = self.context(key, "default", "soak")
        try:
            driver = BY_KEY[key].make(ctx, True)
            before = self.server.stats()["requests"]
            soak = sequential_soak(
                loop, driver.acall, self.args.soak_calls, self.expected[CALL_FIXTURE]
            )
            # Less the warm-up call and the second stats request.
            soak.requests = self.server.stats()["requests"] - before - 2
        finally:
            loop.run_until_complete(ctx.aclose())
            loop.run_until_complete(loop.shutdown_asyncgens())
            asyncio.set_event_loop(None)
            loop.close()
        log(
            f"  [soak] {key}: {soak.calls} calls, {soak.errors} errors, RSS "
            f"{(soak.rss_after - soak.rss_before) / 1e6:+.2f} MB, fds "
            f"{soak.fds_before}->{soak.fds_after}"
        )
        return soak.as_dict()

    def asyncio_runs(self, key: str) -> dict[str, Any]:
        """The same model object used from ``asyncio.run`` after ``asyncio.run``, as a sync
        program calling into async code does: one call each."""
        driver = BY_KEY[key].make(self.context(key, "default", "runs"), True)
        before = self.server.stats()["requests"]
        runs = asyncio_run_soak(driver.acall, self.args.soak_runs, self.expected[CALL_FIXTURE])
        runs.requests = self.server.stats()["requests"] - before - 1
        log(
            f"  [soak] {key}: {runs.calls} asyncio.run, {runs.errors} errors "
            f"{runs.error_kinds or ''}, {runs.requests} requests, {runs.wall:.1f} s, fds "
            f"{runs.fds_before}->{runs.fds_after}, threads "
            f"{runs.threads_before}->{runs.threads_after}"
        )
        return runs.as_dict()

    # --- httpcore pool limits ----------------------------------------------------------------

    def pools_part(self) -> dict[str, Any]:
        """The core client over a caller's client for each of ``POOL_VARIANTS``: round 1 from an
        empty pool, the other rounds at once (what the pool kept alive is reused)."""
        n, expected = self.args.streams, self.expected[STREAM_FIXTURE]
        out: dict[str, Any] = {"rounds": {}, "setup": {}}
        for library, max_conn, keepalive in self.args.pool_variants:
            name = f"{library} {max_conn or 'unlimited'}/{keepalive}"
            out["rounds"][name] = rounds = []
            loop = asyncio.new_event_loop()
            try:
                http = pool_client(library, max_conn, keepalive)
            except ImportError as exc:
                out["setup"][name] = f"{type(exc).__name__}: {exc}"
                continue
            op = core_stream_op(http, self.server.base_url(STREAM_FIXTURE, "pools"))
            try:
                for r in range(self.args.rounds):
                    burst = self.measured(
                        name,
                        lambda loop=loop, op=op: loop.run_until_complete(
                            async_burst(op, n, expected)
                        ),
                        True,
                    )
                    rounds.append(burst.as_dict())
                    log(
                        f"  [pools {name}] round {r + 1}: {burst.errors} errors, stall "
                        f"{burst.stall_max:.2f} s, {burst.cpu_per_stream * 1e3:.1f} ms/stream, "
                        f"wall {burst.wall:.1f} s, opened {burst.conns_opened}, "
                        f"closed {burst.conns_closed}"
                    )
            finally:
                loop.run_until_complete(http.aclose())
                loop.close()
        return out


def pool_client(library: str, max_conn: int | None, keepalive: int) -> Any:
    """An async client of ``library`` (httpx, or httpx2 with its own httpcore2 pool)."""
    lib: Any = httpx
    if library == "httpx2":
        import httpx2

        lib = httpx2
    limits = lib.Limits(max_connections=max_conn, max_keepalive_connections=keepalive)
    return lib.AsyncClient(limits=limits, timeout=lib.Timeout(600.0, connect=5.0))


def core_stream_op(http: Any, base_url: str) -> Callable[[], Awaitable[int]]:
    from stepfun_core import AsyncStepFunClient, build_chat_request

    client = AsyncStepFunClient(api_key=API_KEY, base_url=base_url, http_client=http)
    payload = build_chat_request(MODEL, MESSAGES)

    async def op() -> int:
        stream = await client.stream(payload)
        async with stream:
            async for _ in stream:
                pass
        return len(stream.completion().first.content)

    return op


def parse_pool_variants(text: str) -> tuple[tuple[str, int | None, int], ...]:
    variants = []
    for item in text.split(","):
        library, max_conn, keepalive = item.split(":")
        if library not in ("httpx", "httpx2"):
            raise argparse.ArgumentTypeError(f"unknown library {library!r}")
        limit = None if max_conn.lower() in ("none", "unlimited") else int(max_conn)
        variants.append((library, limit, int(keepalive)))
    return tuple(variants)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scale", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a smoke run: < 1 min")
    parser.add_argument("--streams", type=int, help="concurrent streams per burst (1000)")
    parser.add_argument("--rounds", type=int, help="measured rounds (3)")
    parser.add_argument("--chunks", type=int, default=32, help="SSE events per stream")
    parser.add_argument("--threads", type=int, help="threads of sync streams (64)")
    parser.add_argument("--sync-streams", type=int, help="sync streams per round (320)")
    parser.add_argument("--pool-size", type=int, default=1000, help="pool of the sized config")
    parser.add_argument("--configs", default=",".join(CONFIGS), help="default,sized")
    parser.add_argument("--parts", default=DEFAULT_PARTS, help=",".join(PARTS))
    parser.add_argument("--only", help="comma-separated contestant keys")
    parser.add_argument(
        "--pool-variants",
        type=parse_pool_variants,
        default=POOL_VARIANTS,
        help="pools part: LIBRARY:MAX_CONNECTIONS:MAX_KEEPALIVE,... (httpx:none:100)",
    )
    parser.add_argument("--soak-calls", type=int, help="sequential calls (5000)")
    parser.add_argument("--soak-runs", type=int, help="asyncio.run calls in a row (200)")
    parser.add_argument("--pace-ms", type=float, default=0.0, help="server: gap between writes")
    parser.add_argument("--pace-events", type=int, default=1, help="server: events per write")
    parser.add_argument("--json", type=Path, default=RESULTS / "scale-latest.json")
    parser.add_argument("--markdown", type=Path, default=RESULTS / "scale-latest.md")
    args = parser.parse_args(argv)
    quick = {
        "streams": 100,
        "rounds": 1,
        "threads": 16,
        "sync_streams": 32,
        "soak_calls": 100,
        "soak_runs": 5,
    }
    full = {
        "streams": 1000,
        "rounds": 3,
        "threads": 64,
        "sync_streams": 320,
        "soak_calls": 5000,
        "soak_runs": 200,
    }
    for name, value in (quick if args.quick else full).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    unknown = set(args.parts.split(",")) - set(PARTS)
    unknown |= {c for c in args.configs.split(",") if c not in CONFIGS}
    if unknown:
        parser.error(f"unknown part or config: {', '.join(sorted(unknown))}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # Stopped with SIGTERM: unwind, so the server process is stopped and the results kept.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.perf_counter()
    chosen, missing = select(CONTESTANTS, args.only)
    keys = [c.key for c in chosen]
    for key, reason in missing.items():
        log(f"  missing contestant {key}: {reason}")
    parts = args.parts.split(",")
    result: dict[str, Any] = {
        "machine": machine(),
        "config": {
            "quick": args.quick,
            "streams": args.streams,
            "rounds": args.rounds,
            "chunks": args.chunks,
            "threads": args.threads,
            "sync_streams": args.sync_streams,
            "pool_size": args.pool_size,
            "configs": args.configs.split(","),
            "parts": parts,
            "soak_calls": args.soak_calls,
            "soak_runs": args.soak_runs,
            "pace_ms": args.pace_ms,
            "pace_events": args.pace_events,
            "pool_variants": [list(v) for v in args.pool_variants] if "pools" in parts else None,
        },
        "contestants": {
            c.key: {"label": c.label, "family": c.family, "role": c.role} for c in CONTESTANTS
        },
        "missing": missing,
        "loadavg": {},
    }
    run = Run(args, keys)
    result["config"]["fixture_digest"] = digest_all(run.fixtures)

    def save() -> None:
        """Results so far: a part that hangs or a run that is stopped keeps the parts done."""
        result["machine"]["loadavg_end"] = machine()["loadavg"]
        result["elapsed_seconds"] = time.perf_counter() - started
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1))
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(render_markdown(result))

    try:
        result["fds_start"] = open_fds()
        if "async" in parts:
            result["async"] = {}
            for config in args.configs.split(","):
                result["async"][config] = run.async_config(config)
                result["loadavg"][f"async-{config}"] = machine()["loadavg"]
                save()
        if "sync" in parts:
            result["sync"] = run.sync_part()
            result["loadavg"]["sync"] = machine()["loadavg"]
            save()
        if "soak" in parts:
            result["soak"] = run.soak_part()
            result["loadavg"]["soak"] = machine()["loadavg"]
            save()
        if "pools" in parts:
            result["pools"] = run.pools_part()
            result["loadavg"]["pools"] = machine()["loadavg"]
    finally:
        run.server.close()
    save()
    print(render_text(result))
    log(f"wrote {args.json} and {args.markdown} ({result['elapsed_seconds']:.0f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
