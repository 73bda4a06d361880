"""Decompression bombs: bodies of a few KB that inflate to hundreds of MiB of zeros.

Each is made the way a server would send it under one ``Content-Encoding``: ``gzip``
(RFC 1952), ``deflate`` (the zlib format, RFC 1950), ``zstd`` (one frame, made with
``zstandard`` when it is installed) and ``br`` (brotli; the bytes are kept here, so no brotli
package is needed to send them).
"""

from __future__ import annotations

import base64
import zlib

MIB = 1 << 20
ENCODINGS = ("gzip", "deflate", "br", "zstd")

# 512 MiB of zeros as brotli (quality 5, in 1 MiB pieces): 809 bytes. Made once with
# ``brotli.Compressor(quality=5)``; sha256 of the bytes 7019b5d07c483863881a2381f31ca43f...
BROTLI_512_MIB = base64.b64decode(
    "y///PwAkAOKxQHLv//j//weABEAcFoDu/R////8AkACIwwLQvf/j//8fABIAcVgAuvd//P//A0ACIA4LQPf+j///"
    "fwBIAMRhAeje//H//w8ACYA4LADd+z/+//8BIAEQhwWge//H//8/ACQA4rAAdO//+P//B4AEQBwWgO79H////wCQ"
    "AIjDAtC9/+P//x8AEgBxWAC693/8//8DQAIgDgtA9/6P//9/AEgAxGEB6N7/8f//DwAJgDgsAN37P/7//wEgARCH"
    "BaB7/8f//z8AJADisAB07//4//8HgARAHBaA7v0f////AJAAiMMC0L3/4///HwASAHFYALr3f/z//wNAAiAOC0D3"
    "/o///38ASADEYQHo3v/x//8PAAmAOCwA3fs//v//ASABEIcFoHv/x///PwAkAOKwAHTv//j//weABEAcFoDu/R//"
    "//8AkACIwwLQvf/j//8fABIAcVgAuvd//P//A0ACIA4LQPf+j///fwBIAMRhAeje//H//w8ACYA4LADd+z/+//8B"
    "IAEQhwWge//H//8/ACQA4rAAdO//+P//B4AEQBwWgO79H////wCQAIjDAtC9/+P//x8AEgBxWAC693/8//8DQAIg"
    "DgtA9/6P//9/AEgAxGEB6N7/8f//DwAJgDgsAN37P/7//wEgARCHBaB7/8f//z8AJADisAB07//4//8HgARAHBaA"
    "7v0f////AJAAiMMC0L3/4///HwASAHFYALr3f/z//wNAAiAOC0D3/o///38ASADEYQHo3v/x//8PAAmAOCwA3fs/"
    "/v//ASABEIcFoHv/x///PwAkAOKwAHTv//j//weABEAcFoDu/R////8AkACIwwLQvf/j//8fABIAcVgAuvd//P//"
    "A0ACIA4LQPf+j///fwBIAMRhAeje//H//w8ACYA4LADd+z/+//8BIAEQhwWge//H//8/ACQA4rAAdO//+P//B4AE"
    "QBwWgO79H////wCQAIjDAtC9/+P//x8AEgBxWAC693/8//8DQAIgDgtA9/6P//9/AEgAxGEB6N7/8f//DwAJgDgs"
    "AN37P/7//wEgARCHBaB7/zc="
)


def compressed_zeros(encoding: str, size: int) -> bytes:
    """``size`` bytes of zeros (a multiple of 1 MiB) compressed for ``Content-Encoding``."""
    if encoding == "br":
        if size != 512 * MIB:
            raise ValueError("the brotli bomb kept here inflates to 512 MiB")
        return BROTLI_512_MIB
    block = bytes(MIB)
    if encoding == "zstd":
        import zstandard

        packer = zstandard.ZstdCompressor(level=3).compressobj()
        return b"".join(packer.compress(block) for _ in range(size // MIB)) + packer.flush()
    wbits = {"gzip": 31, "deflate": 15}[encoding]
    deflater = zlib.compressobj(9, zlib.DEFLATED, wbits)
    return b"".join(deflater.compress(block) for _ in range(size // MIB)) + deflater.flush()
