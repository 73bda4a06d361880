"""Properties of the offline token estimate (``stepfun_core.tokens``).

It is an estimate on the high side, so the properties are bounds: never below a quarter token
per UTF-8 byte (the usual floor of byte-level BPE on English), at least one token per CJK
character, never smaller when text is appended, pseudo ids as many as the estimate, and no
exception (nor recursion error, nor endless loop) for any JSON-like input.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stepfun_core import count_prompt_tokens, estimate_tokens, remember_prompt_tokens, token_ids
from stepfun_core import tokens as core_tokens
from tests.property.strategies import JSON_VALUES, nested_value, texts

# Han (with extension A and compatibility ideographs), kana, Hangul syllables and jamo,
# CJK punctuation and full-width forms, and Han extension B (outside the BMP).
CJK_RANGES = [
    (0x3000, 0x303F),
    (0x3040, 0x30FF),
    (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF),
    (0xAC00, 0xD7A3),
    (0x1100, 0x11FF),
    (0xF900, 0xFAFF),
    (0xFF00, 0xFFEF),
    (0x20000, 0x2A6DF),
]
CJK = st.one_of([st.integers(low, high) for low, high in CJK_RANGES]).map(chr)
MIXED = st.lists(st.one_of(CJK, st.characters(), st.sampled_from(list(" \n\t.,:;{}[]\"'0123"))))
TEXTS = st.one_of(texts(40), MIXED.map("".join), st.text(alphabet="ab 1.\n", max_size=60))


@pytest.fixture(autouse=True)
def _fresh_memo() -> Iterator[None]:
    """No count remembered by another test (the memo is process-wide)."""
    core_tokens._MEMO.clear()
    yield
    core_tokens._MEMO.clear()


def is_cjk(char: str) -> bool:
    return any(low <= ord(char) <= high for low, high in CJK_RANGES)


def utf8_size(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


@given(TEXTS)
def test_never_below_a_quarter_token_per_byte(text: str) -> None:
    assert estimate_tokens(text) * 4 >= utf8_size(text)


@given(st.text(alphabet=st.characters(codec="ascii")))
def test_ascii_is_at_least_bytes_over_four(text: str) -> None:
    assert estimate_tokens(text) >= len(text) / 4


@given(TEXTS)
def test_every_cjk_character_is_at_least_one_token(text: str) -> None:
    assert estimate_tokens(text) >= sum(map(is_cjk, text))


@given(st.lists(CJK, min_size=1).map("".join))
def test_cjk_text_is_not_counted_like_english(text: str) -> None:
    # The usual shortcut (characters / 4) counts a Chinese sentence at a quarter of its tokens.
    assert estimate_tokens(text) >= len(text) > len(text) / 4


@given(TEXTS, TEXTS)
def test_appending_text_never_lowers_the_estimate(head: str, tail: str) -> None:
    both = estimate_tokens(head + tail)
    assert both >= estimate_tokens(head)
    assert both >= estimate_tokens(tail)


@given(TEXTS)
def test_token_ids_are_as_many_as_the_estimate_and_deterministic(text: str) -> None:
    ids = token_ids(text)
    assert len(ids) == estimate_tokens(text)
    assert ids == token_ids(text)
    assert all(isinstance(i, int) and 0 <= i < 128_896 for i in ids)


@given(st.lists(TEXTS, min_size=1, max_size=6))
def test_each_message_adds_tokens(contents: list[str]) -> None:
    messages = [{"role": "user", "content": c} for c in contents]
    for n in range(1, len(messages)):
        assert count_prompt_tokens(messages[: n + 1]) > count_prompt_tokens(messages[:n])
    assert count_prompt_tokens(messages) >= sum(map(estimate_tokens, contents)) + len(contents)


@given(st.lists(JSON_VALUES, max_size=4), JSON_VALUES, st.integers(-5, 10**9))
def test_any_json_like_input_is_counted_without_error(
    messages: list[Any], tools: Any, reported: int
) -> None:
    assert count_prompt_tokens(messages, tools) >= 0
    remember_prompt_tokens(messages, tools, reported)
    total = count_prompt_tokens(messages, tools)
    assert isinstance(total, int) and total >= 0


@pytest.mark.parametrize("shape", ["list", "object"])
@pytest.mark.parametrize("depth", [2, 1_500, 50_000])
def test_deep_values_are_counted_without_recursion(depth: int, shape: str) -> None:
    deep = nested_value(depth, shape)
    message = {"role": "assistant", "content": "", "tool_calls": [deep]}
    assert count_prompt_tokens([message], [deep]) >= depth
    remember_prompt_tokens([message], [deep], 7)
    assert count_prompt_tokens([message], [deep]) == 7


def test_cyclic_values_end() -> None:
    loop: list[Any] = ["a"]
    loop.append(loop)
    cyclic: dict[str, Any] = {"role": "user", "content": [{"type": "text", "text": "hi"}]}
    cyclic["self"] = cyclic
    assert count_prompt_tokens([cyclic, loop], loop) > 0
    remember_prompt_tokens([cyclic, loop], loop, 3)
    assert count_prompt_tokens([cyclic, loop], loop) == 3
