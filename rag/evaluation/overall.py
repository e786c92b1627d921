"""The overall scores of a run: every metric averaged over the questions it applies to.

Citation, quote and judge scores are macro averages (per answer, then over answers), as
in ALCE; the agreement rates pool the claims of every answer.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, fields

from rag.evaluation import metrics
from rag.evaluation.grade import QuestionResult


@dataclass(frozen=True)
class Scores:
    """Overall scores; None where no question of the run applies."""

    questions: int
    answerable: int
    hit_at_k: float | None
    mrr: float | None
    evidence_recall: float | None  # evidence spans found / spans (two per multi_article item)
    correct: float | None
    citation_recall: float | None
    citation_precision: float | None
    quote_recall: float | None  # the exact-quote rule's citation recall (rag.evaluation.quotes)
    quote_precision: float | None
    rule_agreement: float | None  # cited claims where the word-overlap and quote rules agree
    judge_citation_recall: float | None
    judge_agreement: float | None  # judged claims where the judge and the word-overlap rule agree
    judge_quote_agreement: float | None  # ... the judge and the exact-quote rule agree
    refusal_precision: float | None
    refusal_recall: float | None
    false_refusal_rate: float | None
    latency_p50: float | None
    latency_p95: float | None
    tokens_mean: float | None
    tokens_total: int

    def as_dict(self) -> dict[str, float | int | None]:
        return asdict(self)


SCORE_NAMES = tuple(f.name for f in fields(Scores) if f.name not in ("questions", "answerable"))
# Shares in [0, 1], drawn on the chart and compared as "better when higher" ...
SHARES = SCORE_NAMES[: SCORE_NAMES.index("false_refusal_rate") + 1]
LOWER_IS_BETTER = frozenset({"false_refusal_rate", "latency_p50", "latency_p95"})  # ... but these
NEUTRAL = frozenset({"tokens_mean", "tokens_total"})  # neither better nor worse when they move
# New, not calibrated yet: reported, drawn and compared, but calibrate writes no bound for them.
UNCALIBRATED = frozenset({"quote_recall", "quote_precision", "rule_agreement"})
RATES = tuple(name for name in SHARES if name not in UNCALIBRATED)  # the shares calibrate bounds


def overall(results: Sequence[QuestionResult]) -> Scores:
    answerable = [r for r in results if r.answerable]
    claims = [c for r in results for c in r.claims]
    agree, judged = metrics.agreement(claims)
    agree_quote, _ = metrics.agreement(claims, quote=True)
    rules_agree, cited = metrics.rule_agreement(claims)
    refusals = metrics.refusal_scores((r.answerable, r.abstained) for r in results)
    latencies = [r.latency for r in results]
    return Scores(
        questions=len(results),
        answerable=len(answerable),
        hit_at_k=metrics.mean(float(bool(r.hit)) for r in answerable),
        mrr=metrics.mean(r.reciprocal_rank or 0.0 for r in answerable),
        evidence_recall=metrics.ratio(
            sum(r.spans_found for r in answerable), sum(r.spans_total for r in answerable)
        ),
        correct=metrics.mean(float(bool(r.correct)) for r in answerable),
        citation_recall=_mean_of(r.citation_recall for r in results),
        citation_precision=_mean_of(r.citation_precision for r in results),
        quote_recall=_mean_of(r.quote_recall for r in results),
        quote_precision=_mean_of(r.quote_precision for r in results),
        rule_agreement=metrics.ratio(rules_agree, cited),
        judge_citation_recall=_mean_of(r.judge_recall for r in results),
        judge_agreement=metrics.ratio(agree, judged),
        judge_quote_agreement=metrics.ratio(agree_quote, judged),
        refusal_precision=refusals[0],
        refusal_recall=refusals[1],
        false_refusal_rate=refusals[2],
        latency_p50=metrics.percentile(latencies, 50),
        latency_p95=metrics.percentile(latencies, 95),
        tokens_mean=metrics.mean(float(r.tokens) for r in results),
        tokens_total=sum(r.tokens for r in results),
    )


def _mean_of(values: Iterable[float | None]) -> float | None:
    return metrics.mean(v for v in values if v is not None)


def by_kind(results: Sequence[QuestionResult]) -> dict[str, dict[str, float | int | None]]:
    """Per kind: questions, hit@k, correct (answerable kinds), abstained share."""
    groups: dict[str, list[QuestionResult]] = defaultdict(list)
    for r in results:
        groups[r.kind].append(r)
    return {
        kind: {
            "questions": len(group),
            "hit_at_k": metrics.mean(float(bool(r.hit)) for r in group if r.hit is not None),
            "correct": metrics.mean(float(bool(r.correct)) for r in group if r.correct is not None),
            "abstained": metrics.mean(float(r.abstained) for r in group),
        }
        for kind, group in groups.items()
    }
