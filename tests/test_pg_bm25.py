"""BM25 in MaxScore rounds (rag/index/pg_maxscore.py) against the reference SQL that
scores every chunk holding a query term (pg_lexical.BM25_SQL, ``PgStore.prune = False``),
on a corpus where the rounds leave chunks out: a few words in most chunks, some in a few
percent, some in a handful."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from contracts.store import SETTINGS, embedded

from rag.index.base import ChunkFilter
from rag.index.pg_maxscore import MAX_GROUPS, _groups
from rag.index.pg_private import create_database, drop_database
from rag.index.pg_store import PgStore
from rag.index.store import STORES
from rag.text.words import terms
from rag.types import Article, Chunk

pytestmark = pytest.mark.postgres

ARTICLES, CHUNKS_EACH, STUFFED = 60, 10, 20
# Made-up words that are their own stems, each in about this share of the chunks.
COMMON = {"bakor": 0.55, "tizum": 0.45, "pelko": 0.4, "dovar": 0.3}
MEDIUM = {"kunta": 0.08, "lomir": 0.06, "safek": 0.05}
RARE = {"zivra": 0.012, "gorbu": 0.008, "mupit": 0.005}
FILLER = [f"{a}{b}{c}" for a in "bdfg" for b in "aeiou" for c in ("rn", "lt", "sk")]


def texts(seed: int = 3) -> list[str]:
    """Chunk texts of 20-80 filler words, each share word in (about) its share of them,
    one to four times; then 20 chunks stuffed with two or three of the common and medium
    words, each 20 to 120 times, which score near those words' bounds (where a stopping
    test that is too bold would go wrong)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(ARTICLES * CHUNKS_EACH):
        words = list(rng.choice(FILLER, rng.integers(20, 80)))
        for word, share in {**COMMON, **MEDIUM, **RARE}.items():
            if rng.random() < share:
                words += [word] * int(rng.integers(1, 5))
        rng.shuffle(words)
        out.append(" ".join(words))
    for _ in range(STUFFED):
        stuffing = rng.choice([*COMMON, *MEDIUM], rng.integers(2, 4), replace=False)
        words = [w for w in stuffing for _ in range(rng.integers(20, 120))]
        out.append(" ".join(words + list(rng.choice(FILLER, rng.integers(0, 10)))))
    return out


def write_corpus(url: str, folder: Path, all_texts: list[str], name: str = "a") -> None:
    with STORES["postgresql"].writer(url, SETTINGS, False) as writer:
        for i in range(0, len(all_texts), CHUNKS_EACH):
            article_id = f"{name}{i // CHUNKS_EACH}"
            body, chunks, start = "", [], 0
            for ordinal, text in enumerate(all_texts[i : i + CHUNKS_EACH]):
                start = len(body) + (2 if body else 0)
                body += ("\n\n" if body else "") + text
                chunks.append(Chunk(f"{article_id}:{ordinal}", article_id, ordinal, text,
                                    start, start + len(text), len(text.split())))  # fmt: skip
            item = Article(article_id, article_id, body, str(folder / f"{article_id}.txt"), "X")
            writer.add(item, embedded(chunks))
        writer.commit()


@pytest.fixture(scope="module")
def corpus(pg_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PgStore]:
    """The corpus in one database for the module's tests, which only read it."""
    assert all(terms(w) == [w] for w in [*COMMON, *MEDIUM, *RARE, *FILLER])
    url = create_database(pg_server, "rag_bm25_rounds")
    try:
        write_corpus(url, tmp_path_factory.mktemp("bm25"), texts())
        store = PgStore(url)
        yield store
        store.close()
    finally:
        drop_database(pg_server, "rag_bm25_rounds")


def both(store: PgStore, query: str, n: int, allowed: set[int] | None = None) -> list[Any]:
    """The ranking in rounds and the reference's, each checked to be sorted."""
    store.prune = False
    reference = store.lexical(query, n, allowed)
    store.prune = True
    pruned = store.lexical(query, n, allowed)
    for ranking in (reference, pruned):
        assert ranking == sorted(ranking, key=lambda hit: (-hit[1], hit[0]))
    return [pruned, reference]


def holding_any(store: PgStore, query: str) -> int:
    """Chunks holding any term of the query: what the reference scores."""
    sql = "SELECT count(*) FROM rag_chunks WHERE terms @@ to_tsquery('simple', %(q)s)"
    return int(store.conn.execute(sql, {"q": " | ".join(terms(query))}).fetchone()[0])


QUERIES = [
    ("zivra kunta bakor tizum", 10),  # rare, medium and common terms
    ("gorbu mupit lomir safek pelko dovar bakor", 5),
    ("bakor tizum pelko dovar", 10),  # every term common
    ("bakor tizum pelko dovar", 50),
    ("tizum", 20),
    ("zivra mupit", 50),  # n above the chunks matching
    ("kunta kunta safek unheardof bakor", 500),  # a repeated and an unknown term, n above all
]


@pytest.mark.parametrize(("query", "n"), QUERIES)
def test_rounds_rank_as_scoring_every_chunk(corpus: PgStore, query: str, n: int) -> None:
    pruned, reference = both(corpus, query, n)
    assert len(reference) == min(n, holding_any(corpus, query)) > 0
    assert [k for k, _ in pruned] == [k for k, _ in reference]
    assert [s for _, s in pruned] == pytest.approx([s for _, s in reference], rel=1e-12)


def test_rounds_rank_as_scoring_every_chunk_on_random_queries(corpus: PgStore) -> None:
    rng = np.random.default_rng(11)
    words = [*COMMON, *MEDIUM, *RARE, *FILLER[:6]]  # a filler word is in about 1 chunk in 3
    every = sorted(corpus.ids_where(ChunkFilter()))
    for i in range(120):
        query = " ".join(rng.choice(words, rng.integers(2, 7), replace=False))
        n = int(rng.choice([1, 3, 10, 40]))
        allowed = set(every[i % 4 :: 4]) if i % 3 == 0 else None
        pruned, reference = both(corpus, query, n, allowed)
        assert [k for k, _ in pruned] == [k for k, _ in reference], (query, n)
        assert [s for _, s in pruned] == pytest.approx([s for _, s in reference], rel=1e-12)


def test_rounds_rank_as_scoring_every_chunk_of_a_filter(corpus: PgStore) -> None:
    every = sorted(corpus.ids_where(ChunkFilter()))
    allowed = set(every[::3])  # 207 of the 620 chunks
    for query, n in [("zivra kunta bakor tizum", 10), ("bakor tizum pelko", 10),
                     ("gorbu kunta", 300), ("lomir", 5)]:  # fmt: skip
        pruned, reference = both(corpus, query, n, allowed)
        assert reference and {k for k, _ in reference} <= allowed
        assert [k for k, _ in pruned] == [k for k, _ in reference]
        assert [s for _, s in pruned] == pytest.approx([s for _, s in reference], rel=1e-12)
    few = set(every[:7])  # fewer chunks than places: one round over every term
    pruned, reference = both(corpus, "bakor tizum kunta", 10, few)
    assert [k for k, _ in pruned] == [k for k, _ in reference] and {k for k, _ in pruned} <= few
    assert corpus.last_lexical is not None and corpus.last_lexical.rounds == 1


def test_rounds_leave_out_the_chunks_holding_only_common_terms(corpus: PgStore) -> None:
    corpus.prune = True
    # At most this share of the chunks holding a term is scored (41 of 468, 40 of 478 and
    # 231 of 522 here; 61, 67 and 349 when the rounds ask for every chunk of their term,
    # all of them when nothing is left out).
    for query, n, most in [("zivra kunta bakor tizum", 10, 0.15),
                           ("gorbu mupit lomir safek pelko dovar bakor", 5, 0.15),
                           ("bakor tizum pelko dovar", 10, 0.5)]:  # fmt: skip
        assert corpus.lexical(query, n)
        assert corpus.last_lexical is not None
        scored, matching = corpus.last_lexical.scored, holding_any(corpus, query)
        assert 0 < scored <= most * matching, (query, scored, matching)
    # Asked for every chunk that matches, nothing can be left out.
    assert corpus.lexical("kunta bakor", 1000) and corpus.last_lexical is not None
    assert corpus.last_lexical.scored == holding_any(corpus, "kunta bakor")


def test_groups_are_the_smallest_sets_of_later_terms_that_reach_theta() -> None:
    rng = np.random.default_rng(5)
    for _ in range(500):
        later = [f"t{i}" for i in range(rng.integers(0, 8))]
        bounds = {t: float(rng.choice([rng.uniform(0.1, 5), 1.0, 2.0])) for t in later}
        bounds["x"] = rng.uniform(0, 6)
        later.sort(key=lambda t: -bounds[t])
        theta = rng.uniform(0, 15)
        short = theta - bounds["x"]
        every = [set(c) for size in range(1, len(later) + 1) for c in combinations(later, size)]
        reach = [c for c in every if sum(bounds[t] for t in c) >= short]
        smallest = [s for s in reach if short > 0 and not any(o < s for o in reach)]
        if len(smallest) > MAX_GROUPS:
            smallest = []  # too many to ask for: every chunk of the term is scored
        groups = _groups("x", later, bounds, theta)
        assert sorted(map(sorted, groups)) == sorted(map(sorted, smallest))


def test_document_frequencies_are_counted_once_per_term(
    corpus: PgStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[list[str]] = []
    count = corpus._count
    monkeypatch.setattr(corpus, "_count", lambda words: asked.append(words) or count(words))
    monkeypatch.setattr(corpus, "frequencies", type(corpus.frequencies)())
    corpus.lexical("safek lomir bakor", 5)
    corpus.lexical("bakor lomir safek", 5)
    corpus.lexical("bakor gorbu", 5, set(sorted(corpus.ids_where(ChunkFilter()))[:100]))
    assert asked == [["safek", "lomir", "bakor"], ["gorbu"]]
    other = PgStore(corpus.url)  # each store keeps its own
    try:
        assert other.frequencies.get(["bakor"], lambda words: {"bakor": -1}) == {"bakor": -1}
    finally:
        other.close()


def test_a_reader_moved_to_a_newer_generation_counts_again(pg_url: str, tmp_path: Path) -> None:
    write_corpus(pg_url, tmp_path, texts()[:200])
    reader = PgStore(pg_url)
    try:
        before = reader.lexical("kunta bakor", 5)
        write_corpus(pg_url, tmp_path, texts(seed=4)[:200], name="b")  # more of both terms
        for _ in range(2):  # two more: the reader's generation is purged, it moves on
            write_corpus(pg_url, tmp_path, [])
        assert len(reader) == 400  # this query moves it to the live generation
        pruned, reference = both(reader, "kunta bakor", 5)
        assert reference != before
        assert [k for k, _ in pruned] == [k for k, _ in reference]
        assert [s for _, s in pruned] == pytest.approx([s for _, s in reference], rel=1e-12)
    finally:
        reader.close()
