"""LlamaIndex components for the downstream tests, importable by spawned and forked workers."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from llama_index.core.schema import BaseNode, TransformComponent


class EchoAnnotate(TransformComponent):
    """Ask the LLM (sync ``complete``) about each node; keep the answer and the worker's pid."""

    llm: Any

    def __call__(self, nodes: Sequence[BaseNode], **kwargs: Any) -> Sequence[BaseNode]:
        for node in nodes:
            node.metadata["answer"] = self.llm.complete(node.get_content()).text
            node.metadata["pid"] = os.getpid()
        return nodes
