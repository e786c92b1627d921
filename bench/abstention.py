"""Calibrate the evidence gate: best-hit cosine for answerable vs unanswerable questions.

    .venv/bin/python bench/abstention.py [--index index]

Prints both distributions and, per candidate threshold, how many answerable
questions it would wrongly refuse and how many unanswerable ones it would catch.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

import rag
from rag.answer.question import as_messages, standalone_query


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--index", default="index")
    args = parser.parse_args()
    kb = rag.load(args.index)
    rows = [json.loads(line) for line in Path("eval/questions.jsonl").read_text().splitlines()]
    best: dict[bool, list[float]] = {True: [], False: []}
    for row in rows:
        query = standalone_query(row["question"], as_messages(row.get("history")))
        hits = kb.search(query, k=5)
        best[row["answerable"]].append(max(h.dense_score for h in hits))
    for answerable, scores in best.items():
        q = np.percentile(scores, [0, 5, 25, 50, 75, 100])
        label = "answerable" if answerable else "unanswerable"
        print(f"{label:>12} (n={len(scores)}): " + " ".join(f"{v:.2f}" for v in q))
    print("threshold  false-refusals  caught-unanswerable")
    for t in np.arange(0.15, 0.55, 0.05):
        fr = sum(s < t for s in best[True])
        caught = sum(s < t for s in best[False])
        print(f"{t:9.2f}  {fr:>4}/{len(best[True])}  {caught:>4}/{len(best[False])}")


if __name__ == "__main__":
    main()
