"""The tests every store kind must pass, written against the Store and StoreWriter protocols.

A store kind proves itself by subclassing :class:`StoreContract` and giving a
function-scoped ``store`` fixture: a :class:`Place`, an empty location of that kind.
Vectors come from the deterministic hash embedder, so the suite is fast.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from rag.errors import IndexMismatch
from rag.index.base import ChunkFilter, EmbeddedChunk, IndexSettings, Store, StoreWriter
from rag.index.embedders import HashEmbedder
from rag.index.store import StoreKind
from rag.index.windows import windows
from rag.text.words import terms
from rag.types import Article, Chunk

EMBEDDER = HashEmbedder(256)
SETTINGS = IndexSettings(EMBEDDER.name, EMBEDDER.dim, {"max_tokens": 200, "overlap_tokens": 0})

PASSAGES = {  # article id -> (title, its passages)
    "drones": (
        "Long-range drone strikes",
        [
            "Ukrainian drones struck two refineries. The fires burned overnight.",
            "Officials in Moscow said air defences shot down most of them.",
        ],
    ),
    "talks": (
        "Peace talks in London",
        [
            "Envoys met in London for peace talks. The mood was tense.",
            "A ceasefire was not agreed. Another round is planned.",
            "Helicopters flew the delegates to Uzbekistan afterwards.",
        ],
    ),
    "budget": ("Council budget", ["The council approved a new budget for parks."]),
}
DATES = {"drones": "2025-03-01", "talks": "2025-03-07"}  # the budget's date is unknown


@dataclass(frozen=True)
class Place:
    """An empty location of one store kind, opened for reading and writing by the tests."""

    kind: StoreKind
    location: str

    def writer(
        self, settings: IndexSettings = SETTINGS, rebuild: bool = False
    ) -> AbstractContextManager[StoreWriter]:
        return self.kind.writer(self.location, settings, rebuild)

    def open(self) -> Store:
        return self.kind.open(self.location)


def article(article_id: str, folder: Path) -> tuple[Article, list[Chunk]]:
    title, passages = PASSAGES[article_id]
    text = "\n\n".join(passages)
    chunks, start = [], 0
    for ordinal, passage in enumerate(passages):
        start = text.index(passage, start)
        end = start + len(passage)
        chunk = Chunk(f"{article_id}:{ordinal}", article_id, ordinal, passage, start, end, 9)
        chunks.append(chunk)
        start = end
    source = str(folder / f"{article_id}.txt")
    meta = {"published": DATES.get(article_id), "author": "Ann Lee" if article_id in DATES else ""}
    url = f"https://desk.example/{article_id}"
    return Article(article_id, title, text, source, "The Desk", url=url, **meta), chunks


def embedded(chunks: Sequence[Chunk]) -> list[EmbeddedChunk]:
    return [
        EmbeddedChunk(c, EMBEDDER.embed([c.text])[0], EMBEDDER.embed(windows(c.text)))
        for c in chunks
    ]


def write(place: Place, folder: Path, ids: Sequence[str] = tuple(PASSAGES)) -> dict[str, int]:
    with place.writer() as writer:
        for article_id in ids:
            item, chunks = article(article_id, folder)
            writer.add(item, embedded(chunks))
        return writer.commit()


def query(text: str) -> np.ndarray:
    return EMBEDDER.embed([text])[0]


class StoreContract:
    """Subclasses provide a function-scoped ``store`` fixture returning an empty :class:`Place`."""

    # How far a stored vector may be from the one written: a store that quantises its
    # vectors (the FAISS store's IVF layout keeps 8 bits a dimension) says so here.
    vector_tolerance = 1e-5

    @pytest.fixture
    def filled(self, store: Place, tmp_path: Path) -> Iterator[Store]:
        write(store, tmp_path)
        opened = store.open()
        yield opened
        opened.close()

    def key_of(self, opened: Store, chunk_id: str) -> int:
        every = opened.chunks(sorted(opened.ids_where(ChunkFilter())))
        return next(k for k, item in every.items() if item.chunk.chunk_id == chunk_id)

    def test_an_empty_commit_gives_an_empty_store(self, store: Place) -> None:
        with store.writer() as writer:
            assert writer.sources() == {}
            assert writer.commit() == {"articles": 0, "chunks": 0}
        opened = store.open()
        assert len(opened) == 0 and opened.articles() == []
        assert opened.dense(query("drones"), 5) == []
        assert opened.dense_windows(query("drones"), 5) == []
        assert opened.lexical("drones", 5) == [] and not opened.knows(terms("drones")[0])
        assert opened.chunks([]) == {} and opened.ids_where(ChunkFilter()) == set()
        opened.close()

    def test_commit_counts_and_settings(self, store: Place, tmp_path: Path) -> None:
        assert write(store, tmp_path) == {"articles": 3, "chunks": 6}
        opened = store.open()
        assert len(opened) == 6 and opened.settings == SETTINGS
        opened.close()

    def test_articles_are_listed_with_their_chunk_counts(self, filled: Store) -> None:
        listed = {a["article_id"]: a for a in filled.articles()}
        assert {k: a["chunks"] for k, a in listed.items()} == {"drones": 2, "talks": 3, "budget": 1}
        assert listed["talks"]["title"] == "Peace talks in London"
        assert listed["talks"]["publisher"] == "The Desk"
        assert not listed["talks"]["title_derived"]

    def test_chunks_come_back_as_written(self, store: Place, filled: Store, tmp_path: Path) -> None:
        written, chunks = article("talks", tmp_path)
        keys = [self.key_of(filled, c.chunk_id) for c in chunks]
        stored = filled.chunks(keys)
        assert [stored[k].chunk for k in keys] == chunks
        assert {(s.title, s.source, s.publisher) for s in stored.values()} == {
            (written.title, written.source, "The Desk")
        }
        for key, chunk in zip(keys, embedded(chunks), strict=True):
            np.testing.assert_allclose(filled.vector(key), chunk.vector, atol=self.vector_tolerance)
        assert filled.chunks([max(filled.ids_where(ChunkFilter())) + 100]) == {}

    def test_dense_ranks_the_closest_chunk_first(self, filled: Store) -> None:
        text = PASSAGES["talks"][1][2]
        ranking = filled.dense(query(text), 3)
        assert len(ranking) == 3 and ranking[0][0] == self.key_of(filled, "talks:2")
        assert ranking[0][1] == pytest.approx(1.0, abs=max(1e-5, 10 * self.vector_tolerance))
        assert [s for _, s in ranking] == sorted((s for _, s in ranking), reverse=True)
        assert len(filled.dense(query(text), 100)) == 6

    def test_dense_windows_rank_a_chunk_by_its_best_window(self, filled: Store) -> None:
        ranking = filled.dense_windows(query("Ukrainian drones struck two refineries."), 3)
        keys = [k for k, _ in ranking]
        assert keys[0] == self.key_of(filled, "drones:0") and len(set(keys)) == len(keys) == 3
        assert [s for _, s in ranking] == sorted((s for _, s in ranking), reverse=True)

    def test_lexical_ranks_by_bm25_above_zero_only(self, filled: Store) -> None:
        ranking = filled.lexical("Uzbekistan helicopters", 5)
        assert [k for k, _ in ranking] == [self.key_of(filled, "talks:2")]
        assert ranking[0][1] > 0
        assert filled.lexical("zeppelin", 5) == []
        assert len(filled.lexical("the", 2)) <= 2

    def test_knows_stemmed_terms(self, filled: Store) -> None:
        assert all(filled.knows(t) for t in terms("refineries helicopters"))
        assert not filled.knows(terms("zeppelins")[0])

    def test_every_ranking_respects_a_filter(self, filled: Store) -> None:
        allowed = filled.ids_where(ChunkFilter(article="budget"))
        assert allowed == {self.key_of(filled, "budget:0")}
        qvec = query("drones struck refineries")
        for ranking in (
            filled.dense(qvec, 5, allowed),
            filled.dense_windows(qvec, 5, allowed),
            filled.lexical("council budget parks", 5, allowed),
        ):
            assert ranking and {k for k, _ in ranking} <= allowed
        assert filled.lexical("drones", 5, allowed) == []

    def test_filters_by_article_title_and_source(self, filled: Store) -> None:
        talks = {self.key_of(filled, f"talks:{i}") for i in range(3)}
        assert filled.ids_where(ChunkFilter(article="talks")) == talks  # the article id
        assert filled.ids_where(ChunkFilter(article="Peace talks")) == talks  # part of the title
        assert filled.ids_where(ChunkFilter(source="talks.txt")) == talks  # the source's tail
        assert filled.ids_where(ChunkFilter("Peace", "budget.txt")) == set()
        assert len(filled.ids_where(ChunkFilter())) == 6

    def test_filter_text_matches_literally(self, store: Place, tmp_path: Path) -> None:
        """A % or _ in a filter is that character, not a LIKE wildcard; titles ignore case."""
        write(store, tmp_path)
        text = "Rates rose by 0.5% at the central bank."
        source = str(tmp_path / "rates_0.5%.txt")
        rates = Article("rates", "Rates up 0.5% at the_bank", text, source)
        with store.writer() as writer:
            writer.add(rates, embedded([Chunk("rates:0", "rates", 0, text, 0, len(text), 9)]))
            writer.commit()
        opened = store.open()
        only = {self.key_of(opened, "rates:0")}
        # As wildcards these would match every article: only the one holding them matches.
        assert opened.ids_where(ChunkFilter(article="%")) == only
        assert opened.ids_where(ChunkFilter(article="_")) == only
        assert opened.ids_where(ChunkFilter(source="%.txt")) == only
        assert opened.ids_where(ChunkFilter(article="RATES UP 0.5% AT THE_BANK")) == only
        assert opened.ids_where(ChunkFilter(source="RATES_0.5%.txt")) == set()  # a path
        for article_filter in ("_eace talks", "Peace%London"):
            assert opened.ids_where(ChunkFilter(article=article_filter)) == set(), article_filter
        assert opened.ids_where(ChunkFilter(source="_alks.txt")) == set()
        opened.close()

    def test_filters_by_date_leaving_out_articles_of_unknown_date(self, filled: Store) -> None:
        drones = {self.key_of(filled, f"drones:{i}") for i in range(2)}
        talks = {self.key_of(filled, f"talks:{i}") for i in range(3)}
        assert filled.ids_where(ChunkFilter(since="2025-03-01")) == drones | talks  # inclusive
        assert filled.ids_where(ChunkFilter(since="2025-03-02")) == talks
        assert filled.ids_where(ChunkFilter(until="2025-03-06")) == drones
        assert (
            filled.ids_where(ChunkFilter(since="2025-03-01", until="2025-03-07")) == drones | talks
        )
        assert filled.ids_where(ChunkFilter("Peace", until="2025-03-06")) == set()

    def test_article_metadata_comes_back_with_its_chunks(self, filled: Store) -> None:
        talks = filled.chunks([self.key_of(filled, "talks:0")]).popitem()[1]
        budget = filled.chunks([self.key_of(filled, "budget:0")]).popitem()[1]
        assert (talks.publisher, talks.published, talks.author) == (
            "The Desk",
            "2025-03-07",
            "Ann Lee",
        )
        assert talks.url == "https://desk.example/talks"
        assert (budget.published, budget.author) == (None, "")
        rows = {row["article_id"]: row for row in filled.articles()}
        assert (rows["talks"]["published"], rows["budget"]["published"]) == ("2025-03-07", None)

    def test_lead_gives_an_articles_first_chunks_in_order(self, filled: Store) -> None:
        keys = [self.key_of(filled, f"talks:{i}") for i in range(3)]
        assert filled.lead("talks", 2) == keys[:2]
        assert filled.lead("talks", 10) == keys and filled.lead("nothing", 3) == []

    def test_a_second_writer_adds_to_the_first(self, store: Place, tmp_path: Path) -> None:
        write(store, tmp_path, ["drones"])
        before = store.open()
        first = before.ids_where(ChunkFilter())
        before.close()
        assert write(store, tmp_path, ["talks"]) == {"articles": 2, "chunks": 5}
        opened = store.open()
        assert first < opened.ids_where(ChunkFilter()) and len(opened) == 5
        assert opened.lexical("refineries", 5) and opened.lexical("Uzbekistan", 5)
        opened.close()

    def test_removed_articles_leave_every_ranking(self, store: Place, tmp_path: Path) -> None:
        write(store, tmp_path)
        with store.writer() as writer:
            assert set(writer.sources()) == set(PASSAGES)
            writer.remove(["drones"])
            assert writer.commit() == {"articles": 2, "chunks": 4}
        opened = store.open()
        qvec = query("Ukrainian drones struck two refineries.")
        assert len(opened) == 4 and opened.ids_where(ChunkFilter(article="drones")) == set()
        assert opened.lexical("refineries", 5) == [] and not opened.knows(terms("refineries")[0])
        assert len(opened.dense(qvec, 10)) == 4
        assert {k for k, _ in opened.dense_windows(qvec, 10)} == opened.ids_where(ChunkFilter())
        opened.close()

    def test_a_moved_article_keeps_its_chunks(self, store: Place, tmp_path: Path) -> None:
        write(store, tmp_path, ["budget"])
        moved, _ = article("budget", tmp_path / "elsewhere")
        with store.writer() as writer:
            writer.move(moved)
            writer.commit()
        with store.writer() as writer:
            assert writer.sources() == {"budget": str(Path(moved.source).resolve())}
        opened = store.open()
        assert [a["source"] for a in opened.articles()] == [moved.source]
        assert len(opened) == 1
        opened.close()

    def test_nothing_is_visible_before_commit(self, store: Place, tmp_path: Path) -> None:
        write(store, tmp_path, ["budget"])
        with pytest.raises(RuntimeError, match="interrupted"), store.writer() as writer:
            writer.remove(["budget"])
            item, chunks = article("talks", tmp_path)
            writer.add(item, embedded(chunks))
            raise RuntimeError("interrupted")
        opened = store.open()
        assert [a["article_id"] for a in opened.articles()] == ["budget"] and len(opened) == 1
        opened.close()

    def test_rebuild_starts_empty(self, store: Place, tmp_path: Path) -> None:
        write(store, tmp_path)
        with store.writer(rebuild=True) as writer:
            assert writer.sources() == {}
            assert writer.commit() == {"articles": 0, "chunks": 0}

    def test_another_embedder_is_refused_and_another_chunker_rechunks_every_article(
        self, store: Place, tmp_path: Path
    ) -> None:
        write(store, tmp_path)
        other = IndexSettings("hash:64", 64, SETTINGS.chunker)
        with pytest.raises(IndexMismatch, match="hash:256"), store.writer(other):
            pass
        with store.writer() as writer:
            assert writer.stale() == []  # same settings: every chunk is kept
        rechunked = IndexSettings(SETTINGS.embedder, SETTINGS.dim, {"max_tokens": 100})
        with store.writer(rechunked) as writer:
            stale = writer.stale()
            assert [a.article_id for a in stale] == list(PASSAGES)  # kept, without chunks
            assert stale[1] == article("talks", tmp_path)[0]  # as written: text, title, ...
            assert set(writer.sources()) == set(PASSAGES)
            for item in stale[:2]:  # an article left without chunks is not findable: dropped
                writer.add(item, embedded(article(item.article_id, tmp_path)[1][:1]))
            assert writer.commit() == {"articles": 2, "chunks": 2}
        opened = store.open()
        assert opened.settings == rechunked and len(opened) == 2
        assert {a["article_id"]: a["chunks"] for a in opened.articles()} == {
            "drones": 1,
            "talks": 1,
        }
        opened.close()
