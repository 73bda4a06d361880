"""StepFun core: a small, framework-free client for the StepFun Chat Completions API.

Engineers building on it: docs/engineering-notes.md describes this API and the test harness.
"""

from importlib.metadata import PackageNotFoundError as _PackageNotFoundError
from importlib.metadata import version as _version

__version__: str
try:  # one version for all three packages: the installed distribution's
    __version__ = _version("stepfun-integrations")
except _PackageNotFoundError:  # a source tree on sys.path, never installed
    __version__ = "0+unknown"

from stepfun_core.accumulator import StreamAccumulator
from stepfun_core.catalog import (
    ModelInfo,
    RetiredModelWarning,
    ServedModel,
    get_model_info,
    known_models,
    learn,
)
from stepfun_core.client import AsyncStepFunClient, StepFunClient
from stepfun_core.errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ConflictError,
    ContentModerationError,
    ContextOverflowError,
    InternalServerError,
    InvalidParameterError,
    MalformedAPIKeyError,
    MalformedResponseError,
    MissingAPIKeyError,
    NotFoundError,
    PaymentRequiredError,
    PermissionDeniedError,
    RateLimitError,
    RequestTimeoutError,
    ResponseTooLargeError,
    StepFunError,
    StreamError,
    StreamIdleTimeoutError,
    StreamInterruptedError,
    StreamTimeoutError,
    TotalTimeoutError,
    UnprocessableEntityError,
)
from stepfun_core.history import EchoReasoning, assistant_message, wire_tool_call
from stepfun_core.jsonio import load_json
from stepfun_core.limits import DEFAULT_MAX_RESPONSE_BYTES
from stepfun_core.media import audio_part, image_part, video_part
from stepfun_core.parse import fallback_tool_call_id, parse_chunk, parse_completion, parse_usage
from stepfun_core.request import build_chat_request, check_tool_name, merge_extra
from stepfun_core.retry import RetryPolicy
from stepfun_core.settings import (
    CHINA_BASE_URL,
    CHINA_STEP_PLAN_BASE_URL,
    DEFAULT_BASE_URL,
    DEFAULT_MODEL,
    INTERNATIONAL_BASE_URL,
    INTERNATIONAL_STEP_PLAN_BASE_URL,
    Settings,
    check_api_key,
    check_base_url,
    resolve_api_key,
    resolve_base_url,
)
from stepfun_core.stream import AsyncChatStream, ChatStream
from stepfun_core.tokens import (
    count_prompt_tokens,
    estimate_tokens,
    remember_prompt_tokens,
    token_ids,
)
from stepfun_core.types import (
    Choice,
    ChoiceDelta,
    Chunk,
    Completion,
    ServerToolCall,
    ToolCall,
    ToolCallDelta,
    Usage,
)

__all__ = [
    "CHINA_BASE_URL",
    "CHINA_STEP_PLAN_BASE_URL",
    "DEFAULT_BASE_URL",
    "DEFAULT_MAX_RESPONSE_BYTES",
    "DEFAULT_MODEL",
    "INTERNATIONAL_BASE_URL",
    "INTERNATIONAL_STEP_PLAN_BASE_URL",
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AsyncChatStream",
    "AsyncStepFunClient",
    "AuthenticationError",
    "BadRequestError",
    "ChatStream",
    "Choice",
    "ChoiceDelta",
    "Chunk",
    "Completion",
    "ConfigurationError",
    "ConflictError",
    "ContentModerationError",
    "ContextOverflowError",
    "EchoReasoning",
    "InternalServerError",
    "InvalidParameterError",
    "MalformedAPIKeyError",
    "MalformedResponseError",
    "MissingAPIKeyError",
    "ModelInfo",
    "NotFoundError",
    "PaymentRequiredError",
    "PermissionDeniedError",
    "RateLimitError",
    "RequestTimeoutError",
    "ResponseTooLargeError",
    "RetiredModelWarning",
    "RetryPolicy",
    "ServedModel",
    "ServerToolCall",
    "Settings",
    "StepFunClient",
    "StepFunError",
    "StreamAccumulator",
    "StreamError",
    "StreamIdleTimeoutError",
    "StreamInterruptedError",
    "StreamTimeoutError",
    "ToolCall",
    "ToolCallDelta",
    "TotalTimeoutError",
    "UnprocessableEntityError",
    "Usage",
    "assistant_message",
    "audio_part",
    "build_chat_request",
    "check_api_key",
    "check_base_url",
    "check_tool_name",
    "count_prompt_tokens",
    "estimate_tokens",
    "fallback_tool_call_id",
    "get_model_info",
    "image_part",
    "known_models",
    "learn",
    "load_json",
    "merge_extra",
    "parse_chunk",
    "parse_completion",
    "parse_usage",
    "remember_prompt_tokens",
    "resolve_api_key",
    "resolve_base_url",
    "token_ids",
    "video_part",
    "wire_tool_call",
]
