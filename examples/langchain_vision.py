"""Vision: ask about a PNG shipped in the repository, sent inline as base64."""

import base64
from pathlib import Path

from langchain_core.messages import HumanMessage

from langchain_stepfun import ChatStepFun

IMAGE = Path(__file__).parent / "data" / "chart.png"


def main() -> None:
    model = ChatStepFun(model="step-3.7-flash")  # a model that reads images
    image = base64.b64encode(IMAGE.read_bytes()).decode("ascii")
    question = "This is a bar chart. Which bar is the tallest, and what colour is it?"
    message = HumanMessage(
        content=[
            {"type": "text", "text": question},
            {"type": "image", "base64": image, "mime_type": "image/png"},
        ]
    )
    print(f"Image: examples/data/{IMAGE.name}\nQuestion: {question}\n")
    print("Answer:", model.invoke([message]).text)


if __name__ == "__main__":
    main()
