"""Bad input: each case fails before any request is sent, with a message naming the problem.

The same mistake is made the way a user of each entry point would make it (core wire dicts,
LangChain content blocks and ``bind_tools``, LlamaIndex blocks and tools), sync and async,
streamed and not; the replica must see no request at all.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import stepfun_core as core
from stepfun_core import MissingAPIKeyError
from tests.reliability.conftest import (
    PROMPT,
    SECRET,
    TARGETS,
    Combo,
    Outcome,
    Row,
    build,
    combos,
)
from tests.replica import Replica

MEDIA = Path(__file__).resolve().parents[1] / "media"
MISSING = "/nonexistent/reliability/cat.png"
PNG = (MEDIA / "tiny.png").read_bytes()
BMP = b"BM" + bytes(64)
HUGE_PNG = PNG + bytes(21 * 1024 * 1024)  # over the 20 MB image limit
BAD_TOOL = "get weather!"


def _weather(city: str) -> str:
    """Weather of a city."""
    return city


def _bad_tool_dict() -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": BAD_TOOL,
            "description": "Weather of a city.",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }


def _user(target: str, parts: Callable[[], dict[str, Any]]) -> Any:
    """A user message holding a text part and one media part built the entry point's way."""
    if target == "core":
        return [{"role": "user", "content": [{"type": "text", "text": "Look:"}, parts()]}]
    if target == "langchain":
        from langchain_core.messages import HumanMessage

        return [HumanMessage(content=[{"type": "text", "text": "Look:"}, parts()])]
    from llama_index.core.base.llms.types import ChatMessage, TextBlock

    return [ChatMessage(role="user", blocks=[TextBlock(text="Look:"), parts()])]


# Each case: (description, text the error must contain, builder(target, instance) -> (prompt,
# params)). Builders may raise: that too happens before any request.
def _temperature(target: str, inst: Any) -> tuple[Any, dict[str, Any]]:
    return PROMPT, {"temperature": 3.0}


def _max_tokens(target: str, inst: Any) -> tuple[Any, dict[str, Any]]:
    return PROMPT, {"max_tokens": 0}


def _tool_name(target: str, inst: Any) -> tuple[Any, dict[str, Any]]:
    if target == "core":
        return PROMPT, {"tools": [_bad_tool_dict()]}
    if target == "langchain":
        return PROMPT, {"runnable": inst.bind_tools([_bad_tool_dict()])}
    from llama_index.core.tools import FunctionTool

    return PROMPT, {"tools": [FunctionTool.from_defaults(fn=_weather, name=BAD_TOOL)]}


def _content_block(target: str, inst: Any) -> tuple[Any, dict[str, Any]]:
    pdf = b"%PDF-1.4 reliability"
    if target == "core":
        return _user(target, lambda: {"type": "file", "file": {"file_data": "x"}}), {}
    if target == "langchain":
        data = base64.b64encode(pdf).decode()
        block = {"type": "file", "base64": data, "mime_type": "application/pdf"}
        return _user(target, lambda: block), {}
    from llama_index.core.base.llms.types import DocumentBlock

    document = DocumentBlock(data=pdf, document_mimetype="application/pdf")
    return _user(target, lambda: document), {}


def _image_from(source: Any, mime: str | None = None) -> Callable[[str], Callable[[], Any]]:
    """An image part from bytes or a path, the entry point's way."""

    def for_target(target: str) -> Callable[[], Any]:
        if target == "core":
            return lambda: core.image_part(source, mime_type=mime)
        if target == "langchain":
            if isinstance(source, bytes):
                data = base64.b64encode(source).decode()
                return lambda: {"type": "image", "base64": data, "mime_type": mime or "image/png"}
            # LangChain blocks carry no file path: the core helper is the documented way.
            return lambda: core.image_part(source, mime_type=mime)
        from llama_index.core.base.llms.types import ImageBlock

        if isinstance(source, bytes):
            return lambda: ImageBlock(image=source, image_mimetype=mime)
        return lambda: ImageBlock(path=Path(source), image_mimetype=mime)

    return for_target


def _media(maker: Callable[[str], Callable[[], Any]]) -> Callable[[str, Any], Any]:
    def builder(target: str, inst: Any) -> tuple[Any, dict[str, Any]]:
        return _user(target, maker(target)), {}

    return builder


def _video(target: str, inst: Any) -> tuple[Any, dict[str, Any]]:
    url = "ftp://example.com/clip.mp4"
    if target == "core":
        return _user(target, lambda: core.video_part(url)), {}
    if target == "langchain":
        return _user(target, lambda: {"type": "video", "url": url}), {}
    from llama_index.core.base.llms.types import VideoBlock

    return _user(target, lambda: VideoBlock(url=url)), {}


def _empty(target: str, inst: Any) -> tuple[Any, dict[str, Any]]:
    return [], {}


Builder = Callable[[str, Any], tuple[Any, dict[str, Any]]]
UNREADABLE = ("cannot be read", "does not point to a file")  # ours, or LlamaIndex's ImageBlock
CASES: dict[str, tuple[str, tuple[str, ...], Builder]] = {
    "temperature": ("temperature=3.0 (allowed 0..2)", ("temperature",), _temperature),
    "max_tokens": ("max_tokens=0", ("max_tokens",), _max_tokens),
    "tool_name": (f"tool named {BAD_TOOL!r}", (BAD_TOOL,), _tool_name),
    "content_block": (
        "unsupported content block (a PDF document)",
        ("'file'", "DocumentBlock"),
        _content_block,
    ),
    "missing_file": ("missing local image file", UNREADABLE, _media(_image_from(MISSING))),
    "unreadable_file": (
        "unreadable local image file (a directory)",
        UNREADABLE,
        _media(_image_from(str(MEDIA))),
    ),
    "format": (
        "unsupported image format (image/bmp)",
        ("image/bmp",),
        _media(_image_from(BMP, "image/bmp")),
    ),
    "size": (
        "image over the 20 MB limit (21 MB)",
        ("MB limit",),
        _media(_image_from(HUGE_PNG, "image/png")),
    ),
    "video": ("non-http video URL (ftp://)", ("http(s) URL",), _video),
    "empty": ("empty message list", ("messages",), _empty),
}


def _attempt(combo: Combo, inst: Any, builder: Builder) -> Outcome:
    try:
        prompt, params = builder(combo.target, inst)
    except Exception as exc:
        return Outcome(error=exc)
    return combo.call(inst, prompt, **params)


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("combo", combos())
def test_bad_input_fails_before_sending(combo: Combo, case: str, server: Replica, row: Row) -> None:
    description, needles, builder = CASES[case]
    inst = combo.build(server.base_url)
    out = _attempt(combo, inst, builder)
    sent = len(server.requests)
    error = out.error
    row.set(
        category="bad input",
        case=description,
        adapter=combo.target,
        mode=combo.label,
        expected=f"ValueError naming {' or '.join(needles)}; 0 requests",
        observed="no error" if error is None else f"{type(error).__name__}: {str(error)[:90]}",
        requests=sent,
    )
    assert error is not None, "the bad input was accepted"
    assert sent == 0, "a request was sent"
    # InvalidParameterError (a ValueError) from our code; pydantic's ValidationError (also a
    # ValueError) where the framework's own block validates first.
    assert isinstance(error, ValueError), repr(error)
    assert any(n in str(error) for n in needles), str(error)


@pytest.mark.parametrize("target", TARGETS)
def test_missing_api_key(
    target: str, server: Replica, row: Row, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("STEP_API_KEY", "STEPFUN_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    error: Exception | None = None
    try:
        build(target, server.base_url, api_key=None)
    except Exception as exc:
        error = exc
    row.set(
        category="bad input",
        case="missing API key (no argument, no STEP_API_KEY/STEPFUN_API_KEY)",
        adapter=target,
        mode="constructor",
        expected="MissingAPIKeyError naming STEP_API_KEY; 0 requests",
        observed="no error" if error is None else f"{type(error).__name__}: {str(error)[:90]}",
        requests=len(server.requests),
    )
    assert error is not None
    assert isinstance(error, MissingAPIKeyError), repr(error)
    assert "STEP_API_KEY" in str(error)
    assert SECRET not in str(error)
    assert not server.requests
