"""A LlamaIndex FunctionAgent that streams its thinking, its tool calls and its answer."""

import asyncio
import os
import sys

from llama_index.core.agent.workflow import AgentStream, FunctionAgent, ToolCallResult

from llama_index_stepfun import StepFun

# Dim the reasoning on a terminal; plain text when piped or when NO_COLOR is set.
COLOR = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
DIM, RESET = ("\033[2m", "\033[0m") if COLOR else ("", "")

ORDERS = {1042: "shipped on Monday with StepExpress, tracking number SX-88231"}


def order_status(order_id: int) -> str:
    """Look up the shipping status of an order by its number."""
    return ORDERS.get(order_id, f"no order {order_id} on file")


def delivery_estimate(postcode: str) -> str:
    """Estimate how many working days a parcel takes to reach a postcode."""
    days = 2 if postcode.startswith("2") else 4
    return f"{days} working days to {postcode}"


async def main() -> None:
    agent = FunctionAgent(
        tools=[order_status, delivery_estimate],
        llm=StepFun(model="step-3.5-flash"),
        system_prompt="You are a helpful shop assistant. Use the tools; never guess.",
    )
    question = (
        'Has order 1042 shipped, and how long does delivery take to postcode "200120"? '
        "Check with order_status and delivery_estimate."
    )
    print(f"Question: {question}\n")
    handler = agent.run(question)
    line = ""  # what the current output line shows: "", "thinking" or "answer"
    async for event in handler.stream_events():
        if isinstance(event, AgentStream):
            for kind, text in (("thinking", event.thinking_delta), ("answer", event.delta)):
                if not text:
                    continue
                if line != kind:
                    print(("\n" if line else "") + f"{kind.capitalize()}: ", end="")
                    line = kind
                print(f"{DIM}{text}{RESET}" if kind == "thinking" else text, end="", flush=True)
        elif isinstance(event, ToolCallResult):
            newline = "\n" if line else ""
            print(f"{newline}Tool: {event.tool_name}({event.tool_kwargs}) -> {event.tool_output}")
            line = ""
    await handler
    if line:
        print()


if __name__ == "__main__":
    asyncio.run(main())
