"""What goes on the wire: parameters, multimodal messages, tool round trips, reasoning echo."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import pytest
from llama_index.core.base.llms.types import (
    AudioBlock,
    ChatMessage,
    DocumentBlock,
    ImageBlock,
    TextBlock,
    ThinkingBlock,
    ToolCallBlock,
    VideoBlock,
)
from pydantic import SecretStr

from stepfun_core import InvalidParameterError
from tests.core.wire_samples import REASONING_REPLY
from tests.llama_index.conftest import Driver, MockAPI, json_reply, user

MEDIA = Path(__file__).resolve().parent.parent / "media"
PNG = MEDIA / "tiny.png"


def test_parameters_and_per_call_overrides(driver: Driver) -> None:
    api = MockAPI(json_reply(REASONING_REPLY))
    llm = api.llm(
        model="step-3.7-flash",
        temperature=0.3,
        top_p=0.9,
        stop=["END"],
        reasoning_effort="high",
        reasoning_format="deepseek-style",
        additional_kwargs={"frequency_penalty": 0.5, "seed": 7},
    )
    driver.chat(llm, user("hi"), temperature=1.2, max_tokens=64)
    [body] = api.bodies
    assert body["model"] == "step-3.7-flash"
    assert body["temperature"] == 1.2 and body["max_tokens"] == 64
    assert body["top_p"] == 0.9 and body["stop"] == ["END"]
    assert body["reasoning_effort"] == "high"
    assert body["reasoning_format"] == "deepseek-style"
    assert body["frequency_penalty"] == 0.5 and body["seed"] == 7
    assert body["stream"] is False
    assert body["messages"] == [{"role": "user", "content": "hi"}]


def test_an_extra_body_in_additional_kwargs_is_body_fields(driver: Driver) -> None:
    # Round 13 (llama-index-llms-openai-like's tests keep extras there): it was sent as a field
    # named "extra_body", so the setting never took effect. A call's extra_body still wins.
    api = MockAPI(json_reply(REASONING_REPLY))
    extra = {"reasoning_format": "deepseek-style", "seed": 7}
    llm = api.llm(additional_kwargs={"extra_body": extra, "top_k": 3})
    driver.chat(llm, user("hi"))
    driver.chat(llm, user("hi"), extra_body={"seed": 8})
    first, second = api.bodies
    assert "extra_body" not in first
    assert (first["reasoning_format"], first["seed"], first["top_k"]) == ("deepseek-style", 7, 3)
    assert second["seed"] == 8
    with pytest.raises(InvalidParameterError, match="extra_body"):
        driver.chat(api.llm(additional_kwargs={"extra_body": {"model": "x"}}), user("hi"))
    assert len(api.bodies) == 2


def test_an_extra_query_is_refused_not_sent_in_the_body(driver: Driver) -> None:
    # Round 14: openai-python (so LlamaIndex's OpenAI) sends a call's extra_query as URL
    # parameters; here it went into the body, and the gateway never saw it.
    api = MockAPI(json_reply(REASONING_REPLY))
    with pytest.raises(InvalidParameterError, match="extra_query: put the query in base_url"):
        driver.chat(api.llm(), user("hi"), extra_query={"api-version": "1"})
    with pytest.raises(InvalidParameterError, match="extra_query"):
        api.llm(additional_kwargs={"extra_query": {"api-version": "1"}})
    assert api.bodies == []


def test_unset_parameters_are_not_sent(driver: Driver) -> None:
    api = MockAPI(json_reply(REASONING_REPLY))
    driver.complete(api.llm(), "hi")
    [body] = api.bodies
    assert set(body) == {"model", "messages", "stream"}
    assert body["model"] == "step-3.5-flash"


def test_invalid_parameter_fails_before_sending(driver: Driver) -> None:
    api = MockAPI(json_reply(REASONING_REPLY))
    with pytest.raises(InvalidParameterError, match="temperature"):
        driver.chat(api.llm(), user("hi"), temperature=3.5)
    with pytest.raises(InvalidParameterError, match="temperature"):
        driver.stream_chat(api.llm(), user("hi"), temperature=3.5)
    assert api.requests == []


def test_multimodal_user_message(driver: Driver) -> None:
    api = MockAPI(json_reply(REASONING_REPLY))
    message = ChatMessage(
        role="user",
        blocks=[
            TextBlock(text="what is in these?"),
            ImageBlock(url="https://example.com/cat.png", detail="low"),
            ImageBlock(path=PNG),
            ImageBlock(image=PNG.read_bytes(), detail="high"),
            AudioBlock(path=MEDIA / "tiny.mp3"),
            AudioBlock(audio=(MEDIA / "tiny.wav").read_bytes(), format="wav"),
            VideoBlock(url="https://example.com/clip.mp4"),
        ],
    )
    driver.chat(api.llm(model="step-3.7-flash"), [message])
    parts = api.bodies[0]["messages"][0]["content"]
    assert parts[0] == {"type": "text", "text": "what is in these?"}
    assert parts[1] == {
        "type": "image_url",
        "image_url": {"url": "https://example.com/cat.png", "detail": "low"},
    }
    assert parts[2]["image_url"]["url"].startswith("data:image/png;base64,")
    assert parts[3]["image_url"] == {"url": parts[2]["image_url"]["url"], "detail": "high"}
    assert parts[4]["input_audio"]["data"].startswith("data:audio/mpeg;base64,")
    assert parts[5]["input_audio"]["data"].startswith("data:audio/wav;base64,")
    assert parts[6] == {"type": "video_url", "video_url": {"url": "https://example.com/clip.mp4"}}


def test_media_bytes_go_as_the_blocks_base64_decoded_once_for_every_call(
    driver: Driver, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Session 11: every call decoded each ImageBlock's base64 and encoded it again; four 5 MB
    # images cost 382 ms a call against 147 ms to serialise the body (215 ms now). The block
    # already holds base64: it is sent as it is, and the request checks each data URL once.
    import base64 as b64

    png, wav = PNG.read_bytes(), (MEDIA / "tiny.wav").read_bytes()
    image, audio = ImageBlock(image=png + b"\x01"), AudioBlock(audio=wav + b"\x01", format="wav")
    decoded: list[int] = []
    real = b64.b64decode

    def counting(data: Any, *args: Any, **kwargs: Any) -> bytes:
        decoded.append(len(data))
        return real(data, *args, **kwargs)

    monkeypatch.setattr(b64, "b64decode", counting)
    if not (image.image.isascii() and audio.audio.isascii()):  # type: ignore[union-attr]
        pytest.skip("this llama-index-core keeps the bytes raw: there is no base64 to send as held")
    message = ChatMessage(role="user", blocks=[image, audio])  # LlamaIndex decodes them here
    decoded.clear()
    api = MockAPI(json_reply(REASONING_REPLY))
    llm = api.llm(model="step-3.7-flash")
    for _ in range(3):
        driver.chat(llm, [message])
    parts = [body["messages"][0]["content"] for body in api.bodies]
    assert parts[0] == parts[1] == parts[2]
    assert parts[0][0]["image_url"]["url"] == f"data:image/png;base64,{image.image.decode()}"
    assert parts[0][1]["input_audio"]["data"] == f"data:audio/wav;base64,{audio.audio.decode()}"
    assert sum(n > 24 for n in decoded) <= 2  # each whole at most once (a first check)


@pytest.mark.parametrize(
    ("block", "message"),
    [
        (ImageBlock(image=b"GIF89a" + bytes(9), image_mimetype="image/png"), "holds image/gif"),
        (ImageBlock(image=b"%PDF-1.4 hello", image_mimetype="image/png"), "declared as image/png"),
        (AudioBlock(audio=b"GIF89a" + bytes(9), format="wav"), "declared as audio/wav"),
        # Hostile round 12: AAC (LlamaIndex's own guess, "aac") went out as mp3.
        (AudioBlock(audio=b"\xff\xf1\x50\x80" + bytes(16), format="aac"), "'aac' is not supported"),
    ],
    ids=["gif-as-png", "pdf-as-png", "gif-as-wav", "aac"],
)
def test_media_bytes_of_another_kind_are_refused_before_sending(
    driver: Driver, block: object, message: str
) -> None:
    api = MockAPI(json_reply(REASONING_REPLY))
    with pytest.raises(InvalidParameterError, match=message):
        driver.chat(api.llm(), [ChatMessage(role="user", blocks=[block])])
    assert api.requests == []


def test_media_file_objects_are_read_by_the_core_within_its_limits(driver: Driver) -> None:
    # Hostile round 12: resolve_image() read a file object whole before any size check (1 GiB
    # of memory to refuse it), and refused an empty one with a bare ValueError.
    png, wav = PNG.read_bytes(), (MEDIA / "tiny.wav").read_bytes()
    api = MockAPI(json_reply(REASONING_REPLY))
    try:
        image = ImageBlock(image=io.BytesIO(png))
    except ValueError:  # pydantic's ValidationError
        pytest.skip("this llama-index-core's ImageBlock takes bytes only, not file objects")
    blocks = [image, AudioBlock(audio=io.BytesIO(wav), format="wav")]
    driver.chat(api.llm(model="step-3.7-flash"), [ChatMessage(role="user", blocks=blocks)])
    [image, audio] = api.bodies[0]["messages"][0]["content"]
    assert image["image_url"]["url"] == f"data:image/png;base64,{base64.b64encode(png).decode()}"
    assert audio["input_audio"]["data"] == f"data:audio/wav;base64,{base64.b64encode(wav).decode()}"

    class Huge(io.RawIOBase):  # as large as a sparse file of 1 GiB; reading it would fail
        def seekable(self) -> bool:
            return True

        def seek(self, offset: int, whence: int = 0) -> int:
            return 1 << 30 if whence == io.SEEK_END else 0

        def readinto(self, buffer: Any) -> int:
            raise AssertionError("read")

    for block, message in [
        (ImageBlock(image=Huge()), "more than StepFun takes"),
        (ImageBlock(image=io.BytesIO()), "empty"),
        (AudioBlock(audio=io.BytesIO(), format="wav"), "empty"),
    ]:
        with pytest.raises(InvalidParameterError, match=message):
            driver.chat(api.llm(), [ChatMessage(role="user", blocks=[block])])
    assert len(api.requests) == 1


@pytest.mark.parametrize(
    ("block", "message"),
    [
        (DocumentBlock(data=b"%PDF-1.4 hello", document_mimetype="application/pdf"), "Document"),
        (VideoBlock(video=b"\x00\x00\x00\x18ftypmp42"), "http"),
        (AudioBlock(url="https://example.com/a.mp3"), "not as the URL"),
    ],
)
def test_unsupported_blocks_are_named(driver: Driver, block: object, message: str) -> None:
    api = MockAPI(json_reply(REASONING_REPLY))
    with pytest.raises(InvalidParameterError, match=message):
        driver.chat(api.llm(), [ChatMessage(role="user", blocks=[block])])
    assert api.requests == []


def _tool_turn(thinking: str = "I need the weather.") -> list[ChatMessage]:
    return [
        ChatMessage(role="system", content="Be brief."),
        ChatMessage(role="user", content="Weather in Paris?"),
        ChatMessage(
            role="assistant",
            blocks=[
                ThinkingBlock(content=thinking),
                TextBlock(text=""),
                ToolCallBlock(tool_call_id="call_1", tool_name="get_weather", tool_kwargs={"c": 1}),
            ],
        ),
        ChatMessage(role="tool", content="sunny", additional_kwargs={"tool_call_id": "call_1"}),
        ChatMessage(
            role="assistant",
            blocks=[ThinkingBlock(content="Answer now."), TextBlock(text="It is sunny.")],
        ),
        ChatMessage(role="user", content="Thanks"),
    ]


@pytest.mark.parametrize(
    ("echo", "expected"),
    [
        ("tool_calls", ["I need the weather.", None]),
        ("always", ["I need the weather.", "Answer now."]),
        ("never", [None, None]),
    ],
)
@pytest.mark.parametrize("where", ["model", "call"])
def test_tool_round_trip_and_reasoning_echo(
    driver: Driver, echo: str, expected: list[str | None], where: str
) -> None:
    # Per call as in LangChain; once it went into the body, and the model's value applied.
    api = MockAPI(json_reply(REASONING_REPLY))
    if where == "model":
        driver.chat(api.llm(echo_reasoning=echo), _tool_turn())
    else:
        other = "never" if echo != "never" else "always"
        driver.chat(api.llm(echo_reasoning=other), _tool_turn(), echo_reasoning=echo)
    assert "echo_reasoning" not in api.bodies[0]
    messages = api.bodies[0]["messages"]
    assert [m["role"] for m in messages] == [
        "system",
        "user",
        "assistant",
        "tool",
        "assistant",
        "user",
    ]
    assert messages[2]["tool_calls"] == [
        {
            "id": "call_1",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"c": 1}'},
        }
    ]
    assert messages[2]["content"] == ""
    assert messages[3] == {"role": "tool", "content": "sunny", "tool_call_id": "call_1"}
    assert [messages[2].get("reasoning"), messages[4].get("reasoning")] == expected
    assert "tool_call_id" not in messages[4]


def test_a_reply_goes_back_as_history_unchanged(driver: Driver) -> None:
    from tests.core.wire_samples import TOOL_CALL_REPLY

    api = MockAPI(json_reply(TOOL_CALL_REPLY))
    llm = api.llm()
    reply = driver.chat(llm, user("weather?"))
    result = ChatMessage(
        role="tool", content="", additional_kwargs={"tool_call_id": "call_brg23SRcTgmpm_V0jfP-iA"}
    )
    driver.chat(llm, [*user("weather?"), reply.message, result])
    history = api.bodies[1]["messages"]
    assert history[1]["tool_calls"][0]["id"] == "call_brg23SRcTgmpm_V0jfP-iA"
    assert history[1]["tool_calls"][0]["function"]["name"] == "get_weather"
    assert history[2] == {
        "role": "tool",
        "content": "",
        "tool_call_id": "call_brg23SRcTgmpm_V0jfP-iA",
    }


def test_tool_message_without_call_id_is_an_error(driver: Driver) -> None:
    api = MockAPI(json_reply(REASONING_REPLY))
    with pytest.raises(InvalidParameterError, match="tool_call_id"):
        driver.chat(api.llm(), [ChatMessage(role="tool", content="x")])


@pytest.mark.parametrize(
    ("call", "message"),
    [
        ({"echo_reasoning": "sometimes"}, "echo_reasoning: must be one of"),
        ({"context_window": 4096}, "context_window: a setting of the model, not of one call"),
        ({"additional_kwargs": {"x": 1}}, "additional_kwargs: a setting of the model"),
        ({"api_key": "sk-" + "per-call"}, "give one call's key as a SecretStr"),
    ],
)
def test_a_call_argument_that_would_mean_nothing_in_the_body_is_refused(
    driver: Driver, call: dict[str, object], message: str
) -> None:
    # Each went into the body (a plain key, into LlamaIndex's instrumentation events first).
    api = MockAPI(json_reply(REASONING_REPLY))
    with pytest.raises(InvalidParameterError, match=message):
        driver.chat(api.llm(), user("hi"), **call)
    assert api.requests == []


def test_a_calls_key_given_as_a_secret_is_used(driver: Driver) -> None:
    api = MockAPI(json_reply(REASONING_REPLY))
    driver.chat(api.llm(), user("hi"), api_key=SecretStr("sk-per-call"))
    assert api.requests[0].headers["Authorization"] == "Bearer sk-per-call"


def test_a_tools_cited_source_is_sent_as_its_text() -> None:
    # Hostile round 8: LlamaIndex's FunctionTool takes a CitableBlock as a tool's output; it was
    # sent as "[CitableBlock omitted]", so the model never saw the text. An image is named.
    from llama_index.core.base.llms.types import CitableBlock

    from llama_index_stepfun.messages import to_wire_message

    cited = CitableBlock(
        title="Handbook", source="handbook.pdf", content=[TextBlock(text="30 days.")]
    )
    blocks = [TextBlock(text="Found:"), cited, ImageBlock(url="https://example.com/a.png")]
    message = ChatMessage(role="tool", blocks=blocks, additional_kwargs={"tool_call_id": "c1"})
    assert to_wire_message(message)["content"] == "Found:\n30 days.\n[ImageBlock omitted]"


def test_a_stated_refusal_goes_back_as_that_turns_text(driver: Driver) -> None:
    # Hostile round 13: StepFun's own refusal (kept in additional_kwargs["refusal"]) went back as
    # an empty assistant turn, so the model saw it had said nothing.
    said = "I can't help with that."
    body = {
        "id": "r1",
        "model": "step-3.5-flash",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "", "refusal": said},
                "finish_reason": "stop",
            }
        ],
    }
    api = MockAPI(json_reply(body))
    llm = api.llm()
    reply = driver.chat(llm, user("?"))
    assert reply.message.additional_kwargs["refusal"] == said
    driver.chat(llm, [*user("?"), reply.message, *user("Why not?")])
    assert api.bodies[1]["messages"][1] == {"role": "assistant", "content": said}


def test_media_in_an_assistant_turn_is_named() -> None:
    # Round 13: as in tool messages (and in the LangChain adapter), an image model's picture
    # earlier in a mixed history is named; raising ended an agent's run. A system message still
    # refuses it (the developer wrote it).
    from llama_index_stepfun.messages import to_wire_message

    picture = ImageBlock(url="https://example.com/cat.png")
    said = ChatMessage(role="assistant", blocks=[TextBlock(text="Here:"), picture])
    assert to_wire_message(said)["content"] == "Here:\n[ImageBlock omitted]"
    with pytest.raises(InvalidParameterError, match="ImageBlock"):
        to_wire_message(ChatMessage(role="system", blocks=[picture]))


def test_copies_and_extra_bodies_are_checked_as_the_constructor_checks_them() -> None:
    # Round 13: model_copy kept an httpx.Timeout (the model no longer serialized), and reserved
    # keys in additional_kwargs' extra_body passed construction to fail every call.
    import httpx

    from llama_index_stepfun import StepFun

    llm = StepFun(api_key="k")
    copy = llm.model_copy(update={"timeout": httpx.Timeout(3.0, connect=1.0)})
    assert copy.timeout == (1.0, 3.0, 3.0, 3.0)
    assert '"timeout":[1.0,3.0,3.0,3.0]' in copy.model_dump_json()
    for extra in ({"model": "x"}, {"stream": True}, "x"):
        with pytest.raises(InvalidParameterError, match="extra_body"):
            StepFun(api_key="k", additional_kwargs={"extra_body": extra})
