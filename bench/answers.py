"""Time to first token, tokens/s and whole-answer time per backend on ten seed questions.

    .venv/bin/python bench/answers.py [--index index] [--backends local,extractive] [--trim 0,80]

``--trim`` compares the local model with whole passages (0) against passages trimmed to
their best sentences (N tokens each): the context-budget experiment in the README.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
from pathlib import Path

import rag
from rag.answerer import LLMAnswerer
from rag.llm.local import LocalLLM


def norm(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[^\w\s%]", "", text.lower())).strip()


def questions(n: int) -> list[dict[str, object]]:
    rows = [json.loads(line) for line in Path("eval/questions.jsonl").read_text().splitlines()]
    answerable = [r for r in rows if r["answerable"] and "history" not in r][: n - 2]
    return answerable + [r for r in rows if not r["answerable"]][:2]


def run(kb: rag.KnowledgeBase, backend: str, label: str, qs: list[dict[str, object]]) -> None:
    ttft, total, rates, right = [], [], [], 0
    for q in qs:
        answer = kb.ask(str(q["question"]), backend=backend)
        ok = (
            answer.abstained
            if not q["answerable"]
            else any(norm(str(a)) in norm(answer.text) for a in q["answers"])
        )  # type: ignore[attr-defined]
        right += ok
        first = answer.timings.get("first_token", answer.timings["total"])
        ttft.append(first)
        total.append(answer.timings["total"])
        gen = answer.timings["total"] - first
        if answer.tokens > 1 and gen > 0:
            rates.append((answer.tokens - 1) / gen)
        print(
            f"  [{'ok' if ok else '--'}] {first:6.2f}s {answer.timings['total']:6.2f}s "
            f"{q['question']!s:.60} -> {answer.text!s:.90}",
            flush=True,
        )
    rate = f"{statistics.median(rates):.1f}" if rates else "n/a"
    print(
        f"{label}: right {right}/{len(qs)}; time to first token median "
        f"{statistics.median(ttft):.2f}s; whole answer median {statistics.median(total):.2f}s, "
        f"max {max(total):.2f}s; generation {rate} pieces/s\n",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--index", default="index")
    parser.add_argument("--backends", default="extractive,local")
    parser.add_argument("--trim", default="0,80")
    parser.add_argument("-n", type=int, default=10)
    args = parser.parse_args()
    kb = rag.load(args.index)
    qs = questions(args.n)
    for backend in args.backends.split(","):
        if backend != "local":
            run(kb, backend, backend, qs)
            continue
        llm = LocalLLM()
        llm.load()
        for trim in (int(t) for t in args.trim.split(",")):
            kb.use_answerer(LLMAnswerer(llm, trim_tokens=trim or None))
            run(
                kb, "local", f"local, passages {'trimmed to ' + str(trim) if trim else 'whole'}", qs
            )


if __name__ == "__main__":
    main()
