"""Accuracy beside time to first token and whole-answer time, per answer variant.

    .venv/bin/python bench/answers.py [--index index] [--half tune|test] [--limit 40]
                                      [--variants evidence,evidence:6:0.3,80,extractive]

Questions come from eval/questions.jsonl (follow-ups left out: they need a conversation),
spread like ``rag eval --limit``; each is scored by the eval's own rules (an accepted
answer string, or half the key points of a list/summary/why-how question; abstaining on
an unanswerable one). Variants:

- ``evidence`` — the local backend as shipped (rag.answer.backends: the best sentences, the
  P(yes) gate, no refusal exit); ``evidence:S:L`` the same with ``S`` sentences and
  lexical weight ``L`` (rag.answer.evidence);
- a number ``N`` — the older way: passages trimmed to their best N tokens (0: whole),
  with the refusal-exit prompt;
- ``extractive`` — the no-LLM backend.

Prints one line per answer, then a table: right (answerable), false refusals, refusals
of unanswerable questions, time to first token p50/p95 and whole answer p50. Time
llama.cpp on an idle machine: anything else on two cores slows it 3-10x.
"""

from __future__ import annotations

import argparse
import statistics
from dataclasses import dataclass, field

import rag
from rag.answer.answerers import LLMAnswerer
from rag.answer.backends import LOCAL_MIN_P_YES
from rag.answer.evidence import LEXICAL_WEIGHT, SENTENCES, EvidenceSelector
from rag.evaluation.grade import is_right
from rag.evaluation.metrics import percentile
from rag.evaluation.records import HALVES, Question, load_questions, spread
from rag.llm.local import LocalLLM
from rag.types import Answer


@dataclass
class Tally:
    label: str
    right: int = 0
    answerable: int = 0
    false_refusals: int = 0
    caught: int = 0
    unanswerable: int = 0
    ttft: list[float] = field(default_factory=list)
    total: list[float] = field(default_factory=list)

    def add(self, q: Question, answer: Answer) -> bool:
        self.ttft.append(answer.timings.get("first_token", answer.timings["total"]))
        self.total.append(answer.timings["total"])
        if not q.answerable:
            self.unanswerable += 1
            self.caught += answer.abstained
            return answer.abstained
        self.answerable += 1
        self.false_refusals += answer.abstained
        ok = is_right(q, answer.text, answer.abstained)
        self.right += ok
        return ok

    def row(self) -> str:
        return (
            f"| {self.label} | {self.right}/{self.answerable} | {self.false_refusals}/"
            f"{self.answerable} | {self.caught}/{self.unanswerable} | "
            f"{statistics.median(self.ttft):.1f} s | {percentile(self.ttft, 95) or 0:.1f} s | "
            f"{statistics.median(self.total):.1f} s |"
        )


def run(kb: rag.KnowledgeBase, backend: str, label: str, qs: list[Question]) -> Tally:
    tally = Tally(label)
    for q in qs:
        answer = kb.ask(q.question, backend=backend)
        ok = tally.add(q, answer)
        first = answer.timings.get("first_token", answer.timings["total"])
        print(
            f"  [{'ok' if ok else '--'}] {q.id} {first:6.2f}s {answer.timings['total']:6.2f}s "
            f"{q.question:.55} -> {' '.join(answer.text.split()):.80}",
            flush=True,
        )
    return tally


def configure(kb: rag.KnowledgeBase, llm: LocalLLM, variant: str) -> tuple[str, str]:
    """Set ``kb`` up for one variant; returns (backend name, label)."""
    if variant == "extractive":
        return "extractive", "extractive"
    name, _, rest = variant.partition(":")
    if name == "evidence":
        sentences, _, lexical = rest.partition(":")
        n = int(sentences or SENTENCES)
        weight = float(lexical or LEXICAL_WEIGHT)
        kb.selector = EvidenceSelector(kb.embedder, sentences=n, lexical_weight=weight)
        kb.use_answerer(LLMAnswerer(llm, evidence_first=True, min_p_yes=LOCAL_MIN_P_YES))
        return "local", f"local, evidence first, {n} sentences, lexical {weight:g}"
    kb.use_answerer(LLMAnswerer(llm, trim_tokens=int(variant) or None))
    return "local", f"local, passages trimmed to {variant}" if int(variant) else "local, whole"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--index", default="index")
    parser.add_argument("--questions", default="eval/questions.jsonl")
    parser.add_argument("--half", choices=HALVES, default=None)
    parser.add_argument("--limit", type=int, default=20, help="questions, spread over the file")
    parser.add_argument("--variants", default="evidence,extractive")
    args = parser.parse_args()
    kb = rag.load(args.index)
    pool = [q for q in load_questions(args.questions, half=args.half) if not q.history]
    qs = spread(pool, args.limit)
    llm = LocalLLM()
    tallies = []
    for variant in args.variants.split(","):
        backend, label = configure(kb, llm, variant.strip())
        if backend == "local":
            llm.load()
        print(f"{label} ({len(qs)} questions, {args.half or 'both halves'})", flush=True)
        tallies.append(run(kb, backend, label, qs))
    print(
        "\n| variant | right | false refusals | unanswerable refused | first token p50 "
        "| p95 | whole answer p50 |\n|---|---|---|---|---|---|---|"
    )
    for tally in tallies:
        print(tally.row())
    llm.close()


if __name__ == "__main__":
    main()
