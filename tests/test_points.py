"""The key-point rule of list, summary and why/how questions (rag.evaluation.points)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.evaluation.points import PASS_SHARE, covers, point_recall, points_pass
from rag.evaluation.records import load_questions

QUESTIONS = Path(__file__).resolve().parent.parent / "eval" / "questions.jsonl"

IN = [["UK", "Britain"], ["France"], ["Baltic", "Estonia", "Lithuania", "Latvia"], ["Finland"]]


def test_recall_is_the_share_of_points_with_any_alternative() -> None:
    assert point_recall("Britain and France lead; Estonia and Finland are likely.", IN) == 1.0
    assert point_recall("The UK and France lead it.", IN) == 0.5
    assert point_recall("Only France so far.", IN) == 0.25
    assert point_recall("Nobody has signed up.", IN) == 0.0


def test_an_alternative_counts_once_for_its_point() -> None:
    # "UK" and "Britain" are one point: naming both does not count twice.
    assert point_recall("The UK (Britain) leads.", IN) == 0.25


def test_matching_uses_the_answer_normalisation_and_ignores_citation_markers() -> None:
    assert covers("It was “very, very far away” [2].", ["very far away"])
    assert covers("more than 2000 a month", ["2,000"])  # "2,000" and "2000" both -> 2000
    assert covers("The WORST STATEMENT, he said.", ["worst statement"])
    assert not covers("a pose [1]", ["pose 1"])  # markers are removed before matching


def test_alternatives_match_whole_words_only() -> None:
    assert not covers("Ukraine will take part.", ["UK"])
    assert not covers("educational gains", ["education"])
    assert covers("the UK, and Ukraine", ["UK"])
    assert covers("uk", ["UK"])  # at the very start and end of the answer


def test_the_pass_rule_is_half_the_points_and_no_abstention() -> None:
    assert PASS_SHARE == 0.5
    assert points_pass(0.5, abstained=False) and points_pass(1.0, abstained=False)
    assert not points_pass(0.49, abstained=False)
    assert not points_pass(1.0, abstained=True)


def test_recall_needs_points() -> None:
    with pytest.raises(ValueError, match="at least one point"):
        point_recall("anything", [])


def test_the_question_file_point_questions_score_their_own_evidence() -> None:
    """Each point question's evidence span covers its first point, and no span alone
    covers every point of a summary: a summary needs more than one passage."""
    questions = [q for q in load_questions(QUESTIONS) if q.points]
    assert questions
    assert all(covers(q.evidence, q.points[0]) for q in questions)
    summaries = [q for q in questions if q.kind == "summary"]
    assert summaries and all(point_recall(q.evidence, q.points) < 1.0 for q in summaries)
