"""The wire probes of ``stepfun doctor --probe``: one function per assumption, by id.

`PROBES` maps each id of `stepfun_probes.assumptions.ASSUMPTIONS` to the probe that checks
it (a test keeps the two in step).
"""

from __future__ import annotations

from collections.abc import Callable

from stepfun_probes.probes.kit import Finding, ProbeContext
from stepfun_probes.probes.reasoning import (
    probe_reasoning_deepseek,
    probe_reasoning_echo,
    probe_reasoning_effort,
    probe_reasoning_general,
)
from stepfun_probes.probes.replies import (
    probe_cached_tokens,
    probe_error_bad_model,
    probe_error_bad_parameter,
    probe_json_object,
    probe_json_schema,
)
from stepfun_probes.probes.streams import (
    probe_current_shape,
    probe_legacy_shape,
    probe_tool_deltas,
)
from stepfun_probes.probes.tools import (
    probe_parallel_tool_calls,
    probe_tool_choice_auto,
    probe_tool_choice_function,
    probe_tool_choice_none,
    probe_tool_choice_required,
    probe_web_search,
)

Probe = Callable[[ProbeContext], Finding]

PROBES: dict[str, Probe] = {
    "stream-current-shape": probe_current_shape,
    "stream-legacy-shape": probe_legacy_shape,
    "reasoning-general": probe_reasoning_general,
    "reasoning-deepseek-style": probe_reasoning_deepseek,
    "reasoning-effort": probe_reasoning_effort,
    "tool-choice-auto": probe_tool_choice_auto,
    "tool-choice-none": probe_tool_choice_none,
    "tool-choice-required": probe_tool_choice_required,
    "tool-choice-function": probe_tool_choice_function,
    "parallel-tool-calls": probe_parallel_tool_calls,
    "tool-call-stream-deltas": probe_tool_deltas,
    "json-object": probe_json_object,
    "json-schema": probe_json_schema,
    "reasoning-echo": probe_reasoning_echo,
    "cached-tokens": probe_cached_tokens,
    "web-search": probe_web_search,
    "error-bad-model": probe_error_bad_model,
    "error-bad-parameter": probe_error_bad_parameter,
}

__all__ = ["PROBES", "Finding", "Probe", "ProbeContext"]
