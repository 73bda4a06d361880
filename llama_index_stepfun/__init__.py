"""StepFun chat models for LlamaIndex: ``from llama_index_stepfun import StepFun``."""

try:  # the extra's framework, checked first so that its absence says what to install
    import llama_index.core  # noqa: F401
except ModuleNotFoundError as _missing:
    if _missing.name not in ("llama_index", "llama_index.core"):
        raise
    raise ImportError(
        'llama_index_stepfun needs LlamaIndex: pip install "stepfun-integrations[llama-index]"',
        name=__name__,
    ) from _missing

from llama_index_stepfun.base import StepFun
from llama_index_stepfun.refusals import (
    StepFunCutOffError,
    StepFunInvalidToolArgumentsError,
    StepFunRefusalError,
)
from llama_index_stepfun.tokens import stepfun_tokenizer
from llama_index_stepfun.tools import web_search_tool
from stepfun_core import DEFAULT_MODEL
from stepfun_core import __version__ as __version__

__all__ = [
    "DEFAULT_MODEL",
    "StepFun",
    "StepFunCutOffError",
    "StepFunInvalidToolArgumentsError",
    "StepFunRefusalError",
    "stepfun_tokenizer",
    "web_search_tool",
]
