"""Bytes that count what concatenating them copies: a clock-free test of linear decoding.

A decoder that joins a growing buffer with each new piece (``buffer + piece``) calls
``Counted.__radd__`` every time; one that keeps pieces and joins once does not.
"""

from __future__ import annotations


class Counted(bytes):
    """Bytes whose concatenations add their copied length to ``Counted.copied``."""

    copied = 0

    def __radd__(self, other: bytes) -> bytes:
        Counted.copied += len(other) + len(self)
        return bytes(other) + bytes(self)

    def __add__(self, other: bytes) -> bytes:  # type: ignore[override]
        Counted.copied += len(self) + len(other)
        return bytes(self) + bytes(other)
