"""A LlamaIndex tokenizer that never downloads anything: StepFun's offline token estimate.

LlamaIndex counts tokens with ``Settings.tokenizer`` (tiktoken's ``cl100k_base`` by default, an
OpenAI vocabulary, downloaded); set ``Settings.tokenizer = stepfun_tokenizer`` once, or pass
``tokenizer_fn=stepfun_tokenizer`` to one component such as ``ChatMemoryBuffer.from_defaults``.
"""

from __future__ import annotations

from stepfun_core import token_ids


def stepfun_tokenizer(text: str) -> list[int]:
    """Pseudo token ids of ``text``, as many as StepFun's estimated tokens (not real ids)."""
    return token_ids(text)
