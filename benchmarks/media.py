"""What a history of large images costs per call: both adapters against their peers and the floor.

python -m benchmarks.media [--images 4] [--megabytes 5] [--rounds 7]

Every call sends the same conversation: one user turn holding N base64 images of M MB (LangChain
``image`` blocks), a short answer, and a new question, to an in-process mock transport that
answers at once. The floor is serialising the request body those images make (``json.dumps``
then UTF-8), which any client must do. Medians of CPU time per call over rounds; the first call
of each model (which checks the images) is reported apart.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import httpx
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage

REPLY = {
    "id": "bench",
    "object": "chat.completion",
    "created": 1,
    "model": "step-3.5-flash",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}
    ],
    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
}


def png(megabytes: float) -> str:
    """Base64 of a PNG header followed by random bytes (what the checks look at is real)."""
    size = int(megabytes * 1024 * 1024)
    return base64.b64encode(b"\x89PNG\r\n\x1a\n" + os.urandom(size - 8)).decode()


def history(images: int, megabytes: float) -> list[BaseMessage]:
    blocks: list[Any] = [{"type": "text", "text": "What do these show?"}]
    blocks += [
        {"type": "image", "base64": png(megabytes), "mime_type": "image/png"} for _ in range(images)
    ]
    return [HumanMessage(content=blocks), AIMessage("Cats."), HumanMessage("And the second?")]


def transport() -> httpx.Client:
    return httpx.Client(
        transport=httpx.MockTransport(lambda request: httpx.Response(200, json=REPLY))
    )


def contestants(messages: list[BaseMessage]) -> dict[str, Callable[[], Any]]:
    """Each model's call on this history; LlamaIndex's on the same images as ImageBlocks."""
    from langchain_openai import ChatOpenAI
    from llama_index.core.base.llms.types import ChatMessage, ImageBlock
    from llama_index.llms.openai_like import OpenAILike

    from langchain_stepfun import ChatStepFun
    from llama_index_stepfun import StepFun

    options = {"api_key": "k", "http_client": transport()}
    stepfun = ChatStepFun(base_url="http://bench/v1", **options)
    openai = ChatOpenAI(base_url="http://bench/v1", model="step-3.5-flash", **options)
    li_stepfun = StepFun(model="step-3.5-flash", **options)
    like = OpenAILike(
        api_base="http://bench/v1", model="step-3.5-flash", is_chat_model=True, **options
    )
    images = [  # base64 bytes, as ImageBlock keeps them (it encodes raw bytes when built)
        ImageBlock(image=b["base64"].encode(), image_mimetype="image/png")
        for b in messages[0].content
        if isinstance(b, dict) and b.get("type") == "image"
    ]
    li_messages = [
        ChatMessage(role="user", blocks=images),
        ChatMessage(role="assistant", content="Cats."),
        ChatMessage(role="user", content="And the second?"),
    ]
    return {
        "ChatStepFun.invoke": lambda: stepfun.invoke(messages),
        "ChatOpenAI.invoke": lambda: openai.invoke(messages),
        "StepFun.chat (LlamaIndex)": lambda: li_stepfun.chat(li_messages),
        "OpenAILike.chat (LlamaIndex)": lambda: like.chat(li_messages),
    }


def floor(messages: list[BaseMessage]) -> Callable[[], Any]:
    """Serialising the body's images: the least any client does with them per call."""
    parts = [
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{b['base64']}"}}
        for b in messages[0].content
        if isinstance(b, dict) and b.get("type") == "image"
    ]
    body = {"model": "step-3.5-flash", "messages": [{"role": "user", "content": parts}]}
    return lambda: json.dumps(body, ensure_ascii=False).encode()


def cpu(call: Callable[[], Any]) -> float:
    start = time.process_time()
    call()
    return time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=4)
    parser.add_argument("--megabytes", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    messages = history(args.images, args.megabytes)
    runs = contestants(messages)
    runs["floor: serialise the body"] = floor(messages)
    first = {name: cpu(run) for name, run in runs.items()}
    samples: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(args.rounds):  # interleaved, so drift hits every contestant alike
        for name, run in runs.items():
            samples[name].append(cpu(run))
    medians = {name: statistics.median(values) for name, values in samples.items()}
    base = medians["floor: serialise the body"]
    print(f"{args.images} images of {args.megabytes:g} MB, CPU per call (median of {args.rounds})")
    print("| contestant | first call | per call | x floor |\n| --- | --- | --- | --- |")
    for name, median in medians.items():
        print(
            f"| {name} | {first[name] * 1e3:.1f} ms | {median * 1e3:.1f} ms | {median / base:.2f} |"
        )


if __name__ == "__main__":
    main()
