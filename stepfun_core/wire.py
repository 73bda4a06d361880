"""Request-side wire types: what we send, in the API's own field names."""

from __future__ import annotations

from typing import Any, Literal, TypedDict

from typing_extensions import NotRequired

Role = Literal["system", "user", "assistant", "tool"]
ImageDetail = Literal["low", "high"]
ReasoningFormat = Literal["general", "deepseek-style"]
ReasoningEffort = Literal["low", "medium", "high"]


class ImageURL(TypedDict):
    """An http(s) or ``data:image/...`` URL, with optional detail."""

    url: str
    detail: NotRequired[ImageDetail]


class VideoURL(TypedDict):
    """An http(s) URL of an mp4 video."""

    url: str


class InputAudio(TypedDict):
    """Base64 audio as a data URL (mp3 or wav)."""

    data: str
    format: NotRequired[str]


class TextPart(TypedDict):
    """A text content part."""

    type: Literal["text"]
    text: str


class ImagePart(TypedDict):
    """An image content part."""

    type: Literal["image_url"]
    image_url: ImageURL


class VideoPart(TypedDict):
    """A video content part."""

    type: Literal["video_url"]
    video_url: VideoURL


class AudioPart(TypedDict):
    """An audio content part."""

    type: Literal["input_audio"]
    input_audio: InputAudio


ContentPart = TextPart | ImagePart | VideoPart | AudioPart


class FunctionCall(TypedDict):
    """The function of a tool call: name and JSON arguments."""

    name: str
    arguments: str


class ToolCallParam(TypedDict):
    """A tool call on an assistant message of the history."""

    id: str
    type: Literal["function"]
    function: FunctionCall


class Message(TypedDict):
    """A chat message (system, user, assistant or tool)."""

    role: Role
    content: NotRequired[str | list[ContentPart] | None]
    name: NotRequired[str]
    tool_calls: NotRequired[list[ToolCallParam]]
    tool_call_id: NotRequired[str]
    reasoning_content: NotRequired[str]


class FunctionDefinition(TypedDict):
    """A function the model may call."""

    name: str
    description: NotRequired[str]
    parameters: NotRequired[dict[str, Any]]
    strict: NotRequired[bool]


class FunctionTool(TypedDict):
    """A client-side function tool."""

    type: Literal["function"]
    function: FunctionDefinition


class WebSearchTool(TypedDict):
    """The built-in server-side search tool."""

    type: Literal["web_search"]
    function: NotRequired[dict[str, Any]]


Tool = FunctionTool | WebSearchTool
