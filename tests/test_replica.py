"""The loopback replica itself, observed with plain httpx and raw sockets."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
from typing import Any

import httpx
import pytest

from tests.replica import Fault, Replica
from tests.replica.brain import think

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
DOTTED = re.compile(r"^[0-9a-f]{32}\.[0-9a-f]{32}$")
CALL_ID = re.compile(r"^call_[A-Za-z0-9_-]{22}$")
AUTH = {"Authorization": "Bearer test-key"}


def tool(
    name: str, properties: dict[str, Any], required: list[str] | None = None
) -> dict[str, Any]:
    params = {"type": "object", "properties": properties, "required": required or list(properties)}
    return {
        "type": "function",
        "function": {"name": name, "description": name, "parameters": params},
    }


MAGIC = tool("magic_function", {"input": {"type": "integer", "exclusiveMinimum": -1000}})
WEATHER = tool("get_weather", {"location": {"type": "string"}})
ADDER = tool("my_adder_tool", {"a": {"type": "integer"}, "b": {"type": "integer"}})


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


@pytest.fixture
def client(replica: Replica) -> Any:
    with httpx.Client(base_url=replica.base_url, headers=AUTH, timeout=10) as c:
        yield c


def post(client: httpx.Client, **body: Any) -> httpx.Response:
    return client.post("/chat/completions", json=body)


def events_of(text: str) -> list[Any]:
    """``data:`` payloads of an SSE body, JSON-decoded except ``[DONE]``."""
    out: list[Any] = []
    for block in text.split("\n\n"):
        for line in block.split("\n"):
            if line.startswith("data: "):
                data = line[len("data: ") :]
                out.append(data if data == "[DONE]" else json.loads(data))
    return out


def stream(client: httpx.Client, **body: Any) -> list[Any]:
    response = post(client, stream=True, **body)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/event-stream"
    assert response.headers["transfer-encoding"] == "chunked"
    return events_of(response.text)


def assert_cumulative(chunks: list[dict[str, Any]]) -> None:
    totals = [c["usage"]["completion_tokens"] for c in chunks]
    assert totals == sorted(totals)
    for c in chunks:
        u = c["usage"]
        assert u["total_tokens"] == u["prompt_tokens"] + u["completion_tokens"]


# --- stream shapes -------------------------------------------------------------------------------
def test_legacy_stream_shape(client: httpx.Client) -> None:
    events = stream(client, model="step-1-8k", messages=user("hi"))
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    first, *middle, empty, final = chunks
    assert UUID.match(first["id"]) and {c["id"] for c in chunks} == {first["id"]}
    assert first["created"] == 0
    assert first["usage"] == {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
    assert first["choices"][0] == {
        "index": 0,
        "delta": {"role": "assistant", "content": ""},
        "finish_reason": "",
    }
    assert middle and all(c["choices"][0]["delta"]["role"] == "" for c in middle)
    assert all(c["choices"][0]["finish_reason"] == "" for c in [*middle, empty])
    assert empty["choices"][0]["delta"] == {"role": "", "content": ""}
    assert final["choices"][0] == {
        "index": 0,
        "delta": {"role": "", "content": ""},
        "finish_reason": "stop",
    }
    assert "agent" not in final
    assert_cumulative(chunks[1:])
    text = "".join(c["choices"][0]["delta"]["content"] for c in chunks)
    assert text.startswith("Hello!")
    assert final["usage"]["completion_tokens"] == len(middle)


def test_current_stream_shape_with_reasoning(client: httpx.Client) -> None:
    events = stream(client, model="step-3.7-flash", messages=user("Tell me about StepFun"))
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    assert DOTTED.match(chunks[0]["id"])
    for chunk in chunks:
        assert chunk["agent"] == ""
        assert chunk["choices"][0]["delta"]["role"] == "assistant"
    assert all("finish_reason" not in c["choices"][0] for c in chunks[:-1])
    final = chunks[-1]["choices"][0]
    assert final["finish_reason"] == "stop"
    assert final["delta"]["content"]  # the last token rides with finish_reason
    reasoning = [c for c in chunks if "reasoning" in c["choices"][0]["delta"]]
    assert reasoning and all(c["choices"][0]["delta"]["content"] == "" for c in reasoning)
    assert chunks.index(reasoning[-1]) < chunks.index(final and chunks[-1])
    assert_cumulative(chunks)
    usage = chunks[-1]["usage"]
    assert usage["completion_tokens_details"]["reasoning_tokens"] == len(reasoning)
    assert usage["prompt_tokens_details"] == {"cached_tokens": 0}


def test_non_reasoning_current_model_has_no_reasoning(client: httpx.Client) -> None:
    body = post(client, model="some-unknown-model", messages=user("hello there")).json()
    assert body["choices"][0]["message"].keys() == {"role", "content"}


def test_deepseek_style_sends_both_reasoning_fields(client: httpx.Client) -> None:
    req = {
        "model": "step-3.5-flash",
        "messages": user("why?"),
        "reasoning_format": "deepseek-style",
    }
    message = post(client, **req).json()["choices"][0]["message"]
    assert list(message)[:2] == ["role", "content"]
    assert message["reasoning_content"] == message["reasoning"] != ""
    deltas = [c["choices"][0]["delta"] for c in stream(client, **req)[:-1]]
    with_reasoning = [d for d in deltas if "reasoning" in d]
    assert with_reasoning and all(d["reasoning_content"] == d["reasoning"] for d in with_reasoning)


def test_non_stream_reasoning_key_order(client: httpx.Client) -> None:
    response = post(client, model="step-r1-v-mini", messages=user("hello"))
    assert response.headers["content-type"] == "application/json"
    message = response.json()["choices"][0]["message"]
    assert list(message) == ["role", "content", "reasoning"]
    assert response.json()["usage"]["completion_tokens_details"]["reasoning_tokens"] > 0


# --- tool calls ----------------------------------------------------------------------------------
def test_non_stream_tool_call_quirks(client: httpx.Client) -> None:
    query = "What is the value of magic_function(3)? Use the tool."
    body = post(
        client, model="step-3.7-flash", messages=user(query), tools=[MAGIC], tool_choice="required"
    ).json()
    choice = body["choices"][0]
    assert choice["finish_reason"] == "stop"  # not "tool_calls" (docs/wire.md#reply-tool-calls)
    assert choice["message"]["content"] == ""
    (call,) = choice["message"]["tool_calls"]
    assert CALL_ID.match(call["id"]) and call["type"] == "function"
    assert call["function"]["name"] == "magic_function"
    assert json.loads(call["function"]["arguments"]) == {"input": 3}


def test_legacy_streamed_tool_call(client: httpx.Client) -> None:
    chunks = stream(
        client,
        model="step-1-8k",
        messages=user("What is the weather in San Francisco, CA?"),
        tools=[WEATHER],
    )[:-1]
    tool_chunks = [c for c in chunks if "tool_calls" in c["choices"][0]["delta"]]
    first_tool = chunks.index(tool_chunks[0])
    assert [c["choices"][0]["delta"] for c in chunks[first_tool - 3 : first_tool]] == [
        {"role": "", "content": ""}
    ] * 3
    deltas = [c["choices"][0]["delta"]["tool_calls"][0] for c in tool_chunks]
    assert all("index" not in d and d["id"] == "" and d["type"] == "" for d in deltas)
    assert all("finish_reason" not in c["choices"][0] for c in tool_chunks)
    names = [d["function"]["name"] for d in deltas]
    args = [d["function"]["arguments"] for d in deltas]
    assert names[1] == "get_weather" and args[1] == ""  # name and arguments in separate chunks
    assert all(not (n and a) for n, a in zip(names, args, strict=True))
    assert json.loads("".join(args)) == {"location": "San Francisco, CA"}
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_current_streamed_two_tool_calls_first_deltas_in_one_chunk(client: httpx.Client) -> None:
    query = "Call get_weather for 'Paris' and magic_function with 7."
    chunks = stream(client, model="step-3.5-flash", messages=user(query), tools=[MAGIC, WEATHER])[
        :-1
    ]
    tool_chunks = [c for c in chunks if "tool_calls" in c["choices"][0]["delta"]]
    firsts = tool_chunks[0]["choices"][0]["delta"]["tool_calls"]
    assert [f["index"] for f in firsts] == [0, 1]
    assert all(CALL_ID.match(f["id"]) and f["type"] == "function" for f in firsts)
    assert [f["function"]["name"] for f in firsts] == ["magic_function", "get_weather"]
    args = {0: "", 1: ""}
    for c in tool_chunks[1:]:
        (delta,) = c["choices"][0]["delta"]["tool_calls"]
        assert delta.keys() == {"index", "function"}
        args[delta["index"]] += delta["function"]["arguments"]
    assert json.loads(args[0]) == {"input": 7}
    assert json.loads(args[1]) == {"location": "Paris"}
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"
    assert_cumulative(chunks)


def test_unicode_arguments_survive(client: httpx.Client) -> None:
    customer = tool(
        "unicode_customer", {"customer_name": {"type": "string"}, "description": {"type": "string"}}
    )
    query = "Create a customer named '你好啊集团' (Hello Group) - a Chinese technology company"
    response = post(
        client,
        model="step-3.7-flash",
        messages=user(query),
        tools=[customer],
        tool_choice="required",
    )
    assert "你好啊集团" in response.content.decode()  # raw UTF-8, not \\u escapes
    call = response.json()["choices"][0]["message"]["tool_calls"][0]
    assert json.loads(call["function"]["arguments"])["customer_name"] == "你好啊集团"


@pytest.mark.parametrize(
    ("messages", "tools", "choice", "expected"),
    [
        (user("What is 3 + 4"), [ADDER], "required", ("my_adder_tool", {"a": 3, "b": 4})),
        (
            user("Hello!"),
            [MAGIC, WEATHER],
            {"type": "function", "function": {"name": "magic_function"}},
            ("magic_function", {"input": 1}),
        ),
        (user("Hello!"), [MAGIC, WEATHER], "required", ("magic_function", {"input": 1})),
        (
            user("Using the tool, generate a Pirate greeting."),
            [tool("greeting_generator", {"answer_style": {"type": "string"}})],
            "any",
            ("greeting_generator", {"answer_style": "Pirate"}),
        ),
        (
            user("What is the value of magic_function_no_args()?"),
            [tool("magic_function_no_args", {})],
            None,
            ("magic_function_no_args", {}),
        ),
    ],
)
def test_tool_choice_rules(
    client: httpx.Client, messages: Any, tools: Any, choice: Any, expected: Any
) -> None:
    extra = {} if choice is None else {"tool_choice": choice}
    message = post(client, model="step-3.7-flash", messages=messages, tools=tools, **extra).json()[
        "choices"
    ][0]["message"]
    (call,) = message["tool_calls"]
    assert (call["function"]["name"], json.loads(call["function"]["arguments"])) == expected


def test_tool_choice_none_and_tool_results_give_text(client: httpx.Client) -> None:
    body = post(
        client,
        model="step-3.7-flash",
        messages=user("weather?"),
        tools=[WEATHER],
        tool_choice="none",
    ).json()
    assert "tool_calls" not in body["choices"][0]["message"]
    history = [
        *user("What is the weather in San Francisco, CA?"),
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": "{}"},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "It's sunny."},
    ]
    message = post(client, model="step-3.7-flash", messages=history, tools=[WEATHER]).json()[
        "choices"
    ][0]["message"]
    assert "tool_calls" not in message
    assert "It's sunny." in message["content"]


def test_web_search(client: httpx.Client) -> None:
    search = {"type": "web_search", "function": {"description": "search the web"}}
    body = post(
        client,
        model="step-1-8k",
        messages=user("Which is the tallest building in Shanghai?"),
        tools=[search],
    ).json()
    message = body["choices"][0]["message"]
    assert message["content"]
    (call,) = message["tool_calls"]
    assert call["type"] == "web_search" and call["function"]["name"] == "step_websearch"
    assert {"index", "url", "title", "summary"} <= call["function"]["results"][0].keys()
    for model in ("step-1-8k", "step-3.7-flash"):
        chunks = stream(
            client, model=model, messages=user("tallest building in Shanghai?"), tools=[search]
        )[:-1]
        first_delta = chunks[0]["choices"][0]["delta"]
        assert first_delta["tool_calls"][0]["function"]["results"]
        assert all("tool_calls" not in c["choices"][0]["delta"] for c in chunks[1:])


# --- structured output, stop, max_tokens, n, usage -----------------------------------------------
def test_json_schema_and_json_object(client: httpx.Client) -> None:
    schema = {
        "type": "object",
        "properties": {
            "setup": {"type": "string"},
            "punchline": {"type": "string"},
            "rating": {"type": "integer"},
        },
        "required": ["setup", "punchline"],
    }
    fmt = {"type": "json_schema", "json_schema": {"name": "Joke", "schema": schema}}
    content = post(
        client,
        model="step-3.7-flash",
        messages=user("Tell me a joke about cats, rate it 5"),
        response_format=fmt,
    ).json()["choices"][0]["message"]["content"]
    assert json.loads(content) == {"setup": "rate", "punchline": "rate", "rating": 5}
    msg = (
        "Tell me a joke about cats. Return the result as a JSON with 'setup' and 'punchline' keys."
    )
    chunks = stream(
        client, model="step-1-8k", messages=user(msg), response_format={"type": "json_object"}
    )[:-1]
    assert json.loads("".join(c["choices"][0]["delta"]["content"] for c in chunks)).keys() == {
        "setup",
        "punchline",
    }
    plain = post(
        client,
        model="step-1-8k",
        messages=user("Say something"),
        response_format={"type": "json_object"},
    ).json()
    assert "answer" in json.loads(plain["choices"][0]["message"]["content"])


def test_stop_and_max_tokens_and_n(client: httpx.Client) -> None:
    choice = post(client, model="step-1-8k", messages=user("hi"), stop=["you"]).json()["choices"][0]
    assert (
        choice["message"]["content"] == "Hello! How can I help "
        and choice["finish_reason"] == "stop"
    )
    limited = post(client, model="step-1-8k", messages=user("hi"), max_tokens=2).json()
    assert limited["choices"][0]["finish_reason"] == "length"
    assert limited["usage"]["completion_tokens"] == 2
    chunks = stream(client, model="step-3.7-flash", messages=user("hi"), max_tokens=3)[:-1]
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"
    many = post(client, model="step-1-8k", messages=user("hi"), n=3).json()
    assert [c["index"] for c in many["choices"]] == [0, 1, 2]
    streamed = stream(client, model="step-1-8k", messages=user("hi"), n=2)[:-1]
    assert {c["choices"][0]["index"] for c in streamed} == {0, 1}


def test_cached_tokens_on_long_prompts(client: httpx.Client) -> None:
    long_text = "word " * 400
    legacy = post(client, model="step-1-8k", messages=user(long_text)).json()["usage"]
    assert legacy["cached_tokens"] > 0 and next(iter(legacy)) == "cached_tokens"
    current = post(client, model="step-3.7-flash", messages=user(long_text)).json()["usage"]
    assert current["prompt_tokens_details"]["cached_tokens"] > 0


def test_media_parts_are_mentioned(client: httpx.Client) -> None:
    parts = [
        {"type": "text", "text": "Describe this"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
        {
            "type": "input_audio",
            "input_audio": {"data": "data:audio/wav;base64,UklGRg==", "format": "wav"},
        },
    ]
    content = post(
        client, model="step-1o-turbo-vision", messages=[{"role": "user", "content": parts}]
    ).json()["choices"][0]["message"]["content"]
    assert "The image shows" in content and "audio" in content


# --- errors, headers, models, determinism, request log -------------------------------------------
@pytest.mark.parametrize(
    ("headers", "body", "status", "error"),
    [
        (
            {},
            {"model": "step-1-8k", "messages": user("hi")},
            401,
            {"message": "Incorrect API key provided", "type": "invalid_api_key"},
        ),
        (
            AUTH,
            {"model": "missing-model", "messages": user("hi")},
            404,
            {
                "message": 'The model "missing-model" does not exist '
                "or you do not have access to it.",
                "type": "model_invalid",
            },
        ),
        (
            AUTH,
            {"model": "step-1-8k", "messages": [{"role": "function", "content": "x", "name": "f"}]},
            400,
            {"message": "invalid msg role: function", "type": "request_params_invalid"},
        ),
        (AUTH, {"messages": user("hi")}, 400, None),
        (AUTH, {"model": "step-1-8k"}, 400, None),
        (AUTH, b"{not json", 400, None),
    ],
)
def test_error_bodies(
    replica: Replica, headers: dict[str, str], body: Any, status: int, error: Any
) -> None:
    kwargs = {"content": body} if isinstance(body, bytes) else {"json": body}
    response = httpx.post(f"{replica.base_url}/chat/completions", headers=headers, **kwargs)
    assert response.status_code == status
    assert response.headers["x-stepfun-replica"] == "loopback"
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-trace-id"])
    payload = response.json()
    assert payload.keys() == {"error"} and payload["error"].keys() == {"message", "type"}
    if error is not None:
        assert payload["error"] == error
    else:
        assert payload["error"]["type"] == "request_params_invalid"


def test_models_endpoint(client: httpx.Client) -> None:
    response = client.get("/models")
    assert response.headers["x-stepfun-replica"] == "loopback"
    body = response.json()
    assert body["object"] == "list"
    assert {
        "id": "step-3.7-flash",
        "object": "model",
        "created": 1713196800,
        "owned_by": "stepai",
    } in body["data"]


def test_same_request_same_bytes(client: httpx.Client) -> None:
    req = {
        "model": "step-3.7-flash",
        "messages": user("Compare 'A' and 'B'"),
        "tools": [MAGIC, WEATHER],
    }
    for extra in ({}, {"stream": True}):
        a, b = post(client, **req, **extra), post(client, **req, **extra)
        assert a.content == b.content and a.headers["x-trace-id"] == b.headers["x-trace-id"]
    assert think(req) == think(json.loads(json.dumps(req, sort_keys=True)))


def test_requests_log_and_reset(replica: Replica, client: httpx.Client) -> None:
    post(client, model="step-1-8k", messages=user("one"))
    client.get("/models")
    log = replica.requests
    assert [(r.method, r.path) for r in log] == [
        ("POST", "/v1/chat/completions"),
        ("GET", "/v1/models"),
    ]
    assert log[0].headers["authorization"] == "Bearer test-key"
    assert log[0].json == {"model": "step-1-8k", "messages": user("one")}
    replica.reset()
    assert replica.requests == []


# --- faults --------------------------------------------------------------------------------------
def test_status_fault_with_retry_after_then_normal(replica: Replica, client: httpx.Client) -> None:
    replica.enqueue(Fault.status(429, headers={"Retry-After": "0"}), Fault.status(503))
    first, second, third = (post(client, model="step-1-8k", messages=user("hi")) for _ in range(3))
    assert first.status_code == 429 and first.headers["retry-after"] == "0"
    assert first.json()["error"]["type"] == "rate_limit_exceeded"
    assert second.status_code == 503 and third.status_code == 200
    assert len(replica.requests) == 3 and replica.pending_faults == 0
    replica.enqueue(
        Fault.status(451, body={"error": {"message": "blocked", "type": "censorship_blocked"}})
    )
    assert post(client, model="x", messages=user("hi")).json()["error"]["message"] == "blocked"


def test_delay_fault_times_out_before_headers(replica: Replica) -> None:
    replica.enqueue(Fault.delay(0.5))
    with (
        httpx.Client(base_url=replica.base_url, headers=AUTH, timeout=0.1) as c,
        pytest.raises(httpx.ReadTimeout),
    ):
        post(c, model="step-1-8k", messages=user("hi"))


def test_stall_fault_mid_stream(replica: Replica) -> None:
    replica.enqueue(Fault.stall(after=2, seconds=0.5))
    with (
        httpx.Client(
            base_url=replica.base_url, headers=AUTH, timeout=httpx.Timeout(5, read=0.2)
        ) as c,
        c.stream(
            "POST",
            "/chat/completions",
            json={"model": "step-1-8k", "stream": True, "messages": user("hi")},
        ) as r,
    ):
        lines = r.iter_lines()
        assert next(lines).startswith("data: ")
        with pytest.raises(httpx.ReadTimeout):
            list(lines)


def test_drop_fault_raises_after_events(replica: Replica, client: httpx.Client) -> None:
    replica.enqueue(Fault.drop(after=3))
    seen: list[str] = []
    with (
        pytest.raises(httpx.RemoteProtocolError),
        client.stream(
            "POST",
            "/chat/completions",
            json={"model": "step-3.7-flash", "stream": True, "messages": user("hi")},
        ) as r,
    ):
        seen.extend(line for line in r.iter_lines() if line)
    assert len(seen) == 3
    replica.enqueue(Fault.drop())
    with pytest.raises(httpx.RemoteProtocolError):
        post(client, model="step-1-8k", messages=user("hi"))


def test_drop_fault_on_raw_socket_has_no_terminator(replica: Replica) -> None:
    replica.enqueue(Fault.drop(after=1))
    raw = raw_request(replica, {"model": "step-1-8k", "stream": True, "messages": user("hi")})
    assert raw.startswith(b"HTTP/1.1 200")
    assert b"data: " in raw and not raw.endswith(b"0\r\n\r\n")


def test_one_event_per_chunk_on_the_wire(replica: Replica) -> None:
    raw = raw_request(replica, {"model": "step-1-8k", "stream": True, "messages": user("hi")})
    body = raw.split(b"\r\n\r\n", 1)[1]
    chunks = []
    while True:
        size_line, body = body.split(b"\r\n", 1)
        size = int(size_line, 16)
        if size == 0:
            break
        chunks.append(body[:size])
        body = body[size + 2 :]
    assert all(
        c.startswith(b"data: ") and c.endswith(b"\n\n") and c.count(b"data: ") == 1 for c in chunks
    )
    assert chunks[-1] == b"data: [DONE]\n\n"


def raw_request(replica: Replica, body: dict[str, Any]) -> bytes:
    payload = json.dumps(body).encode()
    head = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer k\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
        "Connection: close\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", replica.port), timeout=5) as sock:
        sock.sendall(head.encode() + payload)
        parts = []
        while data := sock.recv(65536):
            parts.append(data)
    return b"".join(parts)


def test_malformed_and_error_event_faults(replica: Replica, client: httpx.Client) -> None:
    replica.enqueue(
        Fault.malformed(after=2),
        Fault.error_event(after=1, message="quota", error_type="quota_exceeded"),
    )
    text = post(client, model="step-1-8k", stream=True, messages=user("hi")).text
    bad = [line for line in text.split("\n") if line.startswith("data: ")][2]
    with pytest.raises(json.JSONDecodeError):
        json.loads(bad[len("data: ") :])
    assert text.endswith("data: [DONE]\n\n")
    events = events_of(post(client, model="step-1-8k", stream=True, messages=user("hi")).text)
    assert len(events) == 2 and events[-1] == {
        "error": {"message": "quota", "type": "quota_exceeded"}
    }


def test_no_done_fault_ends_cleanly_without_finish(replica: Replica, client: httpx.Client) -> None:
    replica.enqueue(Fault.no_done())
    events = events_of(post(client, model="step-3.7-flash", stream=True, messages=user("hi")).text)
    assert "[DONE]" not in events and events
    assert all("finish_reason" not in e["choices"][0] for e in events)
    replica.enqueue(Fault.no_done())
    events = events_of(post(client, model="step-1-8k", stream=True, messages=user("hi")).text)
    assert "[DONE]" not in events and all(e["choices"][0]["finish_reason"] == "" for e in events)


def test_json_body_faults_answer_a_stream_request(replica: Replica, client: httpx.Client) -> None:
    replica.enqueue(Fault.json_error("boom", "server_error"), Fault.json_completion())
    first = post(client, model="step-1-8k", stream=True, messages=user("hi"))
    assert first.status_code == 200 and first.headers["content-type"] == "application/json"
    assert first.json() == {"error": {"message": "boom", "type": "server_error"}}
    second = post(client, model="step-1-8k", stream=True, messages=user("hi"))
    assert second.headers["content-type"] == "application/json"
    assert second.json()["object"] == "chat.completion"


def test_keepalive_comments_between_events(replica: Replica, client: httpx.Client) -> None:
    replica.enqueue(Fault.keepalive(every=1))
    text = post(client, model="step-1-8k", stream=True, messages=user("hi")).text
    assert text.count(": keep-alive\n\n") >= 5
    assert events_of(text)[-1] == "[DONE]"


def test_events_fault_long_stream(replica: Replica, client: httpx.Client) -> None:
    replica.enqueue(Fault.events(5000))
    events = events_of(post(client, model="step-3.7-flash", stream=True, messages=user("hi")).text)
    chunks = events[:-1]
    assert len(chunks) == 5001  # the role chunk + 5000 content chunks (the last with finish)
    assert chunks[-1]["usage"]["completion_tokens"] == 5000


def test_oversized_fault(replica: Replica, client: httpx.Client) -> None:
    replica.enqueue(Fault.oversized(megabytes=4), Fault.oversized(megabytes=2))
    big = post(client, model="step-1-8k", messages=user("hi"))
    assert len(big.content) > 4 * 1024 * 1024
    streamed = post(client, model="step-1-8k", stream=True, messages=user("hi"))
    assert len(streamed.content) > 2 * 1024 * 1024


def test_open_connections_return_to_zero(replica: Replica) -> None:
    with httpx.Client(base_url=replica.base_url, headers=AUTH) as c:
        post(c, model="step-1-8k", messages=user("hi"))
        assert replica.open_connections == 1  # keep-alive
    assert replica.wait_idle(2.0)


def test_async_client_streams(replica: Replica) -> None:
    import asyncio

    async def run() -> list[str]:
        body = {"model": "step-1-8k", "stream": True, "messages": user("hi")}
        async with (
            httpx.AsyncClient(base_url=replica.base_url, headers=AUTH) as c,
            c.stream("POST", "/chat/completions", json=body) as r,
        ):
            return [line async for line in r.aiter_lines() if line]

    lines = asyncio.run(run())
    assert lines[-1] == "data: [DONE]"


def test_standalone_entry_point() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.replica", "--port", "0", "--timeout", "20", "--events", "7"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        base_url = line.strip().rsplit(" ", 1)[-1]
        assert base_url.startswith("http://127.0.0.1:")
        body = httpx.post(
            f"{base_url}/chat/completions",
            headers=AUTH,
            json={"model": "step-1-8k", "messages": user("hi")},
        ).json()
        assert body["choices"][0]["message"]["content"] == "w0 w1 w2 w3 w4 w5 w6"
    finally:
        proc.terminate()
        proc.wait(5)


def test_stop_closes_open_sockets() -> None:
    server = Replica().start()
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)  # fail, not hang
    deadline = time.monotonic() + 2
    while server.open_connections == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    server.stop()
    assert sock.recv(10) == b""
    sock.close()


def test_rag_prompts_get_extractive_cited_answers(replica) -> None:
    context = (
        "Context information is below.\n---------------------\n"
        "Source 1:\nStepFun is an AI company based in Shanghai. It builds large models.\n\n"
        "Source 2:\nParis is the capital of France.\n---------------------\n"
        "Given the context information and not prior knowledge, answer the query.\n"
        "Query: Where is StepFun based?\nAnswer: "
    )
    body = {"model": "step-3.5-flash", "messages": [{"role": "user", "content": context}]}
    headers = {"Authorization": "Bearer test"}
    first = httpx.post(replica.base_url + "/chat/completions", json=body, headers=headers)
    second = httpx.post(replica.base_url + "/chat/completions", json=body, headers=headers)
    assert first.content == second.content
    answer = first.json()["choices"][0]["message"]["content"]
    assert "based in Shanghai" in answer and "[1]" in answer
    assert "Paris" not in answer


def test_plain_questions_are_restated_not_answered_with_invented_facts(replica) -> None:
    question = "Explain server-sent events to a Python developer."
    body = {"model": "step-3.5-flash", "messages": [{"role": "user", "content": question}]}
    reply = httpx.post(
        replica.base_url + "/chat/completions", json=body, headers={"Authorization": "Bearer t"}
    )
    answer = reply.json()["choices"][0]["message"]["content"]
    assert "server-sent events" in answer
