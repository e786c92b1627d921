"""Indexing throughput beside raw SentenceTransformer.encode on the same chunks.

    .venv/bin/python bench/indexing.py [PATH ...]

The ratio is our overhead: ingest, chunking, SQLite, FAISS, BM25 and atomic writes.
"""

from __future__ import annotations

import sys
import tempfile
import time

from rag.chunking import ChunkSettings, chunk_article
from rag.embedders import SentenceTransformerEmbedder, make_embedder
from rag.indexer import index_corpus
from rag.ingest import load_corpus


def main() -> None:
    paths = sys.argv[1:] or ["seeds"]
    embedder = make_embedder("minilm")
    assert isinstance(embedder, SentenceTransformerEmbedder)
    corpus = load_corpus(paths)
    fits = lambda text: embedder.token_count(text) <= embedder.max_tokens  # noqa: E731
    texts = [c.text for a in corpus.articles for c in chunk_article(a, ChunkSettings(), fits)]
    embedder.model.encode(texts[:8])  # load and warm up outside the timings

    started = time.perf_counter()
    embedder.model.encode(texts, batch_size=embedder.batch_size, show_progress_bar=False)
    raw = len(texts) / (time.perf_counter() - started)

    with tempfile.TemporaryDirectory() as tmp:
        report = index_corpus(paths, tmp, embedder, rebuild=True, progress=False)
        ours = report.chunks / report.seconds
        started = time.perf_counter()
        again = index_corpus(paths, tmp, embedder, progress=False)
        unchanged = time.perf_counter() - started
    print(f"chunks: {len(texts)} from {len(corpus.articles)} articles")
    print(f"raw SentenceTransformer.encode: {raw:.1f} chunks/s")
    print(f"rag index (end to end):        {ours:.1f} chunks/s  (ratio {ours / raw:.2f})")
    print(f"re-index unchanged corpus:     {unchanged:.2f} s, {again.embedded_chunks} embedded")


if __name__ == "__main__":
    main()
