"""Schema checks for eval/questions.jsonl, the grounding question set over the seed articles.

The checks read only the JSONL and the seed files, so a question whose evidence was mistyped,
taken from a caption, or filed under the wrong article fails here rather than silently
lowering the eval scores.
"""

from __future__ import annotations

import json
import re
import string
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = ROOT / "eval" / "questions.jsonl"
SKY = ROOT / "seeds" / "000_2dd91a298db4a255.txt"
WEEK = ROOT / "seeds" / "001_0a9e7fd5bd2f9d69.txt"

TITLES = [
    "The fall of Kabul",
    "America will not put up with it for much longer!’: Donald Trump hits out at "
    "Ukraine’s President Zelenskyy once again",
    "Long-range drone strikes weakening Russia’s combat ability, senior Ukrainian commander says",
    "Who’s in, who’s out? The ‘coalition of the willing’ that could secure peace in Ukraine",
    "Is the 'coalition of the willing' going to work?",
]
POINT_KINDS = {"list", "summary", "why_how"}  # answered with key points, each in "points"
ANSWERABLE_KINDS = {"factual", "paraphrase", "number", "date", "multi_article", "followup"}
ANSWERABLE_KINDS |= POINT_KINDS
UNANSWERABLE_KINDS = {
    "unanswerable_absent",
    "unanswerable_false_premise",
    "unanswerable_near_miss",
    "unanswerable_out_of_corpus",
    "unanswerable_injection",
}
MINIMUMS = {"factual": 25, "paraphrase": 25, "number": 10, "date": 6, "multi_article": 4}
MINIMUMS |= {"followup": 5, "list": 8, "summary": 5, "why_how": 6, "unanswerable_near_miss": 8}
# How many key points a question of each point kind has (a list has as many as it has items).
POINT_COUNTS = {"list": range(2, 9), "summary": range(3, 6), "why_how": range(2, 5)}
# Lines that are page furniture, not journalism: the cleaner drops them, so evidence there
# could never be retrieved. Matched against whole stripped lines of the seed files.
FURNITURE_STARTS = ("Read more", "Live updates:", "Follow latest:", "More on ", "Please use Chrome")


def squash(text: str) -> str:
    """Collapse runs of whitespace, so evidence may be copied across line breaks."""
    return " ".join(text.split())


def norm(text: str) -> str:
    """The answer-matching normalisation: ``norm("Wasn’t dead, 4.7%!") == "wasnt dead 47%"``."""
    kept = "".join(c for c in text.lower() if c.isalnum() or c.isspace() or c == "%")
    return squash(kept)


def body(text: str) -> str:
    """Drop captions (the lines around "Image:"), link lists, video titles and sign-up boxes."""
    lines = text.splitlines()
    drop: set[int] = set()
    for i, line in enumerate(lines):
        s = line.strip()
        if s == "Image:":
            drop.update({i - 1, i, i + 1})
        elif s.startswith(FURNITURE_STARTS):
            j = i
            while j < len(lines) and lines[j].strip():  # a list runs to the next blank line
                drop.add(j)
                j += 1
            if s.startswith("Please use Chrome"):
                drop.add(i + 2)  # the video's title follows a blank line
    return squash("\n".join(x for i, x in enumerate(lines) if i not in drop))


def regions() -> dict[str, str]:
    """Title -> the cleaned-of-furniture text of that article alone."""
    sky = SKY.read_text(encoding="utf-8").split("Continue Reading")[:4]
    week = WEEK.read_text(encoding="utf-8")
    week = week.split("Sign up for Today's Best Articles")[0]
    week = re.sub(r"Subscribe to The Week.*?What did the commentators say\?", "", week, flags=re.S)
    return dict(zip(TITLES, [body(t) for t in [*sky, week]], strict=True))


ITEMS: list[dict[str, Any]] = [
    json.loads(line) for line in QUESTIONS.read_text(encoding="utf-8").splitlines() if line.strip()
]
REGIONS = regions()
ALL_SEED = norm(SKY.read_text(encoding="utf-8") + "\n" + WEEK.read_text(encoding="utf-8"))


def ids(item: dict[str, Any]) -> str:
    return str(item.get("id"))


def has_words(text: str, phrase: str) -> bool:
    """``phrase`` occurs in ``text`` as whole words once both are normalised (the point rule)."""
    return bool(norm(phrase)) and f" {norm(phrase)} " in f" {norm(text)} "


def test_ids_are_unique_and_sequential_in_shape() -> None:
    found = [item["id"] for item in ITEMS]
    assert len(found) == len(set(found)), [k for k, n in Counter(found).items() if n > 1]
    assert all(re.fullmatch(r"q\d{3}", i) for i in found)
    assert ITEMS[0]["id"] == "q001" and "posture and a pose" in ITEMS[0]["answers"][0]


def test_counts_meet_the_minimums() -> None:
    kinds = Counter(item["kind"] for item in ITEMS)
    assert len(ITEMS) >= 90
    for kind, least in MINIMUMS.items():
        assert kinds[kind] >= least, (kind, kinds[kind])
    assert sum(kinds[k] for k in UNANSWERABLE_KINDS) >= 26
    assert all(kinds[k] >= 3 for k in UNANSWERABLE_KINDS), kinds


def test_every_article_has_at_least_twelve_answerable_items() -> None:
    per = Counter(item["article"] for item in ITEMS if item["answerable"])
    assert all(per[title] >= 12 for title in TITLES), per


@pytest.mark.parametrize("item", ITEMS, ids=ids)
def test_fields_present_per_kind(item: dict[str, Any]) -> None:
    assert item["kind"] in ANSWERABLE_KINDS | UNANSWERABLE_KINDS
    assert isinstance(item["question"], str) and item["question"].strip()
    assert item["answerable"] is (item["kind"] in ANSWERABLE_KINDS)
    assert ("points" in item) is (item["kind"] in POINT_KINDS)
    if not item["answerable"]:
        assert not {"answers", "evidence", "evidence_all"} & item.keys()
        assert item["article"] in {"", *TITLES}
        if item["kind"] == "unanswerable_near_miss":  # the right topic: one article's
            assert item["article"] in TITLES
        return
    answers = item["answers"]
    assert isinstance(answers, list) and answers and all(norm(a) for a in answers)
    assert isinstance(item["evidence"], str)
    if item["kind"] == "multi_article":
        assert item["article"].split(" | ") != [item["article"]]
        assert item["evidence"] in item["evidence_all"] and len(item["evidence_all"]) == 2
    else:
        assert item["article"] in TITLES and "evidence_all" not in item
    if item["kind"] == "followup":
        roles = [turn["role"] for turn in item["history"]]
        assert roles and roles[0] == "user" and roles[-1] == "assistant"
        assert all(turn["content"].strip() for turn in item["history"])


@pytest.mark.parametrize("item", [i for i in ITEMS if i["kind"] in POINT_KINDS], ids=ids)
def test_points_are_lists_of_alternatives_found_in_their_article(item: dict[str, Any]) -> None:
    points = item["points"]
    assert isinstance(points, list) and len(points) in POINT_COUNTS[item["kind"]], points
    assert all(isinstance(p, list) and p and all(isinstance(a, str) for a in p) for p in points)
    # Every alternative is in the article's journalism, as whole words after normalisation.
    missing = [a for p in points for a in p if not has_words(REGIONS[item["article"]], a)]
    assert not missing, f"not in {item['article']!r}: {missing}"
    # No alternative is shared by two points, so no mention counts twice.
    every = [norm(a) for p in points for a in set(p)]
    assert len(every) == len(set(every)), Counter(every).most_common(2)
    # "answers" is the first point, and the evidence holds it (so retrieval metrics and
    # the evidence-and-answer support rule work as for the other kinds).
    assert item["answers"] == points[0]
    assert any(has_words(item["evidence"], a) for a in points[0]), item["evidence"]


def test_whole_word_matching_keeps_uk_out_of_ukraine() -> None:
    assert has_words("Britain, the UK, leads.", "U.K.") and not has_words("Ukraine", "UK")
    assert has_words("“Wasn’t dead,” he said", "wasn’t dead")


@pytest.mark.parametrize("item", [i for i in ITEMS if i["answerable"]], ids=ids)
def test_evidence_is_a_short_verbatim_span_of_its_article(item: dict[str, Any]) -> None:
    titles = item["article"].split(" | ")
    spans = item.get("evidence_all", [item["evidence"]])
    homes = []
    for span in spans:
        assert 5 <= len(span.split()) <= 30, span
        home = [t for t in titles if squash(span) in REGIONS[t]]
        assert home, f"not verbatim in the journalism of {titles}: {span!r}"
        homes.append(home[0])
    assert set(homes) == set(titles)  # a two-article item draws on both articles


@pytest.mark.parametrize("item", [i for i in ITEMS if i["answerable"]], ids=ids)
def test_an_answer_is_supported_by_the_evidence_or_seed(item: dict[str, Any]) -> None:
    support = [norm(s) for s in item.get("evidence_all", [item["evidence"]])]
    assert any(norm(a) in s for a in item["answers"] for s in [*support, ALL_SEED]), item


def test_norm_ignores_case_and_punctuation() -> None:
    assert norm("“Tragic. Unnecessary.  Shameful.”") == "tragic unnecessary shameful"
    assert norm("2,400") == norm("2400") and norm("4.7%") == "47%"
    assert "," not in norm(string.punctuation.replace("%", "") + "x")
