"""Streaming one long tool call: is the cost linear in the length of its arguments?

python -m benchmarks.tool_arguments [--deltas 4000 16000] [--piece 50] [--rounds 3]

A coding agent writing a file streams one tool call whose arguments grow by ~50 characters per
chunk (16,000 chunks: 800 KB). Each contestant consumes the same SSE bytes over an in-process
``httpx.MockTransport``: the core client's stream, ``ChatStepFun.stream`` and LlamaIndex
``StepFun.stream_chat`` (every response holds the whole message so far, its ToolCallBlock
included). A client whose work per chunk is constant costs four times as much for four times
the chunks; one that rebuilds the call from its whole text on every chunk costs sixteen times
as much. CPU time, best of ``--rounds``.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Iterator

import httpx

from benchmarks.fixtures import DONE, _ChunkMaker

MODEL = "step-3.7-flash"
KEY = "sk-bench"
CALL_ID = "call_write_file_0"


def argument_pieces(deltas: int, piece: int) -> list[str]:
    """The arguments of one ``write_file`` call, cut into ``deltas`` pieces of ``piece`` chars."""
    code = "".join(f"print({i})  # line {i}\n" for i in range(deltas * piece // 20 + 1))
    whole = json.dumps({"path": "main.py", "content": code})
    whole = whole[: deltas * piece - 2].rstrip("\\") + '"}'  # never cut an escape in two
    json.loads(whole)
    return [whole[i : i + piece] for i in range(0, len(whole), piece)]


def events(deltas: int, piece: int) -> tuple[bytes, ...]:
    make = _ChunkMaker(f"tool_arguments_{deltas}")
    head = {"index": 0, "id": CALL_ID, "type": "function"}
    head["function"] = {"name": "write_file", "arguments": ""}
    out = [make({"content": "", "tool_calls": [head]})]
    for text in argument_pieces(deltas, piece):
        out.append(
            make({"content": "", "tool_calls": [{"index": 0, "function": {"arguments": text}}]})
        )
    out.append(make({"content": ""}, "tool_calls"))
    out.append(DONE)
    return tuple(out)


class _Events(httpx.SyncByteStream):
    def __init__(self, items: tuple[bytes, ...]) -> None:
        self._items = items

    def __iter__(self) -> Iterator[bytes]:
        yield from self._items


def client_for(items: tuple[bytes, ...]) -> httpx.Client:
    def handle(request: httpx.Request) -> httpx.Response:
        headers = {"content-type": "text/event-stream"}
        return httpx.Response(200, headers=headers, stream=_Events(items))

    return httpx.Client(transport=httpx.MockTransport(handle))


def core_stream(http: httpx.Client) -> Callable[[], int]:
    from stepfun_core import StepFunClient

    client = StepFunClient(api_key=KEY, base_url="http://bench.invalid/v1", http_client=http)
    body = {"model": MODEL, "messages": [{"role": "user", "content": "write it"}], "stream": True}

    def run() -> int:
        with client.stream(body) as stream:
            for _ in stream:
                pass
            return len(stream.accumulator.result().first.tool_calls[0].arguments)

    return run


def langchain_stream(http: httpx.Client) -> Callable[[], int]:
    from langchain_core.messages.ai import add_ai_message_chunks

    from langchain_stepfun import ChatStepFun

    model = ChatStepFun(
        model=MODEL, api_key=KEY, base_url="http://bench.invalid/v1", http_client=http
    )

    def run() -> int:
        chunks = list(model.stream("write it"))
        whole = add_ai_message_chunks(chunks[0], *chunks[1:])  # one merge, as LangChain does
        return len(json.dumps(whole.tool_calls[0]["args"]))

    return run


def llama_index_stream(http: httpx.Client) -> Callable[[], int]:
    from llama_index.core.base.llms.types import ChatMessage, ToolCallBlock

    from llama_index_stepfun import StepFun

    llm = StepFun(model=MODEL, api_key=KEY, api_base="http://bench.invalid/v1", http_client=http)
    messages = [ChatMessage(role="user", content="write it")]

    def run() -> int:
        last = None
        for response in llm.stream_chat(messages):
            last = response  # only the last is kept: each holds the whole message so far
        assert last is not None
        block = next(b for b in last.message.blocks if isinstance(b, ToolCallBlock))
        return len(json.dumps(block.tool_kwargs))

    return run


CONTESTANTS: dict[str, Callable[[httpx.Client], Callable[[], int]]] = {
    "stepfun_core stream": core_stream,
    "ChatStepFun.stream": langchain_stream,
    "LlamaIndex StepFun.stream_chat": llama_index_stream,
}


def cpu(run: Callable[[], int], rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        run()
        best = min(best, time.process_time() - start)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deltas", type=int, nargs="+", default=[4000, 16000])
    parser.add_argument("--piece", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", default="", help="comma-separated contestant name fragments")
    args = parser.parse_args(argv)
    wanted = [w.strip().lower() for w in args.only.split(",") if w.strip()]
    names = [n for n in CONTESTANTS if not wanted or any(w in n.lower() for w in wanted)]
    header = " | ".join(f"{d:,} deltas ({d * args.piece // 1000:,} KB)" for d in args.deltas)
    print(f"| contestant | {header} |")
    print("|---" * (len(args.deltas) + 1) + "|")
    for name in names:
        cells = []
        for deltas in args.deltas:
            run = CONTESTANTS[name](client_for(events(deltas, args.piece)))
            run()  # warm up, and check that the whole arguments arrive
            cells.append(f"{cpu(run, args.rounds) * 1000:,.0f} ms")
        print(f"| {name} | {' | '.join(cells)} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
