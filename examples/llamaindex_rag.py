"""LlamaIndex RAG: BM25 retrieval over local Markdown files, an answer citing its sources."""

from pathlib import Path

from llama_index.core import Document
from llama_index.core.node_parser import SentenceSplitter
from llama_index.core.query_engine import CitationQueryEngine

from examples.bm25 import BM25Retriever
from llama_index_stepfun import StepFun

DOCS = Path(__file__).parent / "data" / "docs"


def main() -> None:
    documents = [
        Document(text=path.read_text(encoding="utf-8"), metadata={"file_name": path.name})
        for path in sorted(DOCS.glob("*.md"))
    ]
    nodes = SentenceSplitter(chunk_size=256, chunk_overlap=0).get_nodes_from_documents(documents)
    retriever = BM25Retriever(nodes, top_k=3)  # keyword search: no embedding model needed

    llm = StepFun(model="step-3.5-flash")
    engine = CitationQueryEngine(retriever=retriever, llm=llm)
    question = (
        "How do I get the reasoning as reasoning_content, and how can I limit how much it thinks?"
    )
    print(f"Question: {question}\n")
    response = engine.query(question)

    print("Answer:", response)
    print("\nSources:")
    for number, source in enumerate(response.source_nodes, start=1):
        print(f"  [{number}] {source.node.metadata['file_name']} (BM25 score {source.score:.2f})")


if __name__ == "__main__":
    main()
