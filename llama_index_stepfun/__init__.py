"""StepFun chat models for LlamaIndex: ``from llama_index_stepfun import StepFun``."""

from llama_index_stepfun.base import StepFun
from llama_index_stepfun.tools import web_search_tool
from stepfun_core import DEFAULT_MODEL

__all__ = ["DEFAULT_MODEL", "StepFun", "web_search_tool"]
