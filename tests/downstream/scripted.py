"""A scripted loopback StepFun: each reply is chosen by the request's model and order.

Built on the reliability suite's byte-level ``RawServer`` (real sockets, keep-alive): a reply is
a message dict (``{"content": ...}`` or ``{"refusal": ...}``) sent whole, or streamed piece by
piece (one SSE event per word) when the request asks for a stream. Every reply carries the
completion id the test chooses, so a server that repeats ids is one line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from tests.reliability.raw_server import END, RawServer, Send, chunk, event, head, whole

Message = dict[str, str]
# (request body, how many chat requests came before it) -> the message to answer with.
Answer = Callable[[dict[str, Any], int], Message]
USAGE = {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12}


def _pieces(text: str) -> list[str]:
    return re.findall(r"\S+\s*|\s+", text) or [""]


def _stream_events(message: Message, response_id: str, model: str) -> list[dict[str, Any]]:
    (field, text), *_ = message.items()

    def make(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        choice: dict[str, Any] = {"index": 0, "delta": {"role": "assistant", **delta}}
        if finish:
            choice["finish_reason"] = finish
        return {"id": response_id, "model": model, "choices": [choice], "usage": USAGE}

    events = [make({"content": None if field == "refusal" else "", field: ""})]
    events += [make({field: piece}) for piece in _pieces(text)]
    events.append(make({"content": ""}, "stop"))
    return events


def _completion(message: Message, response_id: str, model: str) -> dict[str, Any]:
    wire = {"role": "assistant", "content": message.get("content"), **message}
    return {
        "id": response_id,
        "object": "chat.completion",
        "model": model,
        "choices": [{"index": 0, "message": wire, "finish_reason": "stop"}],
        "usage": USAGE,
    }


class ScriptedAPI(RawServer):
    """Answers chat requests with ``answer(body, n)``, every reply under ``response_id``."""

    def __init__(self, answer: Answer, *, response_id: str = "chatcmpl-scripted") -> None:
        self.answer = answer
        self.response_id = response_id
        super().__init__(self._reply)

    @property
    def chat_requests(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if isinstance(r, dict) and "messages" in r]

    def _reply(self, send: Send, request: Any) -> bool:
        body = request if isinstance(request, dict) else {}
        model = str(body.get("model", ""))
        message = self.answer(body, len(self.chat_requests) - 1)
        if not body.get("stream"):
            payload = json.dumps(_completion(message, self.response_id, model)).encode()
            send(whole(200, payload))
            return True
        send(head())
        for item in _stream_events(message, self.response_id, model):
            send(chunk(event(item)))
        send(chunk(b"data: [DONE]\n\n") + END)
        return True
