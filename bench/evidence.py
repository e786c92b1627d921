"""How much of the answer survives into what the local model reads, and at what size.

    .venv/bin/python bench/evidence.py [--index index] [--half tune|test]

For each answerable eval question whose answer string is in the top 5 passages,
checks whether it is still in the text the model is shown: the whole passages,
the passages trimmed to their best word-overlap tokens (the old way), or the best
N sentences by ``rag.answer.evidence`` (cosine + lexical share), and prints the share kept
beside the median and largest prompt size in tokens. Choose on ``--half tune``,
report on ``--half test``.
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Callable

import rag
from rag.answer.budget import trim_hit
from rag.answer.evidence import EvidenceSelector
from rag.answer.question import as_messages, standalone_query
from rag.evaluation.records import HALVES, load_questions
from rag.evaluation.text import contains_answer
from rag.text.tokens import count_tokens
from rag.types import Hit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", default="index")
    parser.add_argument("--half", choices=HALVES, default=None)
    args = parser.parse_args()
    kb = rag.load(args.index)
    cases = []
    for q in load_questions("eval/questions.jsonl", half=args.half):
        if not q.answerable:
            continue
        query = standalone_query(q.question, as_messages(q.history))
        hits = kb.search(query, k=5)
        if contains_answer(" ".join(h.text for h in hits), q.answers):
            cases.append((query, hits, q.answers))
    print(f"{len(cases)} answerable questions with the answer in the top 5 ({args.half or 'all'})")

    def run(name: str, show: Callable[[str, list[Hit]], str]) -> None:
        kept, sizes = 0, []
        for query, hits, answers in cases:
            text = show(query, hits)
            sizes.append(count_tokens(text))
            kept += contains_answer(text, answers)
        print(
            f"{name:34s} answer kept {kept:3d}/{len(cases)} ({kept / len(cases):.2f}), "
            f"tokens p50 {statistics.median(sizes):.0f}, max {max(sizes)}"
        )

    run("whole passages", lambda q, hits: " ".join(h.text for h in hits))
    for n in (40, 80, 120):
        run(f"trimmed to {n} tokens each", lambda q, hits, n=n: _trimmed(q, hits, n))
    for n in (3, 5, 6, 8, 12):
        for lexical in (0.0, 0.3):
            selector = EvidenceSelector(kb.embedder, sentences=n, lexical_weight=lexical)
            run(
                f"best {n} sentences, lexical {lexical}",
                lambda q, hits, s=selector: _shown(s, q, hits),
            )


def _trimmed(question: str, hits: list[Hit], n: int) -> str:
    return " ".join(trim_hit(h, question, n).text for h in hits)


def _shown(selector: EvidenceSelector, question: str, hits: list[Hit]) -> str:
    return " ".join(h.text for h in selector.shown(question, hits))


if __name__ == "__main__":
    main()
