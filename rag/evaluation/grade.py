"""One question's :class:`~rag.types.Answer` -> one scored :class:`QuestionResult`.

The record keeps what a reader needs to see why the question failed: the answer,
the retrieved chunk ids, the evidence ranks, every claim with its verdicts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rag.evaluation import metrics
from rag.evaluation.judge import Judge
from rag.evaluation.points import point_recall, points_pass
from rag.evaluation.records import Question
from rag.evaluation.support import ClaimScore, score_claims
from rag.types import Answer

WRONG_PASSAGE = "wrong passage retrieved"
WRONG_ANSWER = "wrong answer"
UNSUPPORTED = "unsupported citation"
SHOULD_REFUSE = "should have refused"
SHOULD_NOT_REFUSE = "should not have refused"


@dataclass
class QuestionResult:
    id: str
    kind: str
    question: str
    answerable: bool
    answer: str
    abstained: bool
    retrieved: list[str]  # chunk ids of Answer.sources, in rank order
    evidence_ranks: list[int]  # 1-based ranks of the retrieved chunks holding evidence
    spans_found: int  # evidence spans found among them (of len(question.spans))
    spans_total: int
    hit: bool | None  # None for unanswerable questions (no evidence to find)
    reciprocal_rank: float | None
    correct: bool | None  # None for unanswerable questions
    point_recall: float | None = None  # share of key points covered; None without points
    claims: list[ClaimScore] = field(default_factory=list)
    citation_recall: float | None = None  # None when the answer makes no claim
    citation_precision: float | None = None  # None when the answer cites nothing
    quote_recall: float | None = None  # the same two by the exact-quote rule
    quote_precision: float | None = None
    judge_recall: float | None = None  # None without a judge or a claim
    latency: float = 0.0  # Answer.timings["total"], seconds
    first_token: float | None = None  # Answer.timings["first_token"]; None without a stream
    p_answerable: float | None = None  # the model's P("Yes") to "do the sources answer?"
    note: str = ""  # Answer.note: why it refused, or that it quoted the evidence
    tokens: int = 0
    incomplete: bool = False
    dropped_citations: list[int] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def citations_ok(self) -> bool | None:
        """All claims supported and all citations supporting; None without claims."""
        if self.citation_recall is None:
            return None
        return self.citation_recall == 1.0 and self.citation_precision in (None, 1.0)


def score_answer(
    question: Question, answer: Answer, k: int, judge: Judge | None = None
) -> QuestionResult:
    """Score one answer; ``k`` is the number of passages that were asked for."""
    passages = [h.text for h in answer.sources]
    ranks = metrics.evidence_ranks(passages, question.spans)
    claims = score_claims(answer, question)
    if judge is not None:
        for claim in claims:
            claim.judge = _verdict(judge, claim, answer)
    answerable = question.answerable
    recall = _point_recall(question, answer)
    correct = is_right(question, answer.text, answer.abstained)
    result = QuestionResult(
        id=question.id,
        kind=question.kind,
        question=question.question,
        answerable=answerable,
        answer=answer.text,
        abstained=answer.abstained,
        retrieved=[h.chunk_id for h in answer.sources],
        evidence_ranks=ranks,
        spans_found=metrics.spans_found(passages, question.spans),
        spans_total=len(question.spans),
        hit=metrics.hit_at_k(ranks, k) if answerable else None,
        reciprocal_rank=metrics.reciprocal_rank(ranks) if answerable else None,
        correct=correct if answerable else None,
        point_recall=recall,
        claims=claims,
        citation_recall=metrics.citation_recall(claims),
        citation_precision=metrics.citation_precision(claims),
        quote_recall=metrics.quote_recall(claims),
        quote_precision=metrics.quote_precision(claims),
        judge_recall=metrics.judge_recall(claims) if judge is not None else None,
        latency=float(answer.timings.get("total", 0.0)),
        first_token=answer.timings.get("first_token"),
        p_answerable=answer.p_answerable,
        note=answer.note,
        tokens=answer.tokens,
        incomplete=answer.incomplete,
        dropped_citations=list(answer.dropped_citations),
    )
    result.failures = failures(result)
    return result


def is_right(question: Question, text: str, abstained: bool) -> bool:
    """The ``correct`` rule for an answerable question: half its key points or more for a
    list, summary or why/how question, else an accepted answer string; never an abstention.
    The benchmarks score with it too, so they agree with ``rag eval``."""
    if question.points:
        return points_pass(0.0 if abstained else point_recall(text, question.points), abstained)
    return metrics.is_correct(text, abstained, question.answers)


def _point_recall(question: Question, answer: Answer) -> float | None:
    """The share of key points the answer covers (an abstention covers none); None without
    points."""
    if not question.points:
        return None
    return 0.0 if answer.abstained else point_recall(answer.text, question.points)


def _verdict(judge: Judge, claim: ClaimScore, answer: Answer) -> bool | None:
    if not claim.citations:
        return None  # not asked: an uncited claim is unsupported by both measures
    by_number = {c.n: c.hit.text for c in answer.citations}
    return judge.supports(claim.text, [by_number[n] for n in claim.citations if n in by_number])


def failures(result: QuestionResult) -> list[str]:
    """What went wrong, in pipeline order; empty when the question passed."""
    found = []
    if result.hit is False:
        found.append(WRONG_PASSAGE)
    if result.answerable and result.abstained:
        found.append(SHOULD_NOT_REFUSE)
    elif result.correct is False:
        found.append(WRONG_ANSWER)
    if result.citations_ok is False:
        found.append(UNSUPPORTED)
    if not result.answerable and not result.abstained:
        found.append(SHOULD_REFUSE)
    return found
