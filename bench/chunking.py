"""Which chunk size and overlap retrieve best? Prints hit@5 and MRR per setting and mode.

    .venv/bin/python bench/chunking.py [--questions eval/questions.jsonl] [--rrf-k 10]
                                       [--settings 200/40 ...]

Builds a throw-away MiniLM index of seeds/ per setting; the evidence span of
each answerable question must lie inside a retrieved chunk. The last column is
hybrid hit@5 over the "paraphrase" questions alone.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import rag
from rag.index.chunking import ChunkSettings
from rag.index.embedders import make_embedder
from rag.index.retrieval import SearchOptions

SETTINGS = [(96, 24), (128, 32), (160, 32), (200, 40), (240, 48)]


def norm(text: str) -> str:
    return " ".join(text.split())


def score(
    kb: rag.KnowledgeBase, questions: list[dict[str, str]], mode: str, rrf_k: int
) -> tuple[float, float]:
    hits_at_5, rr = 0, 0.0
    for q in questions:
        hits = kb.retriever.search(q["question"], SearchOptions(k=5, mode=mode, rrf_k=rrf_k))
        ranks = [i for i, h in enumerate(hits, 1) if norm(q["evidence"]) in norm(h.text)]
        hits_at_5 += bool(ranks)
        rr += 1 / ranks[0] if ranks else 0.0
    return hits_at_5 / len(questions), rr / len(questions)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--questions", default="eval/questions.jsonl")
    parser.add_argument("--rrf-k", type=int, default=SearchOptions().rrf_k)
    parser.add_argument("--settings", nargs="*", default=[f"{m}/{o}" for m, o in SETTINGS])
    args = parser.parse_args()
    rows = [json.loads(line) for line in Path(args.questions).read_text().splitlines()]
    questions = [r for r in rows if r["answerable"] and "history" not in r]
    paraphrases = [q for q in questions if q.get("kind") == "paraphrase"]
    embedder = make_embedder("minilm")
    print(f"{len(questions)} answerable questions; hit@5 / MRR; rrf_k={args.rrf_k}")
    print(f"{'max':>4} {'ovl':>4} {'chunks':>6}  {'hybrid':>13}  {'dense':>13}  {'bm25':>13}  para")
    for setting in args.settings:
        max_tokens, overlap = (int(x) for x in setting.split("/"))
        with tempfile.TemporaryDirectory() as tmp:
            started = time.perf_counter()
            kb = rag.build(
                "seeds",
                tmp,
                embedder=embedder,
                progress=False,
                settings=ChunkSettings(max_tokens, overlap),
            )
            modes = ("hybrid", "dense", "bm25")
            cells = [score(kb, questions, mode, args.rrf_k) for mode in modes]
            line = "  ".join(f"{h:.3f} / {m:.3f}" for h, m in cells)
            line += f"  {score(kb, paraphrases, 'hybrid', args.rrf_k)[0]:.3f}"
            print(
                f"{max_tokens:>4} {overlap:>4} {len(kb.store):>6}  {line}  "
                f"({time.perf_counter() - started:.0f}s)",
                flush=True,
            )


if __name__ == "__main__":
    main()
