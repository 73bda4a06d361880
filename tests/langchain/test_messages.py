"""LangChain messages and content blocks to the request body (no network)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from langchain_core.language_models._utils import _normalize_messages
from langchain_core.messages import (
    AIMessage,
    ChatMessage,
    FunctionMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.tools import tool

from langchain_stepfun import ChatStepFun, StepFunInvalidParameterError
from langchain_stepfun.messages import to_wire_message, to_wire_messages

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n0000").decode()
WAV = base64.b64encode(b"RIFF0000WAVEfmt ").decode()


def user_parts(*blocks: Any) -> Any:
    return to_wire_message(HumanMessage(content=list(blocks)))["content"]


def test_roles() -> None:
    wire = to_wire_messages(
        [
            SystemMessage("be brief"),
            HumanMessage("hi", name="ann"),
            AIMessage("hello"),
            ChatMessage(role="user", content="again"),
            ToolMessage("42", tool_call_id="call_1"),
        ]
    )
    assert wire == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"},
        {"role": "user", "content": "again"},
        {"role": "tool", "content": "42", "tool_call_id": "call_1"},
    ]


def test_function_messages_are_refused() -> None:
    # The API answers 400 "invalid msg role: function" (docs/wire.md#messages).
    with pytest.raises(ValueError, match="FunctionMessage"):
        to_wire_message(FunctionMessage(content="x", name="f"))


def test_text_and_image_blocks() -> None:
    parts = user_parts(
        "plain",
        {"type": "text", "text": "look", "id": "lc_1"},
        {"type": "image_url", "image_url": {"url": "https://x/a.png", "detail": "high"}},
        {"type": "image_url", "image_url": {"url": "https://x/b.png", "detail": "auto"}},
        {"type": "image_url", "image_url": "https://x/c.png"},
        {"type": "image", "url": "https://x/d.png", "extras": {"detail": "low"}},
        {"type": "image", "base64": PNG, "mime_type": "image/png"},
        {"type": "image", "file_id": "file-1"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": PNG}},
        {"type": "image", "source": {"type": "url", "url": "https://x/e.png"}},
    )
    assert parts == [
        {"type": "text", "text": "plain"},
        {"type": "text", "text": "look"},
        {"type": "image_url", "image_url": {"url": "https://x/a.png", "detail": "high"}},
        {"type": "image_url", "image_url": {"url": "https://x/b.png"}},
        {"type": "image_url", "image_url": {"url": "https://x/c.png"}},
        {"type": "image_url", "image_url": {"url": "https://x/d.png", "detail": "low"}},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
        {"type": "image_url", "image_url": {"url": "stepfile://file-1"}},
        {"type": "image_url", "image_url": {"url": f"data:image/jpeg;base64,{PNG}"}},
        {"type": "image_url", "image_url": {"url": "https://x/e.png"}},
    ]


def test_audio_and_video_blocks() -> None:
    parts = user_parts(
        {"type": "input_audio", "input_audio": {"data": WAV, "format": "wav"}},
        {"type": "input_audio", "input_audio": {"data": WAV, "format": "mp3"}},
        {"type": "audio", "base64": WAV, "mime_type": "audio/x-wav"},
        {"type": "video", "url": "https://x/v.mp4"},
        {"type": "video_url", "video_url": {"url": "https://x/w.mp4"}},
    )
    assert parts == [
        {"type": "input_audio", "input_audio": {"data": f"data:audio/wav;base64,{WAV}"}},
        {"type": "input_audio", "input_audio": {"data": f"data:audio/mpeg;base64,{WAV}"}},
        {"type": "input_audio", "input_audio": {"data": f"data:audio/wav;base64,{WAV}"}},
        {"type": "video_url", "video_url": {"url": "https://x/v.mp4"}},
        {"type": "video_url", "video_url": {"url": "https://x/w.mp4"}},
    ]


def test_openai_input_audio_without_a_format_is_what_its_bytes_show() -> None:
    # Hostile round 12: mp3 bytes with no "format" were taken for wav, then refused as
    # "declared as audio/wav", though nothing was declared and mp3 is supported.
    mp3 = base64.b64encode(b"ID3\x03" + bytes(12)).decode()
    assert user_parts(
        {"type": "input_audio", "input_audio": {"data": mp3}},
        {"type": "input_audio", "input_audio": {"data": WAV}},
    ) == [
        {"type": "input_audio", "input_audio": {"data": f"data:audio/mpeg;base64,{mp3}"}},
        {"type": "input_audio", "input_audio": {"data": f"data:audio/wav;base64,{WAV}"}},
    ]


@pytest.mark.parametrize(
    ("block", "words"),
    [
        ({"type": "file", "base64": "JVBER", "mime_type": "application/pdf"}, "'file'.*pdf"),
        ({"type": "file", "file": {"filename": "a.pdf", "file_data": "x"}}, "'file'"),
        ({"type": "audio", "url": "https://x/a.wav"}, "base64"),
        ({"type": "audio", "base64": WAV, "mime_type": "audio/ogg"}, "mp3 or wav"),
        ({"type": "video", "base64": "AAAA", "mime_type": "video/webm"}, "URL"),
        ({"type": "video_url", "video_url": {"url": "file:///v.mp4"}}, "http"),
        ({"type": "document", "text": "x"}, "'document'"),
    ],
)
def test_unsupported_blocks_name_the_block(block: dict[str, Any], words: str) -> None:
    with pytest.raises(StepFunInvalidParameterError, match=words) as info:
        user_parts({"type": "text", "text": "see"}, block)
    assert isinstance(info.value, ValueError)


def test_system_and_tool_messages_take_text_only() -> None:
    wire = to_wire_message(SystemMessage([{"type": "text", "text": "a"}, "b"]))
    assert wire == {"role": "system", "content": "ab"}
    with pytest.raises(StepFunInvalidParameterError, match="system messages take text only"):
        to_wire_message(SystemMessage([{"type": "image", "url": "https://x/a.png"}]))
    tool = to_wire_message(ToolMessage([{"type": "text", "text": "ok"}], tool_call_id="c"))
    assert tool["content"] == "ok"
    data = to_wire_message(ToolMessage([{"temp": 21}], tool_call_id="c"))  # type: ignore[list-item]
    assert json.loads(data["content"]) == [{"temp": 21}]
    error = to_wire_message(ToolMessage("boom", tool_call_id="c", status="error"))
    assert error == {"role": "tool", "content": "boom", "tool_call_id": "c"}


@tool
def cities(country: str) -> list[str]:
    """List a country's cities."""
    return ["Paris", "Lyon", "Nice"] if country == "fr" else []


def test_a_tool_result_keeps_its_items_apart() -> None:
    # LangChain keeps a returned list of strings as the message's content list.
    call = {"type": "tool_call", "id": "c", "name": "cities", "args": {"country": "fr"}}
    listed = to_wire_message(cities.invoke(call))
    assert json.loads(listed["content"]) == ["Paris", "Lyon", "Nice"]
    empty = to_wire_message(cities.invoke({**call, "args": {"country": "xx"}}))
    assert empty["content"] == "[]"
    # Several text parts (as an MCP tool's TextContent items) are told apart by a newline.
    parts = ["a", {"type": "text", "text": "b"}, {"type": "text", "text": "c"}]
    assert to_wire_message(ToolMessage(parts, tool_call_id="c"))["content"] == "a\nb\nc"
    assert to_wire_message(ToolMessage("Paris Lyon", tool_call_id="c"))["content"] == "Paris Lyon"
    # Other messages' text still joins as LangChain's ``.text`` does.
    assert to_wire_message(SystemMessage(["a", "b"]))["content"] == "ab"


def test_what_a_retrieval_tool_returns_is_sent_as_its_text() -> None:
    # Hostile round 13: LangChain keeps these tool results as blocks (TOOL_MESSAGE_BLOCK_TYPES);
    # their text was replaced by "[search_result block omitted ...]", so the model never saw it.
    found = {
        "type": "search_result",
        "source": "https://kb/refunds",
        "title": "Refunds",
        "content": [{"type": "text", "text": "Within 30 days."}],
        "citations": {"enabled": True},
    }
    document = {"type": "document", "source": {"type": "text", "data": "Free over 50."}}
    quoted = {"type": "document", "title": "T", "source": {"type": "content", "content": ["x"]}}
    output = {"type": "custom_tool_call_output", "call_id": "c", "output": "done"}
    plain = {"type": "text-plain", "text": "notes", "mime_type": "text/plain"}
    wire = to_wire_message(ToolMessage([found, document, quoted, output, plain], tool_call_id="c"))
    assert wire["content"].split("\n") == [
        "Refunds", "https://kb/refunds", "Within 30 days.", "Free over 50.", "T", "x", "done",
        "notes",
    ]  # fmt: skip
    # A PDF document, or a search result holding an image, is named as before.
    pdf = {"type": "document", "source": {"type": "base64", "media_type": "application/pdf"}}
    mixed = {**found, "content": [{"type": "image", "url": "https://x/a.png"}]}
    named = to_wire_message(ToolMessage([pdf, mixed], tool_call_id="c"))["content"]
    assert named.count("block omitted") == 2
    system = to_wire_message(SystemMessage([plain, {"type": "text", "text": "!"}]))
    assert system["content"] == "notes!"
    # A text-plain block whose text is in base64 (or at a URL) is named, not sent empty; a result
    # nested past any sense is named, not a RecursionError.
    encoded = {"type": "text-plain", "base64": "aGk=", "mime_type": "text/plain"}
    deep: dict[str, Any] = {"type": "text", "text": "core"}
    for _ in range(2000):
        deep = {"type": "search_result", "content": [deep]}
    named = to_wire_message(ToolMessage([encoded, deep], tool_call_id="c"))["content"]
    assert named.count("block omitted") == 2
    with pytest.raises(StepFunInvalidParameterError, match="text-plain"):
        to_wire_messages([SystemMessage([encoded])])


def test_an_assistant_turn_keeps_its_refusal_and_refuses_media() -> None:
    # Hostile round 13: ChatStepFun's own refusal (v0: additional_kwargs, v1: a refusal block)
    # went back as an empty turn, and an image in an assistant turn was dropped unsaid.
    said = "I can't help with that."
    v0 = AIMessage("", additional_kwargs={"refusal": said})
    v1 = AIMessage([{"type": "refusal", "refusal": said}])
    assert to_wire_message(v0)["content"] == to_wire_message(v1)["content"] == said
    written = AIMessage("Here it is.", additional_kwargs={"refusal": said})
    assert to_wire_message(written)["content"] == "Here it is."
    # An image model's picture earlier in a mixed history (ModelFallbackMiddleware) is named:
    # raising ended the agent's run.
    image = {"type": "image", "url": "https://x/chart.png"}
    for block in (image, {"type": "image_url", "image_url": {"url": "https://x/a.png"}}):
        wire = to_wire_messages([AIMessage([{"type": "text", "text": "Here:"}, block])])
        assert wire[0]["content"] == (
            f"Here:[{block['type']} block omitted: StepFun assistant messages take text only]"
        )
    # Blocks read elsewhere (tool use, server calls) and unknown metadata are still not text.
    search = {"type": "server_tool_call", "name": "web_search", "args": {}, "id": "s"}
    other = {"type": "non_standard", "value": {"k": 1}}
    assert to_wire_message(AIMessage(["a", search, other]))["content"] == "a"


def ai_with_call(**kwargs: Any) -> AIMessage:
    return AIMessage(
        tool_calls=[{"name": "add", "args": {"name": "张三", "note": "日本語"}, "id": "call_1"}],
        **{"content": "", **kwargs},
    )


def test_assistant_tool_calls_keep_unicode() -> None:
    wire = to_wire_message(ai_with_call())
    assert wire["content"] == ""
    call = wire["tool_calls"][0]
    assert call == {
        "id": "call_1",
        "type": "function",
        "function": {"name": "add", "arguments": '{"name": "张三", "note": "日本語"}'},
    }


def test_assistant_content_drops_reasoning_thinking_and_tool_use() -> None:
    message = ai_with_call(
        content=[
            {"type": "reasoning", "reasoning": "think A", "id": "lc_x"},
            {"type": "thinking", "thinking": " think B", "signature": "s"},
            {"type": "text", "text": "answer"},
            {"type": "tool_use", "id": "call_1", "name": "add", "input": {}},
        ]
    )
    wire = to_wire_message(message)
    assert wire["content"] == "answer"
    assert wire["reasoning"] == "think A think B"
    assert "lc_x" not in json.dumps(wire)


@pytest.mark.parametrize(
    ("mode", "with_calls", "without_calls"),
    [("tool_calls", True, False), ("always", True, True), ("never", False, False)],
)
def test_echo_reasoning(mode: Any, with_calls: bool, without_calls: bool) -> None:
    reasoning = {"reasoning_content": "because"}
    wire_calls = to_wire_message(ai_with_call(additional_kwargs=reasoning), mode)
    wire_plain = to_wire_message(AIMessage("hi", additional_kwargs=reasoning), mode)
    assert ("reasoning" in wire_calls) is with_calls
    assert ("reasoning" in wire_plain) is without_calls


def test_echo_reasoning_field_and_call_override() -> None:
    model = ChatStepFun(api_key="k", echo_reasoning="never")
    history = [HumanMessage("q"), AIMessage("a", additional_kwargs={"reasoning_content": "r"})]
    assert "reasoning" not in model._payload(history, None, {})["messages"][1]
    payload = model._payload(history, None, {"echo_reasoning": "always"})
    assert payload["messages"][1]["reasoning"] == "r"
    assert "echo_reasoning" not in payload


def test_no_random_lc_ids_reach_the_request() -> None:
    # Core's normalization gives OpenAI audio blocks a random "lc_<uuid>" id.
    message = HumanMessage(
        [
            {"type": "text", "text": "listen"},
            {"type": "input_audio", "input_audio": {"data": WAV, "format": "wav"}},
        ]
    )
    normalized = _normalize_messages([message])
    assert "lc_" in json.dumps(normalized[0].content)
    payload = ChatStepFun(api_key="k")._payload(normalized, None, {})
    assert "lc_" not in json.dumps(payload)


def test_payload_is_deterministic_and_calls_override_fields() -> None:
    model = ChatStepFun(
        api_key="k",
        temperature=0.5,
        max_tokens=10,
        stop=[],
        reasoning_effort="low",
        model_kwargs={"presence_penalty": 0.2},
        extra_body={"user": "u1"},
    )
    payload = model._payload(
        [HumanMessage("hi")], ["END"], {"model": "step-3.7-flash", "temperature": 0.1}
    )
    assert list(payload) == [
        "model",
        "messages",
        "temperature",
        "max_tokens",
        "stop",
        "reasoning_effort",
        "presence_penalty",
        "user",
    ]
    assert payload["model"] == "step-3.7-flash"
    assert payload["temperature"] == 0.1
    assert payload["stop"] == ["END"]
    assert model._payload([HumanMessage("hi")], None, {}).get("stop") is None
    assert json.dumps(payload) == json.dumps(
        model._payload(
            [HumanMessage("hi")], ["END"], {"model": "step-3.7-flash", "temperature": 0.1}
        )
    )


def test_invalid_parameters_fail_before_sending() -> None:
    model = ChatStepFun(api_key="k", temperature=5)
    with pytest.raises(StepFunInvalidParameterError, match="temperature"):
        model.invoke("hi")
