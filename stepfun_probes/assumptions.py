"""The wire assumptions our code depends on, as data: one entry per ``--probe`` probe.

Each names the section of ``docs/wire.md`` it checks, what we expect, and its status. Every
status is ``replica only`` until a live ``stepfun doctor --probe`` run says otherwise: the
cassettes and the loopback replica were built from the wire notes, not from the live API.
CONTRIBUTING.md's list is generated from this table (`assumptions_markdown`), and a test keeps
the two equal, so they cannot drift. To record a live result,
change the entry's ``status`` (for example ``live: as expected (2026-11-02, step-3.5-flash)``)
and paste the regenerated table.
"""

from __future__ import annotations

from dataclasses import dataclass

REPLICA_ONLY = "replica only"


@dataclass(frozen=True)
class Assumption:
    """One fact about the wire that our code relies on."""

    id: str
    title: str
    section: str
    expectation: str
    status: str = REPLICA_ONLY


ASSUMPTIONS: tuple[Assumption, ...] = (
    Assumption(
        "stream-current-shape",
        "current stream shape",
        "#current-stream",
        '`finish_reason` absent until the last chunk, `delta.role` "assistant", cumulative '
        "`usage` on every chunk, a top-level `agent`, `data: [DONE]` at the end",
    ),
    Assumption(
        "stream-legacy-shape",
        "legacy stream shape (step-1/step-2)",
        "#legacy-stream",
        'first chunk `created:0` with zero usage, then `finish_reason:""` and `role:""` until '
        "the last chunk, cumulative `usage` on every chunk, `data: [DONE]`",
    ),
    Assumption(
        "reasoning-general",
        "reasoning field, default `reasoning_format`",
        "#reasoning-fields",
        "a reasoning model's reply carries its thinking in `message.reasoning`",
    ),
    Assumption(
        "reasoning-deepseek-style",
        "reasoning field, `reasoning_format: deepseek-style`",
        "#reasoning-controls",
        "the thinking comes in `message.reasoning_content`",
    ),
    Assumption(
        "reasoning-effort",
        "`reasoning_effort` tiers",
        "#reasoning-controls",
        "every tier our catalog lists for the model is accepted",
    ),
    Assumption(
        "tool-choice-auto",
        '`tool_choice: "auto"`',
        "#tool-choice",
        "accepted; a request that asks for the tool gets a tool call",
    ),
    Assumption(
        "tool-choice-none",
        '`tool_choice: "none"`',
        "#tool-choice",
        "accepted; no tool call even when the text asks for one",
    ),
    Assumption(
        "tool-choice-required",
        '`tool_choice: "required"`',
        "#tool-choice",
        "accepted; a tool call even when the text does not ask for one",
    ),
    Assumption(
        "tool-choice-function",
        "`tool_choice` naming a function",
        "#tool-choice",
        "accepted; only the named function is called",
    ),
    Assumption(
        "parallel-tool-calls",
        "`parallel_tool_calls: true`",
        "#tool-choice",
        "accepted; two calls in one reply when the text asks for two",
    ),
    Assumption(
        "tool-call-stream-deltas",
        "streamed tool-call deltas (current models)",
        "#stream-tool-calls",
        "standard OpenAI deltas: an integer `index` on each, the id and name in the first delta "
        "of each call, arguments that join into JSON",
    ),
    Assumption(
        "json-object",
        "`response_format: json_object`",
        "#response-format",
        "the content is one bare JSON object",
    ),
    Assumption(
        "json-schema",
        "`response_format: json_schema`",
        "#response-format",
        "accepted by the model (as our catalog says); the content is bare JSON matching the schema",
    ),
    Assumption(
        "reasoning-echo",
        "reasoning echo on a tool-call turn",
        "#reasoning-echo",
        "a tool-call turn carries reasoning, and sending it back is accepted as `reasoning` "
        "(the clients' first choice) and as `reasoning_content` (the report also says whether "
        "leaving it out is refused)",
    ),
    Assumption(
        "cached-tokens",
        "where cached tokens are reported",
        "#usage",
        "a repeated long prompt reports `usage.cached_tokens` or "
        "`usage.prompt_tokens_details.cached_tokens`",
    ),
    Assumption(
        "web-search",
        "server-side `web_search`",
        "#web-search",
        'calls come back as `type: "web_search"` with `function.results`, never as client '
        "function calls",
    ),
    Assumption(
        "error-bad-model",
        "error body of an unknown model",
        "#error-types",
        '404 `{"error": {"message", "type": "model_invalid"}}`',
    ),
    Assumption(
        "error-bad-parameter",
        "error body of a bad parameter",
        "#error-types",
        '400 `{"error": {"message", "type": "request_params_invalid"}}` for a '
        '`role: "function"` message',
    ),
)


def assumptions_markdown() -> str:
    """The Markdown table of every assumption with its status (CONTRIBUTING.md shows it)."""
    lines = [
        "| assumption | probe | docs/wire.md | what we expect | status |",
        "| --- | --- | --- | --- | --- |",
    ]
    for a in ASSUMPTIONS:
        section = f"[{a.section}](docs/wire.md{a.section})"
        lines.append(f"| {a.title} | `{a.id}` | {section} | {a.expectation} | {a.status} |")
    return "\n".join(lines) + "\n"
