"""Peak memory while one contestant consumes a long text stream (run in its own interpreter).

``python -m benchmarks.memory KEY --chunks N`` prints one JSON line: the tracemalloc peak above the
baseline during the stream, and the growth of the RSS high-water mark (VmHWM) (a stream run without
tracemalloc first, so the RSS figure is not inflated by tracemalloc's own bookkeeping).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor

from benchmarks.transport import REPO_ROOT


def _status_bytes(field: str) -> int:
    # VmHWM, not ru_maxrss: after fork+exec, ru_maxrss still reports the parent's high-water mark.
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def _reset_hwm() -> None:
    """Reset VmHWM to the current RSS (Linux: ``echo 5 > /proc/self/clear_refs``)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def measure_one(key: str, chunks: int) -> dict:
    from benchmarks.contestants import BY_KEY, Setup
    from benchmarks.fixtures import text_stream
    from benchmarks.transport import MockNetwork

    fixtures = {"stream_memory": text_stream("stream_memory", chunks)}
    fixtures["warm"] = text_stream("warm", 50)
    net = MockNetwork(fixtures)
    contestant = BY_KEY[key]

    def driver(name: str):
        setup = Setup(fixtures[name], net.base_url(name), net.sync_client(), net.async_client())
        return contestant.make(setup)

    driver("warm").stream()
    big = driver("stream_memory")
    gc.collect()
    _reset_hwm()
    rss0 = _status_bytes("VmRSS")
    hwm0 = _status_bytes("VmHWM")
    t0 = time.perf_counter()
    big.stream()
    seconds = time.perf_counter() - t0
    # Growth of the high-water mark above what was resident when the stream started (or above
    # an earlier, higher mark, which then hides the stream's peak: reported as 0).
    rss_growth = max(0, _status_bytes("VmHWM") - max(rss0, hwm0))
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    big.stream()
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return {"tracemalloc_peak": peak, "rss_growth": rss_growth, "stream_seconds": seconds}


def run_memory(keys: list[str], chunks: int, workers: int = 2, log=print) -> dict[str, dict]:
    """One subprocess per contestant, ``workers`` at a time (memory is not timing-sensitive)."""
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))

    def run(key: str) -> tuple[str, dict]:
        cmd = [sys.executable, "-m", "benchmarks.memory", key, "--chunks", str(chunks)]
        proc = subprocess.run(
            cmd, check=False, capture_output=True, text=True, cwd=REPO_ROOT, env=env, timeout=600
        )
        if proc.returncode != 0:
            tail = (proc.stderr.strip().splitlines() or ["?"])[-1]
            return key, {"error": tail[:300]}
        return key, json.loads(proc.stdout.strip().splitlines()[-1])

    with ThreadPoolExecutor(workers) as pool:
        results = dict(pool.map(run, keys))
    log(f"  memory: {chunks}-chunk stream, {len(keys)} contestants")
    return {k: results[k] for k in keys}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.memory")
    parser.add_argument("key")
    parser.add_argument("--chunks", type=int, default=20000)
    args = parser.parse_args(argv)
    print(json.dumps(measure_one(args.key, args.chunks)))


if __name__ == "__main__":
    main()
