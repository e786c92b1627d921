"""The metric functions, on plain values so each can be checked by hand.

>>> ranks = evidence_ranks(["no", "Mark Esper said so", "again: Mark  Esper said so"],
...                        ["Mark Esper said so"])
>>> ranks, hit_at_k(ranks, 1), hit_at_k(ranks, 2), reciprocal_rank(ranks)
([2, 3], False, True, 0.5)
>>> refusal_scores([(False, True), (False, False), (True, True), (True, False)])
(0.5, 0.5, 0.5)
>>> percentile([1.0, 2.0, 3.0, 4.0], 50)
2.5
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from rag.evaluation.support import ClaimScore
from rag.evaluation.text import contains_answer, contains_span


def evidence_ranks(passages: Sequence[str], spans: Sequence[str]) -> list[int]:
    """1-based ranks of the passages that hold one of the evidence spans."""
    return [r for r, p in enumerate(passages, 1) if any(contains_span(p, s) for s in spans)]


def spans_found(passages: Sequence[str], spans: Sequence[str]) -> int:
    """How many of the spans occur in at least one passage (2 of 2 for a two-article hit)."""
    return sum(any(contains_span(p, s) for p in passages) for s in spans)


def hit_at_k(ranks: Sequence[int], k: int) -> bool:
    """Is an evidence passage among the first ``k``?"""
    return any(r <= k for r in ranks)


def reciprocal_rank(ranks: Sequence[int]) -> float:
    """1 / rank of the first evidence passage; 0.0 when none was retrieved."""
    return 1.0 / min(ranks) if ranks else 0.0


def is_correct(text: str, abstained: bool, answers: Sequence[str]) -> bool:
    """An acceptable answer occurs in the answer text (normalised); abstaining is wrong."""
    return not abstained and contains_answer(text, answers)


def citation_recall(claims: Sequence[ClaimScore]) -> float | None:
    """Share of claims that their cited chunks support; None for an answer without claims."""
    return mean(float(c.supported) for c in claims)


def citation_precision(claims: Sequence[ClaimScore]) -> float | None:
    """Share of citations whose chunk alone supports its claim; None without citations."""
    return mean(float(ok) for c in claims for ok in c.citation_support)


def judge_recall(claims: Sequence[ClaimScore]) -> float | None:
    """Citation recall by the LLM judge: an uncited or unclear claim counts as unsupported."""
    return mean(float(c.judge is True) for c in claims)


def quote_recall(claims: Sequence[ClaimScore]) -> float | None:
    """Citation recall by the exact-quote rule: share of claims their cited chunks quote."""
    return mean(float(c.quote_supported) for c in claims)


def quote_precision(claims: Sequence[ClaimScore]) -> float | None:
    """Citation precision by the exact-quote rule: share of citations whose chunk alone
    quote-supports its claim; None without citations."""
    return mean(float(ok) for c in claims for ok in c.quote_support)


def agreement(claims: Sequence[ClaimScore], quote: bool = False) -> tuple[int, int]:
    """(claims where the judge and the rule agree, claims the judge gave a clear verdict on);
    the rule is the word-overlap one, or with ``quote`` the exact-quote one."""
    judged = [c for c in claims if c.judge is not None]
    rule = [c.quote_supported if quote else c.supported for c in judged]
    return sum(c.judge == r for c, r in zip(judged, rule, strict=True)), len(judged)


def rule_agreement(claims: Sequence[ClaimScore]) -> tuple[int, int]:
    """(cited claims where the word-overlap and exact-quote rules agree, cited claims).

    An uncited claim is unsupported by both rules by definition, so it is left out.
    """
    cited = [c for c in claims if c.chunk_ids]
    return sum(c.supported == c.quote_supported for c in cited), len(cited)


def refusal_scores(
    outcomes: Iterable[tuple[bool, bool]],
) -> tuple[float | None, float | None, float | None]:
    """(precision, recall, false-refusal rate) of abstention from (answerable, abstained) pairs.

    precision = refused unanswerable / refused; recall = refused unanswerable /
    unanswerable; false-refusal rate = refused answerable / answerable. None when
    the denominator is empty.
    """
    pairs = list(outcomes)
    refused = [answerable for answerable, abstained in pairs if abstained]
    unanswerable = sum(not answerable for answerable, _ in pairs)
    answerable = len(pairs) - unanswerable
    right = sum(not a for a in refused)
    return (
        ratio(right, len(refused)),
        ratio(right, unanswerable),
        ratio(len(refused) - right, answerable),
    )


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile, linear between the closest ranks (numpy's default)."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def mean(values: Iterable[float]) -> float | None:
    items = list(values)
    return sum(items) / len(items) if items else None


def ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None
