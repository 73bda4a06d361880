"""What the scale benchmark records: loop stalls, CPU, wall, RSS, descriptors, threads, errors."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import math
import os
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

from benchmarks.memory import _reset_hwm, _status_bytes

MONITOR_INTERVAL = 0.005  # the stall monitor's sleep; a gap is the time between its wake-ups
STALL_REPORTED = 0.1  # gaps at least this long are counted
BURST_TIMEOUT = 300.0  # a burst still running then is cancelled: its streams count as hung
CALL_TIMEOUT = 30.0  # one soak call (loopback: a healthy one takes milliseconds)
HUNG = "hung (cancelled by the benchmark's timeout)"


class StallMonitor:
    """A task that sleeps ``interval`` in a loop and keeps the longest gap between wake-ups.

    A gap longer than the interval is time the event loop spent running other tasks' steps
    without coming back to its timers: what a connect timeout, a health check or another
    user's stream waits for.
    """

    def __init__(self, interval: float = MONITOR_INTERVAL) -> None:
        self.interval = interval
        self.longest = 0.0
        self.over = 0  # gaps of STALL_REPORTED or more
        self._task: asyncio.Task[None] | None = None
        self._last = 0.0

    def _mark(self) -> None:
        now = time.perf_counter()
        gap = now - self._last
        self._last = now
        self.longest = max(self.longest, gap)
        if gap >= STALL_REPORTED:
            self.over += 1

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            self._mark()

    async def __aenter__(self) -> StallMonitor:
        self._task = asyncio.create_task(self._watch())
        self._last = time.perf_counter()
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._mark()  # the gap that ends with the burst counts too
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


class GcWatch:
    """Time spent in the collector while it is installed, and its longest pause.

    At 1,000 concurrent streams a full (generation 2) collection walks every object the streams
    hold: a pause of 0.1-1 s that counts as CPU time and as a loop stall.
    """

    def __init__(self) -> None:
        self.seconds = 0.0
        self.longest = 0.0
        self.full = 0  # generation 2 collections
        self._start = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._start = time.perf_counter()
            return
        pause = time.perf_counter() - self._start
        self.seconds += pause
        self.longest = max(self.longest, pause)
        self.full += info.get("generation") == 2

    def __enter__(self) -> GcWatch:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self)


def rss() -> int:
    return _status_bytes("VmRSS")


def peak_rss() -> int:
    return _status_bytes("VmHWM")


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def os_threads() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("Threads:"):
                return int(line.split()[1])
    return threading.active_count()


def error_kind(exc: BaseException) -> str:
    """The exception's type and its cause's (``StepFunTimeoutError<-ConnectTimeout``)."""
    cause = exc.__cause__ or exc.__context__
    name = type(exc).__name__
    return f"{name}<-{type(cause).__name__}" if cause is not None else name


@dataclass
class Burst:
    """One contestant's figures for one round."""

    streams: int
    errors: int = 0
    error_kinds: dict[str, int] = field(default_factory=dict)
    cpu: float = 0.0  # process CPU seconds for the whole burst
    wall: float = 0.0
    stall_max: float | None = None  # longest gap between the monitor's wake-ups (async only)
    stalls_over_100ms: int | None = None
    gc_seconds: float = 0.0  # in the collector during the burst (part of ``cpu``)
    gc_longest: float = 0.0
    gc_full: int = 0
    rss_before: int = 0
    rss_peak: int = 0
    rss_after: int = 0
    conns_opened: int | None = None  # new connections the server accepted during the burst
    conns_closed: int | None = None  # connections closed during or just after the burst
    conns_open_after: int | None = None

    @property
    def cpu_per_stream(self) -> float:
        return self.cpu / self.streams

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["cpu_per_stream"] = self.cpu_per_stream
        return out


class ErrorTally:
    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.kinds: Counter[str] = Counter()

    def check(self, got: int) -> None:
        if got != self.expected:
            self.kinds["incomplete content"] += 1

    def record(self, exc: BaseException) -> None:
        self.kinds[error_kind(exc)] += 1

    def fill(self, burst: Burst) -> None:
        burst.errors = sum(self.kinds.values())
        burst.error_kinds = dict(self.kinds)


def _before(burst: Burst) -> None:
    gc.collect()
    gc.freeze()  # set-up objects stay out of the collections the burst triggers
    _reset_hwm()
    burst.rss_before = rss()


def _after(burst: Burst) -> None:
    burst.rss_peak = peak_rss()
    gc.unfreeze()
    gc.collect()
    burst.rss_after = rss()


async def async_burst(op: Callable[[], Awaitable[int]], n: int, expected: int) -> Burst:
    """``n`` concurrent calls of ``op`` in the running loop, under the stall monitor."""
    burst, tally = Burst(n), ErrorTally(expected)

    async def one() -> None:
        try:
            tally.check(await op())
        except Exception as exc:  # every kind is counted, none stops the burst
            tally.record(exc)

    _before(burst)
    with GcWatch() as collector:
        async with StallMonitor() as monitor:
            c0, w0 = time.process_time(), time.perf_counter()
            tasks = [asyncio.ensure_future(one()) for _ in range(n)]
            _, pending = await asyncio.wait(tasks, timeout=BURST_TIMEOUT)
            c1, w1 = time.process_time(), time.perf_counter()
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.wait(pending, timeout=10)
        tally.kinds[HUNG] += len(pending)
    _after(burst)
    burst.gc_seconds, burst.gc_longest, burst.gc_full = (
        collector.seconds,
        collector.longest,
        collector.full,
    )
    burst.cpu, burst.wall = c1 - c0, w1 - w0
    burst.stall_max, burst.stalls_over_100ms = monitor.longest, monitor.over
    tally.fill(burst)
    return burst


def thread_burst(op: Callable[[], int], n: int, threads: int, expected: int) -> Burst:
    """``n`` sync calls of ``op`` spread over ``threads`` threads (each runs its share in turn)."""
    burst, tally = Burst(n), ErrorTally(expected)
    lock = threading.Lock()
    shares = [n // threads + (1 if i < n % threads else 0) for i in range(threads)]

    def worker(count: int) -> None:
        for _ in range(count):
            try:
                got = op()
            except Exception as exc:
                with lock:
                    tally.record(exc)
            else:
                with lock:
                    tally.check(got)

    with ThreadPoolExecutor(threads) as pool:
        pool.submit(lambda: None).result()  # the first thread is started before timing
        _before(burst)
        with GcWatch() as collector:
            c0, w0 = time.process_time(), time.perf_counter()
            list(pool.map(worker, [s for s in shares if s]))
            c1, w1 = time.process_time(), time.perf_counter()
        _after(burst)
    burst.gc_seconds, burst.gc_longest, burst.gc_full = (
        collector.seconds,
        collector.longest,
        collector.full,
    )
    burst.cpu, burst.wall = c1 - c0, w1 - w0
    tally.fill(burst)
    return burst


@dataclass
class Soak:
    """Many calls in a row: what is left behind (memory, descriptors, threads)."""

    calls: int
    errors: int = 0
    error_kinds: dict[str, int] = field(default_factory=dict)
    wall: float = 0.0
    cpu: float = 0.0
    rss_before: int = 0
    rss_after: int = 0
    fds_before: int = 0
    fds_after: int = 0
    threads_before: int = 0
    threads_after: int = 0
    requests: int | None = None  # requests the server answered: above ``calls`` means retries

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["rss_growth"] = self.rss_after - self.rss_before
        out["cpu_per_call"] = self.cpu / self.calls if self.calls else math.nan
        return out


def _soak_start(soak: Soak) -> None:
    gc.collect()
    soak.rss_before, soak.fds_before, soak.threads_before = rss(), open_fds(), os_threads()


def _soak_end(soak: Soak, tally: ErrorTally) -> None:
    gc.collect()
    soak.rss_after, soak.fds_after, soak.threads_after = rss(), open_fds(), os_threads()
    soak.errors, soak.error_kinds = sum(tally.kinds.values()), dict(tally.kinds)


def sequential_soak(
    loop: asyncio.AbstractEventLoop, op: Callable[[], Awaitable[int]], calls: int, expected: int
) -> Soak:
    """``calls`` calls one after the other in one event loop (after one warm-up call)."""
    soak, tally = Soak(calls), ErrorTally(expected)

    done = 0

    async def run(count: int) -> None:
        nonlocal done
        for _ in range(count):
            try:
                tally.check(await op())
            except Exception as exc:
                tally.record(exc)
            done += 1

    loop.run_until_complete(asyncio.wait_for(run(1), CALL_TIMEOUT))
    tally.kinds.clear()
    done = 0
    _soak_start(soak)
    c0, w0 = time.process_time(), time.perf_counter()
    try:  # one timeout for the whole soak: none of its calls pays for a timer of its own
        loop.run_until_complete(asyncio.wait_for(run(calls), CALL_TIMEOUT + calls * 0.1))
    except asyncio.TimeoutError:
        tally.kinds[HUNG] += calls - done
    soak.cpu, soak.wall = time.process_time() - c0, time.perf_counter() - w0
    _soak_end(soak, tally)
    return soak


def asyncio_run_soak(op: Callable[[], Awaitable[int]], runs: int, expected: int) -> Soak:
    """``runs`` calls of ``asyncio.run``, each making one call with the same model object."""
    soak, tally = Soak(runs), ErrorTally(expected)
    _soak_start(soak)
    c0, w0 = time.process_time(), time.perf_counter()

    async def bounded() -> int:
        return await asyncio.wait_for(op(), CALL_TIMEOUT)

    for _ in range(runs):
        try:
            tally.check(asyncio.run(bounded()))
        except asyncio.TimeoutError:
            tally.kinds[HUNG] += 1
        except Exception as exc:
            tally.record(exc)
    soak.cpu, soak.wall = time.process_time() - c0, time.perf_counter() - w0
    _soak_end(soak, tally)
    return soak
