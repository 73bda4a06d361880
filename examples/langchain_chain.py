"""An LCEL chain: a prompt template, ChatStepFun and an output parser, piped together."""

from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate

from langchain_stepfun import ChatStepFun


def main() -> None:
    prompt = ChatPromptTemplate.from_messages(
        [
            ("system", "You are a concise technical writer. Answer in at most three sentences."),
            ("human", "Explain {topic} to a Python developer who has never used it."),
        ]
    )
    model = ChatStepFun(model="step-3.5-flash", temperature=0.3)  # key from STEP_API_KEY
    chain = prompt | model | StrOutputParser()

    inputs = {"topic": "server-sent events"}
    print("Question:", prompt.invoke(inputs).to_messages()[-1].content)
    print("Answer:", chain.invoke(inputs))


if __name__ == "__main__":
    main()
