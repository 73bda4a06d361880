"""Deterministic prose for the replica's text answers.

Two kinds of answer, both pure functions of the request text:

- retrieval-augmented prompts (LlamaIndex and LangChain RAG templates) are answered extractively:
  the one or two context sentences that best overlap the actual question, cited ``[n]`` when the
  sources are numbered (``Source 1:``);
- plain questions get a short, obviously generic answer restating the question (``You asked
  whether 1001 is a prime number.``), never a made-up fact.

`question_of` finds the question itself (the text after ``Query:``, or the user's words), so key
phrases never come from a system prompt or a template's instructions.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

# --- the question --------------------------------------------------------------------------------
_QUERY_LABEL = re.compile(
    r"(?im)^[ \t]*(?:query|question|user question|the original query is as follows)[ \t]*:[ \t]*"
)
_NEXT_LABEL = re.compile(r"(?i)\s*\b(?:context|answer|existing answer|original answer)\s*:")
_SEPARATOR = re.compile(r"(?m)^[ \t]*-{3,}[ \t]*$")
_SOURCE = re.compile(r"(?m)^[ \t]*Source (\d+):[ \t]*$")
_TAGGED = re.compile(r"(?s)<context>(.*?)</context>")
_DOCUMENTS = re.compile(
    r"(?is)(?:relevant documents for the context|retrieved context)[^\n:]*:\s*(.*?)"
    r"(?:\n\s*instruction:|\Z)"
)
_PIECES = re.compile(r"(?i)following pieces of (?:retrieved )?context[^\n]*\n\s*\n(.*)", re.S)
_EXISTING = re.compile(r"(?im)^(?:we have provided an )?existing answer[ \t]*:[ \t]*(\S.*)$")
_CONTEXT_LABEL = re.compile(r"(?im)^[ \t]*context[ \t]*:[ \t]*")
_METADATA = re.compile(r"^[a-z_]+: \S.*$")


@dataclass(frozen=True)
class Passage:
    """A context sentence, the number of its source (``Source n:``) if any, and its position."""

    text: str
    source: int | None
    position: int


def question_of(messages: list[dict[str, Any]], text: str) -> str:
    """The user's actual question: after a template's ``Query:`` label, else the user's text."""
    labelled = _labelled_query(text)
    return labelled if labelled is not None else text.strip()


def _labelled_query(text: str) -> str | None:
    matches = list(_QUERY_LABEL.finditer(text))
    if not matches:
        return None
    rest = text[matches[-1].end() :]
    line = rest.lstrip("\n").split("\n", 1)[0]
    cut = _NEXT_LABEL.search(line)
    query = (line[: cut.start()] if cut else line).strip()
    return query or None


def context_of(messages: list[dict[str, Any]], text: str) -> list[Passage] | None:
    """The retrieved context of a RAG prompt (in the user's text or a system prompt), if any."""
    from tests.replica.brain import message_text  # a cycle at import time otherwise

    blocks = _context_blocks(text, in_user_text=True)
    if blocks is None:
        for message in messages:
            if message.get("role") == "system":
                blocks = _context_blocks(message_text(message), in_user_text=False)
                if blocks is not None:
                    break
    if blocks is None:
        return None
    passages = _passages(blocks)
    return passages or None


def _context_blocks(text: str, *, in_user_text: bool) -> str | None:
    tagged = _TAGGED.search(text)
    if tagged:
        return tagged.group(1)
    documents = _DOCUMENTS.search(text)
    if documents and documents.group(1).strip():
        return documents.group(1)
    has_query = _labelled_query(text) is not None
    pieces = _PIECES.search(text)
    if pieces and pieces.group(1).strip():
        end = re.search(r"(?im)^[ \t]*(?:question|query|answer)[ \t]*:", pieces.group(1))
        return pieces.group(1)[: end.start()] if end else pieces.group(1)
    separators = list(_SEPARATOR.finditer(text))
    if len(separators) >= 2 and (has_query or "context" in text.lower()):
        if in_user_text and has_query:
            query_at = list(_QUERY_LABEL.finditer(text))[-1].start()
            before = [s for s in separators if s.start() < query_at]
            separators = before if len(before) >= 2 else separators
        return text[separators[-2].end() : separators[-1].start()]
    label = _CONTEXT_LABEL.search(text)
    if label and (has_query or not in_user_text):
        rest = text[label.end() :]
        end = re.search(r"(?im)^[ \t]*(?:question|query|answer)[ \t]*:", rest)
        return rest[: end.start()] if end else rest
    return None


def _passages(context: str) -> list[Passage]:
    pieces = _SOURCE.split(context)
    if len(pieces) == 1:
        numbered: list[tuple[int | None, str]] = [(None, context)]
    else:
        numbered = [(int(pieces[i]), pieces[i + 1]) for i in range(1, len(pieces) - 1, 2)]
    passages: list[Passage] = []
    for source, block in numbered:
        for sentence in _sentences(block):
            passages.append(Passage(sentence, source, len(passages)))
    return passages


def _sentences(block: str) -> Iterable[str]:
    for paragraph in re.split(r"\n[ \t]*\n", block):
        lines = [line.strip() for line in paragraph.strip().splitlines() if line.strip()]
        if not lines or all(_METADATA.match(line) for line in lines):
            continue
        prose: list[str] = []
        for line in lines:
            if line.startswith(("#", "```")):
                continue
            if re.match(r"^(?:[-*+]|\d+[.)])\s+", line):  # a list item is a sentence of its own
                yield from _split_prose(" ".join(prose))
                prose = []
                yield from _split_prose(re.sub(r"^(?:[-*+]|\d+[.)])\s+", "", line))
            else:
                prose.append(line)
        yield from _split_prose(" ".join(prose))


def _split_prose(text: str) -> Iterable[str]:
    for sentence in re.split(r"(?<=[.!?])\s+(?=[^a-z\s])", text.strip()):
        if len(sentence) > 3 and not sentence.endswith(":"):
            yield sentence


# --- extractive answers --------------------------------------------------------------------------
_STOP_TEXT = (
    "a an the and or but if then than so as at by for from in into of on onto to with without "
    "about over under is are was were be been being am do does did done doing have has had can "
    "could should would will shall may might must i me my we our you your he she it its they "
    "them their this that these those there here what which who whom whose when where why how "
    "not no yes any all some each every more most very just also only please tell "
    "explain describe give show let get got make use using used one way ways thing things"
)
_STOP = frozenset(_STOP_TEXT.split())
_WORDS = re.compile(r"[^\W_][\w\-]*")


def _stem(word: str) -> str:
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("ing") and len(word) > 5:
        return word[:-3]
    if word.endswith("ed") and len(word) > 4:
        return word[:-2]
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    return word


def terms(text: str) -> set[str]:
    """Content terms of `text`, lower-cased and lightly stemmed; ``a_b`` also gives ``a``, ``b``."""
    out: set[str] = set()
    for word in _WORDS.findall(text):
        lowered = word.lower().strip("-_")
        parts = (
            [lowered, *re.split(r"[_\-]", lowered)] if re.search(r"[_\-]", lowered) else [lowered]
        )
        for part in parts:
            if len(part) > 1 and part not in _STOP and not part.isdigit():
                out.add(_stem(part))
    return out


def existing_answer(text: str) -> str | None:
    """The earlier answer a refine prompt (``existing answer: ...``) asks to keep or improve."""
    match = _EXISTING.search(text)
    return match.group(1).strip() if match else None


def extractive_answer(question: str, passages: list[Passage], existing: str | None = None) -> str:
    """One or two context sentences that best cover the question's terms, with citations."""
    wanted = terms(question)
    bags = [terms(p.text) for p in passages]
    weight = {t: math.log(1 + len(bags) / (1 + sum(t in b for b in bags))) + 1 for t in wanted}
    chosen: list[int] = []
    uncovered = set(wanted)
    for _ in range(2):
        scores = [
            (
                sum(weight[t] for t in bag & uncovered),
                sum(weight[t] for t in bag & wanted) / math.sqrt(len(bag) or 1),
                -i,
            )
            for i, bag in enumerate(bags)
            if i not in chosen
        ]
        best = max(scores, default=(0.0, 0.0, 0))
        if best[0] <= 0:
            break
        chosen.append(-best[2])
        uncovered -= bags[-best[2]]
    if not chosen and existing:
        return existing
    if not chosen:
        first = passages[0]
        return "The provided context does not answer this directly. The closest it comes: " + (
            _cite(first)
        )
    return " ".join(_cite(passages[i]) for i in sorted(chosen))


def _cite(passage: Passage) -> str:
    text = passage.text
    if passage.source is None:
        return text
    match = re.search(r"[.!?]+[\"')\]]*$", text)
    if match:
        return f"{text[: match.start()]} [{passage.source}]{text[match.start() :]}"
    return f"{text} [{passage.source}]."


# --- generic answers to plain questions ----------------------------------------------------------
_WH = ("what", "which", "who", "whom", "whose", "where", "when", "why", "how")
_BE = ("is", "are", "was", "were")
_DO = ("do", "does", "did")
_MODAL = ("can", "could", "should", "would", "will", "shall", "may", "might", "must")
_HAVE = ("has", "have", "had")
_AUX = ("am", *_BE, *_DO, *_MODAL, *_HAVE)
_PRONOUNS = ("i", "you", "we", "they", "he", "she", "it")
_DETERMINERS = (
    "the",
    "a",
    "an",
    "this",
    "that",
    "these",
    "those",
    "my",
    "your",
    "our",
    "their",
    "its",
    "his",
    "her",
    "some",
    "any",
    "each",
    "every",
)
_PARTICIPLE = re.compile(
    r"^(?:\w+ed|known|based|made|built|done|seen|shown|given|taken|written|called|used|found|"
    r"born|held|run|set|kept|meant|sold|told)$"
)
_OVERVIEW = re.compile(
    r"(?i)^(?:explain|describe|summari[sz]e|define|introduce|outline|discuss|"
    r"tell me (?:all )?about|tell me more about|talk about|"
    r"give (?:me )?(?:a |an )?(?:\w+ )?(?:description|overview|summary|explanation|"
    r"introduction) of|what(?:'s| is| are) (?=(?:a |an |the )?[\w-]+$))\s+"
)
_WRITE = re.compile(
    r"(?i)^(?:write|compose|draft|create|generate|tell|give|suggest|recommend|name|list|show|"
    r"find|translate|compare|calculate|compute|convert|rewrite|fix|check|plan|design|make|build|"
    r"use|call|run|trigger|count|sing|say|repeat|search(?: the web)?(?: for)?|look up)"
    r"(?: me| us)?\s+"
)
_AUDIENCE = re.compile(
    r"(?i)\s+(?:to|for)\s+((?:a|an|someone|somebody|people|beginners|kids|children|"
    r"non-?\w+|new|junior|senior)\b.*)$"
)
_MANNER = re.compile(
    r"(?i)\s+(?:briefly|simply|quickly|concisely|in detail|in simple terms|in plain english|"
    r"in (?:one|a|two|three|a few) (?:sentence|sentences|words|paragraph|paragraphs)|"
    r"step by step)\b"
)
_GREETINGS = frozenset(
    (
        "hi",
        "hello",
        "hey",
        "hiya",
        "howdy",
        "greetings",
        "hello there",
        "hi there",
        "hey there",
        "good morning",
        "good afternoon",
        "good evening",
    )
)
_MEDIA_TOPIC = re.compile(
    r"(?i)^(?:(?:this|these|that|those|the|it|them)\b\s*)?"
    r"(?:image|images|picture|pictures|photo|photos|audio|clip|sound|recording|video|file|"
    r"files)?$"
)


_MAX_WORDS = 16


def main_clause(question: str) -> str:
    """The clause that carries the question: the first one ending in ``?``, else the first."""
    text = " ".join(question.split())
    text = re.sub(
        r"(?i)^(?:search(?: the web)?(?: for)?|look up|think step by step)\s*:\s*", "", text
    )
    pieces = [
        p.strip()
        for p in re.split(r"(?<=[.!?:;])\s+|\s*:\s+|(?<=[\u3002\uff01\uff1f])", text)
        if p.strip()
    ]
    if not pieces:
        return ""
    asked = [p for p in pieces if p.endswith(("?", "\uff1f"))]
    clause = asked[0] if asked else pieces[0]
    words = clause.split()
    if len(words) > _MAX_WORDS:  # a long request: its opening words name the topic
        words = words[:_MAX_WORDS]
        while len(words) > 1 and words[-1].lower() in _STOP:
            words.pop()
        clause = " ".join(words)
    clause = re.sub(r"(?i)^(?:please|so|ok(?:ay)?|now|and|but)\b,?\s*", "", clause)
    clause = re.sub(r"(?i)^(?:can|could|would|will) you(?: please)?\s+(?=[a-z])", "", clause)
    clause = re.sub(r"(?i),?\s*please$", "", clause.rstrip(" ?!.:;\u3002\uff01\uff1f\uff1a\uff1b"))
    clause = re.sub(
        r"(?i),?\s+(?:then|and then) (?:answer|reply|respond|summari[sz]e)$", "", clause
    )
    return clause.strip()


def _lower_first(text: str) -> str:
    word = text.split(" ", 1)[0]
    if (word.isupper() and len(word) > 1) or any(c.isupper() for c in word[1:]) or word == "I":
        return text
    return text[:1].lower() + text[1:]


def _split_subject(words: list[str], *, whole_if_bare: bool) -> tuple[list[str], list[str]]:
    """Split the words after an auxiliary into subject and predicate (a rough heuristic)."""
    if not words:
        return [], []
    first = words[0].lower()
    if first in _PRONOUNS:
        return words[:1], words[1:]
    if first in _DETERMINERS:
        end = 2
        while end < len(words) and words[end][:1].isupper():
            end += 1
        while end + 1 < len(words) and words[end].lower() == "of":
            end += 2 if words[end + 1].lower() not in _DETERMINERS else 3
        subject, rest = words[:end], words[end:]
    else:
        end = 1
        while end < len(words) and (words[end][:1].isupper() or words[end][:1].isdigit()):
            end += 1
        subject, rest = words[:end], words[end:]
    if (
        whole_if_bare
        and rest
        and not _PARTICIPLE.match(rest[0].lower())
        and rest[0].lower() not in _DETERMINERS
        and rest[0].lower() not in ("in", "on", "at", "like", "from", "of", "for", "to")
    ):
        return words, []
    return subject, rest


def _third_person(verb: str) -> str:
    if re.search(r"(?:s|sh|ch|x|z|o)$", verb):
        return verb + "es"
    if re.search(r"[^aeiou]y$", verb):
        return verb[:-1] + "ies"
    return verb + "s"


def _indirect(clause: str) -> str | None:
    """``What is StepFun known for`` -> ``what StepFun is known for``; None if not a question."""
    words = clause.split()
    if not words:
        return None
    head = words[0].lower()
    if head in _WH:
        lead = [head]
        rest = words[1:]
        if (
            rest
            and rest[0].lower() in ("much", "many", "long", "far", "often", "old")
            and head == "how"
        ):
            lead.append(rest[0])
            rest = rest[1:]
        noun: list[str] = []
        while rest and rest[0].lower() not in _AUX and len(noun) < 3:
            noun.append(rest.pop(0))
        if noun and len(rest) > 1 and rest[1].lower() in _PRONOUNS:
            return " ".join(lead + noun + _reorder(rest[0].lower(), rest[1:], whole_if_bare=False))
        if noun or not rest:
            return " ".join(lead + noun + rest)  # "which bar is the tallest": already in order
        return " ".join(lead + _reorder(rest[0].lower(), rest[1:], whole_if_bare=head == "what"))
    if head in _AUX:
        return " ".join(["whether", *_reorder(head, words[1:], whole_if_bare=False)])
    return None


def _reorder(aux: str, words: list[str], *, whole_if_bare: bool) -> list[str]:
    subject, rest = _split_subject(words, whole_if_bare=whole_if_bare and aux in _BE)
    lowered = [w.lower() if w in ("I",) else w for w in subject]
    pronoun = [w.lower() for w in subject] in (["i"], ["you"], ["we"])
    if aux in _DO:
        if pronoun and rest:
            return ["to", *rest]
        if aux == "does" and rest:
            return [*lowered, _third_person(rest[0]), *rest[1:]]
        return [*lowered, *(["did"] if aux == "did" else []), *rest]
    if aux in ("can", "could", "should") and pronoun and rest:
        return ["to", *rest]
    if [w.lower() for w in subject] == ["you"]:
        return ["I", {"are": "am", "were": "was"}.get(aux, aux), *rest]
    if subject == ["I"]:
        return ["you", {"am": "are", "was": "were"}.get(aux, aux), *rest]
    return [*lowered, aux, *rest]


_AND_QUESTION = re.compile(r",?\s+and\s+(?=(?:" + "|".join(_WH + _AUX) + r")\b)")


def describe(question: str) -> str:
    """What the user asks, as a phrase for ``The user asks ...``: ``about X`` or ``whether ...``."""
    clause = main_clause(question)
    parts = [p for p in _AND_QUESTION.split(clause) if p]
    indirect = [_indirect(p) for p in parts]
    if indirect and all(indirect):
        return " and ".join(i for i in indirect if i)
    if _WRITE.match(clause) and not _OVERVIEW.match(clause):
        return "me to " + _request(clause)
    return "about " + (topic_of(clause) or "the message")


def _request(clause: str) -> str:
    """``Write me 2 haikus`` -> ``write 2 haikus`` (to follow ``asked me to``)."""
    return _lower_first(re.sub(r"^(\S+) (?:me|us) ", r"\1 ", clause))


def topic_of(clause: str) -> str:
    """The subject phrase of a request: ``server-sent events`` from ``Explain server-sent ...``."""
    topic = _OVERVIEW.sub("", clause, count=1)
    topic = _WRITE.sub("", topic, count=1) if topic == clause else topic
    topic = _AUDIENCE.sub("", topic)
    topic = _MANNER.sub("", topic).strip(" ,")
    return _lower_first(topic) if clause.startswith(topic) else topic


def _audience(clause: str) -> str:
    match = _AUDIENCE.search(clause)
    if not match:
        return ""
    words = re.split(r"(?i)\s+(?:who|that|which|with|,)\b", match.group(1))[0]
    return " for " + words.strip(" ,")


def is_greeting(question: str) -> bool:
    """Whether the question is only a greeting (``Hello!``)."""
    return _is_greeting(main_clause(question))


def _is_greeting(clause: str) -> bool:
    return clause.lower().strip(" !.,") in _GREETINGS


def generic_answer(question: str, media: list[str]) -> str:
    """A short, neutral answer built from the question, saying nothing it cannot know."""
    clause = main_clause(question)
    lowered = clause.lower()
    if re.fullmatch(r"how are you(?: doing)?(?: today)?", lowered.strip(" !.,")):
        return "I'm doing well, thank you for asking. How can I help you today?"
    if media:
        return _media_answer(clause)
    if not clause or _is_greeting(clause) or not terms(clause):
        return "Hello! How can I help you today?"
    about = describe(question)
    if about.startswith("whether "):
        return (
            f"{about[:1].upper()}{about[1:]} comes down to a quick check of the details, "
            "and I can walk through it step by step if that helps."
        )
    if about.startswith("me to "):
        return (
            f"You asked {about}. I will keep it short and simple; let me know "
            "if you would like a longer version."
        )
    if not about.startswith("about "):
        return (
            f"You asked {about}. I can only give a brief, general answer here, so please check "
            "the specifics against a reliable source."
        )
    topic = topic_of(clause)
    if _OVERVIEW.match(clause):
        return (
            f"Here is a short overview of {topic}{_audience(clause)}. The essentials of {topic} "
            "fit in a few sentences, and I can go into more depth on any part of it."
        )
    return (
        f"Here is a short note on {topic}. I have kept it brief and general; ask if you would "
        "like more detail."
    )


def _media_answer(clause: str) -> str:
    topic = topic_of(clause) if clause else ""
    if not clause or _MEDIA_TOPIC.match(topic) or not terms(clause):
        return "Let me know if you would like more detail on any part of it."
    about = describe(clause)
    if about.startswith("about "):
        return f"Let me know if you would like more detail on {topic}."
    return f"From this alone, I can't say with confidence {about}."
