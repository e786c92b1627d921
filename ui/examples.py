"""Example questions made from the indexed articles' titles, kept only if answerable.

A headline that is a question is asked as it is; another headline's main clause
becomes a short question in whole words (:func:`as_question`). The newest articles come
first (by published date; undated ones after, in index order), so the news a reader just
added is offered at once. Each candidate is then put
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
from typing import Any

from rag.errors import RagError
from rag.kb import KnowledgeBase

log = logging.getLogger(__name__)

MAX_EXAMPLES = 4
MAX_WORDS = 12  # an example is a button: keep it to one short line
TOPIC_WORDS = 8  # words of a headline's clause kept in a question made from it
_TAIL = re.compile(r"\s+(?:that|which|who|once|after|as|while|because|since)\s.*$")
_LOOSE_END = {"a", "an", "and", "as", "at", "by", "for", "from", "in", "of", "on", "or", "the",
              "to", "with"}  # fmt: skip
# "Donald Trump hits out at ..." -> subject, a verb in -s, the rest
_SUBJECT_VERB = re.compile(r"^((?:[A-Z][\w’'.-]*\s+){1,3})([a-z]{3,}s)\b(.*)$")
_NOT_VERBS = {"is", "was", "has", "its", "his", "this", "thus", "news", "less", "across"}
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


def as_question(clause: str) -> str:
    """A short natural question about a headline's clause, cut only between words.

    >>> as_question("Donald Trump hits out at Ukraine’s President Zelenskyy once again")
    'Why does Donald Trump hit out at Ukraine’s President Zelenskyy?'
    >>> as_question("The ‘coalition of the willing’ that could secure peace in Ukraine")
    'What do the articles say about the ‘coalition of the willing’?'
    >>> as_question("Long-range drone strikes weakening Russia’s combat ability")
    'What do the articles say about long-range drone strikes weakening Russia’s combat ability?'
    """
    words = _TAIL.sub("", clause.strip(_EDGE_PUNCT)).split()[:TOPIC_WORDS]
    while len(words) > 1 and words[-1].lower() in _LOOSE_END:
        words.pop()
    short = " ".join(words).rstrip(",;:")
    found = _SUBJECT_VERB.match(short)
    if found and found.group(2) not in _NOT_VERBS:
        subject, verb, rest = found.groups()
        return f"Why does {subject}{_base(verb)}{rest}?"
    if len(words) > 1 and words[1].lstrip(_EDGE_PUNCT)[:1].islower():  # not "Donald Trump"
        short = short[:1].lower() + short[1:]
    return f"What do the articles say about {short}?"


def _base(verb: str) -> str:
    """hits -> hit, pushes -> push, tries -> try."""
    if verb.endswith("ies"):
        return verb[:-3] + "y"
    if verb.endswith(("shes", "ches", "sses", "xes", "zes", "oes")):
        return verb[:-2]
    return verb[:-1]


def newest_first(articles: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Dated articles newest first, then undated ones in the order given.

    >>> [a["id"] for a in newest_first([{"id": 1}, {"id": 2, "published": "2024-01-02"},
    ...                                 {"id": 3, "published": "2025-03-07"}])]
    [3, 2, 1]
    """
    dated = sorted((a for a in articles if a.get("published")),
                   key=lambda a: str(a["published"]), reverse=True)  # fmt: skip
    return dated + [a for a in articles if not a.get("published")]


def candidates(kb: KnowledgeBase) -> list[str]:
    out: list[str] = []
    for article in newest_first(kb.articles()):
        if article.get("title_derived"):
            continue  # a title made from the first sentence is no headline
        title = str(article.get("title") or "")
        question = headline_question(title)
        if question is None and (subject := topic(title)):
            question = as_question(subject)
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
