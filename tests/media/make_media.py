"""Regenerate the tiny sample media files in this folder: ``python tests/media/make_media.py``.

- ``tiny.png``: 8x8 RGB PNG (a red/blue checkerboard), valid PNG with CRCs.
- ``tiny.wav``: 0.1 s of a 440 Hz sine, 8 kHz mono 16-bit PCM.
- ``tiny.mp3``: 4 MPEG-1 Layer III frames (128 kbit/s, 44.1 kHz, mono) of silence: valid frame
  headers and side info of zeros, so decoders accept it as silence.
"""

from __future__ import annotations

import math
import struct
import wave
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent


def png(size: int = 8) -> bytes:
    """An RGB checkerboard PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    rows = b"".join(
        b"\x00" + b"".join(b"\xff\x00\x00" if (x + y) % 2 else b"\x00\x00\xff" for x in range(size))
        for y in range(size)
    )
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 9))
        + chunk(b"IEND", b"")
    )


def write_wav(path: Path, seconds: float = 0.1, rate: int = 8000) -> None:
    """A short sine tone."""
    frames = b"".join(
        struct.pack("<h", int(12000 * math.sin(2 * math.pi * 440 * i / rate)))
        for i in range(int(seconds * rate))
    )
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(frames)


def mp3(frames: int = 4) -> bytes:
    """Silent MPEG-1 Layer III frames: 0xFFFB, 128 kbit/s, 44.1 kHz, no padding, mono."""
    header = bytes([0xFF, 0xFB, 0x90, 0xC4])
    length = 144 * 128_000 // 44_100  # 417 bytes per frame
    return (header + bytes(length - len(header))) * frames


def main() -> None:
    """Write the three files."""
    (HERE / "tiny.png").write_bytes(png())
    write_wav(HERE / "tiny.wav")
    (HERE / "tiny.mp3").write_bytes(mp3())


if __name__ == "__main__":
    main()
