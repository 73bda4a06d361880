"""Round 2, LlamaIndex streams long tool-call arguments in linear work.

One tool call whose arguments (a file a coding agent writes) arrive in 4,000 and in 16,000
deltas of about 50 characters, streamed through ``StepFun.stream_chat`` / ``astream_chat``
over a real socket. Work is counted, not timed: the characters handed to JSON parsing
(every ``json.loads``, ours and the framework's, goes through ``JSONDecoder.decode``) plus the
characters of each new argument text a response exposes (``additional_kwargs["tool_calls"]``
and the ``ToolCallBlock``). Four times the deltas may cost at most about five times the work;
rebuilding and re-parsing the whole text per delta costs sixteen times.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.reliability.conftest import MODES, ROUND2, Row, run_async
from tests.reliability.raw_server import END, RawServer, Send, chunk, event, head

SMALL, LARGE = 4_000, 16_000
PIECE = 50  # characters of arguments per delta
MAX_RATIO = 5.0
TOOL = "write_file"


def arguments_text(deltas: int) -> str:
    """JSON arguments of about ``deltas * PIECE`` characters: a path and a long file."""
    lines = [f"line {i}: the quick brown fox jumps over the dog" for i in range(deltas)]
    return json.dumps({"path": "notes.txt", "content": "\n".join(lines)})


def pieces(text: str, deltas: int) -> list[str]:
    size = -(-len(text) // deltas)
    return [text[i : i + size] for i in range(0, len(text), size)]


def tool_call_stream(text: str, deltas: int) -> bytes:
    """The SSE body of one tool call whose arguments arrive in ``deltas`` pieces."""

    def chunk_of(delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        return chunk(event({"id": "raw-tools", "model": "step-3.5-flash", "choices": [choice]}))

    parts = pieces(text, deltas)
    first = {"index": 0, "id": "call_1", "type": "function"}
    out = [
        chunk_of(
            {
                "role": "assistant",
                "tool_calls": [{**first, "function": {"name": TOOL, "arguments": parts[0]}}],
            }
        )
    ]
    out += [
        chunk_of({"tool_calls": [{"index": 0, "function": {"arguments": p}}]}) for p in parts[1:]
    ]
    out.append(chunk_of({}, "tool_calls"))
    return head() + b"".join(out) + chunk(b"data: [DONE]\n\n") + END


@dataclass
class Work:
    """Characters parsed as JSON, and characters of argument text newly exposed."""

    parsed: int = 0
    exposed: int = 0
    responses: int = 0
    # The argument texts the previous response showed: kept alive, so that a new string can
    # never have the id of one seen before.
    _shown: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.parsed + self.exposed

    def reset(self) -> None:
        self.parsed = self.exposed = self.responses = 0
        self._shown.clear()

    def see(self, response: Any) -> None:
        """Count the argument texts this response shows that the one before did not."""
        self.responses += 1
        calls = response.message.additional_kwargs.get("tool_calls") or []
        texts = [c["function"]["arguments"] for c in calls]
        texts += [
            b.tool_kwargs
            for b in response.message.blocks
            if isinstance(getattr(b, "tool_kwargs", None), str)
        ]
        before = {id(text) for text in self._shown}
        shown = {id(text): text for text in texts}
        # A string shown before (the same object) cost nothing; a new one was built for this
        # response, at a cost of its length.
        self.exposed += sum(len(text) for key, text in shown.items() if key not in before)
        self._shown = list(shown.values())


@pytest.fixture
def work(monkeypatch: pytest.MonkeyPatch) -> Iterator[Work]:
    counted = Work()
    decode = json.decoder.JSONDecoder.decode

    def counting(self: json.JSONDecoder, s: str, *args: Any, **kwargs: Any) -> Any:
        counted.parsed += len(s)
        return decode(self, s, *args, **kwargs)

    monkeypatch.setattr(json.decoder.JSONDecoder, "decode", counting)
    yield counted


def stream_once(mode: str, deltas: int, work: Work) -> tuple[Any, Any]:
    """Stream the call through StepFun; the last response and the tool calls it gives."""
    from llama_index.core.base.llms.types import ChatMessage

    from llama_index_stepfun import StepFun

    body = tool_call_stream(arguments_text(deltas), deltas)

    def script(send: Send, request: Any) -> bool:
        send(body)
        return False

    with RawServer(script) as server:
        llm = StepFun(api_key="sk-round2", api_base=server.base_url, max_retries=0, timeout=60)
        messages = [ChatMessage(role="user", content="write the notes")]
        last = None
        if mode == "sync":
            for last in llm.stream_chat(messages):
                work.see(last)
        else:

            async def consume() -> Any:
                final = None
                async for final in await llm.astream_chat(messages):
                    work.see(final)
                return final

            last = run_async(consume)
    return last, llm.get_tool_calls_from_response(last, error_on_no_tool_call=True)


@pytest.mark.parametrize("mode", MODES)
def test_long_tool_arguments_stream_in_linear_work(mode: str, work: Work, row: Row) -> None:
    row.set(
        category=ROUND2,
        case=(
            f"one tool call's arguments in {SMALL:,} and {LARGE:,} deltas "
            f"(~{LARGE * PIECE // 1000} KB), LlamaIndex stream_chat"
        ),
        adapter="llamaindex",
        mode=f"{mode} stream",
        expected=f"linear: {LARGE // SMALL}x the deltas, at most {MAX_RATIO:g}x the work",
        requests=2,
    )
    measured = {}
    for deltas in (SMALL, LARGE):
        work.reset()
        last, calls = stream_once(mode, deltas, work)
        expected = arguments_text(deltas)
        measured[deltas] = (work.total, work.parsed, work.exposed)
        assert len(calls) == 1 and calls[0].tool_name == TOOL, calls
        assert calls[0].tool_kwargs == json.loads(expected), "the final arguments are not whole"
        assert last.message.additional_kwargs["tool_calls"][0]["function"]["arguments"] == expected
    ratio = measured[LARGE][0] / measured[SMALL][0]
    row.set(
        observed=(
            f"{ratio:.1f}x the work; chars parsed as JSON {measured[SMALL][1]:,} -> "
            f"{measured[LARGE][1]:,}, argument text built {measured[SMALL][2]:,} -> "
            f"{measured[LARGE][2]:,}; final arguments whole"
        ),
    )
    assert ratio <= MAX_RATIO, f"{ratio:.1f}x the work for {LARGE // SMALL}x the deltas"


def test_the_work_counter_sees_a_rebuild_per_delta(work: Work) -> None:
    """The counter can fail: responses that each rebuild and re-parse the text count 16x."""
    from llama_index.core.base.llms.types import ChatMessage, ChatResponse, MessageRole

    totals = {}
    for deltas in (SMALL // 10, LARGE // 10):
        work.reset()
        text = ""
        for piece in pieces(arguments_text(deltas), deltas):
            text += piece
            with contextlib.suppress(ValueError):
                json.loads(text)
            call = {"id": "c", "type": "function", "function": {"name": TOOL, "arguments": text}}
            message = ChatMessage(
                role=MessageRole.ASSISTANT, additional_kwargs={"tool_calls": [call]}
            )
            work.see(ChatResponse(message=message))
        totals[deltas] = work.total
    assert totals[LARGE // 10] / totals[SMALL // 10] > 12
