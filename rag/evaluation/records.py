"""Typed question records and their loader, which validates every line.

>>> line = '{"id": "q1", "question": "Who?", "answerable": true, "answers": ["Esper"],'
>>> line += ' "evidence": "Mark Esper admitted it", "article": "Kabul", "kind": "factual"}'
>>> q = parse_question(line, 1)
>>> q.id, q.answers, q.spans
('q1', ('Esper',), ('Mark Esper admitted it',))
>>> line = line.replace('"factual"', '"list"')[:-1] + ', "points": [["Esper"], ["Wallace"]]}'
>>> parse_question(line, 2).points
(('Esper',), ('Wallace',))
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from rag.answer.question import clean_question
from rag.errors import InputError

T = TypeVar("T")

# Kinds answered with several key points, each scored (rag.evaluation.points).
POINT_KINDS = ("list", "summary", "why_how")
ANSWERABLE_KINDS = (
    "factual",
    "paraphrase",
    "number",
    "date",
    "multi_article",
    "followup",
    *POINT_KINDS,
)
UNANSWERABLE_KINDS = (
    "unanswerable_absent",
    "unanswerable_false_premise",
    "unanswerable_near_miss",
    "unanswerable_out_of_corpus",
    "unanswerable_injection",
)
KINDS = ANSWERABLE_KINDS + UNANSWERABLE_KINDS
UNSPECIFIED = "unspecified"  # no "kind" in the record: reported as a group of its own


@dataclass(frozen=True)
class Question:
    """One line of eval/questions.jsonl (see eval/README.md, "Record format")."""

    id: str
    question: str
    answerable: bool
    kind: str
    article: str = ""
    answers: tuple[str, ...] = ()
    evidence: str = ""
    evidence_all: tuple[str, ...] = ()
    history: tuple[dict[str, str], ...] = ()
    points: tuple[tuple[str, ...], ...] = ()  # point kinds: each point's alternatives

    @property
    def spans(self) -> tuple[str, ...]:
        """Every evidence span: both of a two-article item, else the one ``evidence``."""
        return self.evidence_all or ((self.evidence,) if self.evidence else ())


HALVES = ("tune", "test")


def load_questions(
    path: str | Path,
    limit: int | None = None,
    half: str | None = None,
    ids: Sequence[str] | None = None,
) -> list[Question]:
    """Read and validate a questions file; ``limit`` keeps N questions spread over it.

    A spread, not the first N: the file is grouped by kind (look-ups first, the
    unanswerable ones last), and a slice should keep the mix. ``half`` keeps the
    tuning half (ids ending in an even number) or the test half (odd): settings are
    chosen on one and reported on the other, so nothing is graded by what tuned it.
    ``ids`` keeps the named questions (in file order) before the other two apply: a
    fixed slice that stays the same when questions are added.
    """
    if half is not None and half not in HALVES:
        raise InputError(f"--half must be one of {', '.join(HALVES)}, got {half!r}")
    file = Path(path)
    if limit is not None and limit < 1:
        raise InputError(f"--limit must be 1 or more, got {limit}")
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the questions file {str(file)!r}: {exc}") from exc
    questions = [parse_question(line, n) for n, line in enumerate(lines, 1) if line.strip()]
    if not questions:
        raise InputError(f"the questions file {str(file)!r} holds no questions")
    _check_unique([q.id for q in questions], file)
    if ids is not None:
        questions = select_ids(questions, ids, file)
    if half is not None:
        questions = [q for q in questions if in_half(q.id, half)]
    return spread(questions, limit) if limit else questions


def select_ids(questions: list[Question], ids: Sequence[str], file: Path) -> list[Question]:
    """The questions named by ``ids``, in file order; InputError naming any unknown id."""
    known = {q.id for q in questions}
    unknown = [i for i in ids if i not in known]
    if unknown or not ids:
        raise InputError(
            f"no question with the id(s) {', '.join(map(repr, unknown)) or '(none given)'} in "
            f"{str(file)!r}; its ids run from {questions[0].id} to {questions[-1].id}"
        )
    wanted = set(ids)
    return [q for q in questions if q.id in wanted]


def in_half(question_id: str, half: str) -> bool:
    """``q014`` is in the tuning half, ``q015`` in the test half (by its last digit).

    >>> in_half("q014", "tune"), in_half("q015", "tune"), in_half("q015", "test")
    (True, False, True)
    """
    digits = re.findall(r"\d", question_id)
    even = bool(digits) and int(digits[-1]) % 2 == 0
    return even == (half == "tune")


def spread(items: list[T], n: int) -> list[T]:
    """``n`` items at even steps through ``items``, first included, in file order.

    >>> spread(list("abcdefgh"), 3)
    ['a', 'c', 'f']
    """
    if n >= len(items):
        return items
    return [items[i * len(items) // n] for i in range(n)]


def parse_question(line: str, line_no: int) -> Question:
    """One JSON line -> a :class:`Question`, or an InputError naming the line and field."""
    try:
        raw = json.loads(line)
    except (ValueError, RecursionError) as exc:  # also a 5,000-digit number, deep nesting
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else type(exc).__name__
        raise InputError(f"questions line {line_no}: not valid JSON ({reason})") from exc
    if not isinstance(raw, dict):
        raise InputError(f"questions line {line_no}: expected a JSON object, got {line:.60}")
    where = f"questions line {line_no} ({raw.get('id', 'no id')})"
    question = Question(
        id=_text(raw, "id", where),
        question=_question(raw, where),
        answerable=_flag(raw, where),
        kind=_kind(raw, where),
        article=str(raw.get("article") or ""),
        answers=_texts(raw, "answers", where),
        evidence=str(raw.get("evidence") or ""),
        evidence_all=_texts(raw, "evidence_all", where),
        history=_history(raw, where),
        points=_points(raw, where),
    )
    if question.answerable and not (question.answers and question.spans):
        raise InputError(f"{where}: an answerable question needs 'answers' and 'evidence'")
    if (question.kind in POINT_KINDS) != bool(question.points):
        raise InputError(
            f"{where}: 'points' belongs to the kinds {', '.join(POINT_KINDS)} (and each of them "
            f"needs it); kind {question.kind!r} has {len(question.points)} points"
        )
    return question


def _text(raw: dict[str, Any], key: str, where: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"{where}: {key!r} must be non-empty text, got {value!r:.60}")
    return value


def _question(raw: dict[str, Any], where: str) -> str:
    """The question as written, refused here (naming the line) if ``kb.ask`` would refuse it."""
    question = _text(raw, "question", where)
    try:
        clean_question(question)
    except InputError as exc:
        raise InputError(f"{where}: {exc}") from exc
    return question


def _flag(raw: dict[str, Any], where: str) -> bool:
    value = raw.get("answerable")
    if not isinstance(value, bool):
        raise InputError(f"{where}: 'answerable' must be true or false, got {value!r}")
    return value


def _kind(raw: dict[str, Any], where: str) -> str:
    """The question's kind; a file without kinds (the minimal format) is all UNSPECIFIED."""
    kind = raw.get("kind")
    if kind is None:
        return UNSPECIFIED
    if kind not in KINDS:
        raise InputError(f"{where}: unknown kind {kind!r}; known: {', '.join(KINDS)}")
    if (kind in ANSWERABLE_KINDS) != raw.get("answerable"):
        raise InputError(f"{where}: kind {kind!r} disagrees with answerable={raw['answerable']}")
    return str(kind)


def _texts(raw: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = raw.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise InputError(f"{where}: {key!r} must be a list of non-empty strings, got {value!r:.60}")
    return tuple(value)


def _points(raw: dict[str, Any], where: str) -> tuple[tuple[str, ...], ...]:
    value = raw.get("points", [])
    ok = isinstance(value, list) and all(
        isinstance(p, list) and p and all(isinstance(a, str) and a.strip() for a in p)
        for p in value
    )
    if not ok:
        raise InputError(
            f"{where}: 'points' must be a list of points, each a non-empty list of "
            f'alternative strings, e.g. [["UK", "Britain"], ["France"]]; got {value!r:.60}'
        )
    return tuple(tuple(p) for p in value)


def _history(raw: dict[str, Any], where: str) -> tuple[dict[str, str], ...]:
    turns = raw.get("history", [])
    ok = isinstance(turns, list) and all(
        isinstance(t, dict)
        and t.get("role") in ("user", "assistant")
        and isinstance(t.get("content"), str)
        for t in turns
    )
    if not ok:
        raise InputError(f"{where}: 'history' must be [{{role, content}}, ...], got {turns!r:.60}")
    return tuple({"role": t["role"], "content": t["content"]} for t in turns)


def _check_unique(ids: list[str], file: Path) -> None:
    seen: set[str] = set()
    for qid in ids:
        if qid in seen:
            raise InputError(f"the questions file {str(file)!r} repeats the id {qid!r}")
        seen.add(qid)
