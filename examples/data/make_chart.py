"""Draw ``chart.png``, the image of the vision example: ``python examples/data/make_chart.py``.

A 240x160 bar chart with three bars (blue 40%, orange 90%, green 65%) on white, with a grey
baseline. Written with zlib and struct only, so nothing beyond the standard library is needed.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

WIDTH, HEIGHT = 240, 160
WHITE = (255, 255, 255)
GREY = (90, 90, 90)
BARS = [((31, 119, 180), 0.40), ((255, 127, 14), 0.90), ((44, 160, 44), 0.65)]


def pixels() -> list[list[tuple[int, int, int]]]:
    rows = [[WHITE] * WIDTH for _ in range(HEIGHT)]
    baseline, top = HEIGHT - 20, 15
    for x in range(15, WIDTH - 15):
        rows[baseline][x] = rows[baseline + 1][x] = GREY
    for n, (colour, share) in enumerate(BARS):
        left = 35 + n * 65
        height = round((baseline - top) * share)
        for y in range(baseline - height, baseline):
            for x in range(left, left + 45):
                rows[y][x] = colour
    return rows


def png(rows: list[list[tuple[int, int, int]]]) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(b"\x00" + bytes(c for pixel in row for c in pixel) for row in rows)
    header = struct.pack(">IIBBBBB", len(rows[0]), len(rows), 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


if __name__ == "__main__":
    target = Path(__file__).with_name("chart.png")
    target.write_bytes(png(pixels()))
    print(f"wrote {target} ({target.stat().st_size} bytes)")
