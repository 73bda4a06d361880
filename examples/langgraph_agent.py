"""Tools: a LangGraph agent that calls two tools in one turn, then answers."""

from langchain.agents import create_agent
from langchain_core.tools import tool

from langchain_stepfun import ChatStepFun

# Sample data standing in for real services.
WEATHER = {"shanghai": "22°C, light rain", "paris": "17°C, sunny"}
TIMEZONES = {"shanghai": "Asia/Shanghai (UTC+8)", "paris": "Europe/Paris (UTC+1)"}


@tool
def get_weather(city: str) -> str:
    """Get the current weather in a city."""
    return WEATHER.get(city.strip().lower(), f"no weather data for {city}")


@tool
def get_timezone(city: str) -> str:
    """Get the time zone of a city."""
    return TIMEZONES.get(city.strip().lower(), f"no time zone data for {city}")


def main() -> None:
    model = ChatStepFun(model="step-3.5-flash")
    agent = create_agent(model, tools=[get_weather, get_timezone])  # a compiled LangGraph graph

    question = (
        "What is the weather in Shanghai right now, and which time zone is it in? "
        "Use get_weather and get_timezone."
    )
    print(f"Question: {question}\n")
    # Each update is what one graph node ("model" or "tools") added to the conversation.
    for update in agent.stream({"messages": [("user", question)]}, stream_mode="updates"):
        for node, state in update.items():
            for message in state["messages"]:
                if message.type == "tool":
                    print(f"[{node}] {message.name} -> {message.content}")
                elif message.tool_calls:
                    for call in message.tool_calls:
                        print(f"[{node}] call {call['name']}({call['args']})")
                else:
                    print(f"[{node}] {message.text}")


if __name__ == "__main__":
    main()
