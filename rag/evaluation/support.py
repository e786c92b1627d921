"""Claims and citation support, decided deterministically (ALCE-style, no model).

An answer is split into sentences; a sentence that makes a claim or carries a
citation is a claim. A claim is *supported* by passages when

- a passage holds one of the question's evidence spans AND the claim holds an
  acceptable answer, or
- at least ``MIN_TOKEN_RECALL`` of the claim's content words occur in the passages.

Each claim is also checked by the exact-quote rule (:mod:`rag.evaluation.quotes`),
which matches word runs in order instead of a bag of words.

>>> from rag.evaluation.records import Question
>>> q = Question("q1", "Who?", True, "factual", answers=("Esper",), evidence="Mark Esper said so")
>>> supports("It was Esper [1].", ["Then Mark Esper said so."], q)
True
>>> round(token_recall("Esper resigned in anger", "Esper said so"), 2)
0.33
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from rag.evaluation.quotes import quote_supports
from rag.evaluation.records import Question
from rag.evaluation.text import contains_answer, contains_span
from rag.text.markers import parse_numbers
from rag.text.refusals import is_claim
from rag.text.sentences import split_sentences
from rag.text.words import content_words, overlap
from rag.types import Answer

MIN_TOKEN_RECALL = 0.6


@dataclass
class ClaimScore:
    """One claim of an answer and how its citations hold up."""

    text: str  # the sentence, markers included
    citations: list[int]  # the citation numbers it carries (Answer.citations[n - 1])
    chunk_ids: list[str]  # the chunks those numbers point at
    supported: bool  # its cited chunks together support it (False when it cites nothing)
    citation_support: list[bool] = field(default_factory=list)  # each cited chunk alone
    judge: bool | None = None  # the LLM judge's verdict; None when not judged
    quote_supported: bool = False  # the exact-quote rule, cited chunks together
    quote_support: list[bool] = field(default_factory=list)  # the same, each cited chunk alone


def claims(text: str) -> list[tuple[str, list[int]]]:
    """The claim sentences of an answer with their citation numbers, in order.

    >>> claims("Kabul fell on 15 August [1][2]. Yes. It was quick [3].")
    [('Kabul fell on 15 August [1][2].', [1, 2]), ('It was quick [3].', [3])]
    """
    out = []
    for sentence in split_sentences(text):
        numbers = parse_numbers(sentence)  # Answer.text holds canonical "[n]" markers
        if numbers or is_claim(sentence):
            out.append((sentence, list(dict.fromkeys(numbers))))
    return out


def token_recall(claim: str, passage: str) -> float:
    """Share of the claim's content words found in the passage (0.0 for a claim without any)."""
    return overlap(content_words(claim), set(content_words(passage)))


def supports(claim: str, passages: Sequence[str], question: Question) -> bool:
    """Do these passages (together) support the claim? See the module docstring."""
    if not passages:
        return False
    has_evidence = any(contains_span(p, s) for p in passages for s in question.spans)
    if has_evidence and contains_answer(claim, question.answers):
        return True
    return token_recall(claim, "\n".join(passages)) >= MIN_TOKEN_RECALL


def score_claims(answer: Answer, question: Question) -> list[ClaimScore]:
    """Every claim of a (non-abstained) answer with deterministic support verdicts."""
    if answer.abstained:
        return []
    by_number = {c.n: c.hit for c in answer.citations}
    scored = []
    for sentence, numbers in claims(answer.text):
        hits = [by_number[n] for n in numbers if n in by_number]
        texts = [h.text for h in hits]
        scored.append(
            ClaimScore(
                text=sentence,
                citations=numbers,
                chunk_ids=[h.chunk_id for h in hits],
                supported=supports(sentence, texts, question),
                citation_support=[supports(sentence, [t], question) for t in texts],
            )
        )
        quote_claim(scored[-1], texts)
    return scored


def quote_claim(claim: ClaimScore, texts: Sequence[str]) -> ClaimScore:
    """Set the exact-quote verdicts of a claim from its cited chunks' texts, in order."""
    claim.quote_supported = quote_supports(claim.text, texts)
    claim.quote_support = [quote_supports(claim.text, [t]) for t in texts]
    return claim
