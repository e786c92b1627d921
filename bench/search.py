"""Search latency p50/p95 on the seeds index and on a synthetic 100k-chunk index.

    .venv/bin/python bench/search.py [--index index] [--synthetic 100000]

The synthetic index holds random 384-d vectors (MiniLM's dimension), four
sentence-window vectors per chunk (as the seeds have), and BM25 text made of seed
words, so FAISS and BM25 do real work at that size; query embedding with MiniLM is
timed separately on the seeds index.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

import faiss
import numpy as np

import rag
from rag.index.bm25 import BM25
from rag.index.retrieval import Retriever, SearchOptions
from rag.index.store import SCHEMA, Manifest, Store, generation_files


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


def synthetic_store(directory: Path, n: int, dim: int, vocab: list[str]) -> Store:
    rng, files = random.Random(0), generation_files(1)
    vectors = np.random.default_rng(0).standard_normal((n, dim)).astype(np.float32)
    faiss.normalize_L2(vectors)
    index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
    index.add_with_ids(vectors, np.arange(1, n + 1, dtype=np.int64))
    faiss.write_index(index, str(directory / files["vectors"]))
    per_chunk = WINDOWS_PER_CHUNK
    windows = np.random.default_rng(1).standard_normal((n * per_chunk, dim)).astype(np.float32)
    faiss.normalize_L2(windows)
    window_index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
    window_index.add_with_ids(windows, np.arange(1, n * per_chunk + 1, dtype=np.int64))
    del windows
    faiss.write_index(window_index, str(directory / files["windows"]))
    texts = [" ".join(rng.choices(vocab, k=120)) for _ in range(n)]
    db = sqlite3.connect(directory / files["chunks"])
    db.executescript(SCHEMA)
    db.execute("INSERT INTO articles VALUES ('a', 'Synthetic', 'synthetic', '', '', 0, '')")
    db.executemany(
        "INSERT INTO chunks VALUES (?, ?, 'a', ?, ?, 0, 0, 0)",
        [(i + 1, f"a:{i}", i, t) for i, t in enumerate(texts)],
    )
    db.executemany(
        "INSERT INTO windows VALUES (?, ?)",
        [(w + 1, w // per_chunk + 1) for w in range(n * per_chunk)],
    )
    db.commit()
    db.close()
    BM25.build(enumerate(texts, start=1)).save(directory / files["bm25"])
    from rag.index.atomic import sha256_file

    manifest = Manifest("synthetic", dim, {}, 1, files,
                        {f: sha256_file(directory / f) for f in files.values()})  # fmt: skip
    return Store(directory, manifest)


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
        vocab = sorted(
            {w for r in kb.store.db.execute("SELECT text FROM chunks") for w in r[0].split()}
        )
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
