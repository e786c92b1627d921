"""Indexing throughput end to end against the embedder's raw encode of the same texts.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/indexing.py [--rounds 5] [PATH ...]

The same texts: every chunk the indexer makes of PATH (default: the seeds) and its
sentence windows, encoded raw in one ``SentenceTransformer.encode`` call (which sorts
them by length itself). End to end: ``index_corpus`` with ``--rebuild`` into a fresh
directory, in this process (the model already loaded, as in a long-running service):
reading, cleaning, chunking, embedding, SQLite, FAISS, BM25, checksums and atomic writes.
The two alternate for ``--rounds`` rounds, so a neighbour's load on a shared machine falls
on both; the ratio is each round's, and their median.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

from rag.index.chunking import ChunkSettings, chunk_article
from rag.index.embedders import SentenceTransformerEmbedder, make_embedder
from rag.index.indexer import index_corpus
from rag.index.windows import windows
from rag.ingest.files import load_corpus


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="*", default=["seeds"])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    embedder = make_embedder("minilm")
    assert isinstance(embedder, SentenceTransformerEmbedder)
    corpus = load_corpus(args.paths)
    fits = lambda text: embedder.token_count(text) <= embedder.max_tokens  # noqa: E731
    chunks = [c.text for a in corpus.articles for c in chunk_article(a, ChunkSettings(), fits)]
    texts = chunks + [w for t in chunks for w in windows(t)]
    embedder.model.encode(texts[:64], show_progress_bar=False)  # load and warm up

    raw, ours = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(args.rounds):
            started = time.perf_counter()
            embedder.model.encode(texts, batch_size=embedder.batch_size, show_progress_bar=False)
            raw.append(len(chunks) / (time.perf_counter() - started))
            report = index_corpus(args.paths, f"{tmp}/{n}", embedder, rebuild=True, progress=False)
            assert report.chunks == len(chunks), (report.chunks, len(chunks))
            ours.append(report.chunks / report.seconds)
            print(f"round {n + 1}: raw {raw[-1]:.1f} chunks/s, rag index {ours[-1]:.1f} "
                  f"chunks/s, ratio {ours[-1] / raw[-1]:.2f}")  # fmt: skip
    ratios = [o / r for o, r in zip(ours, raw, strict=True)]
    print(f"{len(chunks)} chunks and {len(texts) - len(chunks)} windows "
          f"from {len(corpus.articles)} articles")  # fmt: skip
    print(f"raw encode of the same texts: median {statistics.median(raw):.1f} chunks/s")
    print(f"rag index end to end:         median {statistics.median(ours):.1f} chunks/s")
    print(f"ratio (median of the rounds): {statistics.median(ratios):.2f} "
          f"(min {min(ratios):.2f}, max {max(ratios):.2f})")  # fmt: skip


if __name__ == "__main__":
    main()
