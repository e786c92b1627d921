r"""The question before retrieval: cleaned, checked, and made to stand alone in a chat.

>>> clean_question("Who\x00 is  Witkoff?")
'Who is Witkoff?'
>>> standalone_query("And what did Meloni say?", [Message("user", "Who joins the coalition?")])
'And what did Meloni say? (Who joins the coalition?)'
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from typing import NoReturn

from rag.errors import InputError
from rag.llm.base import Message
from rag.text.words import terms

MAX_QUESTION_CHARS = 2000
# Spaces and control characters shrink when cleaned, but not by this much in a real question.
_MAX_RAW_CHARS = 20 * MAX_QUESTION_CHARS
_FOLLOW_UP = re.compile(
    r"^(and|but|so|also|what about|how about|then)\b|\b(it|its|they|them|their|he|him|his|she|"
    r"her|that|this|those|these|there|the same)\b",
    re.I,
)


def clean_question(question: str) -> str:
    """Strip control characters and surrounding space; refuse empty or huge questions."""
    if not isinstance(question, str):
        raise InputError(f"the question must be text, got {type(question).__name__}")
    if len(question) > _MAX_RAW_CHARS:  # refused before the character-by-character pass
        _too_long(question)
    text = "".join(" " if unicodedata.category(ch).startswith("C") else ch for ch in question)
    text = re.sub(r"\s+", " ", text).strip()
    if not text:
        raise InputError("the question is empty: type a question about the articles")
    if len(text) > MAX_QUESTION_CHARS:
        _too_long(text)
    return text


def _too_long(text: str) -> NoReturn:
    raise InputError(
        f"the question is {len(text):,} characters long; the limit is {MAX_QUESTION_CHARS:,}"
    )


def as_messages(history: Sequence[Message | dict[str, str]] | None) -> list[Message]:
    """Accept Message objects or {"role", "content"} dicts (Gradio's messages format)."""
    out = []
    for turn in history or ():
        if isinstance(turn, Message):
            out.append(turn)
        elif isinstance(turn, dict) and turn.get("role") in ("user", "assistant"):
            out.append(Message(str(turn["role"]), str(turn.get("content") or "")))
        else:
            raise InputError(f"a history turn must have role user/assistant, got {turn!r:.80}")
    return out


def standalone_query(question: str, history: Sequence[Message]) -> str:
    """Make a follow-up ("And what did Meloni say about it?") stand alone for retrieval.

    A question that leans on the conversation (pronouns, "and ...", under two content
    words) is joined with the previous user question, so the retriever sees the topic.
    """
    previous = previous_question(history)
    if previous is None:
        return question
    # Few content words of its own ("Who?", "Why so?") leans on the topic before;
    # "Summarise the Afghanistan article" names its own and stands alone.
    if _FOLLOW_UP.search(question) or len(terms(question)) < 2:
        return f"{question} ({previous})"
    return question


def previous_question(history: Sequence[Message]) -> str | None:
    """The last user turn's text, or None in a chat's first question."""
    return next((m.content for m in reversed(history) if m.role == "user"), None)
