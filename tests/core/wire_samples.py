"""Payloads shaped like the captures of docs/wire.md, for the core's unit tests."""

from __future__ import annotations

import json
from typing import Any


def sse(*events: dict[str, Any], done: bool = True, newline: str = "\n") -> bytes:
    """Render events as an SSE body."""
    body = "".join(f"data: {json.dumps(e, ensure_ascii=False)}{newline}{newline}" for e in events)
    if done:
        body += f"data: [DONE]{newline}{newline}"
    return body.encode("utf-8")


LEGACY_ID = "d4ca43cd-83a7-4012-9ee7-b8f143eb1f8f"


def legacy_chunk(
    content: str, finish: str = "", *, completion: int, created: int = 1710146871, role: str = ""
) -> dict[str, Any]:
    """A step-1-era chunk: role "", finish_reason "", cumulative usage (docs/wire.md)."""
    prompt = 0 if created == 0 else 90
    return {
        "id": LEGACY_ID,
        "object": "chat.completion.chunk",
        "created": created,
        "model": "step-1-8k",
        "choices": [
            {"index": 0, "delta": {"role": role, "content": content}, "finish_reason": finish}
        ],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        },
    }


LEGACY_STREAM = sse(
    legacy_chunk("", completion=0, created=0, role="assistant"),
    legacy_chunk("阶", completion=1),
    legacy_chunk("跃星辰", completion=23),
    legacy_chunk("", completion=24),
    legacy_chunk("", "stop", completion=24),
)

CURRENT_ID = "e43fc072dff79dd9ada6104f80c34d6c.25f5f6e94c19f48b6f334ab0c6a6f2e6"


def current_chunk(
    delta: dict[str, Any], completion: int, finish: str | None = None
) -> dict[str, Any]:
    """A 2026 chunk: no finish_reason key until the end, "agent":"" (docs/wire.md)."""
    choice: dict[str, Any] = {"index": 0, "delta": {"role": "assistant", **delta}}
    if finish is not None:
        choice["finish_reason"] = finish
    return {
        "id": CURRENT_ID,
        "object": "chat.completion.chunk",
        "created": 1772615012,
        "model": "step-3.7-flash",
        "choices": [choice],
        "usage": {
            "prompt_tokens": 85,
            "completion_tokens": completion,
            "total_tokens": 85 + completion,
            "prompt_tokens_details": {"cached_tokens": 64},
            "completion_tokens_details": {"reasoning_tokens": min(completion, 2)},
        },
        "agent": "",
    }


CURRENT_STREAM = sse(
    current_chunk({"content": ""}, 0),
    current_chunk({"content": "", "reasoning": "用户"}, 1),
    current_chunk({"content": "", "reasoning": "想知道。"}, 2),
    current_chunk({"content": "人工智能公司。"}, 614),
    current_chunk({"content": " 😊"}, 616, finish="stop"),
)


# A stated refusal (OpenAI's ``refusal`` field, which StepFun's OpenAI-compatible API may send):
# whole in ``message.refusal``, or streamed as ``delta.refusal`` pieces beside ``content: null``.
REFUSAL = "I can't help with that."


def refusal_completion(response_id: str = CURRENT_ID) -> dict[str, Any]:
    """A non-streaming reply whose message states a refusal and has no content."""
    return {
        "id": response_id,
        "object": "chat.completion",
        "created": 1772615012,
        "model": "step-3.7-flash",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": None, "refusal": REFUSAL},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 85, "completion_tokens": 6, "total_tokens": 91},
    }


REFUSAL_STREAM = sse(
    current_chunk({"content": None, "refusal": ""}, 0),
    current_chunk({"content": None, "refusal": "I can't "}, 1),
    current_chunk({"content": None, "refusal": "help with that."}, 2),
    current_chunk({"content": None, "refusal": None}, 3, finish="stop"),
)


def legacy_tool_chunk(call: dict[str, Any], completion: int) -> dict[str, Any]:
    """A step-1-era tool-call delta: no index, "" id and type (docs/wire.md#stream-tool-calls)."""
    return {
        "id": "a828956f444cd170aeeb1ab12a4688c9.ed3d0deaecf4bc3f3b39b85b8c09f3eb",
        "object": "chat.completion.chunk",
        "created": 1727104577,
        "model": "step-1-8k",
        "choices": [{"index": 0, "delta": {"role": "", "content": "", "tool_calls": [call]}}],
        "usage": {
            "cached_tokens": 96,
            "prompt_tokens": 100,
            "completion_tokens": completion,
            "total_tokens": 100 + completion,
        },
    }


def legacy_call(name: str, arguments: str) -> dict[str, Any]:
    return {"id": "", "type": "", "function": {"name": name, "arguments": arguments}}


LEGACY_TOOL_STREAM = sse(
    legacy_tool_chunk(legacy_call("", ""), 12),
    legacy_tool_chunk(legacy_call("get_weather", ""), 13),
    legacy_tool_chunk(legacy_call("", '{"'), 14),
    legacy_tool_chunk(legacy_call("", 'city": "上海"}'), 15),
    {
        **legacy_tool_chunk(legacy_call("", ""), 16),
        "choices": [
            {"index": 0, "delta": {"role": "", "content": ""}, "finish_reason": "tool_calls"}
        ],
    },
)


def _tool_delta(index: int, **fields: Any) -> dict[str, Any]:
    return {"index": index, **fields}


PARALLEL_TOOL_STREAM = sse(
    current_chunk(
        {
            "content": "",
            "tool_calls": [
                _tool_delta(
                    0,
                    id="call_aaaaaaaaaaaaaaaaaaaaaa",
                    type="function",
                    function={"name": "get_weather", "arguments": ""},
                ),
                _tool_delta(
                    1,
                    id="call_bbbbbbbbbbbbbbbbbbbbbb",
                    type="function",
                    function={"name": "get_time", "arguments": ""},
                ),
            ],
        },
        3,
    ),
    current_chunk(
        {"content": "", "tool_calls": [_tool_delta(0, function={"arguments": '{"city": '})]}, 5
    ),
    current_chunk(
        {"content": "", "tool_calls": [_tool_delta(1, function={"arguments": '{"tz": "UTC"}'})]}, 7
    ),
    current_chunk(
        {"content": "", "tool_calls": [_tool_delta(0, function={"arguments": '"Paris"}'})]}, 9
    ),
    current_chunk({"content": ""}, 9, finish="tool_calls"),
)

TOOL_CALL_REPLY = {
    "id": "291c59ebf4017a937a2a42a8ed52581f.c2669ebc05a491c70f821b4e568b6433",
    "object": "chat.completion",
    "created": 1722505763,
    "model": "step-3.7-flash",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {
                        "id": "call_brg23SRcTgmpm_V0jfP-iA",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": " 上海 "}'},
                    }
                ],
            },
            "finish_reason": "stop",
        }
    ],
    "usage": {
        "cached_tokens": 48,
        "prompt_tokens": 94,
        "completion_tokens": 16,
        "total_tokens": 110,
    },
}

WEB_SEARCH_REPLY = {
    "id": "web1",
    "object": "chat.completion",
    "created": 1722413870,
    "model": "step-1-8k",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "上海中心大厦",
                "tool_calls": [
                    {
                        "id": "call__Tg9p9DHRK2JamqimG-IVA",
                        "type": "web_search",
                        "function": {
                            "name": "step_websearch",
                            "arguments": '{"keyword": "上海 最高的楼"}',
                            "results": [
                                {
                                    "index": 0,
                                    "url": "https://example.com",
                                    "title": "t",
                                    "summary": "s",
                                }
                            ],
                        },
                    }
                ],
            },
            "finish_reason": "stop",
        }
    ],
    "usage": {
        "cached_tokens": 64,
        "prompt_tokens": 1516,
        "completion_tokens": 4,
        "total_tokens": 1520,
    },
}

REASONING_REPLY = {
    "id": "f2bd1db6f423ac8e8b3286268cb5229e.19a2d894775c3a5227f84bf6b2e8938f",
    "object": "chat.completion",
    "created": 1786531789,
    "model": "step-3.7-flash",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "你好", "reasoning": "用户打招呼"},
            "finish_reason": "stop",
        }
    ],
    "usage": {
        "prompt_tokens": 85,
        "completion_tokens": 340,
        "total_tokens": 425,
        "prompt_tokens_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 300},
    },
}
