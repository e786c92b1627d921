"""Our BM25 (rag/index/bm25.py) against the bm25s package on the same corpus and queries.

    .venv/bin/pip install bm25s==0.3.16
    HF_HUB_OFFLINE=1 .venv/bin/python bench/bm25.py --chunks 1000000

Both index the same stemmed terms (``rag.text.words.terms``) of a synthetic corpus
(``bench/synthetic.py``, the cached one if built) and score the eval questions with
k1=1.2, b=0.75 and Lucene's idf; bm25s (Lucene variant) leaves out the (k1 + 1) factor,
so its scores are ours divided by 2.2. Printed: per-query p50/p95 of the top 50 for each,
and whether the top 50 ids and scores agree.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synthetic import Corpus

from rag.index.bm25 import BM25
from rag.text.words import STOPWORDS, terms

ROOT = Path(__file__).resolve().parent.parent


def p50_p95(samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    return f"p50 {statistics.median(ms):.1f} ms, p95 {ms[int(0.95 * (len(ms) - 1))]:.1f} ms"


def main() -> None:
    import bm25s  # an optional comparison: not a dependency of rag-news

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chunks", type=int, default=100_000)
    args = parser.parse_args()
    lines = (ROOT / "eval" / "questions.jsonl").read_text().splitlines()
    questions = [json.loads(line)["question"] for line in lines][:100]
    stems: dict[str, list[str]] = {}
    docs: list[list[str]] = []
    texts: list[tuple[int, str]] = []
    for first, block in Corpus(args.chunks).texts():
        for key, text in enumerate(block, start=first):
            texts.append((key, text))
            words = text.split()
            for w in words:
                if w not in stems:
                    stems[w] = [] if w in STOPWORDS else terms(w)
            docs.append([t for w in words for t in stems[w]])
    started = time.perf_counter()
    ours = BM25.build(texts)
    print(f"{args.chunks:,} chunks: ours built in {time.perf_counter() - started:.0f} s")
    started = time.perf_counter()
    theirs = bm25s.BM25(k1=1.2, b=0.75, method="lucene")
    theirs.index(docs, show_progress=False)
    print(f"bm25s {bm25s.__version__} indexed in {time.perf_counter() - started:.0f} s")
    timing: dict[str, list[float]] = {"ours": [], "bm25s": []}
    same_ids = same_scores = 0
    for q in questions:
        started = time.perf_counter()
        mine = ours.top(q, 50)
        timing["ours"].append(time.perf_counter() - started)
        started = time.perf_counter()
        query = list(dict.fromkeys(terms(q)))  # ours counts a repeated term once
        ids, scores = theirs.retrieve([query], k=50, show_progress=False, n_threads=1)
        timing["bm25s"].append(time.perf_counter() - started)
        got = [(int(i) + 1, float(s) * 2.2) for i, s in zip(ids[0], scores[0], strict=True)]
        got = [(k, s) for k, s in got if s > 0]
        same_ids += {k for k, _ in mine} == {k for k, _ in got}
        want = sorted(s for _, s in mine)
        same_scores += len(want) == len(got) and np.allclose(want, sorted(s for _, s in got), 1e-4)
    print(f"ours:  {p50_p95(timing['ours'])}")
    print(f"bm25s: {p50_p95(timing['bm25s'])}")
    n = len(questions)
    print(f"same top-50 ids: {same_ids}/{n} questions; same scores: {same_scores}/{n}")


if __name__ == "__main__":
    main()
