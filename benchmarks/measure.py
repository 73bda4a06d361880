"""Timing: interleaved rounds, wall and process CPU time, medians; machine facts."""

from __future__ import annotations

import gc
import importlib.metadata
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Samples:
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "wall_median": statistics.median(self.wall),
            "cpu_median": statistics.median(self.cpu),
            "wall_min": min(self.wall),
            "cpu_min": min(self.cpu),
            "n": len(self.wall),
            "wall": self.wall,
            "cpu": self.cpu,
        }


def interleaved(
    ops: dict[str, Callable[[], Any]], *, rounds: int, batch: int, warmup: int
) -> dict[str, Samples]:
    """Run each op ``batch`` times per sample; rotate the order every round to spread noise."""
    keys = list(ops)
    for key in keys:
        for _ in range(warmup):
            ops[key]()
    gc.collect()
    gc.freeze()  # set-up objects stay out of the collections the clients trigger
    samples = {key: Samples() for key in keys}
    try:
        for r in range(rounds):
            shift = r % len(keys)
            order = keys[shift:] + keys[:shift]
            if r % 2:
                order.reverse()
            for key in order:
                op = ops[key]
                gc.collect()
                w0, c0 = time.perf_counter(), time.process_time()
                for _ in range(batch):
                    op()
                w1, c1 = time.perf_counter(), time.process_time()
                samples[key].wall.append((w1 - w0) / batch)
                samples[key].cpu.append((c1 - c0) / batch)
    finally:
        gc.unfreeze()
    return samples


PACKAGES = (
    "httpx",
    "httpcore",
    "pydantic",
    "langchain-core",
    "langchain-openai",
    "openai",
    "llama-index-core",
    "llama-index-llms-openai",
    "llama-index-llms-openai-like",
    "stepfun-integrations",
)


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine() -> dict[str, Any]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "loadavg": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "packages": versions,
    }
