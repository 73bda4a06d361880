"""SSE decoding cost against how the bytes are split: linear, or quadratic?

python -m benchmarks.decoding [--mib 16] [--piece 1024]

Feeds each decoder the same bytes three ways: one line of ``--mib`` MiB (a single ``data:`` line,
as a server streaming one huge event sends it) in ``--piece``-byte pieces; the same line in one
piece; and the same number of bytes as ordinary ~1 KiB events with newlines, in the same pieces.
A decoder that is linear in the bytes received costs about the same three ways; one that copies
its growing buffer on every piece costs far more for the long line (the peers' cost grows with the
square of the line's length, so they are run on smaller lines and the trend is shown).

Contestants: ``stepfun_core.sse.SSEDecoder``; openai-python's ``SSEDecoder`` (when ``openai`` is
installed); httpx2's ``EventSource`` (when ``httpx2`` is installed). CPU time, best of 3.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Iterator

from stepfun_core.sse import SSEDecoder

Decoder = Callable[[Iterator[bytes]], int]


def ours(pieces: Iterator[bytes]) -> int:
    decoder = SSEDecoder(max_event_size=1 << 40)
    return sum(len(decoder.feed(piece)) for piece in pieces)


def openai_decoder() -> Decoder | None:
    try:
        from openai._streaming import SSEDecoder as OpenAIDecoder
    except ImportError:
        return None

    def run(pieces: Iterator[bytes]) -> int:
        return sum(1 for _ in OpenAIDecoder().iter_bytes(pieces))

    return run


def httpx2_decoder() -> Decoder | None:
    try:
        import httpx2
    except ImportError:
        return None

    def run(pieces: Iterator[bytes]) -> int:
        response = httpx2.Response(
            200,
            headers={"content-type": "text/event-stream"},
            content=pieces,
            request=httpx2.Request("GET", "http://bench/"),
        )
        return sum(1 for _ in httpx2.EventSource(response, max_event_size=None))

    return run


def long_line(size: int) -> bytes:
    return b"data: " + b"x" * (size - 8) + b"\n\n"


def short_lines(size: int) -> bytes:
    event = b"data: " + b"x" * 1016 + b"\n\n"
    return event * max(1, size // len(event))


def split(body: bytes, piece: int) -> Iterator[bytes]:
    return (body[i : i + piece] for i in range(0, len(body), piece))


def cpu(decoder: Decoder, body: bytes, piece: int) -> float:
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        decoder(split(body, piece))
        best = min(best, time.process_time() - start)
    return best


def measure(name: str, decoder: Decoder, size: int, piece: int) -> dict[str, float]:
    line = long_line(size)
    row = {
        "long line, pieces": cpu(decoder, line, piece),
        "long line, whole": cpu(decoder, line, len(line)),
        "short events, pieces": cpu(decoder, short_lines(size), piece),
    }
    ratio = row["long line, pieces"] / max(row["short events, pieces"], 1e-9)
    print(
        f"| {name} | {size / 2**20:g} MiB | {row['long line, pieces'] * 1000:.0f} ms "
        f"| {row['long line, whole'] * 1000:.0f} ms | {row['short events, pieces'] * 1000:.0f} ms "
        f"| {ratio:.1f}x |"
    )
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=float, default=16.0, help="size of the long line")
    parser.add_argument("--piece", type=int, default=1024, help="bytes per piece")
    args = parser.parse_args()
    size = int(args.mib * 2**20)
    print(f"pieces of {args.piece} bytes; CPU time, best of 3\n")
    print("| decoder | bytes | long line in pieces | long line whole | short events | ratio |")
    print("|---|---|---|---|---|---|")
    mine = measure("stepfun_core", ours, size, args.piece)
    # The peers grow with the square of the line: measured on lines 1/16 and 1/4 as long.
    for name, make in (("openai-python", openai_decoder), ("httpx2", httpx2_decoder)):
        decoder = make()
        if decoder is None:
            print(f"| {name} | not installed | | | | |")
            continue
        for fraction in (16, 4):
            measure(name, decoder, size // fraction, args.piece)
    line_ms = mine["long line, pieces"] * 1000
    short_ms = mine["short events, pieces"] * 1000
    print(f"\nstepfun_core: {line_ms:.0f} ms for the long line, {short_ms:.0f} ms with lines")


if __name__ == "__main__":
    main()
