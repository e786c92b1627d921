"""Matching answers and evidence in text, shared by every metric (words: :mod:`rag.text.words`).

>>> contains_answer("About 2,400 troops [1].", ["2400"])
True
>>> squash("two\\n  lines")
'two lines'
"""

from __future__ import annotations

from collections.abc import Sequence

from rag.text.markers import strip_markers
from rag.text.words import norm


def squash(text: str) -> str:
    """Collapse runs of whitespace; evidence spans match chunk text after this."""
    return " ".join(text.split())


def contains_answer(text: str, answers: Sequence[str]) -> bool:
    """True when one of ``answers`` occurs in ``text`` (citation markers ignored), normalised."""
    # Markers go first: "pose [1]" would otherwise normalise to "pose 1".
    haystack = norm(strip_markers(text))
    return any(norm(a) and norm(a) in haystack for a in answers)


def contains_span(passage: str, span: str) -> bool:
    """True when ``span`` occurs verbatim in ``passage`` once whitespace is collapsed."""
    return bool(span.strip()) and squash(span) in squash(passage)
