"""Streaming with reasoning: the model's thinking as it arrives, the answer, then token usage."""

import os
import sys

from langchain_core.messages import AIMessageChunk

from langchain_stepfun import ChatStepFun

# Dim the reasoning on a terminal; plain text when piped or when NO_COLOR is set.
COLOR = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
DIM, RESET = ("\033[2m", "\033[0m") if COLOR else ("", "")


def main() -> None:
    model = ChatStepFun(model="step-3.7-flash", reasoning_effort="low")
    question = "Is 1001 a prime number? Answer in one sentence."

    message: AIMessageChunk | None = None
    answering = False
    print(f"Question: {question}\n")
    print(f"{DIM}Thinking: ", end="")
    for chunk in model.stream(question):
        for block in chunk.content_blocks:
            if block["type"] == "reasoning":
                print(block.get("reasoning", ""), end="", flush=True)
            elif block["type"] == "text":
                if not answering:
                    print(f"{RESET}\n\nAnswer: ", end="")
                    answering = True
                print(block["text"], end="", flush=True)
        message = chunk if message is None else message + chunk
    print(RESET)

    usage = message.usage_metadata if message is not None else None
    if usage:
        cached = usage.get("input_token_details", {}).get("cache_read", 0)
        reasoning = usage.get("output_token_details", {}).get("reasoning", 0)
        print(
            f"\nTokens: {usage['input_tokens']} in ({cached} cached), "
            f"{usage['output_tokens']} out ({reasoning} reasoning), {usage['total_tokens']} total"
        )


if __name__ == "__main__":
    main()
