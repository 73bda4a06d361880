"""A small BM25 retriever for LlamaIndex: keyword search with no embedding model.

BM25 ranks text chunks by the query words they contain, weighting rare words up and long
chunks down. It needs no model and no network, and it is a strong baseline for technical
documents where exact terms (``reasoning_content``, ``429``) matter.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import BaseNode, MetadataMode, NodeWithScore, QueryBundle

_WORD = re.compile(r"[a-z0-9_]+")
_STOPWORD_TEXT = """a an and are as at be by can do does for from how i if in is it its of on or
so than that the their then this to what when which who why will with you your"""
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())


def tokenize(text: str) -> list[str]:
    """Lower-case words, digits and snake_case names, without common English stopwords."""
    return [word for word in _WORD.findall(text.lower()) if word not in _STOPWORDS]


class BM25Retriever(BaseRetriever):
    """Okapi BM25 over a fixed list of nodes; returns the ``top_k`` best with their scores."""

    def __init__(
        self, nodes: Sequence[BaseNode], top_k: int = 3, k1: float = 1.5, b: float = 0.75
    ) -> None:
        super().__init__()
        self._nodes = list(nodes)
        self._top_k = top_k
        self._k1 = k1
        self._b = b
        self._counts = [
            Counter(tokenize(node.get_content(metadata_mode=MetadataMode.NONE)))
            for node in self._nodes
        ]
        self._lengths = [sum(counts.values()) for counts in self._counts]
        self._average_length = sum(self._lengths) / max(len(self._lengths), 1) or 1.0
        document_frequency = Counter(word for counts in self._counts for word in counts)
        total = len(self._nodes)
        self._idf = {
            word: math.log(1 + (total - seen + 0.5) / (seen + 0.5))
            for word, seen in document_frequency.items()
        }

    def score(self, query: str, position: int) -> float:
        """The BM25 score of the node at ``position`` for ``query``."""
        counts = self._counts[position]
        length_norm = self._k1 * (
            1 - self._b + self._b * self._lengths[position] / self._average_length
        )
        total = 0.0
        for word in set(tokenize(query)):
            frequency = counts.get(word, 0)
            if frequency:
                total += self._idf[word] * frequency * (self._k1 + 1) / (frequency + length_norm)
        return total

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        scores = [self.score(query_bundle.query_str, i) for i in range(len(self._nodes))]
        ranked = sorted(
            (i for i, value in enumerate(scores) if value > 0), key=lambda i: (-scores[i], i)
        )
        return [
            NodeWithScore(node=self._nodes[i], score=round(scores[i], 3))
            for i in ranked[: self._top_k]
        ]
