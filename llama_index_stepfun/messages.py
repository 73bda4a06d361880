"""LlamaIndex chat messages to StepFun wire messages: text, media, tool calls and results."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from io import IOBase
from typing import Any

from llama_index.core.base.llms.types import (
    AudioBlock,
    CachePoint,
    ChatMessage,
    ImageBlock,
    MessageRole,
    TextBlock,
    ThinkingBlock,
    ToolCallBlock,
    VideoBlock,
)

from stepfun_core import (
    EchoReasoning,
    InvalidParameterError,
    assistant_message,
    audio_part,
    image_part,
    video_part,
    wire_tool_call,
)
from stepfun_core.history import unwritten_text
from stepfun_core.media import (
    IMAGE_URL_PREFIXES,
    MEDIA_KINDS,
    base64_mime_type,
    normalize_mime_type,
)

_ROLES = {
    MessageRole.SYSTEM: "system",
    MessageRole.DEVELOPER: "system",
    MessageRole.USER: "user",
    MessageRole.ASSISTANT: "assistant",
    MessageRole.CHATBOT: "assistant",
    MessageRole.MODEL: "assistant",
    MessageRole.TOOL: "tool",
    # StepFun rejects role "function" (docs/wire.md#messages): send it as a tool result.
    MessageRole.FUNCTION: "tool",
}
# Detail values LlamaIndex users write for OpenAI that StepFun does not take: send none.
_IGNORED_DETAILS = frozenset({"auto", ""})
_AUDIO_MIME = {"mp3": "audio/mpeg", "mpeg": "audio/mpeg", "wav": "audio/wav", "x-wav": "audio/wav"}


def _unsupported(block: object, role: str) -> InvalidParameterError:
    name = type(block).__name__
    return InvalidParameterError(
        f"{name} is not supported in a StepFun {role} message; StepFun chat takes text, "
        "ImageBlock, AudioBlock (mp3/wav) and VideoBlock (by URL) in user messages"
    )


def _base64_url(data: Any, mime_type: str | None, kind: str) -> str | None:
    """A block's base64 bytes as a data URL, or None if they are not base64 of that kind.

    Not decoded here: a request checks each data URL once (decoding megabytes on every call
    cost 2.5x serialising the body). For None, the block's reader and the core's checks decide.
    """
    found = base64_mime_type(data) if isinstance(data, bytes) and data.isascii() else None
    mime = normalize_mime_type(mime_type) if mime_type and found else found
    return f"data:{mime};base64,{data.decode()}" if mime in MEDIA_KINDS[kind][0] else None


def image_to_part(block: ImageBlock) -> dict[str, Any]:
    """An ImageBlock (URL, local path or bytes) as an ``image_url`` part."""
    detail = block.detail if block.detail not in _IGNORED_DETAILS else None
    if block.url is not None and str(block.url).startswith(IMAGE_URL_PREFIXES):
        return image_part(str(block.url), detail=detail)
    if block.path is not None:
        return image_part(block.path, detail=detail, mime_type=block.image_mimetype)
    if block.image is not None:
        if url := _base64_url(block.image, block.image_mimetype, "image"):
            return image_part(url, detail=detail)
        return image_part(_raw(block), detail=detail, mime_type=block.image_mimetype)
    raise InvalidParameterError(
        f"ImageBlock: {str(block.url)[:60]!r} is neither an http(s) URL, an image data URL "
        "(data:image/...), a path nor bytes"
    )


def _raw(block: ImageBlock | AudioBlock) -> bytes | IOBase:
    """A block's data as bytes, or its file object, which the core reads within the limits.

    A block's resolve_*() reads a file object whole, and refuses empty data untyped.
    """
    if isinstance(block, ImageBlock):
        data, resolve = block.image, block.resolve_image
    else:
        data, resolve = block.audio, block.resolve_audio
    if isinstance(data, IOBase):
        return data
    return resolve().read() if data else b""


def audio_to_part(block: AudioBlock) -> dict[str, Any]:
    """An AudioBlock (local path or bytes, mp3 or wav) as an ``input_audio`` part."""
    declared = (block.format or "").lower()  # LlamaIndex's guess, or the caller's: "aac" refused
    mime = _AUDIO_MIME.get(declared, declared or None)
    if block.path is not None:
        return audio_part(block.path, mime_type=mime)
    if block.audio is not None:
        if url := _base64_url(block.audio, mime, "audio"):
            return {"type": "input_audio", "input_audio": {"data": url}}
        return audio_part(_raw(block), mime_type=mime)
    url = str(block.url or "")
    if url.startswith("data:audio/"):
        return {"type": "input_audio", "input_audio": {"data": url}}
    raise InvalidParameterError(
        f"AudioBlock: StepFun takes audio as data (bytes or a local mp3/wav file), "
        f"not as the URL {url[:60]!r}"
    )


def _user_content(message: ChatMessage) -> str | list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    for block in message.blocks:
        if isinstance(block, TextBlock):
            parts.append({"type": "text", "text": block.text})
        elif isinstance(block, ImageBlock):
            parts.append(image_to_part(block))
        elif isinstance(block, AudioBlock):
            parts.append(audio_to_part(block))
        elif isinstance(block, VideoBlock) and block.url is not None:
            parts.append(video_part(str(block.url)))
        elif isinstance(block, VideoBlock):
            raise InvalidParameterError(
                "VideoBlock: StepFun takes videos by URL only (http(s), stepfile:// for an "
                "uploaded file, or a data:video/mp4;base64, URL); pass url=..."
            )
        elif not isinstance(block, CachePoint):
            raise _unsupported(block, "user")
    if any(part["type"] != "text" for part in parts):  # media: the parts; else one text
        return parts
    return "\n".join(p["text"] for p in parts)


def _text_of(message: ChatMessage, role: str) -> str:
    blocks = [b for b in message.blocks if not isinstance(b, (ThinkingBlock, ToolCallBlock))]
    # An assistant's media (an image model's picture earlier in a mixed history) is named, as in
    # tool messages: raising would end an agent's run. A system message takes text only.
    if role != "assistant":
        for block in blocks:
            if not isinstance(block, (TextBlock, CachePoint)):
                raise _unsupported(block, role)
    return "\n".join(_texts(blocks))


def _texts(blocks: Sequence[Any]) -> list[str]:
    # StepFun tool messages are text: a cited source (CitableBlock, whose content is a list of
    # blocks) is sent as its text; an image or a document is named, not sent.
    texts: list[str] = []
    for block in blocks:
        if isinstance(block, TextBlock):
            texts.append(block.text)
        elif isinstance(getattr(block, "content", None), list):
            texts.extend(_texts(block.content))
        elif not isinstance(block, CachePoint):
            texts.append(f"[{type(block).__name__} omitted]")
    return texts


def legacy_calls(message: ChatMessage) -> list[tuple[str, str, Any]]:
    """(id, name, arguments) of each function call in ``additional_kwargs["tool_calls"]``."""
    where = "additional_kwargs['tool_calls']"
    raw = message.additional_kwargs.get("tool_calls") or []
    if not isinstance(raw, (list, tuple)):
        raise InvalidParameterError(f"{where}: must be a list of tool calls")
    calls = []
    for position, call in enumerate(raw):
        data = call.model_dump() if hasattr(call, "model_dump") else call
        function = (data.get("function") or {}) if isinstance(data, Mapping) else None
        if not isinstance(function, Mapping):
            raise InvalidParameterError(f"{where}[{position}]: not an OpenAI-style tool call")
        if data.get("type") in (None, "", "function"):
            calls.append(
                (data.get("id") or "", function.get("name") or "", function.get("arguments"))
            )
    return calls


def _assistant(message: ChatMessage, echo: EchoReasoning) -> dict[str, Any]:
    # Tool calls and reasoning from the blocks, else from the (legacy) additional_kwargs.
    kwargs = message.additional_kwargs
    text = _text_of(message, "assistant") or unwritten_text(kwargs)
    calls = [
        wire_tool_call(block.tool_call_id or f"call_{position}", block.tool_name, block.tool_kwargs)
        for position, block in enumerate(b for b in message.blocks if isinstance(b, ToolCallBlock))
    ] or [wire_tool_call(*call) for call in legacy_calls(message)]
    thoughts = [b.content for b in message.blocks if isinstance(b, ThinkingBlock) and b.content]
    reasoning = "\n".join(thoughts) if thoughts else kwargs.get("reasoning_content")
    return assistant_message(text, calls, reasoning if isinstance(reasoning, str) else "", echo)


def _tool(message: ChatMessage) -> dict[str, Any]:
    if not (call_id := message.additional_kwargs.get("tool_call_id")):
        raise InvalidParameterError(
            "a tool message needs additional_kwargs['tool_call_id'] naming the call it answers"
        )
    text = "\n".join(_texts(message.blocks))
    return {"role": "tool", "content": text, "tool_call_id": str(call_id)}


def to_wire_message(message: ChatMessage, echo: EchoReasoning = "tool_calls") -> dict[str, Any]:
    """One LlamaIndex message as a wire message."""
    if (role := _ROLES.get(message.role)) is None:
        raise InvalidParameterError(f"message role {message.role!r} is not supported by StepFun")
    if role == "user":
        return {"role": "user", "content": _user_content(message)}
    if role == "assistant":
        return _assistant(message, echo)
    if role == "tool":
        return _tool(message)
    return {"role": "system", "content": _text_of(message, "system")}
