from __future__ import annotations

import json
from pathlib import Path

import pytest

import rag
from rag.answer import followup, publishers
from rag.answer.question import standalone_query
from rag.errors import InputError
from rag.index.bm25 import BM25, terms
from rag.index.retrieval import SearchOptions, rrf
from rag.llm.base import Message

from conftest import ROOT


def test_rrf_rewards_agreement() -> None:
    fused = rrf([[1, 2, 3], [3, 1, 4]], k=60)
    assert max(fused, key=fused.__getitem__) == 1
    assert fused[4] < fused[2] < fused[3]
    weighted = rrf([[1, 2, 3], [3, 1, 4]], k=60, weights=(1.0, 0.5))
    assert weighted[1] == 1 / 61 + 0.5 / 62 and weighted[2] == fused[2]
    with pytest.raises(ValueError):
        rrf([[1], [2]], k=60, weights=(1.0,))  # one weight per ranking


def test_bm25_roundtrip_without_pickle(tmp_path: Path) -> None:
    bm = BM25.build([(7, "Drones strike refineries"), (9, "Peace talks in London")])
    bm.save(tmp_path / "b.npz")
    loaded = BM25.load(tmp_path / "b.npz")
    assert loaded.top("drone strikes", 2) == bm.top("drone strikes", 2)
    assert loaded.top("drone strikes", 2)[0][0] == 7
    assert terms("The drones' strikes") == ["dron", "strik"]


def test_hybrid_search_returns_full_hits(hash_kb: rag.KnowledgeBase) -> None:
    hits = hash_kb.search("Steve Witkoff called the coalition a posture and a pose", k=3)
    assert len(hits) == 3
    top = hits[0]
    assert "a posture and a pose" in top.text
    assert top.source.endswith("001_0a9e7fd5bd2f9d69.txt") and top.title
    text = hash_kb.store.db.execute(
        "SELECT text FROM articles WHERE article_id = ?", (top.article_id,)
    ).fetchone()[0]
    assert text[top.start : top.end] == top.text
    assert hits[0].score >= hits[1].score >= hits[2].score


@pytest.mark.parametrize("mode", ["dense", "bm25", "hybrid"])
def test_each_mode_ranks(hash_kb: rag.KnowledgeBase, mode: str) -> None:
    hits = hash_kb.search("24 Afghan helicopters flew in secret to Uzbekistan", k=5, mode=mode)
    assert any("Uzbekistan" in h.text for h in hits)


def test_filters_by_article_and_source(hash_kb: rag.KnowledgeBase) -> None:
    hits = hash_kb.search("coalition of the willing", k=10, source="001_0a9e7fd5bd2f9d69.txt")
    assert hits and all(h.source.endswith("001_0a9e7fd5bd2f9d69.txt") for h in hits)
    hits = hash_kb.search("coalition of the willing", k=10, article="Long-range drone")
    assert hits and all(h.title.startswith("Long-range drone") for h in hits)
    assert hash_kb.search("coalition", k=5, article="no such article") == []


def test_mmr_diversifies(hash_kb: rag.KnowledgeBase) -> None:
    plain = hash_kb.search("coalition of the willing", k=5)
    diverse = hash_kb.search("coalition of the willing", k=5, mmr=0.3)
    assert len(diverse) == 5 and diverse != plain
    assert len({h.chunk_id for h in diverse}) == 5


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"k": 0}, "k must be between 1 and 1000, got 0"),
        ({"mode": "fuzzy"}, "mode must be one of"),
        ({"mmr": 1.5}, "mmr lambda must be in"),
    ],
)
def test_bad_options_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InputError, match=message):
        SearchOptions(**kwargs)  # type: ignore[arg-type]


def test_empty_question_is_refused(hash_kb: rag.KnowledgeBase) -> None:
    with pytest.raises(InputError, match="empty"):
        hash_kb.search("   ")


def _paraphrases() -> list[dict[str, str]]:
    rows = [json.loads(line) for line in (ROOT / "eval" / "questions.jsonl").open()]
    return [r for r in rows if r.get("kind") == "paraphrase"]


@pytest.mark.slow
def test_real_minilm_finds_the_witkoff_passage(minilm_kb: rag.KnowledgeBase) -> None:
    hits = minilm_kb.search("What did Trump's special envoy call the coalition?", k=3)
    assert any("a posture and a pose" in h.text for h in hits)
    assert any(h.publisher == "The Week" for h in hits)


# Measured on the seeds with all-MiniLM-L6-v2 (hybrid, k=5): 38 of the 45 paraphrases
# (35 before sentence windows). The misses share almost no words with their passage
# ("silver-lining word" for "blessing"); the bar is the measured figure, so a retrieval
# regression fails.
PARAPHRASES_FOUND = 38


@pytest.mark.slow
def test_paraphrased_questions_find_their_passage_in_the_top_5(
    minilm_kb: rag.KnowledgeBase,
) -> None:
    """Hand-written paraphrases: the evidence must be in a top-5 chunk for at least 25 of them."""
    questions = _paraphrases()
    assert len(questions) >= 25
    missed = []
    for q in questions:
        hits = minilm_kb.search(q["question"], k=5)
        evidence = " ".join(q["evidence"].split())
        if not any(evidence in " ".join(h.text.split()) for h in hits):
            missed.append(q["id"])
    found = len(questions) - len(missed)
    print(f"paraphrases found in the top 5: {found} of {len(questions)}; missed {missed}")
    assert found >= max(25, PARAPHRASES_FOUND), missed


# Issue 10's chat: "Which countries are in the coalition of the willing?", then this.
OUT = "And which are out?"
IN_TURNS = [
    Message("user", "Which countries are in the coalition of the willing?"),
    Message("assistant", "The UK and France lead it; the Baltic states may join."),
]
WHO_IS_OUT = "Poland, Spain and Germany are not expected to send troops"


def test_a_follow_up_finds_the_passage_its_own_words_point_at(minilm_kb: rag.KnowledgeBase) -> None:
    joined = minilm_kb.retriever.search(standalone_query(OUT, IN_TURNS), SearchOptions())
    assert not any(WHO_IS_OUT in h.text for h in joined)  # the previous question drowns "out"
    query, hits = followup.retrieve(OUT, IN_TURNS, minilm_kb.retriever, SearchOptions())
    assert query == standalone_query(OUT, IN_TURNS) and len(hits) == 5
    assert any(WHO_IS_OUT in h.text for h in hits)
    assert len({h.chunk_id for h in hits}) == 5
    # The scores the abstain policy reads stay those of the joined query where it has them.
    by_id = {h.chunk_id: h for h in minilm_kb.retriever.search(query, SearchOptions(k=50))}
    assert all(h.dense_score == by_id[h.chunk_id].dense_score for h in hits if h.chunk_id in by_id)


def test_a_question_that_stands_alone_is_searched_as_it_is(hash_kb: rag.KnowledgeBase) -> None:
    question = "How many drones does Ukraine make a month?"
    for turns in ([], IN_TURNS, [Message("user", " "), Message("assistant", "x")]):
        query, hits = followup.retrieve(question, turns, hash_kb.retriever, SearchOptions(k=3))
        assert query == question
        assert hits == hash_kb.retriever.search(question, SearchOptions(k=3))


def test_a_follow_up_keeps_the_users_filters(hash_kb: rag.KnowledgeBase) -> None:
    options = SearchOptions(k=4, article="Kabul")
    _, hits = followup.retrieve(OUT, IN_TURNS, hash_kb.retriever, options)
    assert len(hits) == 4 and all("Kabul" in h.title for h in hits)


THE_WEEK_Q = "Which countries does The Week name as unlikely or reluctant to commit troops?"


def test_a_question_naming_a_publisher_prefers_its_passages(minilm_kb: rag.KnowledgeBase) -> None:
    plain = minilm_kb.retriever.search(THE_WEEK_Q, SearchOptions())
    assert {h.publisher for h in plain[:2]} == {"Sky News"}  # the other outlet's story leads
    hits = publishers.search(minilm_kb.retriever, THE_WEEK_Q, SearchOptions(), THE_WEEK_Q)
    assert len(hits) == 5 and [h.publisher for h in hits[:2]] == ["The Week"] * 2
    assert "Italy isn't expected to take part" in hits[0].text
    assert sum(h.publisher == "The Week" for h in hits) > sum(
        h.publisher == "The Week" for h in plain
    )
    # Naming both outlets keeps both in the top 5.
    both = "What do Sky News and The Week say about the coalition's reluctant members?"
    hits = publishers.search(minilm_kb.retriever, both, SearchOptions(), both)
    assert {h.publisher for h in hits} == {"Sky News", "The Week"}


def test_a_question_naming_no_publisher_is_searched_as_it_is(hash_kb: rag.KnowledgeBase) -> None:
    for question in ("Who is in the coalition?", "What does the Weekly Post say?"):
        options = SearchOptions(k=4, mmr=0.7)
        plain = hash_kb.retriever.search(question, options)
        assert publishers.search(hash_kb.retriever, question, options, question) == plain


@pytest.mark.parametrize(
    ("question", "named"),
    [
        ("What does The Week say?", ["The Week"]),
        ("Give me the gist of Sky's piece", ["Sky News"]),
        ("According to Sky News and The Week, who is in?", ["Sky News", "The Week"]),
        ("What happened the week before?", []),  # case counts
        ("What did Skyline Weekly report?", []),  # whole words only
        ("What is the sky like?", []),
    ],
)
def test_named_publishers(question: str, named: list[str]) -> None:
    assert publishers.named_publishers(question, ["Sky News", "The Week", ""]) == named


def test_a_publisher_called_the_news_is_not_named_by_every_the() -> None:
    assert publishers.named_publishers("The coalition: who is in?", ["The News"]) == []
    assert publishers.named_publishers("What does The News say?", ["The News"]) == ["The News"]
