"""Where a burst's time goes: read a py-spy profile of ``benchmarks.scale`` and group it.

    py-spy record -r 250 -f raw -o burst.txt -- \\
        python -m benchmarks.scale --only chatstepfun --parts async --configs default --rounds 1
    python -m benchmarks.scale_profile burst.txt

Only samples taken while the event loop ran a callback count (``Handle._run``), without the
benchmark's own ``gc.collect()`` around each burst, so imports and set-up are left out. A garbage
collection is charged to whichever function allocated when it started (py-spy shows no frame
for it): the burst's ``gc`` share is in the benchmark's own results (``gc_seconds``).
"""

from __future__ import annotations

import argparse
import re
from collections import Counter

PACKAGES = (
    "stepfun_core",
    "langchain_stepfun",
    "llama_index_stepfun",
    "langchain_openai",
    "langchain_core",
    "langsmith",
    "llama_index",
    "openai",
    "httpx",
    "httpcore",
    "anyio",
    "h11",
    "pydantic_core",
    "pydantic",
    "asyncio",
    "json",
    "benchmarks",
    "typing",
)
OURS = ("stepfun_core", "langchain_stepfun", "llama_index_stepfun")
# label -> the frame whose inclusive share is shown ("function [package]")
GROUPS = (
    ("request send (httpx send: pool, connect, write, response head)", "AsyncClient.send [httpx]"),
    (
        "httpcore pool assignment (on send and on release)",
        "AsyncConnectionPool._assign_requests_to_connections [httpcore]",
    ),
    (
        "  its list scans",
        "AsyncConnectionPool._assign_requests_to_connections.<locals>.<listcomp> [httpcore]",
    ),
    (
        "  its has_expired checks (a poll per idle connection)",
        "AsyncHTTPConnection.has_expired [httpcore]",
    ),
    ("reading bodies (httpx aiter_raw)", "Response.aiter_raw [httpx]"),
    ("releasing connections (PoolByteStream.aclose)", "PoolByteStream.aclose [httpcore]"),
    ("our stream state (SSE, parse, accumulate)", "StreamState.feed [stepfun_core]"),
    ("  SSE decoding", "SSEDecoder.feed [stepfun_core]"),
    ("  the accumulator", "StreamAccumulator.add [stepfun_core]"),
    ("json.loads", "loads [json]"),
    ("ChatStepFun chunk conversion", "ChunkConverter.convert [langchain_stepfun]"),
    ("LangChain message objects (Serializable.__init__)", "Serializable.__init__ [langchain_core]"),
    ("the drain after [DONE]", "adrain [stepfun_core]"),
    ("asyncio.wait_for (anywhere)", "wait_for [asyncio]"),
    ("openai's AsyncStream", "AsyncStream.__stream__ [openai]"),
)


def package_of(frame: str) -> str:
    match = re.search(r"\((.*?)(?::\d+)?\)$", frame)
    path = match.group(1) if match else frame
    for name in PACKAGES:
        if path.startswith(name + "/") or f"/{name}/" in path or path == name + ".py":
            return name
    return "stdlib/other"


def _name(frame: str) -> str:
    return f"{frame.split(' (')[0]} [{package_of(frame)}]"


def read(path: str) -> list[tuple[list[str], int]]:
    """The event loop's samples: (frames, count)."""
    stacks = []
    with open(path) as f:
        for line in f:
            stack, _, count = line.rstrip().rpartition(" ")
            if not stack:
                continue
            frames = stack.split(";")
            if not any(fr.startswith("Handle._run (") for fr in frames):
                continue
            if any(fr.startswith(("_before (", "_after (")) for fr in frames):
                continue
            stacks.append((frames, int(count)))
    return stacks


def report(stacks: list[tuple[list[str], int]]) -> str:
    total = sum(c for _, c in stacks) or 1
    own, inclusive = Counter(), Counter()
    for frames, count in stacks:
        own[package_of(frames[-1])] += count
        for name in {_name(fr) for fr in frames}:
            inclusive[name] += count
    lines = [f"{total} samples in event-loop callbacks", "self time by package:"]
    lines += [f"  {p:22s} {100 * c / total:5.1f}%" for p, c in own.most_common(14)]
    lines.append("inclusive time:")
    for label, frame in GROUPS:
        if inclusive[frame]:
            lines.append(f"  {label:66s} {100 * inclusive[frame] / total:5.1f}%")
    ours = sum(own[p] for p in OURS)
    lines.append(f"  {'our packages, self time':66s} {100 * ours / total:5.1f}%")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scale_profile")
    parser.add_argument("profile", help="py-spy record -f raw output")
    print(report(read(parser.parse_args(argv).profile)))


if __name__ == "__main__":
    main()
