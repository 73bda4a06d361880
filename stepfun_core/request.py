"""Build a chat request, checking every parameter against the spec before anything is sent."""

from __future__ import annotations

import base64
import binascii
import re
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from stepfun_core.catalog import warn_if_retired
from stepfun_core.errors import InvalidParameterError, one_of, quoted
from stepfun_core.history import ECHO_REASONING, EchoReasoning
from stepfun_core.media import (
    IMAGE_URL_PREFIXES,
    MAX_AUDIO_BASE64,
    MAX_AUDIO_CLIPS,
    MAX_IMAGE_BYTES,
    MAX_IMAGES,
    MAX_VIDEO_BYTES,
    MEDIA_KINDS,
    VIDEO_URL_PREFIXES,
    check_media,
    normalize_mime_type,
)

# The spec allows letters, digits, "_" and "-" in function names, up to 64 characters.
TOOL_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
ROLES = frozenset({"system", "user", "assistant", "tool"})
PART_TYPES = frozenset({"text", "image_url", "video_url", "input_audio"})
RESPONSE_FORMATS = frozenset({"text", "json_object", "json_schema"})
REASONING_FORMATS = frozenset({"general", "deepseek-style"})
REASONING_EFFORTS = frozenset({"low", "medium", "high"})
TOOL_CHOICES = frozenset({"auto", "none", "required"})
IMAGE_DETAILS = frozenset({"low", "high"})


def _fail(field: str, problem: str) -> InvalidParameterError:
    return InvalidParameterError(f"{field}: {problem}")


def _number(field: str, value: Any, low: float, high: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _fail(field, f"must be a number, got {type(value).__name__}")
    if not low <= value <= high:
        raise _fail(field, f"must be between {low} and {high}, got {quoted(value)}")


def _positive_int(field: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _fail(field, f"must be an integer of at least 1, got {quoted(value)}")


def check_tool_name(name: Any, field: str = "tools") -> str:
    """Return the name if the spec allows it, else raise naming the field."""
    if not isinstance(name, str) or not TOOL_NAME.fullmatch(name):
        raise _fail(
            field,
            f"tool name {quoted(name)} is invalid: use letters, digits, '_' or '-' "
            "(at most 64 characters)",
        )
    return name


def _check_tools(tools: Any) -> list[str]:
    if not isinstance(tools, Sequence) or isinstance(tools, (str, bytes)):
        raise _fail("tools", "must be a list of tool definitions")
    names: list[str] = []
    for i, tool in enumerate(tools):
        if not isinstance(tool, Mapping):
            raise _fail(f"tools[{i}]", "must be an object")
        kind = tool.get("type")
        if kind == "web_search":
            continue
        if kind != "function":
            raise _fail(
                f"tools[{i}].type", f"must be 'function' or 'web_search', got {quoted(kind)}"
            )
        function = tool.get("function")
        if not isinstance(function, Mapping):
            raise _fail(f"tools[{i}].function", "must be an object with a name")
        names.append(check_tool_name(function.get("name"), f"tools[{i}].function.name"))
        parameters = function.get("parameters")
        if parameters is not None and not isinstance(parameters, Mapping):
            raise _fail(f"tools[{i}].function.parameters", "must be a JSON schema object")
    return names


def _check_tool_choice(choice: Any, tools: Any, tool_names: list[str]) -> None:
    if isinstance(choice, str):
        one_of("tool_choice", choice, TOOL_CHOICES)
        if choice == "required" and not tools:
            raise _fail("tool_choice", "'required' needs at least one tool")
        return
    if isinstance(choice, Mapping) and choice.get("type") == "function":
        function = choice.get("function")
        name = function.get("name") if isinstance(function, Mapping) else None
        check_tool_name(name, "tool_choice.function.name")
        if name not in tool_names:
            raise _fail("tool_choice", f"names {quoted(name)}, which is not among the tools")
        return
    raise _fail(
        "tool_choice", f"must be 'auto', 'none', 'required' or a function, got {quoted(choice)}"
    )


def _check_response_format(value: Any) -> None:
    if not isinstance(value, Mapping):
        raise _fail("response_format", "must be an object such as {'type': 'json_object'}")
    kind = one_of("response_format.type", value.get("type"), RESPONSE_FORMATS)
    if kind == "json_schema":
        spec = value.get("json_schema")
        if not isinstance(spec, Mapping) or not isinstance(spec.get("schema"), Mapping):
            raise _fail("response_format.json_schema", "needs a 'schema' object and a 'name'")
        if not isinstance(spec.get("name"), str) or not spec.get("name"):
            raise _fail("response_format.json_schema.name", "must be a non-empty string")


def _check_stop(value: Any) -> None:
    strings = isinstance(value, Sequence) and all(isinstance(s, str) for s in value)
    if not isinstance(value, str) and not strings:
        raise _fail("stop", "must be a string or a list of strings")


# Data URLs already checked, by kind and by their text's length and hash: a history sends the
# same images on every turn, and decoding megabytes of base64 each time would dominate a call.
# Far more than one request carries (a key is about 150 bytes): with 256, histories of 300
# images in all pushed each out before its next turn, and every call decoded them all.
_CHECKED_MEDIA: dict[tuple[str, int, int], None] = {}
_MAX_CHECKED_MEDIA = 8192
_CHECKED_MEDIA_LOCK = threading.Lock()  # two threads evicting the same oldest key: KeyError


def _data_url_bytes(url: str) -> int:
    """The bytes a base64 data URL holds, told from its length (its ``=`` padding holds none)."""
    return (len(url) - url.find(",") - 1) * 3 // 4 - url.endswith("=") - url.endswith("==")


def _check_data_url(field: str, url: str, kind: str) -> None:
    """Check a ``data:`` URL once: a supported type, base64 data under the limit, of that type.

    A video's container is the server's to read: only its base64 and size are checked here.
    """
    key = (kind, len(url), hash(url))
    if key in _CHECKED_MEDIA:
        return
    header, comma, data = url.partition(",")
    mime = normalize_mime_type(header.removeprefix("data:").split(";")[0])
    allowed, limit = MEDIA_KINDS[kind] if kind != "video" else ({"video/mp4": ()}, MAX_VIDEO_BYTES)
    if mime not in allowed:
        raise _fail(field, f"format {quoted(mime)} is not supported; use {sorted(allowed)}")
    if not comma or not header.endswith(";base64"):
        raise _fail(field, f"must be a base64 data URL: data:{mime};base64,<data>")
    if (size := _data_url_bytes(url)) > limit:  # refused before decoding megabytes
        raise _fail(field, f"about {size} bytes is over the {limit / 2**20:g} MB limit")
    try:
        if len(data) % 4 or data.endswith("==="):  # canonical: the size counted is what is sent
            raise ValueError
        content = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise _fail(field, "the data is not valid base64") from None
    if kind != "video":
        check_media(content, mime, field, kind)
    elif not content:
        raise _fail(field, "the data is empty")
    with _CHECKED_MEDIA_LOCK:
        if len(_CHECKED_MEDIA) >= _MAX_CHECKED_MEDIA:
            del _CHECKED_MEDIA[next(iter(_CHECKED_MEDIA))]
        _CHECKED_MEDIA[key] = None


def _check_part(field: str, part: Any) -> None:
    if not isinstance(part, Mapping):
        raise _fail(field, "content parts must be objects")
    kind = part.get("type")
    if not isinstance(kind, str) or kind not in PART_TYPES:
        raise _fail(
            f"{field}.type", f"unsupported content part {quoted(kind)}; use {sorted(PART_TYPES)}"
        )
    if kind == "text":
        if not isinstance(part.get("text"), str):
            raise _fail(f"{field}.text", "must be a string")
        return
    payload = part.get(kind)
    key = "data" if kind == "input_audio" else "url"
    if not isinstance(payload, Mapping) or not isinstance(payload.get(key), str):
        raise _fail(f"{field}.{kind}.{key}", "is required")
    _check_media(field, kind, payload, payload[key])


def _check_media(field: str, kind: str, payload: Mapping[str, Any], url: str) -> None:
    if kind == "image_url":
        if not url.startswith(IMAGE_URL_PREFIXES):
            raise _fail(f"{field}.image_url.url", "must be an http(s) URL or a data:image URL")
        if url.startswith("data:"):
            _check_data_url(f"{field}.image_url.url", url, "image")
        if "detail" in payload:
            one_of(f"{field}.image_url.detail", payload["detail"], IMAGE_DETAILS)
    elif kind == "input_audio":
        if not url.startswith("data:"):  # the spec's only form (docs/wire.md#content-parts)
            raise _fail(
                f"{field}.input_audio.data", "must be a data:audio/<mp3 or wav>;base64, URL"
            )
        _check_data_url(f"{field}.input_audio.data", url, "audio")
    elif not url.startswith(VIDEO_URL_PREFIXES):
        raise _fail(f"{field}.video_url.url", "must be an http(s), stepfile:// or mp4 data URL")
    elif url.startswith("data:"):
        _check_data_url(f"{field}.video_url.url", url, "video")


def _check_media_totals(messages: Sequence[Mapping[str, Any]]) -> None:
    """The limits on a whole request's media (all turns), over parts checked one by one."""
    images = image_bytes = clips = audio_base64 = 0
    for message in messages:
        content = message.get("content")
        for part in content if isinstance(content, list) else ():
            if part["type"] == "image_url":
                url = part["image_url"]["url"]
                images += 1
                image_bytes += _data_url_bytes(url) if url[:5] == "data:" else 0
            elif part["type"] == "input_audio":
                data = part["input_audio"]["data"]
                clips += 1
                audio_base64 += len(data) - data.find(",") - 1
    if images > MAX_IMAGES:
        raise _fail("messages", f"{images} images; StepFun takes {MAX_IMAGES}")
    if image_bytes > MAX_IMAGE_BYTES:
        mb = MAX_IMAGE_BYTES >> 20
        raise _fail("messages", f"about {image_bytes} bytes of images; StepFun takes {mb} MB")
    if clips > MAX_AUDIO_CLIPS:
        raise _fail("messages", f"{clips} audio clips; StepFun takes {MAX_AUDIO_CLIPS}")
    if audio_base64 > MAX_AUDIO_BASE64:
        mb = MAX_AUDIO_BASE64 >> 20
        raise _fail("messages", f"{audio_base64} bytes of base64 audio; StepFun takes {mb} MB")


def _check_content(field: str, role: str, content: Any) -> None:
    if isinstance(content, list):
        if role != "user":
            raise _fail(field, f"a {role} message takes text, not parts")
        for j, part in enumerate(content):
            _check_part(f"{field}[{j}]", part)
    elif content is None:
        if role != "assistant":
            raise _fail(field, "is required")
    elif not isinstance(content, str):
        raise _fail(field, "must be a string or a list of parts")


def _check_history_tool_calls(field: str, role: str, calls: Any) -> None:
    if role != "assistant" or not isinstance(calls, list):
        raise _fail(field, "only assistant messages carry a list of tool calls")
    for j, call in enumerate(calls):
        function = call.get("function") if isinstance(call, Mapping) else None
        # The name is the model's own words and goes back as written (as OpenAI's clients send
        # it): an agent answers a name it does not know with an error result the model reads.
        if not isinstance(function, Mapping) or not isinstance(function.get("name"), str):
            raise _fail(f"{field}[{j}]", "needs a function with a name")


def _check_message(i: int, message: Any) -> None:
    field = f"messages[{i}]"
    if not isinstance(message, Mapping):
        raise _fail(field, "must be an object with a role")
    role = message.get("role")
    if not isinstance(role, str) or role not in ROLES:
        raise _fail(f"{field}.role", f"must be one of {sorted(ROLES)}, got {quoted(role)}")
    _check_content(f"{field}.content", role, message.get("content"))
    if role == "tool" and not message.get("tool_call_id"):
        raise _fail(f"{field}.tool_call_id", "a tool message needs the id of the call it answers")
    if message.get("tool_calls") is not None:
        _check_history_tool_calls(f"{field}.tool_calls", role, message["tool_calls"])


# The English reference says frequency_penalty is 0..1, the Chinese docs -2..2
# (docs/wire.md#parameters): accept both.
_RANGES = {"temperature": (0.0, 2.0), "top_p": (0.0, 1.0), "frequency_penalty": (-2.0, 2.0)}
_ENUMS = {"reasoning_format": REASONING_FORMATS, "reasoning_effort": REASONING_EFFORTS}


def check_params(params: Mapping[str, Any]) -> None:
    """Check the known parameters (None values are treated as absent)."""
    for name, (low, high) in _RANGES.items():
        if params.get(name) is not None:
            _number(name, params[name], low, high)
    for name, allowed in _ENUMS.items():
        if params.get(name) is not None:
            one_of(name, params[name], allowed)
    for name in ("max_tokens", "n"):
        if params.get(name) is not None:
            _positive_int(name, params[name])
    if params.get("stop") is not None:
        _check_stop(params["stop"])
    if params.get("response_format") is not None:
        _check_response_format(params["response_format"])
    names = _check_tools(params["tools"]) if params.get("tools") is not None else []
    if params.get("tool_choice") is not None:
        _check_tool_choice(params["tool_choice"], params.get("tools"), names)


# Body fields the client owns: the model and the messages have their own arguments, and
# ``stream`` is chosen by calling ``create()`` or ``stream()``.
RESERVED_FIELDS = ("model", "messages", "stream")


def merge_extra(params: dict[str, Any], extra: Mapping[str, Any] | None, field: str) -> None:
    """Add extra request fields (``extra_body``, ``model_kwargs``); refuse reserved ones."""
    if not extra:
        return
    if not isinstance(extra, Mapping):
        raise _fail(field, f"must be a dict of request fields, got {type(extra).__name__}")
    for key in RESERVED_FIELDS:
        if key in extra:
            raise _fail(
                f"{field}[{key!r}]",
                f"{key!r} cannot be set here: the client sets it (pass the model and the "
                "messages as arguments; call stream() or create())",
            )
    params.update(extra)


def build_chat_request(
    model: str, messages: Sequence[Mapping[str, Any]], **params: Any
) -> dict[str, Any]:
    """Return the JSON body for ``POST /chat/completions``; raise before sending if invalid.

    Known parameters are checked, None values dropped, unknown ones passed through. The clients
    encode the body strictly (`stepfun_core.jsonio.encode_json` names what is not JSON).
    """
    if not isinstance(model, str) or not model.strip():
        raise _fail("model", "must be a non-empty model name such as 'step-3.5-flash'")
    warn_if_retired(model)
    if "stream" in params:
        raise _fail("stream", "is set by the client: call stream() or create()")
    if not isinstance(messages, Sequence) or isinstance(messages, (str, bytes)) or not messages:
        raise _fail("messages", "must be a list holding at least one message")
    for i, message in enumerate(messages):
        _check_message(i, message)
    _check_media_totals(messages)
    check_params(params)
    body: dict[str, Any] = {"model": model, "messages": list(messages)}
    for key, value in params.items():
        # An empty tool list is dropped rather than sent: it means "no tools".
        if value is not None and not (key == "tools" and not value):
            body[key] = value
    return body


def echo_mode(value: Any) -> EchoReasoning:
    """An ``echo_reasoning`` given to one call, checked (a model's field is checked by pydantic)."""
    return one_of("echo_reasoning", value, ECHO_REASONING)
