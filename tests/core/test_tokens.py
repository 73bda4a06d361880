"""The offline token estimate on wire-shaped requests: text, media, tools, turns, and the memo
of counts the API reported (``stepfun_core.tokens``)."""

from __future__ import annotations

import asyncio
import base64
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest

import stepfun_core as core
from stepfun_core import (
    build_chat_request,
    count_prompt_tokens,
    estimate_tokens,
    remember_prompt_tokens,
)
from stepfun_core import tokens as core_tokens
from tests.conftest import REPO
from tests.replica import Replica

# StepFun's token-count example (API reference, step-1-8k): these two messages are 85 tokens.
REFERENCE_SYSTEM = (
    "你是由阶跃星辰提供的AI聊天助手,你擅长中文,英文,以及多种其他语言的对话。在保证用户数据安全"
    "的前提下,你能对用户的问题和请求,作出快速和精准的回答。同时,你的回答和建议应该拒绝黄赌毒,"
    "暴力恐怖主义的内容。"
)
REFERENCE_USER = "你好,请介绍一下阶跃星辰的人工智能!"
REFERENCE_TOKENS = 85
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "description": "The city"}},
            "required": ["city"],
        },
    },
}


@pytest.fixture(autouse=True)
def _fresh_memo() -> Iterator[None]:
    """Each test starts without remembered counts (the memo is process-wide), in a process that
    has counted tokens before (from then on the API's counts are kept)."""
    core_tokens._MEMO.clear()
    core_tokens._COUNTING.set()
    yield
    core_tokens._MEMO.clear()


def user(content: Any) -> dict[str, Any]:
    return {"role": "user", "content": content}


def image(url: str, detail: str | None = None) -> dict[str, Any]:
    payload = {"url": url} if detail is None else {"url": url, "detail": detail}
    return {"type": "image_url", "image_url": payload}


def test_the_public_reference_prompt_is_not_underestimated() -> None:
    messages = [
        {"role": "system", "content": REFERENCE_SYSTEM},
        {"role": "user", "content": REFERENCE_USER},
    ]
    estimate = count_prompt_tokens(messages)
    # High side, but within a factor of two: trimming by it keeps most of the window.
    assert REFERENCE_TOKENS <= estimate <= 2 * REFERENCE_TOKENS


def test_chinese_counts_far_above_the_characters_over_four_shortcut() -> None:
    text = "阶跃星辰" * 250
    assert estimate_tokens(text) >= len(text)


def test_english_is_about_a_quarter_to_a_third_of_a_token_per_character() -> None:
    text = (
        "You are an AI assistant provided by StepFun. You excel at conversations in Chinese, "
        "English, and other languages. While keeping user data safe, you should answer quickly."
    )
    assert len(text) / 4 <= estimate_tokens(text) <= len(text) * 0.4


def test_digits_and_emoji_are_counted_high() -> None:
    assert estimate_tokens("1234567890") >= 10
    assert estimate_tokens("😊👍🎉") >= 6


def test_images_cost_a_fixed_amount_however_large_their_data() -> None:
    text_only = count_prompt_tokens([user([{"type": "text", "text": "What is this?"}])])
    small = count_prompt_tokens(
        [user([{"type": "text", "text": "What is this?"}, image("https://x/a.png")])]
    )
    data = "data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\n" * 400_000).decode()
    large = count_prompt_tokens([user([{"type": "text", "text": "What is this?"}, image(data)])])
    assert small - text_only >= core_tokens.IMAGE_TOKENS
    assert large == small


def test_low_detail_images_cost_less_but_at_least_the_documented_400() -> None:
    low = count_prompt_tokens([user([image("https://x/a.png", "low")])])
    high = count_prompt_tokens([user([image("https://x/a.png", "high")])])
    default = count_prompt_tokens([user([image("https://x/a.png")])])
    assert 400 <= core_tokens.LOW_DETAIL_IMAGE_TOKENS < low < high == default


def test_videos_and_audio_are_counted() -> None:
    empty = count_prompt_tokens([user([])])
    video = count_prompt_tokens(
        [user([{"type": "video_url", "video_url": {"url": "https://x/v.mp4"}}])]
    )
    assert video - empty >= core_tokens.VIDEO_TOKENS

    def audio(seconds: int) -> int:
        mp3 = base64.b64encode(b"\xff\xfb" + bytes(4_000 * seconds)).decode()
        part = {"type": "input_audio", "input_audio": {"data": f"data:audio/mpeg;base64,{mp3}"}}
        return count_prompt_tokens([user([part])]) - empty

    # 25 tokens a second at 32 kbit/s; a longer clip costs more.
    assert audio(10) >= 250
    assert audio(60) > 5 * audio(10)


def test_tools_add_their_schema_and_instructions() -> None:
    messages = [user("Weather in Paris?")]
    without = count_prompt_tokens(messages)
    one = count_prompt_tokens(messages, [WEATHER_TOOL])
    bigger = dict(WEATHER_TOOL, function={**WEATHER_TOOL["function"], "description": "x " * 300})
    assert one - without >= core_tokens.TOOLS_PREAMBLE_TOKENS + 20
    assert count_prompt_tokens(messages, [WEATHER_TOOL, bigger]) > one + 150
    assert count_prompt_tokens(messages, []) == without


def test_tool_calls_results_and_reasoning_count() -> None:
    calling = {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {
                "id": "c1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
            }
        ],
    }
    result = {"role": "tool", "content": "Sunny, 21 C", "tool_call_id": "c1"}
    base = count_prompt_tokens([user("Weather?")])
    with_call = count_prompt_tokens([user("Weather?"), calling])
    assert with_call - base >= core_tokens.MESSAGE_TOKENS + estimate_tokens('{"city": "Paris"}')
    assert count_prompt_tokens([user("Weather?"), calling, result]) > with_call
    thinking = dict(calling, reasoning_content="I should call the tool. " * 20)
    assert count_prompt_tokens([user("Weather?"), thinking]) >= with_call + 100


def test_a_reported_count_is_used_for_exactly_that_prompt() -> None:
    body = build_chat_request("step-3.5-flash", [user("你好")], tools=[WEATHER_TOOL])
    estimate = count_prompt_tokens(body["messages"], body["tools"])
    remember_prompt_tokens(body["messages"], body.get("tools"), 3)
    assert count_prompt_tokens(body["messages"], body["tools"]) == 3 != estimate
    # Equal content in new objects (the next request of a conversation) hits too.
    assert count_prompt_tokens([user("你好")], [dict(WEATHER_TOOL)]) == 3
    # Other tools, or no tools, make another prompt.
    assert count_prompt_tokens([user("你好")]) != 3


def test_a_reported_count_is_extended_by_the_messages_that_follow() -> None:
    first = [user("What is the weather in Paris?")]
    remember_prompt_tokens(first, None, 20)
    follow = [{"role": "assistant", "content": "Sunny."}, user("And in Rome?")]
    alone = count_prompt_tokens(follow) - count_prompt_tokens([])
    assert count_prompt_tokens(first + follow) == 20 + alone
    # The longest remembered prefix wins.
    remember_prompt_tokens(first + follow[:1], None, 30)
    assert count_prompt_tokens(first + follow) == 30 + count_prompt_tokens(
        follow[1:]
    ) - count_prompt_tokens([])


def test_nothing_is_kept_before_the_process_first_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    # Keeping a count walks the whole history on every call: only worth it once someone counts.
    monkeypatch.setattr(core_tokens, "_COUNTING", threading.Event())
    messages = [user("hello")]
    remember_prompt_tokens(messages, None, 99)
    assert not core_tokens._MEMO
    assert count_prompt_tokens(messages) != 99  # the first count estimates, and opens the memo
    remember_prompt_tokens(messages, None, 99)
    assert count_prompt_tokens(messages) == 99


@pytest.mark.parametrize("bad", [0, -3, True, "85", None, 2.5])
def test_reported_counts_that_are_not_positive_integers_are_ignored(bad: Any) -> None:
    messages = [user("hello")]
    estimate = count_prompt_tokens(messages)
    remember_prompt_tokens(messages, None, bad)
    assert count_prompt_tokens(messages) == estimate


def test_the_memo_is_bounded() -> None:
    prompts = [[user(f"question {i}")] for i in range(300)]
    for prompt in prompts:
        remember_prompt_tokens(prompt, None, 1)
    assert count_prompt_tokens(prompts[-1]) == 1
    assert count_prompt_tokens(prompts[0]) > 1  # forgotten: estimated again
    assert len(core_tokens._MEMO) <= 256


class Untouchable(str):
    """A data URL that counts its hashes and refuses to be read, copied or serialized."""

    hashes = 0

    def __hash__(self) -> int:
        Untouchable.hashes += 1
        return super().__hash__()

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the image data was read")

    encode = __iter__ = __getitem__ = __str__ = __format__ = _refuse  # type: ignore[assignment]


def test_images_are_keyed_by_a_hash_never_by_their_bytes() -> None:
    url = Untouchable("data:image/png;base64," + "A" * 1_000_000)
    messages = [user([{"type": "text", "text": "What is this?"}, image(url)])]
    Untouchable.hashes = 0
    remember_prompt_tokens(messages, None, 1234)
    assert count_prompt_tokens(messages) == 1234
    assert Untouchable.hashes <= 2  # once to remember, once to look up


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_the_clients_remember_what_the_api_counted(
    replica: Replica, mode: str, stream: bool
) -> None:
    messages = [{"role": "user", "content": f"Count me, {mode} {stream}: 計算してください"}]
    payload = core.build_chat_request("step-3.5-flash", messages)
    options = {"api_key": "k", "base_url": replica.base_url}

    async def arun() -> core.Usage | None:
        client = core.AsyncStepFunClient(**options)
        if not stream:
            return (await client.create(payload)).usage
        async with await client.stream(payload) as chunks:
            async for _ in chunks:
                pass
        return chunks.completion().usage

    def run() -> core.Usage | None:
        client = core.StepFunClient(**options)
        if not stream:
            return client.create(payload).usage
        with client.stream(payload) as chunks:
            for _ in chunks:
                pass
        return chunks.completion().usage

    usage = run() if mode == "sync" else asyncio.run(arun())
    assert usage is not None
    assert count_prompt_tokens(messages) == usage.prompt_tokens


FRESH_PROCESS = """
import sys

import stepfun_core as core

client = core.StepFunClient(api_key="k", base_url=sys.argv[1])
messages = [{"role": "user", "content": "Count me in a fresh process, 新しいプロセスで"}]
payload = core.build_chat_request("step-3.5-flash", messages)
reported = client.create(payload).usage.prompt_tokens
first = core.count_prompt_tokens(messages)  # nothing was kept before this first count
client.create(payload)
print(reported, first, core.count_prompt_tokens(messages))
"""


def test_a_fresh_process_keeps_the_apis_counts_from_its_first_count_on(replica: Replica) -> None:
    # A real interpreter, not a monkeypatched flag: the gate starts closed in a new process.
    out = subprocess.run(
        [sys.executable, "-c", FRESH_PROCESS, replica.base_url],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=REPO,
    ).stdout
    reported, first, later = map(int, out.split())
    assert first != reported  # an estimate: the call before the first count was not kept
    assert later == reported
