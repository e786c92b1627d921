"""Indexing throughput beside raw SentenceTransformer.encode on the same chunks.

    .venv/bin/python bench/indexing.py [PATH ...]

The first ratio is the cost of everything beyond encoding the chunks: ingest, chunking,
encoding the sentence windows, SQLite, FAISS, BM25 and atomic writes. The second line
encodes the chunks and their windows raw, so the second ratio is our overhead alone.
"""

from __future__ import annotations

import sys
import tempfile
import time

from rag.index.chunking import ChunkSettings, chunk_article
from rag.index.embedders import SentenceTransformerEmbedder, make_embedder
from rag.index.indexer import index_corpus
from rag.index.windows import windows
from rag.ingest.files import load_corpus


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
    all_texts = texts + [w for t in texts for w in windows(t)]
    started = time.perf_counter()
    embedder.model.encode(all_texts, batch_size=embedder.batch_size, show_progress_bar=False)
    raw_all = len(texts) / (time.perf_counter() - started)

    with tempfile.TemporaryDirectory() as tmp:
        report = index_corpus(paths, tmp, embedder, rebuild=True, progress=False)
        ours = report.chunks / report.seconds
        started = time.perf_counter()
        again = index_corpus(paths, tmp, embedder, progress=False)
        unchanged = time.perf_counter() - started
    print(f"chunks: {len(texts)} from {len(corpus.articles)} articles")
    print(f"raw SentenceTransformer.encode: {raw:.1f} chunks/s")
    print(f"raw encode of chunks + {len(all_texts) - len(texts)} windows: {raw_all:.1f} chunks/s")
    print(
        f"rag index (end to end):        {ours:.1f} chunks/s  "
        f"(ratio {ours / raw:.2f} to chunks alone, {ours / raw_all:.2f} to chunks + windows)"
    )
    print(f"re-index unchanged corpus:     {unchanged:.2f} s, {again.embedded_chunks} embedded")


if __name__ == "__main__":
    main()
