"""Example questions made from the indexed articles' titles, kept only if answerable.

A headline that is a question is asked as it is; another headline gives
"What do the articles say about <its main clause>?". Each candidate is then put
to the extractive backend (milliseconds, no LLM), and only those it answers are
offered, so an example never leads to "the articles don't say".

>>> topic("Long-range drone strikes weakening Russia’s combat ability, senior commander says")
'Long-range drone strikes weakening Russia’s combat ability'
>>> topic("Is the 'coalition of the willing' going to work?") is None
True
"""

from __future__ import annotations

import logging
import re

from rag.errors import RagError
from rag.kb import KnowledgeBase

log = logging.getLogger(__name__)

MAX_EXAMPLES = 4
MAX_WORDS = 12  # an example is a button: keep it to one short line
_CLAUSE_SPLIT = re.compile(r"[:?!;]\s+|,\s+|\s+[–—-]\s+")
_EDGE_PUNCT = "\"'“”‘’!?.,:;…() "


def headline_question(title: str) -> str | None:
    """A title that already is a question, e.g. "Is the coalition going to work?"."""
    title = title.strip()
    if title.endswith("?") and 4 <= len(title.split()) <= MAX_WORDS and "?" not in title[:-1]:
        return title
    return None


def topic(title: str) -> str | None:
    """The longest clause of a statement headline; None for a question or when none fits."""
    if headline_question(title):
        return None
    clauses = [c.strip(_EDGE_PUNCT) for c in _CLAUSE_SPLIT.split(title)]
    clauses = [c for c in clauses if 3 <= len(c.split()) <= MAX_WORDS]
    if not clauses:
        return None
    # On a tie the later clause wins: in "'Quote': what happened" the summary comes last.
    # The capital stays: the first word may be a name ("Donald Trump hits out ...").
    return max(reversed(clauses), key=lambda c: len(c.split()))


def candidates(kb: KnowledgeBase) -> list[str]:
    out: list[str] = []
    for article in kb.articles():
        if article.get("title_derived"):
            continue  # a title made from the first sentence is no headline
        title = str(article.get("title") or "")
        question = headline_question(title)
        if question is None and (subject := topic(title)):
            question = f"What do the articles say about {subject}?"
        if question and question not in out:
            out.append(question)
    return out


def example_questions(kb: KnowledgeBase, limit: int = MAX_EXAMPLES) -> list[str]:
    """Up to ``limit`` candidate questions that the extractive backend can answer."""
    found: list[str] = []
    for question in candidates(kb):
        if len(found) == limit:
            break
        try:
            if not kb.ask(question, backend="extractive").abstained:
                found.append(question)
        except RagError as error:  # a broken index shows up when asking; no examples then
            log.warning("example question %r failed: %s", question, error)
    return found
