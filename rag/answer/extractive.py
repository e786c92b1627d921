"""An answerer without a language model: quote the 1-3 hit sentences that best answer.

A list question may take up to 5 sentences, and a summary is the first 3 sentences of
the best article's lead passage (the pipeline hands it first: ``summarises_from_lead``);
the question's shape is :func:`rag.answer.prompt.answer_shape`. Measured on the halves
(correct, tuning / test): 0.635 / 0.619 before, 0.682 / 0.631 after; list sizes 4 to 6
and summaries of 3 to 5 sentences scored the same on the tuning half.

Sentences are scored lexically (BM25 with IDF over the hit sentences) and, given the
index's embedder, by meaning too: each sentence's cosine similarity to the question
(the standalone query of a follow-up) is added to its lexical score, and a sentence
that close in meaning supports an answer even when it shares few of the question's
words (two of them, however common), as a paraphrased question's answer does. An
answer takes milliseconds (one embedding call) and the same question over the same hits
always gives the same answer.

Chosen on the tuning half of the eval questions (even ids; ``rag eval --backend
extractive --half tune``), among the settings that keep CI's gate (q001-q171), and
reported on the other half (README, "Evaluation"). Letting a close sentence support an
answer with no shared word at all was right more often (tuning half 0.69, false refusals
0.02) but answered two more unanswerable questions of the gated slice ("What is the
population of Kabul?"), under its refusal-recall bound.

>>> from rag.types import Hit
>>> hits = [Hit("a:0", "a", "Drones", "x.txt",
...             "Drones flew at night. Ukraine makes 500 long-range drones a month.", 0, 65, 0.9)]
>>> "".join(ExtractiveAnswerer().stream("How many long-range drones does Ukraine make?", hits))
'Ukraine makes 500 long-range drones a month. [1]'
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from rag.answer.prompt import answer_shape
from rag.answer.question import previous_question, standalone_query
from rag.errors import InputError
from rag.index.embedders import Embedder
from rag.llm.base import Message
from rag.text.markers import MARKER_RE
from rag.text.refusals import REFUSAL
from rag.text.sentences import split_sentences
from rag.text.words import terms
from rag.types import Hit

HISTORY_WEIGHT = 0.5  # a follow-up's previous question helps ranking, less than the question
RANK_BONUS = 0.25  # the first hit's sentences get +25%, the second's +12.5%, ...
INTENT_BONUS = 0.5  # a number for "how many", a date for "when", a quote for "what did X say"
UNFINISHED_PENALTY = 0.5  # headlines and captions: short, keyword-dense, rarely the answer
EXTRA_RATIO = 0.7  # a 2nd/3rd sentence must score at least this share of the best one
# With an embedder: the score is lexical / best lexical + COSINE_WEIGHT x cosine, and a
# sentence at MIN_COSINE or closer needs two of the question's words but not min_support
# of their weight (module doc).
COSINE_WEIGHT = 1.0
MIN_COSINE = 0.3
K1, B = 1.2, 0.75
# A summary is the lead's first sentences (the pipeline puts the article's lead passage
# first: ``summarises_from_lead``); a list may take more sentences than a look-up.
SUMMARY_SENTENCES = 3
LIST_SENTENCES = 5
LIST_RATIO = 0.5  # a list's later sentences must score this share of the best one

_QUOTE_Q = re.compile(r"\b(?:say|said|says|call(?:ed|s)?|describ\w*|tell|told|quot\w*|warn\w*)\b")
_NUMBER_Q = re.compile(
    r"\bhow (?:many|much|long|far|old|big|large)\b|\bnumber of\b"
    r"|\bwhat (?:percentage|percent|proportion|share|number|amount)\b"
)
_DATE_Q = re.compile(r"\bwhen\b|\b(?:what|which) (?:year|date|month|day|time)\b")
_FINISHED = re.compile(r"[.!?…][\"'”’)]*$")
_QUOTED = re.compile(r"[“”\"]|‘[^’]{8,}’")
_NUMBER = re.compile(
    r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty"
    r"|forty|fifty|hundreds?|thousands?|millions?|billions?|dozens?|half|quarter)\b",
    re.IGNORECASE,
)
_DATE = re.compile(  # "May" only capitalised: "may" is mostly a verb
    r"\b(?:1[89]|20)\d\d\b|\bMay\b|(?i:\b(?:january|february|march|april|june|july|august"
    r"|september|october|november|december|monday|tuesday|wednesday|thursday|friday|saturday"
    r"|sunday|yesterday|today|tonight|ago|last (?:week|month|year))\b)"
)


@dataclass(frozen=True)
class _Sentence:
    hit_index: int  # 0-based position of its hit
    text: str
    tf: Counter[str]
    length: int
    finished: bool  # ends with . ! ? (and maybe a closing quote)


class ExtractiveAnswerer:
    """Answers with whole sentences of the hits, each followed by its ``[n]``.

    ``min_support`` (0..1) is how much of the question the best sentence must
    cover: the IDF-weighted share of the question's content words found in it
    (a word rare among the hit sentences, or absent from all, weighs most). The
    best sentence must also hold 2 distinct content words of the question (1 when
    the question has only one). Follow-ups: the previous user question's words
    count with weight 0.5 when ranking, and stand in for the question when it has
    no content words of its own ("What did he say?").

    ``embedder`` (the index's) adds meaning to the lexical score (module doc); without
    one the answerer is lexical only. A question naming something no article mentions
    is refused by the pipeline before this runs (``refuses_unknown_names``).
    """

    name = "extractive"
    # No model judges answerability here, so the pipeline's check for names the index
    # has never seen (rag.answer.answerability.unknown_names) refuses near misses instead.
    refuses_unknown_names = True
    # "Summarise ..." gets the best article's lead passage first (rag.answer.pipeline).
    summarises_from_lead = True

    def __init__(
        self, min_support: float = 0.15, max_sentences: int = 3, embedder: Embedder | None = None
    ) -> None:
        if not 0.0 <= min_support <= 1.0:
            raise InputError(f"min_support must be between 0 and 1, got {min_support!r}")
        if not 1 <= max_sentences <= 3:
            raise InputError(f"max_sentences must be 1, 2 or 3, got {max_sentences!r}")
        self.min_support = min_support
        self.max_sentences = max_sentences
        self.embedder = embedder

    def stream(
        self, question: str, hits: Sequence[Hit], history: Sequence[Message] = ()
    ) -> Iterator[str]:
        picked = self.pick(question, hits, history)
        if not picked:
            yield REFUSAL
            return
        for i, sentence in enumerate(picked):
            yield ("" if i == 0 else " ") + f"{sentence.text} [{sentence.hit_index + 1}]"

    def pick(
        self, question: str, hits: Sequence[Hit], history: Sequence[Message] = ()
    ) -> list[_Sentence]:
        """The sentences of the answer, best first; empty when the hits do not support one."""
        asked = list(dict.fromkeys(terms(question)))
        earlier = terms(previous_question(history) or "")
        before = [t for t in dict.fromkeys(earlier) if t not in asked]
        weights = {t: 1.0 for t in asked} | {t: HISTORY_WEIGHT for t in before}
        core = asked or before  # the words an answer must cover
        sentences = _sentences(hits)
        shape = answer_shape(question)
        if shape == "summary":
            return [s for s in sentences if s.hit_index == 0 and s.finished][:SUMMARY_SENTENCES]
        if not core or not sentences:
            return []
        idf = _idf(weights, sentences)
        ranked = [
            (score, s)
            for score, s, close in self._ranked(question, history, sentences, weights, idf)
            if score > 0 and self._supports(s, core, idf, close) and _adds(s, weights)
        ]
        most, ratio = (
            (LIST_SENTENCES, LIST_RATIO) if shape == "list" else (self.max_sentences, EXTRA_RATIO)
        )
        picked: list[_Sentence] = []
        for score, sentence in ranked[: most * 3]:
            if len(picked) == most or score < ratio * ranked[0][0]:
                break
            if not picked or (sentence.finished and not _repeats(sentence, picked)):
                picked.append(sentence)
        return picked

    def _ranked(
        self,
        question: str,
        history: Sequence[Message],
        sentences: list[_Sentence],
        weights: dict[str, float],
        idf: dict[str, float],
    ) -> list[tuple[float, _Sentence, bool]]:
        """(score, sentence, close in meaning) best first: lexical, plus meaning with an
        embedder (lexical / best lexical + COSINE_WEIGHT x cosine; close: >= MIN_COSINE)."""
        ranked = _rank(question, sentences, weights, idf)
        if self.embedder is None:
            return [(score, s, False) for score, s in ranked]
        query = standalone_query(question, history)
        vectors = self.embedder.embed([query] + [s.text for _, s in ranked])
        best = max(score for score, _ in ranked) or 1.0
        scored = [
            (max(score, 0.0) / best + COSINE_WEIGHT * float(cos), s, float(cos) >= MIN_COSINE)
            for (score, s), cos in zip(ranked, vectors[1:] @ vectors[0], strict=True)
        ]
        return sorted(scored, key=lambda x: -x[0])  # stable: ties keep the lexical order

    def _supports(
        self, sentence: _Sentence, core: list[str], idf: dict[str, float], close: bool
    ) -> bool:
        """Two of the question's content words (one if it has one) and, unless the sentence
        is close in meaning, ``min_support`` of their IDF weight."""
        found = [t for t in core if t in sentence.tf]
        if len(found) < min(2, len(core)):
            return False
        return close or sum(idf[t] for t in found) / sum(idf[t] for t in core) >= self.min_support


def _sentences(hits: Sequence[Hit]) -> list[_Sentence]:
    out: list[_Sentence] = []
    for i, hit in enumerate(hits):
        pieces = split_sentences(hit.text)
        for j, piece in enumerate(pieces):
            finished = _FINISHED.search(piece) is not None
            cut_head = j == 0 and piece[0].islower()  # a chunk may start mid-sentence
            cut_tail = j == len(pieces) - 1 and not finished
            text = MARKER_RE.sub("", piece).strip()  # "[12]" in an article is not our citation
            words = terms(text)
            if cut_head or cut_tail or len(text.split()) < 4 or text.endswith(("?", ":")):
                continue
            out.append(_Sentence(i, text, Counter(words), len(words), finished))
    return out


def _idf(weights: dict[str, float], sentences: list[_Sentence]) -> dict[str, float]:
    n = len(sentences)
    df = {t: sum(1 for s in sentences if t in s.tf) for t in weights}
    return {t: math.log(1 + (n - df[t] + 0.5) / (df[t] + 0.5)) for t in weights}


def _rank(
    question: str, sentences: list[_Sentence], weights: dict[str, float], idf: dict[str, float]
) -> list[tuple[float, _Sentence]]:
    """Sentences by score, best first; ties go to the higher hit, then the earlier sentence."""
    bonus = _intent_bonus(question)
    avg = sum(s.length for s in sentences) / len(sentences)
    scores = [_score(s, weights, idf, avg) * (1 + bonus(s)) for s in sentences]
    order = sorted(range(len(sentences)), key=lambda i: (-scores[i], sentences[i].hit_index, i))
    return [(scores[i], sentences[i]) for i in order]


def _score(s: _Sentence, weights: dict[str, float], idf: dict[str, float], avg: float) -> float:
    norm = K1 * (1 - B + B * s.length / avg) if avg else K1
    return sum(w * idf[t] * s.tf[t] * (K1 + 1) / (s.tf[t] + norm) for t, w in weights.items())


def _intent_bonus(question: str) -> Callable[[_Sentence], float]:
    q = question.lower()
    wants = [
        (_QUOTE_Q.search(q), _QUOTED),
        (_NUMBER_Q.search(q), _NUMBER),
        (_DATE_Q.search(q), _DATE),
    ]
    patterns = [pattern for asked, pattern in wants if asked]

    def bonus(s: _Sentence) -> float:
        found = sum(INTENT_BONUS for p in patterns if p.search(s.text))
        # A line without final punctuation is mostly a headline or a caption.
        return found + RANK_BONUS / (s.hit_index + 1) - (0 if s.finished else UNFINISHED_PENALTY)

    return bonus


def _adds(sentence: _Sentence, weights: dict[str, float]) -> bool:
    """True when the sentence says more than the question: "Brigadier Yuriy Shchygol" does not."""
    return any(t not in weights for t in sentence.tf)


def _repeats(sentence: _Sentence, picked: list[_Sentence]) -> bool:
    """True for a sentence (nearly) the same as one already picked, e.g. a pull-quote."""
    words = set(sentence.tf)
    for other in picked:
        union = words | set(other.tf)
        if not union or len(words & set(other.tf)) / len(union) >= 0.8:
            return True
    return False
