"""Point questions (list, summary, why/how): the answer is scored by the key points it covers.

A point is a list of alternative strings (any one counts). The answer covers a point
when one alternative occurs in it as whole words, after the answer normalisation of
:func:`rag.text.words.norm` (citation markers removed first). Whole words, because
a list of countries must not get "UK" for free from "Ukraine".

>>> points = [["UK", "Britain"], ["France"], ["Finland"], ["Canada"]]
>>> point_recall("Britain and France lead it [1]; Ukraine joins.", points)
0.5
>>> point_recall("Ukraine will take part.", [["UK"]])
0.0
>>> points_pass(0.5, abstained=False), points_pass(0.4, False), points_pass(1.0, True)
(True, False, False)
"""

from __future__ import annotations

from collections.abc import Sequence

from rag.text.markers import strip_markers
from rag.text.words import norm

# An answer with at least half of the key points counts as correct (see eval/README.md).
PASS_SHARE = 0.5


def covers(answer_text: str, alternatives: Sequence[str]) -> bool:
    """True when one of ``alternatives`` occurs in the answer as whole normalised words."""
    haystack = f" {norm(strip_markers(answer_text))} "
    return any(norm(a) and f" {norm(a)} " in haystack for a in alternatives)


def point_recall(answer_text: str, points: Sequence[Sequence[str]]) -> float:
    """The share of ``points`` the answer covers, in [0, 1]."""
    if not points:
        raise ValueError("point_recall needs at least one point")
    return sum(covers(answer_text, p) for p in points) / len(points)


def points_pass(recall: float, abstained: bool) -> bool:
    """The ``correct`` rule of a point question: half the points or more, and no abstention."""
    return not abstained and recall >= PASS_SHARE
