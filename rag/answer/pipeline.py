"""One question through the pipeline: query -> hits -> answerer -> checked citations.

Abstention is decided twice: before the backend is called, from the retrieval
evidence (the best chunk's cosine similarity, see ``AbstainPolicy``), and after,
from the backend's own "the articles do not say" reply.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from rag.answer import followup
from rag.answer.answerability import (
    SET_ASIDE_NOTE,
    UNKNOWN_NAME_MIN_P_YES,
    AbstainPolicy,
    sets_articles_aside,
    unknown_names,
    unknown_note,
)
from rag.answer.answerers import Answerer
from rag.answer.citations import CitedText
from rag.answer.dating import as_of_note
from rag.answer.evidence import EvidenceSelector
from rag.answer.prompt import answer_shape
from rag.answer.question import as_messages, clean_question
from rag.errors import BackendError, IncompleteResponse
from rag.index.retrieval import Searcher, SearchOptions
from rag.llm.base import Message
from rag.text.markers import strip_markers
from rag.text.refusals import REFUSAL, is_refusal
from rag.types import Answer, Hit


def answer_stream(
    question: str,
    history: Sequence[Message | dict[str, str]] | None,
    retriever: Searcher,
    answerer: Answerer,
    options: SearchOptions,
    policy: AbstainPolicy,
    repoint_citations: bool = True,
    selector: EvidenceSelector | None = None,
) -> Iterator[str | Answer]:
    """Yield the answer text in pieces, then the final :class:`Answer`.

    ``repoint_citations`` (see :mod:`rag.answer.repoint`) is off only to measure what
    the step is worth, or to show that the eval catches wrong citations without it.
    An answerer with ``evidence_first`` set reads the sentences ``selector`` picks
    (:mod:`rag.answer.evidence`) instead of whole passages; if it still refuses, the answer
    quotes the evidence instead (:func:`_from_evidence`).

    The text pieces joined are the final ``Answer.text`` (:class:`CitedText` resolves
    each sentence's citations before giving it out), except when the answer abstains:
    then ``Answer.text`` is :data:`REFUSAL`, whatever refusal was streamed.
    """
    started = time.perf_counter()
    question = clean_question(question)
    turns = as_messages(history)
    query, hits = followup.retrieve(question, turns, retriever, options)
    timings = {"retrieval": time.perf_counter() - started}
    base = Answer(
        question=question,
        text=REFUSAL,
        citations=[],
        abstained=True,
        sources=hits,
        backend=answerer.name,
        timings=timings,
        query=query,
    )
    early = _refused_before(question, hits, policy)
    if early is not None:
        yield from _refusal(base, started, early)
        return
    if getattr(answerer, "summarises_from_lead", False) and answer_shape(question) == "summary":
        hits = base.sources = _summary_hits(retriever, query, hits)
    run = _Run(
        question, turns, hits, hits, answerer, base, started, CitedText(hits, repoint_citations)
    )
    stream = _generate(run)
    if selector is not None and getattr(answerer, "evidence_first", False):
        _select_evidence(run, selector, query)
        stream = _evidence_stream(run)
    late = _refused_after(run, retriever)
    if late is not None:
        yield from _refusal(base, started, late)
        return
    yield from _finish(stream, run)


def _refused_before(question: str, hits: list[Hit], policy: AbstainPolicy) -> str | None:
    """The note of a refusal decided before any backend runs ("" for none), else None."""
    if not hits or max(h.dense_score for h in hits) < policy.min_dense:
        return ""  # retrieval found nothing close to the question
    if sets_articles_aside(question):
        return SET_ASIDE_NOTE
    return None


def _select_evidence(run: _Run, selector: EvidenceSelector, query: str) -> None:
    """Evidence first: pick the sentences the answerer reads, then ask if they answer."""
    base, timings = run.base, run.base.timings
    run.shown = selector.shown(query, run.hits, answer_shape(run.question))
    timings["evidence"] = time.perf_counter() - run.started - timings["retrieval"]
    base.p_answerable = _answerability(run.answerer, run.question, run.shown, run.turns)


def _refused_after(run: _Run, retriever: Searcher) -> str | None:
    """The note of a refusal decided after retrieval ("" for none), else None: a name no
    article mentions (a near miss), then the model's P("Yes") below the answerer's bar."""
    p_yes = run.base.p_answerable
    # The names check runs when the model is not very sure, or when no model judged the
    # evidence and the answerer asks for it (the extractive one).
    if p_yes is None:
        check_names = getattr(run.answerer, "refuses_unknown_names", False)
    else:
        check_names = p_yes < UNKNOWN_NAME_MIN_P_YES
    unknown = unknown_names(run.question, retriever.knows) if check_names else []
    if unknown:
        return unknown_note(unknown)
    if p_yes is not None and p_yes < getattr(run.answerer, "min_p_yes", 0.0):
        return ""
    return None


@dataclass
class _Run:
    """One answer being written: what the answerer is asked, and the Answer it fills in."""

    question: str
    turns: list[Message]
    hits: list[Hit]  # as retrieved: citations point at these
    shown: list[Hit]  # as the answerer sees them (the evidence sentences, when evidence-first)
    answerer: Answerer
    base: Answer
    started: float
    cited: CitedText  # the text given out so far, citations resolved


def _generate(run: _Run) -> Iterator[str]:
    """The answer's final text as it is resolved (run.cited); the raw text in base.text."""
    base = run.base
    raw, pieces = [], 0
    try:
        for piece in run.answerer.stream(run.question, run.shown, run.turns):
            if not pieces:
                base.timings["first_token"] = time.perf_counter() - run.started
            pieces += 1
            raw.append(piece)
            out = run.cited.feed(piece)
            if out:
                yield out
    except IncompleteResponse as error:
        if not "".join(raw).strip():  # nothing came: a failed backend, not a refusal
            raise BackendError(str(error)) from error
        base.incomplete = True
        base.note = base.note or str(error)  # why it stopped, e.g. the deadline
    tail = run.cited.close()
    if tail:
        yield tail
    base.text = "".join(raw).strip()
    base.timings["total"] = time.perf_counter() - run.started
    base.tokens = pieces


def _evidence_stream(run: _Run) -> Iterator[str]:
    """Like :func:`_generate`, but a refusal is held back and replaced by the evidence.

    The pipeline has judged the evidence to answer the question, so "the articles do
    not say" would be false: the answer quotes the best sentences instead, and says why.
    """
    held: list[str] = []
    holding = True  # until the text can no longer become a refusal
    base = run.base
    for out in _generate(run):
        if holding and _could_be_refusal("".join(held) + out):
            held.append(out)
            continue
        if held:
            yield "".join(held)
        held, holding = [], False
        yield out
    if not (is_refusal(base.text) or not strip_markers(base.text)):
        if held:
            yield "".join(held)
        return
    quoted = _from_evidence(run.question, run.shown, run.turns)
    if not quoted:
        if held:
            yield "".join(held)
        return
    base.text = quoted
    base.note = FALLBACK_NOTE
    run.cited = CitedText(run.hits, run.cited.repoint_citations)
    yield run.cited.feed(quoted) + run.cited.close()


def _summary_hits(retriever: Searcher, query: str, hits: list[Hit]) -> list[Hit]:
    """The best article's lead passage first, then its other hits (a summary's sources)."""
    lead = retriever.lead(query, hits[0].article_id)
    seen = {h.chunk_id for h in lead}
    return lead + [h for h in hits if h.article_id == hits[0].article_id and h.chunk_id not in seen]


def _refusal(base: Answer, started: float, note: str = "") -> Iterator[str | Answer]:
    base.timings["total"] = time.perf_counter() - started
    base.note = note
    yield REFUSAL
    yield base


def _answerability(
    answerer: Answerer, question: str, shown: list[Hit], turns: list[Message]
) -> float | None:
    ask = getattr(answerer, "answerability", None)
    return None if ask is None else ask(question, shown, turns)


FALLBACK_NOTE = (
    "The model could not phrase an answer, so these are the sentences of the articles "
    "that best match the question."
)


def _could_be_refusal(text: str) -> bool:
    """True while the streamed text could still become the refusal sentence."""
    plain = strip_markers(text).strip().lower()
    return REFUSAL.lower().startswith(plain[: len(REFUSAL)]) or is_refusal(text)


def _from_evidence(question: str, shown: list[Hit], turns: list[Message]) -> str:
    """The evidence quoted with its markers: the extractive answer over the shown sentences."""
    from rag.answer.extractive import ExtractiveAnswerer  # the no-LLM backend, as a fallback

    picked = ExtractiveAnswerer(min_support=0.0).pick(question, shown, turns)
    return " ".join(f"{s.text} [{s.hit_index + 1}]" for s in picked)


def _finish(stream: Iterator[str], run: _Run) -> Iterator[str | Answer]:
    """Pass the text pieces on, then fill in the Answer: abstained, or the resolved text."""
    yield from stream
    base, text = run.base, run.base.text
    base.text = REFUSAL
    if is_refusal(text) or not strip_markers(text):
        # abstained: the backend said the sources do not hold the answer, or said nothing
        # but a marker ("[1]" alone, as the small local model sometimes does)
        yield base
        return
    resolved = run.cited.resolved()
    base.text, base.citations, base.abstained = resolved.text, resolved.citations, False
    base.dropped_citations, base.unsupported = resolved.dropped, resolved.unsupported
    base.note = base.note or as_of_note(base.citations, base.sources)
    yield base
