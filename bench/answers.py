"""Time to first token, tokens/s and whole-answer time per backend on ten seed questions.

    .venv/bin/python bench/answers.py [--index index] [--backends local,extractive]
                                      [--variants evidence,80,0]

``--variants`` runs the local model as the backend does now (``evidence``: the best
sentences, the P(yes) gate, no refusal exit) and the older ways: passages trimmed to
their best N tokens (a number), or whole (0), with the refusal-exit prompt.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
from pathlib import Path

import rag
from rag.answerer import LLMAnswerer
from rag.backends import LOCAL_MIN_P_YES
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
    parser.add_argument("--variants", default="evidence,80")
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
        for variant in args.variants.split(","):
            kb.use_answerer(local_answerer(llm, variant))
            run(kb, "local", f"local, {LABELS.get(variant, f'passages trimmed to {variant}')}", qs)


LABELS = {"evidence": "evidence first", "0": "whole passages"}


def local_answerer(llm: LocalLLM, variant: str) -> LLMAnswerer:
    if variant == "evidence":
        return LLMAnswerer(llm, evidence_first=True, min_p_yes=LOCAL_MIN_P_YES)
    return LLMAnswerer(llm, trim_tokens=int(variant) or None)


if __name__ == "__main__":
    main()
