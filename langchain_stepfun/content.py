"""Content blocks to StepFun content parts: text, images, audio and video.

Images come as OpenAI ``image_url``, LangChain ``image`` (URL, base64 or file id) or Anthropic
``source`` blocks. Anything the API cannot take raises, naming the block, before it is sent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, cast

from langchain_stepfun.errors import StepFunInvalidParameterError
from stepfun_core.errors import InvalidParameterError, quoted
from stepfun_core.jsonio import json_text
from stepfun_core.media import AUDIO_TYPES, base64_mime_type, normalize_mime_type, video_part

Part = dict[str, Any]
_ACCEPTED = (
    "text, images (image_url / image), audio (input_audio / audio: mp3 or wav) "
    "and videos (video_url / video: URLs, file ids or mp4 data)"
)


def _unsupported(kind: Any, block: Any, why: str = "") -> Exception:
    block = block if isinstance(block, Mapping) else {}
    source = block.get("source")
    mime = block.get("mime_type") or (
        source.get("media_type") if isinstance(source, Mapping) else None
    )
    what = f"{quoted(kind)} content block" + (f" ({mime})" if isinstance(mime, str) else "")
    reason = why or f"it accepts {_ACCEPTED}"
    return StepFunInvalidParameterError(f"StepFun cannot take a {what}: {reason}")


def _base64(block: Mapping[str, Any]) -> Any:
    # v1 blocks say "base64"; v0 blocks say source_type "base64" and "data".
    if block.get("source_type") == "base64":
        return block.get("data")
    return block.get("base64")


def _mime_of(block: Mapping[str, Any], data: str, default: str) -> str:
    """A block's declared MIME type, else the one its first bytes show, else ``default``."""
    if block.get("mime_type"):  # as the caller wrote it ("image/jpg", "file -bi" output)
        return normalize_mime_type(str(block["mime_type"]))
    return base64_mime_type(data) or default  # not base64: the core's check names the block


def _base64_url(mime_type: str, data: str) -> str:
    # The block already holds base64 text: wrap it, don't encode it again.
    return f"data:{mime_type};base64,{data}"


def _detail(block: Mapping[str, Any]) -> Any:
    extras = block.get("extras")
    detail = block.get("detail") or (extras.get("detail") if isinstance(extras, Mapping) else None)
    # OpenAI's "auto" is StepFun's default; the API only names "low" and "high".
    return None if detail == "auto" else detail


def _image_part(url: str, detail: Any) -> Part:
    image: Part = {"url": url}
    if detail is not None:
        image["detail"] = detail
    return {"type": "image_url", "image_url": image}


def _image_url(block: Mapping[str, Any]) -> Part:
    value = block.get("image_url")
    if isinstance(value, str):
        return _image_part(value, None)
    if isinstance(value, Mapping) and isinstance(value.get("url"), str):
        return _image_part(value["url"], _detail(value))
    raise _unsupported("image_url", block, "it needs image_url.url")


def _image(block: Mapping[str, Any]) -> Part:
    source, data = block.get("source"), _base64(block)
    file_id = block.get("file_id") or (
        block.get("id") if block.get("source_type") == "id" else None
    )
    if isinstance(source, Mapping):  # Anthropic style
        if source.get("type") not in ("base64", "url"):
            raise _unsupported("image", block, "Anthropic image sources must be base64 or url")
        media_type = normalize_mime_type(str(source.get("media_type") or "image/png"))
        url = source["url"] if source["type"] == "url" else _base64_url(media_type, source["data"])
    elif block.get("url"):
        url = block["url"]
    elif data:
        url = _base64_url(_mime_of(block, data, "image/png"), data)
    elif file_id:  # a file uploaded to StepFun (purpose "storage")
        url = f"stepfile://{file_id}"
    else:
        raise _unsupported("image", block, "an image needs a url, base64 data or a file_id")
    return _image_part(url, _detail(block))


def _audio_part(data: str, mime_type: str, block: Mapping[str, Any]) -> Part:
    mime = normalize_mime_type(mime_type)
    if mime not in AUDIO_TYPES:
        raise _unsupported("audio", block, f"audio must be mp3 or wav, got {quoted(mime)}")
    url = data if data.startswith("data:") else _base64_url(mime, data)
    return {"type": "input_audio", "input_audio": {"data": url}}


def _input_audio(block: Mapping[str, Any]) -> Part:
    audio = block.get("input_audio")
    if not isinstance(audio, Mapping) or not isinstance(audio.get("data"), str):
        raise _unsupported("input_audio", block, "it needs input_audio.data")
    declared = audio.get("format")  # OpenAI's field; without it, what the bytes show
    return _audio_part(
        audio["data"], str(declared or base64_mime_type(audio["data"]) or "wav"), block
    )


def _audio(block: Mapping[str, Any]) -> Part:
    data = _base64(block)
    if not data:
        problem = (
            "StepFun takes audio as base64 data only, not by URL"
            if block.get("url")
            else "the audio block holds no data"
        )
        raise _unsupported("audio", block, problem)
    return _audio_part(data, _mime_of(block, data, "audio/wav"), block)


def _video(block: Mapping[str, Any]) -> Part:
    kind = block["type"]
    value = block.get("video_url") if kind == "video_url" else block.get("url")
    url = value.get("url") if isinstance(value, Mapping) else value
    if kind == "video" and not url:
        data = _base64(block)
        if isinstance(data, str) and data:
            url = _base64_url(_mime_of(block, data, "video/mp4"), data)
        elif block.get("file_id"):  # uploaded (purpose "storage")
            url = f"stepfile://{block['file_id']}"
    if not url or not isinstance(url, str):
        why = "StepFun takes videos by URL, file_id or mp4 base64 data"
        raise _unsupported(kind, block, "it needs video_url.url" if kind == "video_url" else why)
    try:
        return video_part(url)
    except InvalidParameterError as exc:
        raise _unsupported(kind, block, exc.message) from None


_USER_PARTS: dict[str, Callable[[Mapping[str, Any]], Part]] = {
    "text": lambda block: {"type": "text", "text": block["text"]},
    "image_url": _image_url,
    "image": _image,
    "input_audio": _input_audio,
    "audio": _audio,
    "video": _video,
    "video_url": _video,
}


def user_content(content: str | list[Any]) -> str | list[Part]:
    """The content of a user message: a string, or a list of content parts."""
    if isinstance(content, str):
        return content
    parts: list[Part] = []
    for item in content:
        if isinstance(item, str):
            parts.append({"type": "text", "text": item})
            continue
        kind = item.get("type") if isinstance(item, Mapping) else None
        convert = _USER_PARTS.get(kind) if isinstance(kind, str) else None
        if convert is None:
            raise _unsupported(kind, item)
        parts.append(convert(item))
    return parts


# Blocks of media: taken in user messages only (StepFun's other roles take text).
_MEDIA = {*_USER_PARTS, "file", "document"} - {"text"}
# How deep retrieval results may nest in one another (a search result holding documents...).
_MAX_NESTING = 16


def _words(item: Mapping[str, Any], role: str, depth: int = 0) -> str | None:
    """The text a block holds, or None if it holds something else (an image, a file).

    Beyond text: a tool's data (``json``, MCP), LangChain's ``text-plain``, and what a retrieval
    tool returns (``_retrieved``).
    """
    kind = item.get("type")
    if kind == "text":
        return cast("str", item.get("text", ""))  # not a str: the join raises, naming it
    if kind == "text-plain":  # its text may be in base64 or at a URL instead: named then
        return item["text"] if isinstance(item.get("text"), str) else None
    if kind == "json":
        return json_text(item.get("json"), f"{role} message json block")
    # A result inside a result...: named past some depth, never a RecursionError.
    return _retrieved(item, role, depth) if depth <= _MAX_NESTING else None


def _retrieved(item: Mapping[str, Any], role: str, depth: int) -> str | None:
    """The text a retrieval tool returns, or None.

    Anthropic's ``search_result`` and text ``document``, OpenAI's custom tool output: LangChain
    keeps these in a tool message as blocks.
    """
    kind, source = item.get("type"), item.get("source")
    heading: list[str] = []
    inner: str | None = None
    if kind == "search_result":
        inner = _all_words(item.get("content"), role, depth)
        heading = [str(item[k]) for k in ("title", "source") if item.get(k)]
    elif kind == "document" and isinstance(source, Mapping):
        data = source.get("data") if source.get("type") == "text" else None
        inner = data if isinstance(data, str) else _all_words(source.get("content"), role, depth)
        heading = [str(item["title"])] if item.get("title") else []
    elif kind == "custom_tool_call_output":
        output = item.get("output")
        inner = output if isinstance(output, str) else _all_words(output, role, depth)
    return None if inner is None else "\n".join([*heading, inner])


def _all_words(items: Any, role: str, depth: int) -> str | None:
    """The text of a list of blocks, or None unless every one holds text."""
    if not isinstance(items, list):
        return None
    words = [
        i if isinstance(i, str) else _words(i, role, depth + 1) if isinstance(i, Mapping) else None
        for i in items
    ]
    return None if any(w is None for w in words) else "\n".join(cast("list[str]", words))


def _omitted(kind: str, role: str) -> str:
    return f"[{kind} block omitted: StepFun {role} messages take text only]"


def plain_text(content: str | list[Any], role: str, separator: str = "") -> str:
    """A system or tool message's text, parts joined by ``separator`` (the API takes text only)."""
    if isinstance(content, str):
        return content
    texts: list[str] = []
    for item in content:
        words = item if isinstance(item, str) else None
        if isinstance(item, Mapping):
            words = _words(item, role)
        if words is not None:
            texts.append(words)
        elif role == "tool" and isinstance(item, Mapping) and isinstance(item.get("type"), str):
            # A tool's image or file (an MCP screenshot) is named, not sent: raising would end
            # the agent's run (as the LlamaIndex adapter, which does the same).
            texts.append(_omitted(item["type"], "tool"))
        else:
            kind = item.get("type") if isinstance(item, Mapping) else type(item).__name__
            raise _unsupported(kind, item, f"StepFun {role} messages take text only")
    return separator.join(texts)


def assistant_text(content: str | list[Any]) -> tuple[str, str]:
    """The text and the reasoning (to echo) of an assistant message's content.

    Tool use and server calls are read elsewhere (``tool_calls``); a stated refusal is the
    turn's words; media is named, as in tool messages (raising would end an agent's run).
    """
    if isinstance(content, str):
        return content, ""
    texts: list[str] = []
    reasoning: list[str] = []
    for item in content:
        if isinstance(item, str):
            texts.append(item)
            continue
        if not isinstance(item, Mapping):
            continue
        kind = item.get("type")
        if (words := _words(item, "assistant")) is not None:
            texts.append(words)
        elif kind == "refusal" and isinstance(item.get("refusal"), str):
            texts.append(item["refusal"])
        elif kind in ("reasoning", "thinking") and isinstance(item.get(kind), str):
            reasoning.append(item[kind])
        elif kind in _MEDIA:  # an image model's picture, earlier in a mixed history: named
            texts.append(_omitted(kind, "assistant"))
    return "".join(texts), "".join(reasoning)
