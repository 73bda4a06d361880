"""The replica's deterministic "brain": a pure function from request JSON to an abstract reply.

Nothing here knows about HTTP or the wire shapes; `shapes.py` renders a `Reply` as JSON or SSE.
Same request in, same `Reply` out: ids and timestamps are derived from a hash of the request.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, overload

from tests.replica import prose
from tests.replica.schema_fill import Seed, fill, keywords_in, quoted_in, schema_in_text

_TOKEN = re.compile(
    r"[\u2e80-\u9fff\uac00-\ud7af\uff00-\uffef]"
    r"|[^\s\u2e80-\u9fff\uac00-\ud7af\uff00-\uffef]+\s*"
    r"|\s+"
)
_REASONING_PREFIXES = ("step-3", "step-5", "step-r1")
_LEGACY_PREFIXES = ("step-1", "step-2")
_CACHE_UNIT = 256  # docs/wire.md#usage: minimum cache unit 256 tokens


def tokenize(text: str) -> list[str]:
    """Split text into "tokens": words with trailing space, one CJK character each."""
    return _TOKEN.findall(text)


@dataclass(frozen=True)
class ToolCall:
    """A tool call in a reply; `kind` is ``function`` or ``web_search`` (server-side, §1.3)."""

    id: str
    name: str
    arguments: str
    kind: str = "function"
    results: list[dict[str, Any]] | None = None


@dataclass(frozen=True)
class Choice:
    """One choice: reasoning and content as token lists, tool calls, finish reason."""

    index: int
    reasoning: Sequence[str]
    content: Sequence[str]
    tool_calls: list[ToolCall] = field(default_factory=list)
    finish_reason: str = "stop"
    # A refusal stated in words (``message.refusal``), as tokens; content is then empty.
    refusal: Sequence[str] = ()

    @property
    def completion_tokens(self) -> int:
        """Tokens this choice emits (reasoning + content + tool-call arguments)."""
        tools = sum(len(tokenize(c.arguments)) + 1 for c in self.tool_calls if c.kind == "function")
        return len(self.reasoning) + len(self.content) + len(self.refusal) + tools


@dataclass(frozen=True)
class Reply:
    """Everything needed to render a completion in either wire shape."""

    digest: str
    model: str
    created: int
    legacy: bool
    deepseek_style: bool
    prompt_tokens: int
    cached_tokens: int
    choices: list[Choice]

    @property
    def completion_tokens(self) -> int:
        """Completion tokens over all choices."""
        return sum(c.completion_tokens for c in self.choices)

    @property
    def reasoning_tokens(self) -> int:
        """Reasoning tokens over all choices."""
        return sum(len(c.reasoning) for c in self.choices)


def request_digest(body: Any) -> str:
    """A stable hex digest of a request body (key order and whitespace do not matter)."""
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def is_legacy(model: str) -> bool:
    """Step-1/step-2 era models stream the legacy shape (docs/wire.md#legacy-stream)."""
    return model.startswith(_LEGACY_PREFIXES)


def reasons(model: str) -> bool:
    """Models that emit reasoning text first."""
    return model.startswith(_REASONING_PREFIXES)


def tool_call_id(digest: str, n: int) -> str:
    """``call_`` + 22 base64url characters (docs/wire.md#reply-tool-calls), stable per request."""
    raw = hashlib.sha256(f"{digest}:{n}".encode()).digest()[:16]
    return "call_" + base64.urlsafe_b64encode(raw).decode()[:22]


# A prompt holding this gets a stated refusal (message.refusal / delta.refusal).
REFUSE = "[please refuse]"


def think(body: dict[str, Any], default_events: int | None = None) -> Reply:
    """Answer a validated chat-completions request body."""
    digest = request_digest(body)
    model = str(body["model"])
    n = max(1, int(body.get("n") or 1))
    choices = [_choice(body, i, digest, default_events) for i in range(n)]
    prompt = _prompt_tokens(body)
    return Reply(
        digest=digest,
        model=model,
        created=1_760_000_000 + int(digest[:6], 16),
        legacy=is_legacy(model),
        deepseek_style=body.get("reasoning_format") == "deepseek-style",
        prompt_tokens=prompt,
        cached_tokens=(prompt - 1) // _CACHE_UNIT * _CACHE_UNIT if prompt > _CACHE_UNIT else 0,
        choices=choices,
    )


def _prompt_tokens(body: dict[str, Any]) -> int:
    size = len(json.dumps([body.get("messages"), body.get("tools")], ensure_ascii=False))
    return 8 + size // 4


def _choice(body: dict[str, Any], index: int, digest: str, default_events: int | None) -> Choice:
    messages: list[dict[str, Any]] = body["messages"]
    text = last_user_text(messages)
    if REFUSE in text:  # what a model says when it declines (the OpenAI-style field)
        return Choice(index, [], [], refusal=tokenize("I can't help with that request."))
    calls = _tool_calls(body, text, digest)
    thinking = _reasoning_text(messages, text, calls) if reasons(str(body["model"])) else ""
    reasoning = tokenize(thinking)
    if calls and calls[0].kind == "function":
        return _limit(Choice(index, reasoning, [], calls), body)
    if default_events is not None and not _wants_json(body) and messages[-1].get("role") != "tool":
        content = _filler(default_events)
    else:
        content = _answer(body, messages, text, calls)
        if index:
            content = f"(alternative {index}) {content}"
    return _limit(Choice(index, reasoning, tokenize(content), calls), body)


def _limit(choice: Choice, body: dict[str, Any]) -> Choice:
    """Honour ``stop`` (cut before the stop string) and ``max_tokens`` (finish ``length``)."""
    content: Sequence[str] = choice.content
    stops = body.get("stop")
    stops = [stops] if isinstance(stops, str) else list(stops or [])
    text = "".join(content)
    cut = min((text.find(s) for s in stops if s and s in text), default=-1)
    if cut >= 0:
        content = tokenize(text[:cut])
    budget = body.get("max_tokens")
    reasoning, finish = choice.reasoning, choice.finish_reason
    if isinstance(budget, int) and budget >= 0 and len(reasoning) + len(content) > budget:
        reasoning = reasoning[:budget]
        content = content[: budget - len(reasoning)]
        finish = "length"
    return Choice(choice.index, reasoning, content, choice.tool_calls, finish)


def message_text(message: dict[str, Any]) -> str:
    """The text of a message: a string, or the text parts of a multipart content list."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def last_user_text(messages: list[dict[str, Any]]) -> str:
    """The text of the last user message ("" if none)."""
    for message in reversed(messages):
        if message.get("role") == "user":
            return message_text(message)
    return ""


def _function_tools(body: dict[str, Any]) -> list[dict[str, Any]]:
    tools = body.get("tools") or []
    return [t for t in tools if isinstance(t, dict) and t.get("type") == "function"]


def _tool_calls(body: dict[str, Any], text: str, digest: str) -> list[ToolCall]:
    choice = body.get("tool_choice")
    functions = _function_tools(body)
    web = any(
        isinstance(t, dict) and t.get("type") == "web_search" for t in body.get("tools") or []
    )
    forced = choice in ("required", "any") or isinstance(choice, dict)
    user_last = body["messages"][-1].get("role") == "user"
    if choice == "none" or not (forced or user_last) or not (functions or web):
        return []
    chosen = _chosen_functions(functions, choice, text)
    if functions and (forced or chosen or not web):
        picked = chosen or functions[:1]
        seed = Seed.from_text(text)
        return [
            ToolCall(tool_call_id(digest, i), f["name"], _arguments(f, seed))
            for i, f in enumerate(t["function"] for t in picked)
        ]
    return [_web_search(text, digest)]


def _chosen_functions(
    functions: list[dict[str, Any]], choice: Any, text: str
) -> list[dict[str, Any]]:
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name") or choice.get("name")
        return [t for t in functions if t["function"]["name"] == name][:1]
    named = [t for t in functions if t["function"]["name"] in text]
    return named


def _arguments(function: dict[str, Any], seed: Seed) -> str:
    parameters = function.get("parameters") or {"type": "object", "properties": {}}
    value = fill(parameters, seed)
    return json.dumps(value if isinstance(value, dict) else {}, ensure_ascii=False)


def _web_search(text: str, digest: str) -> ToolCall:
    """A server-side search call with results (docs/wire.md#web-search)."""
    keyword = " ".join(keywords_in(text)[:4]) or text[:40]
    results = [
        {
            "index": i,
            "url": f"https://example.com/search/{digest[:8]}/{i}",
            "title": f"{keyword} - result {i + 1}",
            "summary": f"A page about {keyword}.",
        }
        for i in range(2)
    ]
    arguments = json.dumps({"keyword": keyword}, ensure_ascii=False)
    return ToolCall(tool_call_id(digest, 99), "step_websearch", arguments, "web_search", results)


def _reasoning_text(messages: list[dict[str, Any]], text: str, calls: list[ToolCall]) -> str:
    if calls and calls[0].kind == "function":
        return f"The user needs a tool. I will call {calls[0].name}."
    question = prose.question_of(messages, text)
    plan = "answer briefly"
    if messages[-1].get("role") == "tool":
        plan = "answer from the tool results"
    elif prose.context_of(messages, text) is not None:
        plan = "answer from the provided context"
    if prose.is_greeting(question):
        return f"The user is greeting me. I should {plan}."
    return f"The user asks {prose.describe(question)}. I should {plan}."


def _wants_json(body: dict[str, Any]) -> bool:
    fmt = body.get("response_format")
    return isinstance(fmt, dict) and fmt.get("type") in ("json_object", "json_schema")


def _answer(
    body: dict[str, Any], messages: list[dict[str, Any]], text: str, calls: list[ToolCall]
) -> str:
    if messages[-1].get("role") == "tool":
        return _after_tools(messages)
    if _wants_json(body):
        return _json_answer(body, messages, text)
    if calls:
        return _search_answer(calls[0])
    context = prose.context_of(messages, text)
    if context is not None:
        question = prose.question_of(messages, text)
        return prose.extractive_answer(question, context, prose.existing_answer(text))
    return _text_answer(messages, text)


def _search_answer(call: ToolCall) -> str:
    keyword = json.loads(call.arguments).get("keyword", "")
    titles = [str(r["title"]) for r in call.results or []]
    found = f'; the top result is "{titles[0]}"' if titles else ""
    return f'I searched the web for "{keyword}" and found {len(titles)} results{found}.'


def _after_tools(messages: list[dict[str, Any]]) -> str:
    results: list[str] = []
    for message in reversed(messages):
        if message.get("role") != "tool":
            break
        results.insert(0, message_text(message).strip())
    answer = "Here is what I found:"
    for result in results:
        answer += (" " if answer.endswith((".", "!", "?", ":")) else "; ") + result
    return answer if answer.endswith((".", "!", "?", "}", "]")) else answer + "."


def _json_answer(body: dict[str, Any], messages: list[dict[str, Any]], text: str) -> str:
    fmt = body["response_format"]
    schema = (fmt.get("json_schema") or {}).get("schema") if fmt["type"] == "json_schema" else None
    all_text = "\n".join(message_text(m) for m in messages if m.get("role") in ("system", "user"))
    schema = schema or schema_in_text(all_text) or _schema_from_keys(all_text)
    return json.dumps(fill(schema, Seed.from_text(text)), ensure_ascii=False)


def _schema_from_keys(text: str) -> dict[str, Any]:
    """``... with 'setup' and 'punchline' keys`` names the keys; else ``{"answer": ...}``."""
    names = [q for q in quoted_in(text) if re.fullmatch(r"\w+", q)] if "key" in text else []
    props = {name: {"type": "string"} for name in names or ["answer"]}
    return {"type": "object", "properties": props}


def _media_kinds(messages: list[dict[str, Any]]) -> list[str]:
    kinds: list[str] = []
    for message in messages:
        content = message.get("content")
        for part in content if isinstance(content, list) else []:
            kind = {"image_url": "image", "input_audio": "audio", "video_url": "video"}.get(
                part.get("type", "") if isinstance(part, dict) else "", "file"
            )
            if kind != "file" and kind not in kinds:
                kinds.append(kind)
    return kinds


_MEDIA_SENTENCES = {
    "image": "The image shows a small picture with simple shapes and colours.",
    "audio": "The audio contains a short recorded sound.",
    "video": "The video shows a short scene.",
}


def _text_answer(messages: list[dict[str, Any]], text: str) -> str:
    kinds = _media_kinds(messages)
    parts = [_MEDIA_SENTENCES[k] for k in kinds]
    parts.append(prose.generic_answer(prose.question_of(messages, text), kinds))
    return " ".join(parts)


def _filler(count: int) -> str:
    return " ".join(f"w{i}" for i in range(count))


class RepeatTokens(Sequence[str]):
    """A lazy list of `count` tokens (``w0 w1 ...`` or fixed-size blocks), for long streams."""

    def __init__(self, count: int, block: int = 0) -> None:
        self._count = count
        self._block = block

    def __len__(self) -> int:
        return self._count

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[str]: ...
    def __getitem__(self, index: int | slice) -> str | Sequence[str]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._count))]
        if not -self._count <= index < self._count:
            raise IndexError(index)
        index %= self._count
        if self._block:
            return "a" * (self._block - 1) + " "
        return f"w{index} " if index < self._count - 1 else f"w{index}"
