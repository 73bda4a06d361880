"""A LlamaIndex tokenizer that never downloads anything: StepFun's offline token estimate.

LlamaIndex counts tokens with ``Settings.tokenizer`` (memory buffers, prompt helpers, node
parsers), which defaults to tiktoken's ``cl100k_base``, an OpenAI vocabulary. LlamaIndex has no
way for an LLM to bring its own tokenizer, so set ours once::

    from llama_index.core import Settings
    from llama_index_stepfun import stepfun_tokenizer

    Settings.tokenizer = stepfun_tokenizer

or give it to one component: ``ChatMemoryBuffer.from_defaults(llm=llm,
tokenizer_fn=stepfun_tokenizer)``. Counts are estimates on the high side (a CJK character is at
least one token); see ``stepfun_core.tokens``.
"""

from __future__ import annotations

from stepfun_core import token_ids


def stepfun_tokenizer(text: str) -> list[int]:
    """Pseudo token ids of ``text``, as many as StepFun's estimated tokens (not real ids)."""
    return token_ids(text)
