"""An offline ESTIMATE of StepFun's token counts, made to err on the high side.

StepFun's tokenizer is not available offline; these counts keep a history inside the context
window and are no billing figures. Each rule rounds a public figure up (docs/tokens.md). Where the
API reported ``prompt_tokens`` for a prompt, that count is used for it and prompts extending it;
the API's counts are kept from the process's first count on (until then nobody reads them, and
keeping one costs a walk over the whole history on every call).
"""

from __future__ import annotations

import re
import threading
import zlib
from collections.abc import Iterator, Mapping, Sequence
from functools import lru_cache
from typing import Any

# Images: `detail: low` is "around 400" tokens (API reference); other images count at the
# ceiling of Step-3's public vision pipeline (a 3024-px image: 169 + 36 x 81 tokens and markers).
LOW_DETAIL_IMAGE_TOKENS = 512
IMAGE_TOKENS = 3_200
VIDEO_TOKENS = 24_576  # no StepFun figure; Qwen2.5-VL caps a video at 24,576 tokens
# Audio: 25 tokens a second (Whisper-style encoders) at 4,000 bytes a second (32 kbit/s mp3).
AUDIO_BASE64_CHARS_PER_TOKEN = 200
# ChatML-style turns (<|im_start|>role\n...<|im_end|>\n) cost about 5 tokens, the reply's
# opening 3, the tool instructions such templates add about 100.
MESSAGE_TOKENS = 6
REPLY_TOKENS = 4
TOOLS_PREAMBLE_TOKENS = 128

# ASCII letters, one digit, ASCII whitespace, ASCII punctuation, any other single character.
_RUN = re.compile(r"[A-Za-z]+|[0-9]|[ \t\n\r\f\v]+|[!-/:-@\[-`{-~]+|.", re.DOTALL)
_MEMO: dict[tuple[int, int], int] = {}
_MEMO_LOCK = threading.Lock()
_COUNTING = threading.Event()  # set by the first count: from then on, the API's counts are kept


@lru_cache(maxsize=4096)
def _quarters(text: str) -> int:
    """The estimate in quarter tokens: never below one quarter per UTF-8 byte."""
    total = 0
    for run in _RUN.findall(text):
        first = run[0]
        if run.isspace():  # a single space joins the next word
            total += 1 if run == " " else max(4, len(run))
        elif first.isascii() and first.isalpha():  # 4 letters a token (0.3 a character with
            total += max(4, len(run))  # the spaces), a short word one
        elif first.isdigit() or first < " ":  # LLaMA, Qwen, DeepSeek LLM split digits
            total += 4
        elif first.isascii():  # punctuation pairs up ('",', "):"), at least one token
            total += max(4, 2 * len(run))
        else:  # 2-byte letters half a token, CJK, kana and Hangul one; emoji three (cl100k: 2-3)
            total += (2, 4, 12)[(ord(first) >= 0x800) + (ord(first) >= 0x10000)]
    return total


def estimate_tokens(text: str) -> int:
    """Estimated tokens of a text (high side: a CJK character is at least one token)."""
    return -(-_quarters(text) // 4) if isinstance(text, str) else 0


def token_ids(text: str) -> list[int]:
    """Deterministic pseudo ids, as many as ``estimate_tokens(text)``: NOT StepFun's ids."""
    count = estimate_tokens(text)
    step = -(-len(text) // count) if count else 1
    return [
        zlib.crc32(text[i * step : (i + 1) * step].encode("utf-8", "surrogatepass")) % 128_896
        for i in range(count)
    ]


def _walk(value: Any) -> Iterator[Any]:
    """Leaves and (type, size) markers of a JSON-like value, without recursion or cycles."""
    stack, seen = [value], set()
    while stack:
        item = stack.pop()
        if not isinstance(item, (Mapping, list, tuple)):
            yield item
        elif id(item) not in seen:
            seen.add(id(item))
            yield (type(item).__name__, len(item))
            stack.extend([*item.keys(), *item.values()] if isinstance(item, Mapping) else item)


def _fingerprint(value: Any) -> int:
    """A cheap key: ``hash()`` of a string is cached on it, and nothing is serialized."""
    keep = (str, int, float, tuple)
    return hash(tuple(x if isinstance(x, keep) else repr(type(x)) for x in _walk(value)))


def _json_quarters(value: Any) -> int:
    """What a JSON-like value's JSON text would cost: its strings, numbers and punctuation."""
    total = 0
    for leaf in _walk(value):
        text = "" if isinstance(leaf, tuple) or leaf is None else str(leaf)
        total += _quarters(text) + (8 if isinstance(leaf, str) else 4)
    return total


def _part_quarters(part: Any) -> int:
    kind = part.get("type") if isinstance(part, Mapping) else None
    body = part.get(kind) if isinstance(kind, str) else None
    if kind == "text" and isinstance(part.get("text"), str):
        return _quarters(part["text"])
    if kind == "image_url" and isinstance(body, Mapping):
        return 4 * (LOW_DETAIL_IMAGE_TOKENS if body.get("detail") == "low" else IMAGE_TOKENS)
    if kind == "input_audio" and isinstance(body, Mapping) and isinstance(body.get("data"), str):
        return 4 + 4 * len(body["data"]) // AUDIO_BASE64_CHARS_PER_TOKEN
    return 4 * VIDEO_TOKENS if kind == "video_url" else _json_quarters(part)  # unknown: its text


def _message_quarters(message: Any) -> int:
    items = message.items() if isinstance(message, Mapping) else [("", message)]
    total = 4 * MESSAGE_TOKENS
    for key, value in items:
        if key == "content" and isinstance(value, str):
            total += _quarters(value)
        elif key == "content" and isinstance(value, list):
            total += sum(map(_part_quarters, value))
        elif key != "role":  # tool calls and their ids, names, echoed reasoning
            total += _json_quarters(value)
    return total


def _prefix_keys(messages: Sequence[Any], tools: Any) -> Iterator[tuple[int, int]]:
    """The memo key of each prefix of ``messages``, shortest first."""
    tools_key, running = _fingerprint(tools or None), 0
    for message in messages:
        running = hash((running, _fingerprint(message)))
        yield tools_key, running


def count_prompt_tokens(messages: Sequence[Any], tools: Any = None) -> int:
    """Estimated prompt tokens of the wire ``messages`` and ``tools`` of a request.

    Where the API's count is known for these messages or a prefix, only the rest is estimated.
    """
    _COUNTING.set()
    messages = list(messages) if isinstance(messages, Sequence) else []
    known, start = 0, 0
    for length, key in enumerate(_prefix_keys(messages, tools), start=1):
        reported = _MEMO.get(key)  # one read: another thread may evict it
        if reported is not None:
            known, start = reported, length
    quarters = sum(map(_message_quarters, messages[start:]))
    if not start:  # a count the API reported holds the reply's opening and the tools
        tools_quarters = 4 * TOOLS_PREAMBLE_TOKENS + _json_quarters(tools) if tools else 0
        quarters += 4 * REPLY_TOKENS + tools_quarters
    return known + -(-quarters // 4)


def remember_prompt_tokens(messages: Sequence[Any], tools: Any, prompt_tokens: Any) -> None:
    """Remember the API's ``prompt_tokens`` for this prompt, in a memo of 256 prompts."""
    if not _COUNTING.is_set():
        return
    if isinstance(prompt_tokens, bool) or not isinstance(prompt_tokens, int) or prompt_tokens < 1:
        return
    if isinstance(messages, Sequence) and messages:
        *_, key = _prefix_keys(messages, tools)
        with _MEMO_LOCK:
            _MEMO.pop(key, None)
            while len(_MEMO) >= 256:
                del _MEMO[next(iter(_MEMO))]
            _MEMO[key] = prompt_tokens
