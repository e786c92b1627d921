"""Text normalisation for matching answers and evidence, shared by every metric.

>>> norm("“Wasn’t dead,” 2,400 and 4.7%!")
'wasnt dead 2400 and 47%'
>>> squash("two\\n  lines")
'two lines'
>>> content_words("The envoy called the coalition a posture and a pose.")
['envoy', 'called', 'coalition', 'posture', 'pose']
"""

from __future__ import annotations

from collections.abc import Sequence

from rag.answer.prompt import strip_markers


def squash(text: str) -> str:
    """Collapse runs of whitespace; evidence spans match chunk text after this."""
    return " ".join(text.split())


def norm(text: str) -> str:
    """Lowercase, delete every char that is not a letter, digit, space or %, collapse spaces.

    Deleting punctuation (rather than turning it into a space) makes ``2,400`` match
    ``2400`` and ``C-17`` match ``C17``; eval/questions.jsonl was written for this rule.
    """
    kept = "".join(c for c in text.lower() if c.isalnum() or c.isspace() or c == "%")
    return squash(kept)


def contains_answer(text: str, answers: Sequence[str]) -> bool:
    """True when one of ``answers`` occurs in ``text`` (citation markers ignored), normalised."""
    # Markers go first: "pose [1]" would otherwise normalise to "pose 1".
    haystack = norm(strip_markers(text))
    return any(norm(a) and norm(a) in haystack for a in answers)


def contains_span(passage: str, span: str) -> bool:
    """True when ``span`` occurs verbatim in ``passage`` once whitespace is collapsed."""
    return bool(span.strip()) and squash(span) in squash(passage)


# Function words that carry no claim; the support rule counts the other words.
_STOPWORDS_TEXT = """
    a about above after again against all also am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers him his how i if in into is it its itself just
    me more most my no nor not now of off on once only or other our out over own same she
    should so some such than that thats the their them then there these they this those through
    to too under until up very was we were what when where which while who whom whose why will
    with would you your
"""
_STOPWORDS = frozenset(_STOPWORDS_TEXT.split())


def content_words(text: str) -> list[str]:
    """The normalised words of ``text`` minus stopwords and citation markers."""
    return [w for w in norm(strip_markers(text)).split() if w not in _STOPWORDS]
