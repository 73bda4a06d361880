"""Turn bytes or local files into what the API accepts, checking formats and sizes first."""

from __future__ import annotations

import base64
import io
import os
import stat
from pathlib import Path
from typing import BinaryIO, cast

from stepfun_core.errors import InvalidParameterError, one_of, quoted

IMAGE_TYPES = {
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/webp": (b"RIFF",),
    "image/gif": (b"GIF87a", b"GIF89a"),
}
AUDIO_TYPES = {
    "audio/mpeg": (),  # told by its frame header (_mp3_frame), also behind an ID3 tag
    "audio/wav": (b"RIFF",),
}
# URLs the API fetches itself, passed on as they are (``stepfile://<file_id>`` names a file
# uploaded with ``POST /v1/files``: docs/wire.md#content-parts).
IMAGE_URL_PREFIXES = ("http://", "https://", "data:image/", "stepfile://")
# The reference names http(s) only; StepFun's video guide also shows stepfile:// and base64 mp4
# (docs/wire.md#content-parts): both are sent, the server has the last word.
VIDEO_URL_PREFIXES = ("http://", "https://", "stepfile://", "data:video/mp4;base64,")
# Limits from StepFun's docs (docs/wire.md#content-parts): per image and per clip; a video
# 128 MB (its container is the server's to read).
MAX_IMAGE_BYTES = 20 * 1024 * 1024
MAX_VIDEO_BYTES = 128 * 1024 * 1024
# Per request: 60 images, 20 MB together (MAX_IMAGE_BYTES); 30 audio clips, 10 MB of them as
# base64, so one clip is at most the bytes whose base64 is 10 MB.
MAX_IMAGES = 60
MAX_AUDIO_CLIPS = 30
MAX_AUDIO_BASE64 = 10 * 1024 * 1024
MAX_AUDIO_BYTES = MAX_AUDIO_BASE64 * 3 // 4
MAX_MEDIA_BYTES = max(MAX_IMAGE_BYTES, MAX_AUDIO_BYTES)  # a file larger is never read
_EXTENSIONS = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".webp": "image/webp",
    ".gif": "image/gif",
    ".mp3": "audio/mpeg",
    ".wav": "audio/wav",
}
_ALIASES = {
    "image/jpg": "image/jpeg",
    "audio/mp3": "audio/mpeg",
    "audio/x-wav": "audio/wav",
    "audio/wave": "audio/wav",
    "audio/vnd.wave": "audio/wav",
    "mp3": "audio/mpeg",
    "wav": "audio/wav",
}


Source = bytes | bytearray | memoryview | str | os.PathLike[str] | io.IOBase | BinaryIO


def _read_open_file(source: io.IOBase | BinaryIO) -> bytes:
    """A binary file object's bytes from its start, read only within the largest limit."""
    try:
        size = source.seek(0, os.SEEK_END)
        source.seek(0)
        data = cast(BinaryIO, source).read() if size <= MAX_MEDIA_BYTES else b""
    except (OSError, ValueError) as exc:  # not seekable, or closed
        raise InvalidParameterError(f"media: the file object cannot be read: {exc}") from exc
    if size > MAX_MEDIA_BYTES:
        raise InvalidParameterError(f"media: {size} bytes is more than StepFun takes")
    if not isinstance(data, bytes):
        raise InvalidParameterError("media: a file object must be opened in binary mode ('rb')")
    return data


def read_media(source: Source) -> tuple[bytes, str | None]:
    """Return the bytes of a source and the MIME type its file name suggests."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source), None
    if callable(getattr(source, "read", None)):
        return _read_open_file(cast(BinaryIO, source)), None  # or a wrapper (NamedTemporaryFile)
    if not isinstance(source, (str, os.PathLike)):
        raise InvalidParameterError(
            f"media: expected bytes, a file object, a path or a URL, got {type(source).__name__}"
        )
    path = Path(source)
    try:
        # Only a regular file within the largest limit is read: /dev/zero or a pipe would be
        # read without end before any size check.
        status = path.stat()
        if not stat.S_ISREG(status.st_mode):
            raise OSError(0, "not a regular file")
        if status.st_size > MAX_MEDIA_BYTES:
            raise OSError(0, "larger than any media StepFun takes")
        data = path.read_bytes()
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
        reason = exc.strerror if isinstance(exc, OSError) else str(exc)
        raise InvalidParameterError(f"media file {str(path)!r} cannot be read: {reason}") from exc
    return data, _EXTENSIONS.get(path.suffix.lower())


def sniff_mime_type(data: bytes) -> str | None:
    """The MIME type of image or audio bytes from their magic numbers, or None."""
    if data.startswith(b"RIFF"):
        kind = data[8:12]
        return "image/webp" if kind == b"WEBP" else "audio/wav" if kind == b"WAVE" else None
    for table in (IMAGE_TYPES, AUDIO_TYPES):
        for mime, signatures in table.items():
            if any(data.startswith(sig) for sig in signatures):
                return mime
    if data.startswith(b"ID3"):
        return _after_id3(data)
    return "audio/mpeg" if _mp3_frame(data) else None


def _mp3_frame(data: bytes) -> bool:
    """An MPEG audio frame: 11 set sync bits, a version not the reserved 01, and layer III (01).

    AAC's ADTS frames share the sync bits, with layer 00.
    """
    return len(data) >= 2 and data[0] == 0xFF and data[1] & 0xE6 == 0xE2 and data[1] & 0x18 != 0x08


def _after_id3(data: bytes) -> str | None:
    """mp3, unless the ID3 tag is followed by another format (AAC in HLS segments, FLAC, mp2)."""
    # The tag's size is 4 bytes of 7 bits (ID3v2.4 §3.1), plus a footer when its flag is set.
    size = sum((byte & 0x7F) << (7 * (3 - i)) for i, byte in enumerate(data[6:10]))
    after = data[10 + size + (10 if len(data) > 5 and data[5] & 0x10 else 0) :][:4]
    mpeg_sync = len(after) >= 2 and after[0] == 0xFF and after[1] & 0xE0 == 0xE0
    other = after.startswith(b"fLaC") or (mpeg_sync and not _mp3_frame(after))
    return None if other else "audio/mpeg"  # unseen (past the bytes at hand) or padded: mp3


def base64_mime_type(data: str | bytes) -> str | None:
    """The MIME type the first bytes of base64 data show; None if unknown or not base64."""
    try:
        return sniff_mime_type(base64.b64decode(data[:24], validate=True))
    except ValueError:
        return None


def normalize_mime_type(mime_type: str) -> str:
    """Map spelling variants (image/jpg, audio/mp3, wav) to one name."""
    mime = mime_type.strip().lower().split(";")[0]
    return _ALIASES.get(mime, mime)


# What each kind of media may be: its formats (by MIME type) and its size limit.
MEDIA_KINDS: dict[str, tuple[dict[str, tuple[bytes, ...]], int]] = {
    "image": (IMAGE_TYPES, MAX_IMAGE_BYTES),
    "audio": (AUDIO_TYPES, MAX_AUDIO_BYTES),
}


def check_media(data: bytes, mime_type: str | None, field: str, kind: str) -> str:
    """Media bytes' MIME type, checked (a GIF declared PNG is refused); errors name ``field``."""
    table, limit = MEDIA_KINDS[kind]
    if mime_type is not None and not isinstance(mime_type, str):
        raise InvalidParameterError(f"{field}: mime_type must be a string such as 'image/png'")
    if not data:
        raise InvalidParameterError(f"{field}: the data is empty")
    found = sniff_mime_type(data)
    mime = normalize_mime_type(mime_type) if mime_type else found
    if mime is None:
        raise InvalidParameterError(f"{field}: unknown format; supported: {sorted(table)}")
    if mime not in table:
        raise InvalidParameterError(
            f"{field}: format {quoted(mime)} is not supported; use {sorted(table)}"
        )
    if found != mime:
        what = f"{found} data" if found else "data in no format StepFun accepts"
        raise InvalidParameterError(f"{field}: declared as {mime} but holds {what}")
    if len(data) > limit:
        raise InvalidParameterError(
            f"{field}: {len(data)} bytes is over the {limit / 2**20:g} MB limit"
        )
    return mime


def data_url(source: Source, mime_type: str | None, kind: str) -> str:
    """Bytes or a file as a ``data:`` URL, checked as ``kind`` ("image" or "audio")."""
    data, guessed = read_media(source)
    mime = check_media(data, mime_type or guessed, kind, kind)
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def image_part(
    source: Source, *, detail: str | None = None, mime_type: str | None = None
) -> dict[str, object]:
    """An ``image_url`` part from a URL (http(s), data, stepfile://), bytes, a path or a file."""
    if isinstance(source, str) and source.startswith(IMAGE_URL_PREFIXES):
        url = source
    else:
        url = data_url(source, mime_type, "image")
    image: dict[str, str] = {"url": url}
    if detail is not None:
        image["detail"] = one_of("image detail", detail, ("low", "high"))
    return {"type": "image_url", "image_url": image}


def audio_part(source: Source, mime_type: str | None = None) -> dict[str, object]:
    """An ``input_audio`` part from mp3/wav bytes, a file (path or object) or a data URL."""
    # The spec's input_audio holds only a data URL; the MIME type in it names the format.
    scheme = source[:12].lower() if isinstance(source, str) else ""
    if scheme.startswith("data:"):
        data = cast(str, source)  # checked when the request is built, as any message's data URL
    elif scheme.startswith(("http://", "https://", "stepfile://")):
        msg = f"audio: {quoted(source)} is a URL; StepFun takes audio as data (bytes or a file)"
        raise InvalidParameterError(msg)
    else:
        data = data_url(source, mime_type, "audio")
    return {"type": "input_audio", "input_audio": {"data": data}}


def video_part(url: str) -> dict[str, object]:
    """A ``video_url`` content part from an http(s), stepfile:// or mp4 data URL."""
    if not isinstance(url, str) or not url.startswith(VIDEO_URL_PREFIXES):
        raise InvalidParameterError(
            f"video: {str(url)[:60]!r} is not an http(s) URL; StepFun takes videos by URL "
            "(or stepfile:// for an uploaded file, or a data:video/mp4;base64, URL)"
        )
    return {"type": "video_url", "video_url": {"url": url}}
