"""StepFun chat models for LlamaIndex: ``from llama_index_stepfun import StepFun``."""

from llama_index_stepfun.base import DEFAULT_MODEL, StepFun
from llama_index_stepfun.tools import web_search_tool

__all__ = ["DEFAULT_MODEL", "StepFun", "web_search_tool"]
