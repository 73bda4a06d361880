"""Bad requests fail before sending, naming the field; good ones are built as given."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from stepfun_core import InvalidParameterError, build_chat_request

USER = [{"role": "user", "content": "hi"}]
TOOL = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}


def build(**params: Any) -> dict[str, Any]:
    return build_chat_request("step-3.5-flash", USER, **params)


def test_every_parameter_of_the_spec_goes_through() -> None:
    params = {
        "tools": [TOOL, {"type": "web_search", "function": {"description": "search"}}],
        "tool_choice": "auto",
        "max_tokens": 100,
        "temperature": 0.0,
        "top_p": 0.9,
        "n": 2,
        "stop": ["\n\n", "END"],
        "frequency_penalty": 0.5,
        "response_format": {"type": "json_object"},
        "reasoning_format": "deepseek-style",
        "reasoning_effort": "high",
        "user_extra": {"kept": True},
    }
    assert build(**params) == {"model": "step-3.5-flash", "messages": USER, **params}


def test_none_values_and_empty_tools_are_dropped() -> None:
    assert build(temperature=None, tools=[], stop=None) == {
        "model": "step-3.5-flash",
        "messages": USER,
    }


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"temperature": 2.5}, "temperature"),
        ({"temperature": -0.1}, "temperature"),
        ({"temperature": "hot"}, "temperature"),
        ({"top_p": 1.5}, "top_p"),
        ({"frequency_penalty": 3}, "frequency_penalty"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_tokens": 1.5}, "max_tokens"),
        ({"n": 0}, "n"),
        ({"n": True}, "n"),
        ({"stop": 3}, "stop"),
        ({"stop": ["a", 1]}, "stop"),
        ({"response_format": {"type": "xml"}}, "response_format.type"),
        ({"response_format": {"type": "json_schema"}}, "response_format.json_schema"),
        (
            {"response_format": {"type": "json_schema", "json_schema": {"schema": {}}}},
            "response_format.json_schema.name",
        ),
        ({"reasoning_format": "openai"}, "reasoning_format"),
        ({"reasoning_effort": "max"}, "reasoning_effort"),
        (
            {"tools": [{"type": "function", "function": {"name": "get weather"}}]},
            "tools[0].function.name",
        ),
        (
            {"tools": [{"type": "function", "function": {"name": "x" * 65}}]},
            "tools[0].function.name",
        ),
        ({"tools": [{"type": "function", "function": {"name": "天气"}}]}, "tools[0].function.name"),
        ({"tools": [{"type": "retrieval"}]}, "tools[0].type"),
        ({"tools": [TOOL], "tool_choice": "any"}, "tool_choice"),
        ({"tool_choice": "required"}, "tool_choice"),  # no tool to call: it was sent
        ({"tools": [], "tool_choice": "required"}, "tool_choice"),
        (
            {"tools": [TOOL], "tool_choice": {"type": "function", "function": {"name": "other"}}},
            "tool_choice",
        ),
    ],
)
def test_bad_parameters_name_the_field(params: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidParameterError) as caught:
        build(**params)
    assert str(caught.value).startswith(field + ":")
    assert isinstance(caught.value, ValueError)


def test_tool_names_at_the_limits() -> None:
    for name in ("a", "A-b_9", "x" * 64, "1st"):
        build(tools=[{"type": "function", "function": {"name": name}}])


@pytest.mark.parametrize(
    ("messages", "field"),
    [
        ([], "messages"),
        ([{"role": "function", "content": "x"}], "messages[0].role"),
        ([{"role": "user"}], "messages[0].content"),
        ([{"role": "tool", "content": "42"}], "messages[0].tool_call_id"),
        ([{"role": "system", "content": [{"type": "text", "text": "x"}]}], "messages[0].content"),
        (
            [{"role": "user", "content": [{"type": "file", "file": {}}]}],
            "messages[0].content[0].type",
        ),
        (
            [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "ftp://x"}}]}],
            "messages[0].content[0].image_url.url",
        ),
        (
            [
                {
                    "role": "user",
                    "content": [
                        {"type": "image_url", "image_url": {"url": "https://x", "detail": "auto"}}
                    ],
                }
            ],
            "messages[0].content[0].image_url.detail",
        ),
        (
            [
                {
                    "role": "user",
                    "content": [
                        {"type": "video_url", "video_url": {"url": "data:video/webm;base64,AA"}}
                    ],
                }
            ],
            "messages[0].content[0].video_url.url",
        ),
        (
            [{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}],
            "messages[0].content[0].input_audio.data",
        ),
        ([{"role": "user", "content": "x", "tool_calls": []}], "messages[0].tool_calls"),
        # A name the spec does not allow ("a b") goes back as the model wrote it (round 13:
        # test_a_tool_name_the_model_wrote_goes_back_as_written); a name that is no string not.
        (
            [{"role": "assistant", "content": None, "tool_calls": [{"function": {"name": None}}]}],
            "messages[0].tool_calls[0]",
        ),
    ],
)
def test_bad_messages_name_the_field(messages: list[dict[str, Any]], field: str) -> None:
    with pytest.raises(InvalidParameterError) as caught:
        build_chat_request("step-3.5-flash", messages)
    assert str(caught.value).startswith(field + ":")


MEDIA = Path(__file__).resolve().parent.parent / "media"
PNG_B64 = base64.b64encode((MEDIA / "tiny.png").read_bytes()).decode()
WAV_B64 = base64.b64encode((MEDIA / "tiny.wav").read_bytes()).decode()


def test_a_full_conversation_is_accepted() -> None:
    messages = [
        {"role": "system", "content": "be brief"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "what is this?"},
                {
                    "type": "image_url",
                    "image_url": {"url": f"data:image/png;base64,{PNG_B64}", "detail": "high"},
                },
                {"type": "video_url", "video_url": {"url": "https://example.com/a.mp4"}},
                {
                    "type": "input_audio",
                    "input_audio": {"data": f"data:audio/wav;base64,{WAV_B64}"},
                },
            ],
        },
        {
            "role": "assistant",
            "content": None,
            "reasoning_content": "think",
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "42"},
    ]
    assert build_chat_request("step-3.7-flash", messages)["messages"] == messages


def test_missing_model() -> None:
    with pytest.raises(InvalidParameterError, match=r"^model:"):
        build_chat_request("", USER)
