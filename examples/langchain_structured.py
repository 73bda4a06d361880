"""Structured output: a Pydantic object extracted from free text with with_structured_output."""

from pydantic import BaseModel, Field

from langchain_stepfun import ChatStepFun


class Movie(BaseModel):
    """A movie mentioned in a review."""

    title: str
    year: int = Field(description="Year of release")
    director: str
    rating: int = Field(description="The reviewer's score out of 10")


def main() -> None:
    model = ChatStepFun(model="step-3.5-flash")
    extractor = model.with_structured_output(Movie)

    review = (
        'Watched Hayao Miyazaki\'s "Spirited Away" (2001) last night. '
        "The bathhouse scenes are unforgettable: 9 out of 10."
    )
    print(f"Task: extract the movie from this review:\n  {review}\n")
    movie = extractor.invoke(f"Extract the movie from this review: {review}")
    print("Extracted:", repr(movie))


if __name__ == "__main__":
    main()
