"""LangChain integration for StepFun chat models: ``from langchain_stepfun import ChatStepFun``."""

try:  # the extra's framework, checked first so that its absence says what to install
    import langchain_core  # noqa: F401
except ModuleNotFoundError as _missing:
    if _missing.name != "langchain_core":
        raise
    raise ImportError(
        'langchain_stepfun needs LangChain: pip install "stepfun-integrations[langchain]"',
        name=__name__,
    ) from _missing

from langchain_stepfun import errors
from langchain_stepfun.chat_models import ChatStepFun
from langchain_stepfun.errors import *  # noqa: F403 (its __all__: the dual errors)
from langchain_stepfun.translator import register as _register_translator
from stepfun_core import __version__ as __version__

_register_translator()

__all__ = ["ChatStepFun"]
__all__ += errors.__all__
