"""A synthetic corpus of N chunks for the scale benchmarks, written as FAISS store indexes.

    from bench.synthetic import Corpus, build_indexes
    exact_dir, ivf_dir = build_indexes(Corpus(100_000), Path("bench/.cache"))

Nothing is embedded: texts are drawn from a word distribution and vectors are generated,
so a million chunks take minutes, not the 16 hours MiniLM would take here.

- Texts: about 150 words a chunk, drawn from the seeds' own words by their frequency
  (so real questions meet real document frequencies) plus a Zipf tail of made-up words
  (a big corpus has a long vocabulary); ten chunks an article.
- Vectors: unit vectors around N/100 topic centres, the centres grouped under 50
  broad subjects, all sharing one common direction (as a sentence embedder's vectors
  do): a chunk's ten nearest neighbours sit at a cosine of about 0.38, two unrelated
  chunks at about 0.04. That is harder for IVF than well-separated clusters (at 100k
  chunks it needs 16 of 632 cells probed for recall 0.98, not 1), so the latencies are
  on the cautious side. 3 to 5 sentence-window vectors a chunk, each near its chunk
  (cosine about 0.8).
- Held-out query vectors come from the same distribution (:meth:`Corpus.queries`), for
  recall; latency is measured with real questions embedded by the real model.

:func:`build_indexes` writes the same rows and BM25 into two index directories (hard
links), one with exact vector files and one with IVF files trained and tuned by
``rag.index.vectors.build_ivf`` (the function the writer uses), each with its manifest,
so ``FaissStore.open`` reads them as it reads any index. :func:`write_through` streams
the corpus through any store's writer instead (the hook for another store kind).
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from rag.index.atomic import sha256_file
from rag.index.base import EmbeddedChunk, IndexSettings, StoreWriter
from rag.index.bm25 import BM25
from rag.index.manifest import Manifest, generation_files
from rag.index.rows import ChunkRows
from rag.index.vectors import build_ivf, layout_of, new_exact, nlist_for
from rag.text.words import STOPWORDS, terms, tokens
from rag.types import Article, Chunk

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "bench" / ".cache"
DIM = 384  # MiniLM's
WORDS_PER_CHUNK = 150
CHUNKS_PER_ARTICLE = 10
BLOCK = 50_000  # chunks generated at a time
TAIL_WORDS = 50_000
SHARED, NOISE = 0.4, 1.6  # the common direction's weight; a chunk's noise against its topic
SETTINGS = IndexSettings("all-MiniLM-L6-v2", DIM, {"max_tokens": 200, "overlap_tokens": 40})


def _tail_words(n: int) -> list[str]:
    """Made-up words that are their own stems (so text and query agree on them)."""
    rng = np.random.default_rng(7)
    letters = np.array(list("bcdfghklmnprtvz")), np.array(list("aiou"))
    out: set[str] = set()
    while len(out) < n:
        syllables = rng.integers(2, 4)
        word = "".join(rng.choice(letters[0]) + rng.choice(letters[1]) for _ in range(syllables))
        if terms(word) == [word]:
            out.add(word)
    return sorted(out)


@dataclass(frozen=True)
class Corpus:
    """N synthetic chunks, generated the same way every time (seeded)."""

    chunks: int
    seed: int = 0

    @property
    def name(self) -> str:
        return f"synthetic-{self.chunks}"

    @cached_property
    def words(self) -> tuple[list[str], np.ndarray]:
        """The vocabulary and each word's probability."""
        seeds = Counter(
            w for p in sorted((ROOT / "seeds").iterdir()) for w in tokens(p.read_text())
        )
        seen = sorted(seeds, key=lambda w: (-seeds[w], w))
        tail = [w for w in _tail_words(TAIL_WORDS) if w not in seeds]
        weights = np.concatenate(
            [
                np.array([seeds[w] for w in seen], dtype=np.float64),
                # the tail carries a fifth of the mass, Zipf-distributed
                1.0 / np.arange(1, len(tail) + 1),
            ]
        )
        weights[len(seen) :] *= 0.25 * weights[: len(seen)].sum() / weights[len(seen) :].sum()
        return seen + tail, weights / weights.sum()

    @cached_property
    def centres(self) -> np.ndarray:
        """Topic centres (rows), each near one of 50 subjects, plus the common direction."""
        rng = np.random.default_rng(self.seed + 1)
        subjects = _unit(rng.standard_normal((50, DIM)))
        spread = _unit(rng.standard_normal((self.topics, DIM)))
        common = _unit(rng.standard_normal((1, DIM)))
        return SHARED * common + _unit(subjects[rng.integers(0, 50, self.topics)] + 0.6 * spread)

    @property
    def topics(self) -> int:
        return max(50, self.chunks // 100)

    def texts(self) -> Iterator[tuple[int, list[str]]]:
        """(first key, texts) a block at a time; keys are 1..N."""
        vocab, p = self.words
        words = np.asarray(vocab)
        for first in range(0, self.chunks, BLOCK):
            size = min(BLOCK, self.chunks - first)
            rng = np.random.default_rng([self.seed, first, 0])
            ids = rng.choice(len(vocab), size=(size, WORDS_PER_CHUNK), p=p)
            yield first + 1, [" ".join(row) for row in words[ids]]

    def vectors(self) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """(chunk vectors, window counts, window vectors) a block at a time, in key order
        (window ids 1..W in chunk order); cheap enough to generate again."""
        for first in range(0, self.chunks, BLOCK):
            size = min(BLOCK, self.chunks - first)
            rng = np.random.default_rng([self.seed, first, 1])
            topic = rng.integers(0, self.topics, size)
            noise = rng.standard_normal((size, DIM), dtype=np.float32) * (NOISE / np.sqrt(DIM))
            vectors = _unit(self.centres[topic] + noise)
            counts = rng.integers(3, 6, size)
            owners = np.repeat(np.arange(size), counts)
            near = rng.standard_normal((len(owners), DIM), dtype=np.float32)
            yield vectors, counts, _unit(vectors[owners] + near * (0.75 / np.sqrt(DIM)))

    def queries(self, n: int) -> np.ndarray:
        """Held-out vectors from the same distribution as the chunks."""
        rng = np.random.default_rng([self.seed, 10**9])
        topic = rng.integers(0, self.topics, n)
        noise = rng.standard_normal((n, DIM)) * (NOISE / np.sqrt(DIM))
        return _unit(self.centres[topic] + noise)


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def _article(first: int, texts: list[str]) -> tuple[Article, list[Chunk]]:
    article_id = f"s{first:08d}"
    text = "\n\n".join(texts)
    chunks, start = [], 0
    for ordinal, chunk_text in enumerate(texts):
        end = start + len(chunk_text)
        chunk_id = f"{article_id}:{ordinal}"
        chunks.append(Chunk(chunk_id, article_id, ordinal, chunk_text, start, end, 200))
        start = end + 2
    title = " ".join(texts[0].split()[:6])
    return Article(article_id, title, text, f"synthetic/{article_id}.txt", "Synthetic"), chunks


def articles(first: int, texts: list[str]) -> Iterator[tuple[int, Article, list[Chunk]]]:
    """A block's texts as articles of ten chunks: (first key, article, its chunks)."""
    for at in range(0, len(texts), CHUNKS_PER_ARTICLE):
        yield (first + at, *_article(first + at, texts[at : at + CHUNKS_PER_ARTICLE]))


def write_through(corpus: Corpus, writer: StoreWriter) -> dict[str, int]:
    """The corpus through any store's writer (slower than :func:`build_indexes`: a row at a
    time), committed; its counts."""
    for (first, texts), (vectors, counts, windows) in zip(
        corpus.texts(), corpus.vectors(), strict=True
    ):
        ends = np.cumsum(counts)
        for at, article, chunks in articles(first, texts):
            rows = range(at - first, at - first + len(chunks))
            writer.add(
                article,
                [
                    EmbeddedChunk(c, vectors[r], windows[ends[r] - counts[r] : ends[r]])
                    for c, r in zip(chunks, rows, strict=True)
                ],
            )
    return writer.commit()


def _bm25(texts_by_key: list[tuple[int, str]]) -> BM25:
    """BM25 of the corpus straight from its words (what ``BM25.build`` gives, faster:
    each distinct word is stemmed once)."""
    stems: dict[str, str | None] = {}
    term_of: dict[str, int] = {}
    rows, cols = [], []
    for row, (_, text) in enumerate(texts_by_key):
        for word in text.split():
            if word not in stems:
                found = [] if word in STOPWORDS else terms(word)
                stems[word] = found[0] if found else None
            stemmed = stems[word]
            if stemmed is not None:
                rows.append(row)
                cols.append(term_of.setdefault(stemmed, len(term_of)))
    vocab = sorted(term_of)
    rank = np.empty(len(vocab), dtype=np.int64)
    rank[[term_of[t] for t in vocab]] = np.arange(len(vocab))
    pairs = rank[np.asarray(cols, dtype=np.int64)] * len(texts_by_key) + np.asarray(rows)
    unique, tf = np.unique(pairs, return_counts=True)
    term_rank, doc = np.divmod(unique, len(texts_by_key))
    indptr = np.concatenate([[0], np.cumsum(np.bincount(term_rank, minlength=len(vocab)))])
    ids = np.asarray([k for k, _ in texts_by_key], dtype=np.int64)
    return BM25(ids, vocab, indptr, doc.astype(np.int32), tf.astype(np.float32))


def build_indexes(corpus: Corpus, cache: Path = CACHE) -> tuple[Path, Path]:
    """The corpus as two index directories, ``exact`` and ``ivf``; cached (a finished
    pair has both manifests)."""
    home = cache / corpus.name
    exact_dir, ivf_dir = home / "exact", home / "ivf"
    if (exact_dir / "manifest.json").is_file() and (ivf_dir / "manifest.json").is_file():
        return exact_dir, ivf_dir
    started = time.perf_counter()
    for d in (exact_dir, ivf_dir):
        d.mkdir(parents=True, exist_ok=True)
        (d / "manifest.json").unlink(missing_ok=True)
    files = generation_files(1)
    texts_by_key, indexes = _rows_and_vectors(corpus, exact_dir / files["chunks"])
    _bm25(texts_by_key).save(exact_dir / files["bm25"])
    for role, (exact, ivf) in indexes.items():
        faiss.write_index(exact, str(exact_dir / files[role]))
        faiss.write_index(ivf, str(ivf_dir / files[role]))
    for role in ("chunks", "bm25"):
        (ivf_dir / files[role]).unlink(missing_ok=True)
        os.link(exact_dir / files[role], ivf_dir / files[role])
    counts = {"articles": -(-corpus.chunks // CHUNKS_PER_ARTICLE), "chunks": corpus.chunks}
    for directory, pick in ((exact_dir, 0), (ivf_dir, 1)):
        layouts = {role: layout_of(pair[pick]).to_dict() for role, pair in indexes.items()}
        _manifest(directory, files, counts, layouts)  # last: the pair is finished
    print(f"  built {corpus.name} in {time.perf_counter() - started:.0f} s")
    return exact_dir, ivf_dir


def _rows_and_vectors(
    corpus: Corpus, db_path: Path
) -> tuple[list[tuple[int, str]], dict[str, tuple[faiss.Index, faiss.Index]]]:
    """Write the SQLite rows; the (key, text) pairs and each role's (exact, IVF) index."""
    db_path.unlink(missing_ok=True)
    rows = ChunkRows(sqlite3.connect(db_path))
    rows.create()
    exact = {"vectors": new_exact(DIM), "windows": new_exact(DIM)}
    texts_by_key: list[tuple[int, str]] = []
    window_id = 1
    for (first, texts), (vectors, counts, windows) in zip(
        corpus.texts(), corpus.vectors(), strict=True
    ):
        keys = np.arange(first, first + len(texts), dtype=np.int64)
        window_ids = np.arange(window_id, window_id + len(windows), dtype=np.int64)
        window_id += len(windows)
        for at, article, chunks in articles(first, texts):
            rows.insert_article(article)
            for key, chunk in enumerate(chunks, start=at):
                rows.insert_chunk(key, chunk)
        rows.insert_windows(zip(window_ids.tolist(), np.repeat(keys, counts).tolist(), strict=True))
        texts_by_key += zip(keys.tolist(), texts, strict=True)
        exact["vectors"].add_with_ids(vectors, keys)
        exact["windows"].add_with_ids(windows, window_ids)
    rows.db.commit()
    rows.db.close()
    built = {role: (index, _ivf(corpus, role, int(index.ntotal))) for role, index in exact.items()}
    return texts_by_key, built


def _ivf(corpus: Corpus, role: str, n: int) -> faiss.Index:
    """The role's IVF index by ``build_ivf`` (the writer's), over the vectors generated
    again, trained on the first block (topics are drawn at random: a random sample)."""

    def blocks() -> Iterator[tuple[np.ndarray, np.ndarray]]:
        first = 1
        for vectors, _, windows in corpus.vectors():
            block = vectors if role == "vectors" else windows
            yield np.arange(first, first + len(block), dtype=np.int64), block
            first += len(block)

    sample = next(blocks())
    started = time.perf_counter()
    index: Any = build_ivf(DIM, nlist_for(n), sample, blocks())
    print(f"  {role}: IVF of {n} vectors, {nlist_for(n)} cells, trained and filled "
          f"in {time.perf_counter() - started:.0f} s, nprobe {index.nprobe}")  # fmt: skip
    return index


def _manifest(
    directory: Path, files: dict[str, str], counts: dict[str, int], layouts: dict[str, dict]
) -> None:
    manifest = Manifest(
        embedder=SETTINGS.embedder,
        dim=DIM,
        chunker=SETTINGS.chunker,
        generation=1,
        files=files,
        checksums={name: sha256_file(directory / name) for name in files.values()},
        counts=counts,
        layouts=layouts,
    )
    (directory / "manifest.json").write_text(manifest.to_json())
