"""Settings, the model catalog and the media helpers."""

from __future__ import annotations

import base64
import io
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
import pytest

from stepfun_core import (
    CHINA_BASE_URL,
    CHINA_STEP_PLAN_BASE_URL,
    DEFAULT_BASE_URL,
    INTERNATIONAL_STEP_PLAN_BASE_URL,
    InvalidParameterError,
    MissingAPIKeyError,
    StepFunClient,
    audio_part,
    build_chat_request,
    get_model_info,
    image_part,
    request,
    resolve_api_key,
    resolve_base_url,
    video_part,
)
from stepfun_core.media import MAX_IMAGE_BYTES, MAX_IMAGES

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 16
PNG_B64 = base64.b64encode(PNG).decode()
WAV = b"RIFF\x24\0\0\0WAVEfmt " + b"\0" * 16
MP3 = b"ID3\x03\0\0\0\0\0\0" + b"\0" * 16


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("STEP_API_KEY", "STEPFUN_API_KEY", "STEP_BASE_URL", "STEPFUN_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


def test_base_urls() -> None:
    assert DEFAULT_BASE_URL == "https://api.stepfun.ai/v1"
    assert CHINA_BASE_URL == "https://api.stepfun.com/v1"
    assert INTERNATIONAL_STEP_PLAN_BASE_URL == "https://api.stepfun.ai/step_plan/v1"
    assert CHINA_STEP_PLAN_BASE_URL == "https://api.stepfun.com/step_plan/v1"


def test_key_and_url_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STEPFUN_API_KEY", "second")
    assert resolve_api_key() == "second"
    monkeypatch.setenv("STEP_API_KEY", "first")
    assert resolve_api_key() == "first"
    assert resolve_api_key("explicit") == "explicit"
    assert resolve_base_url() == DEFAULT_BASE_URL
    monkeypatch.setenv("STEPFUN_BASE_URL", CHINA_BASE_URL + "/")
    assert resolve_base_url() == CHINA_BASE_URL
    monkeypatch.setenv("STEP_BASE_URL", CHINA_STEP_PLAN_BASE_URL)
    assert resolve_base_url() == CHINA_STEP_PLAN_BASE_URL


def test_empty_variables_are_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STEP_API_KEY", "")
    monkeypatch.setenv("STEPFUN_API_KEY", "sk-second")
    monkeypatch.setenv("STEP_BASE_URL", " ")
    monkeypatch.setenv("STEPFUN_BASE_URL", CHINA_BASE_URL)
    assert resolve_api_key() == "sk-second"
    assert resolve_base_url() == CHINA_BASE_URL
    assert StepFunClient().base_url == CHINA_BASE_URL


def test_missing_key_names_both_variables() -> None:
    with pytest.raises(MissingAPIKeyError) as caught:
        StepFunClient()
    assert "STEP_API_KEY" in str(caught.value) and "STEPFUN_API_KEY" in str(caught.value)


def test_repr_hides_the_key() -> None:
    client = StepFunClient(api_key="sk-secret-value")
    assert "sk-secret-value" not in repr(client) and "sk-secret-value" not in str(
        vars(client).keys()
    )


def test_catalog() -> None:
    flash = get_model_info("step-3.7-flash")
    assert flash.context_window == 256_000 and flash.image_input and flash.video_input
    assert flash.reasoning_efforts == ("low", "medium", "high")
    assert get_model_info("step-3.5-flash-2603").reasoning_efforts == ("low", "high")
    assert not get_model_info("step-3.5-flash").image_input
    assert get_model_info("step-5-preview").context_window == 1_000_000
    dated = get_model_info("step-3.7-flash-2612")
    assert dated.image_input and not dated.known
    unknown = get_model_info("brand-new-model")
    assert not unknown.known and unknown.context_window > 0 and unknown.tool_calling


def test_image_part_from_bytes_file_and_url(tmp_path: Path) -> None:
    path = tmp_path / "a.png"
    path.write_bytes(PNG)
    from_bytes = image_part(PNG, detail="high")
    assert from_bytes == {
        "type": "image_url",
        "image_url": {
            "url": "data:image/png;base64," + base64.b64encode(PNG).decode(),
            "detail": "high",
        },
    }
    assert image_part(path)["image_url"] == {"url": from_bytes["image_url"]["url"]}  # type: ignore[index]
    assert image_part("https://x/y.jpg") == {
        "type": "image_url",
        "image_url": {"url": "https://x/y.jpg"},
    }


def test_audio_part_mp3_and_wav(tmp_path: Path) -> None:
    assert audio_part(WAV)["input_audio"]["data"].startswith("data:audio/wav;base64,")  # type: ignore[index]
    path = tmp_path / "a.mp3"
    path.write_bytes(MP3)
    assert audio_part(path)["input_audio"]["data"].startswith("data:audio/mpeg;base64,")  # type: ignore[index]


def test_audio_part_takes_a_data_url_and_names_a_url_it_cannot_send() -> None:
    # Round 13: a URL was read as a file path ("media file 'https:/e.com/q.wav' cannot be read").
    for url in ("https://e.com/q.wav", "stepfile://file-1", "HTTPS://E.COM/Q.WAV"):
        with pytest.raises(InvalidParameterError, match="is a URL; StepFun takes audio as data"):
            audio_part(url)
    wav = "data:audio/wav;base64," + base64.b64encode(WAV).decode()
    part = audio_part(wav)
    assert part == {"type": "input_audio", "input_audio": {"data": wav}}
    user = [{"role": "user", "content": [audio_part("data:audio/wav;base64,UklGRg=")]}]
    with pytest.raises(InvalidParameterError, match="base64"):
        build_chat_request("step-audio-2", user)  # its data is checked with the request


def test_a_media_file_over_every_limit_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "huge.png"
    with path.open("wb") as sparse:  # no disk is spent: the size is all that is read
        sparse.truncate(MAX_IMAGE_BYTES + 1)
    with pytest.raises(InvalidParameterError, match="larger than any media"):
        image_part(path)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: image_part(b"GIF89a" + b"\0" * 8, mime_type="image/bmp"), "image/bmp"),
        (lambda: image_part(b"hello"), "unknown format"),
        (lambda: image_part(b""), "empty"),
        (lambda: image_part(b"\x89PNG\r\n\x1a\n" + b"\0" * MAX_IMAGE_BYTES), "limit"),
        (lambda: image_part("/no/such/file.png"), "cannot be read"),
        (lambda: image_part("a\0b.png"), "cannot be read: .*embedded null"),  # worded per version
        (lambda: image_part(42), "expected bytes, a file object, a path or a URL, got int"),  # type: ignore[arg-type]
        (lambda: image_part(PNG, detail="auto"), "detail"),
        # Read without end before any size check (a MemoryError, or a pipe that blocks).
        (lambda: image_part("/dev/zero"), "cannot be read: not a regular file"),
        # A TypeError or an AttributeError from the type's normalization.
        (lambda: image_part(PNG, mime_type=b"image/png"), "mime_type must be a string"),  # type: ignore[arg-type]
        (lambda: audio_part(b"fLaC" + b"\0" * 8, mime_type="audio/flac"), "audio/flac"),
        # Review of round 11: a clip whose base64 is over the request's 10 MB was taken here,
        # then refused by every request that held it.
        (lambda: audio_part(WAV + bytes(8 << 20)), "over the 7.5 MB limit"),
        (lambda: video_part("file:///tmp/a.mp4"), "http(s) URL"),
        # StepFun's video guide shows base64 mp4 (docs/wire.md#content-parts): only that.
        (lambda: video_part("data:video/webm;base64,AA"), "http(s) URL"),
    ],
)
def test_media_errors_are_clear(call, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(
        InvalidParameterError, match=message.replace("(", r"\(").replace(")", r"\)")
    ):
        call()


def test_media_from_a_memoryview() -> None:
    assert image_part(memoryview(PNG)) == image_part(PNG)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"api_key": 123}, "api_key: must be a string, got int"),
        ({"base_url": httpx.URL("https://x/v1")}, "base_url: must be a string, got URL"),
        ({"default_headers": [("X-A", "b")]}, "default_headers: must be a mapping"),
        ({"default_headers": {"Content-Length": "5"}}, "Content-Length is set by the HTTP client"),
        ({"default_headers": {"transfer-encoding": "chunked"}}, "transfer-encoding is set by"),
        ({"base_url": "http://xn--stepfun-.ai/v1"}, "is not a valid URL"),  # a bad IDNA label
        # UnicodeError from Python's idna codec, in sync calls only, when the host was looked up.
        ({"base_url": "http://api..stepfun.example/v1"}, "empty or over-long part"),
        ({"base_url": f"http://{'a' * 64}.example/v1"}, "empty or over-long part"),
        # Round 13: the hint said None, which gives the defaults (5 s to connect, 600 s to read).
        ({"timeout": float("inf")}, r"a wait can last; httpx\.Timeout\(None\) means no limit"),
        ({"timeout": httpx.Timeout(float("inf"))}, "timeout: inf seconds"),
        ({"total_timeout": 1e12}, "total_timeout: 1000000000000.0 seconds is more than"),
        ({"stream_idle_timeout": float("inf")}, "stream_idle_timeout: inf .*; None means no"),
        # Round 14: 0 is off (as langchain-openai's stream_chunk_timeout); no other empty value.
        ({"stream_idle_timeout": ""}, "stream_idle_timeout: must be a number of seconds of at"),
        ({"stream_idle_timeout": False}, "stream_idle_timeout: must be a number of seconds of"),
        ({"stream_idle_timeout": -1}, "stream_idle_timeout: must be a number of seconds of at"),
        # An OverflowError from zlib once a compressed reply came.
        ({"max_response_bytes": 2**63}, "max_response_bytes: must be below"),
        # A ValueError from Python's limit on an int's digits, while the message was made.
        ({"max_retries": -(10**5000)}, "max_retries: .* got an int of 16610 bits"),
        ({"timeout": 10**5000}, "timeout: an int of 16610 bits seconds is more than"),
    ],
)
def test_settings_of_the_wrong_kind_are_refused_before_sending(
    options: dict[str, object], message: str
) -> None:
    # Each once escaped as a Python error: AttributeError, idna's IDNAError, h11's
    # LocalProtocolError after the headers went out, or OverflowError in a blocking wait.
    with pytest.raises(InvalidParameterError, match=message):
        StepFunClient(**{"api_key": "sk-x", **options})


def test_uploaded_files_pass_as_the_request_check_takes_them() -> None:
    # stepfile://<file_id> names a file uploaded to StepFun (docs/wire.md#content-parts): the
    # request check took it while the part helpers read it as a local path or refused it.
    image, video = image_part("stepfile://file-1"), video_part("stepfile://file-2")
    assert image == {"type": "image_url", "image_url": {"url": "stepfile://file-1"}}
    assert video == {"type": "video_url", "video_url": {"url": "stepfile://file-2"}}
    build_chat_request("step-3.7-flash", [{"role": "user", "content": [image, video]}])


def test_video_part() -> None:
    assert video_part("https://x/a.mp4") == {
        "type": "video_url",
        "video_url": {"url": "https://x/a.mp4"},
    }


def test_core_imports_no_framework() -> None:
    code = (
        "import stepfun_core, sys; "
        "assert not any(m.startswith(('langchain', 'llama_index')) for m in sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("url", ["http://api.stepfun.ai/v1", "http://API.stepfun.com./v1"])
def test_plain_http_to_stepfun_is_refused(url: str) -> None:
    # The key would travel in clear text; other hosts (a gateway, loopback) may use http.
    with pytest.raises(InvalidParameterError, match="https://"):
        StepFunClient(api_key="sk-x", base_url=url)
    assert StepFunClient(api_key="sk-x", base_url="http://stepfun.ai.example/v1").base_url


def test_json_schema_is_claimed_only_for_the_current_generation() -> None:
    assert get_model_info("step-3.7-flash").json_schema
    assert get_model_info("step-3.7-flash-2611").json_schema  # a dated variant of its family
    assert not get_model_info("step-1-8k").json_schema
    assert not get_model_info("step-audio-2").json_schema
    assert not get_model_info("some-new-model").json_schema  # unknown: the safe default


def test_a_history_of_hundreds_of_images_is_decoded_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # The check remembered 256 data URLs: with 300 images in a history (now five histories, as a
    # request takes 60), each was pushed out before its next turn, and every call decoded them all.
    decoded: list[int] = []
    real = request.check_media

    def counting(content: bytes, *args: object) -> None:
        decoded.append(len(content))
        real(content, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(request, "check_media", counting)
    monkeypatch.setattr(request, "_CHECKED_MEDIA", {})
    images = [PNG + i.to_bytes(2, "big") for i in range(300)]  # bytes after IEND: still a PNG
    history = [
        {"role": "user", "content": [image_part(image, mime_type="image/png")]} for image in images
    ]
    for _ in range(3):
        for start in range(0, 300, MAX_IMAGES):
            build_chat_request("step-1o-turbo-vision", history[start : start + MAX_IMAGES])
    assert len(decoded) == 300


def test_videos_go_by_url_uploaded_file_or_base64_mp4() -> None:
    for url in ("https://example.com/a.mp4", "stepfile://file-1", "data:video/mp4;base64,AAAA"):
        assert video_part(url) == {"type": "video_url", "video_url": {"url": url}}


def _images(count: int, size: int) -> list[dict[str, object]]:
    data = base64.b64encode(PNG + bytes(size)).decode()
    url = f"data:image/png;base64,{data}"
    return [{"type": "image_url", "image_url": {"url": url}}] * count


def _clips(count: int, size: int) -> list[dict[str, object]]:
    data = f"data:audio/wav;base64,{base64.b64encode(WAV + bytes(size)).decode()}"
    return [{"type": "input_audio", "input_audio": {"data": data}}] * count


@pytest.mark.parametrize(
    ("over", "under", "message"),
    [
        (_images(3, 7 << 20), _images(2, 7 << 20), "bytes of images; StepFun takes 20 MB"),
        (_clips(31, 0), _clips(30, 0), "31 audio clips; StepFun takes 30"),
        (_clips(2, 4 << 20), _clips(1, 4 << 20), "bytes of base64 audio; StepFun takes 10 MB"),
        # Hostile round 12: 61 images went out (StepFun's English docs: up to 60).
        (_images(61, 0), _images(60, 0), "61 images; StepFun takes 60"),
    ],
    ids=["image-bytes", "clip-count", "audio-bytes", "image-count"],
)
def test_the_request_wide_media_limits_are_checked_before_sending(
    over: list[dict[str, object]], under: list[dict[str, object]], message: str
) -> None:
    # Hostile round 11: only each image and clip was checked; 36 MB of images went out, to be
    # refused by the server (StepFun's docs: images 20 MB together; 30 clips and 10 MB of
    # base64 audio). Media in earlier turns count too: the whole request is what is sent.
    half = len(over) // 2
    history = [
        {"role": "user", "content": over[:half]},
        {"role": "assistant", "content": "Seen."},
        {"role": "user", "content": over[half:]},
    ]
    with pytest.raises(InvalidParameterError, match=message):
        build_chat_request("step-3.5-flash", history)
    build_chat_request("step-3.5-flash", [{"role": "user", "content": under}])


@pytest.mark.parametrize("padding", [0, 1, 2], ids=["no-padding", "one-equals", "two-equals"])
def test_images_exactly_at_the_limits_are_sent(padding: int) -> None:
    # Found in session 11: the size told from the base64 text counted its "=" padding as data,
    # so 4 images of 5 MiB (the benchmark's history) were refused as over the 20 MB limit.
    # An image as large as allowed, less 0-2 bytes so its base64 ends in 0, 1 or 2 "=": sent.
    assert MAX_IMAGE_BYTES % 3 == 2  # so these many bytes less give that padding
    short = {0: 2, 1: 0, 2: 1}[padding]
    [image] = _images(1, MAX_IMAGE_BYTES - len(PNG) - short)
    assert str(image["image_url"]).count("=") == padding
    build_chat_request("step-3.5-flash", [{"role": "user", "content": [image]}])
    with pytest.raises(InvalidParameterError, match="limit"):
        build_chat_request(
            "step-3.5-flash", [{"role": "user", "content": _images(1, MAX_IMAGE_BYTES)}]
        )
    # Four images of exactly a quarter of the request's limit go; a byte more does not.
    quarters = _images(4, MAX_IMAGE_BYTES // 4 - len(PNG))
    build_chat_request("step-3.5-flash", [{"role": "user", "content": quarters}])
    over = [*quarters[:3], *_images(1, MAX_IMAGE_BYTES // 4 - len(PNG) + 1)]
    with pytest.raises(InvalidParameterError, match="bytes of images"):
        build_chat_request("step-3.5-flash", [{"role": "user", "content": over}])


# Hostile round 12 (session 12): what the media checks let through or said wrongly.


def test_aac_is_not_taken_for_mp3() -> None:
    # An AAC (ADTS) frame shares MPEG audio's 11 sync bits; it went out labelled audio/mpeg.
    adts = b"\xff\xf1\x50\x80" + bytes(16)
    with pytest.raises(InvalidParameterError, match="unknown format"):
        audio_part(adts)
    for frame in (b"\xff\xfb", b"\xff\xf3", b"\xff\xe3"):  # MPEG-1, -2 and -2.5 layer III
        assert "audio/mpeg" in str(audio_part(frame + bytes(16)))
    # Behind an ID3 tag (HLS packs AAC segments so): the frame after the tag tells.
    tag = b"ID3\x04\x00\x00\x00\x00\x00\x05" + bytes(5)  # a 5-byte tag body
    for other in (adts, b"\xff\xfd" + bytes(16), b"fLaC" + bytes(16)):  # AAC, mp2, FLAC
        with pytest.raises(InvalidParameterError, match="unknown format"):
            audio_part(tag + other)
    assert "audio/mpeg" in str(audio_part(tag + b"\xff\xfb" + bytes(16)))
    assert "audio/mpeg" in str(audio_part(MP3))  # a tag longer than the bytes at hand


def test_media_from_a_binary_file_object_is_read_within_the_limits(tmp_path: Path) -> None:
    assert image_part(io.BytesIO(PNG)) == image_part(PNG)
    path = tmp_path / "huge.png"
    with path.open("wb") as sparse:
        sparse.truncate(MAX_IMAGE_BYTES + 1)
    with path.open("rb") as huge, pytest.raises(InvalidParameterError, match="more than StepFun"):
        image_part(huge)  # refused by its size: nothing read
    (tmp_path / "small.png").write_bytes(PNG)
    text = (tmp_path / "small.png").open("r", encoding="latin-1")
    with text, pytest.raises(InvalidParameterError, match="binary mode"):
        image_part(text)
    closed = io.BytesIO(PNG)
    closed.close()
    with pytest.raises(InvalidParameterError, match="file object cannot be read"):
        image_part(closed)
    with pytest.raises(InvalidParameterError, match="empty"):
        audio_part(io.BytesIO())
    with tempfile.NamedTemporaryFile() as wrapper:  # not an io.IOBase: a wrapper of one
        wrapper.write(PNG)
        assert image_part(wrapper) == image_part(PNG)


@pytest.mark.parametrize(
    ("part", "message"),
    [
        ({"type": "input_audio", "input_audio": {"data": base64.b64encode(WAV).decode()}}, "data:"),
        ({"type": "input_audio", "input_audio": {"data": "https://x.test/a.wav"}}, "data:"),
        ({"type": "input_audio", "input_audio": {"data": "DATA:audio/wav;base64,AAAA"}}, "data:"),
        ({"type": "video_url", "video_url": {"url": "data:video/mp4;base64,%%%%"}}, "base64"),
        ({"type": "video_url", "video_url": {"url": "data:video/mp4;base64,"}}, "empty"),
        # Base64 with padding it should not have: counted as fewer bytes than it decodes to.
        (
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_B64}===="}},
            "base64",
        ),
        (
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_B64}=="}},
            "base64",
        ),
        # The separator forgotten: the error quotes the start of the data, not megabytes of it.
        (
            {"type": "image_url", "image_url": {"url": "data:image/png" + "A" * 10**6}},
            "not supported",
        ),
    ],
    ids=[
        "raw-base64-audio",
        "audio-url",
        "upper-case-data",
        "video-not-base64",
        "video-empty",
        "whole-padding-quantum",
        "excess-padding",
        "no-separator",
    ],
)
def test_every_media_data_url_is_checked_before_sending(
    part: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidParameterError, match=message) as caught:
        build_chat_request("step-3.7-flash", [{"role": "user", "content": [part]}])
    assert len(str(caught.value)) < 300


def test_a_video_data_url_over_128_mb_is_refused_unread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(request, "MAX_VIDEO_BYTES", 30)
    video = {"type": "video_url", "video_url": {"url": "data:video/mp4;base64," + "A" * 44}}
    with pytest.raises(InvalidParameterError, match="over the"):
        build_chat_request("step-3.7-flash", [{"role": "user", "content": [video]}])
    video["video_url"] = {"url": "data:video/mp4;base64," + "A" * 40}
    build_chat_request("step-3.7-flash", [{"role": "user", "content": [video]}])
