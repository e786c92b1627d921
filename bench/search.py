"""Search latency p50/p95 on the seeds index and on a synthetic 100k-chunk index.

    .venv/bin/python bench/search.py [--index index] [--synthetic 100000]

The synthetic index holds random 384-d vectors (MiniLM's dimension), four
sentence-window vectors per chunk (as the seeds have), and BM25 text made of seed
words, written by the FAISS store's writer, so FAISS and BM25 do real work at that
size; query embedding with MiniLM is timed separately on the seeds index.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

import rag
from rag.index.base import EmbeddedChunk, IndexSettings, Store
from rag.index.faiss_store import FaissStore
from rag.index.faiss_writer import FaissWriter
from rag.index.retrieval import Retriever, SearchOptions
from rag.types import Article, Chunk


def percentiles(samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    p95 = ms[min(len(ms) - 1, int(0.95 * len(ms)))]
    return f"p50 {statistics.median(ms):.1f} ms, p95 {p95:.1f} ms (n={len(ms)})"


def timed(fn, questions):  # type: ignore[no-untyped-def]
    out = []
    for q in questions:
        started = time.perf_counter()
        fn(q)
        out.append(time.perf_counter() - started)
    return out


class FixedEmbedder:
    """Random unit query vectors: the synthetic index has no model behind it."""

    name, max_tokens = "synthetic", 512

    def __init__(self, dim: int) -> None:
        self.dim, self._rng = dim, np.random.default_rng(1)

    def embed(self, texts: list[str]) -> np.ndarray:
        v = self._rng.standard_normal((len(texts), self.dim)).astype(np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    def token_count(self, text: str) -> int:
        return len(text.split())


WINDOWS_PER_CHUNK = 4  # the seeds index has 264 windows for 70 chunks
CHUNKS_PER_ARTICLE = 1000


def synthetic_store(directory: Path, n: int, dim: int, vocab: list[str]) -> Store:
    """``n`` chunks of random words with random unit vectors, written by the FAISS writer."""
    rng, vectors = random.Random(0), np.random.default_rng(0)
    with FaissWriter.open(directory, IndexSettings("synthetic", dim, {}), rebuild=True) as writer:
        for first in range(0, n, CHUNKS_PER_ARTICLE):
            size = min(CHUNKS_PER_ARTICLE, n - first)
            article = Article(f"a{first}", "Synthetic", "", "synthetic")
            chunks = [
                EmbeddedChunk(
                    Chunk(f"{article.article_id}:{i}", article.article_id, i, text, 0, 0, 0),
                    _unit(vectors, 1, dim)[0],
                    _unit(vectors, WINDOWS_PER_CHUNK, dim),
                )
                for i, text in enumerate(" ".join(rng.choices(vocab, k=120)) for _ in range(size))
            ]
            writer.add(article, chunks)
        writer.commit()
    return FaissStore.open(directory)


def _unit(rng: np.random.Generator, rows: int, dim: int) -> np.ndarray:
    v = rng.standard_normal((rows, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--index", default="index")
    parser.add_argument("--synthetic", type=int, default=100_000)
    args = parser.parse_args()
    rows = [json.loads(line) for line in Path("eval/questions.jsonl").read_text().splitlines()]
    questions = [r["question"] for r in rows][:100]
    kb = rag.load(args.index)
    kb.search(questions[0])  # load the model outside the timings
    print(f"seeds index ({len(kb.store)} chunks), hybrid k=5: "
          f"{percentiles(timed(lambda q: kb.search(q, k=5), questions))}")  # fmt: skip
    embed = timed(lambda q: kb.embedder.embed([q]), questions)
    print(f"  of which MiniLM query embedding: {percentiles(embed)}")
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        every = kb.store.chunks(sorted(kb.store.ids_where(None, None))).values()
        vocab = sorted({w for item in every for w in item.chunk.text.split()})
        store = synthetic_store(Path(tmp), args.synthetic, kb.embedder.dim, vocab)
        print(
            f"synthetic index of {len(store)} chunks built in {time.perf_counter() - started:.0f} s"
        )
        retriever = Retriever(store, FixedEmbedder(kb.embedder.dim))  # type: ignore[arg-type]
        for mode in ("hybrid", "dense", "bm25"):
            opts = SearchOptions(k=5, mode=mode)
            lat = timed(lambda q, o=opts: retriever.search(q, o), questions)
            print(f"  {mode:>6} k=5 (query embedding excluded): {percentiles(lat)}")


if __name__ == "__main__":
    main()
