"""Re-score a saved report.json with the exact-quote rule, without asking any model.

Each claim of the report keeps its answer, its cited chunk ids and the verdicts the run
gave it (word-overlap rule, judge); the texts of its chunks are read from the index by
id, the exact-quote verdicts (:mod:`rag.evaluation.quotes`) are worked out again, and
every overall score is recomputed from the records. Example::

    python -m rag.evaluation.requote /tmp/ev-test/report.json --index index
    python -m rag.evaluation.requote OLD/report.json --out NEW/report.json  # keep the result

The index must be the one the run used (chunk ids name an article's text and a position):
a chunk id it does not hold is an error.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

from rag.errors import InputError, RagError
from rag.evaluation import metrics
from rag.evaluation import report as rep
from rag.evaluation.compare import load_report
from rag.evaluation.grade import QuestionResult
from rag.evaluation.overall import by_kind, overall
from rag.evaluation.support import ClaimScore, quote_claim
from rag.index.base import ChunkFilter
from rag.index.store import locate, open_store

SHOWN = (
    "citation_recall",
    "citation_precision",
    "quote_recall",
    "quote_precision",
    "rule_agreement",
    "judge_agreement",
    "judge_quote_agreement",
)


def chunk_texts(index: str | Path, store_url: str | None = None) -> dict[str, str]:
    """chunk id -> chunk text, for every chunk of the index (``store_url``: another store,
    ``rag.index.store.locate``)."""
    where = locate(store_url, index)
    store = open_store(where.kind, where.location)
    try:
        every = store.chunks(sorted(store.ids_where(ChunkFilter()))).values()
        return {item.chunk.chunk_id: item.chunk.text for item in every}
    finally:
        store.close()


def requote(report: Mapping[str, Any], texts: Mapping[str, str]) -> dict[str, Any]:
    """The report with exact-quote verdicts on every claim and its scores recomputed."""
    results = [result_from(record) for record in report["questions"]]
    missing = sorted({i for r in results for c in r.claims for i in c.chunk_ids} - texts.keys())
    if missing:
        shown = ", ".join(missing[:5]) + (", ..." if len(missing) > 5 else "")
        raise InputError(
            f"the index lacks {len(missing)} chunk(s) the report cites ({shown}): "
            "rescore with the index the run used"
        )
    for result in results:
        for claim in result.claims:
            quote_claim(claim, [texts[i] for i in claim.chunk_ids])
        result.quote_recall = metrics.quote_recall(result.claims)
        result.quote_precision = metrics.quote_precision(result.claims)
    return {
        **report,
        "scores": rep.score_table(overall(results), results),
        "by_kind": rep.kind_table(by_kind(results), results),
        "questions": [rep.question_record(r) for r in results],
    }


def result_from(record: Mapping[str, Any]) -> QuestionResult:
    """A question record of report.json back as a QuestionResult (fields it lacks: defaults)."""
    claim_fields = {f.name for f in fields(ClaimScore)}
    claims = [
        ClaimScore(**{k: v for k, v in c.items() if k in claim_fields}) for c in record["claims"]
    ]
    kept = {f.name: record[f.name] for f in fields(QuestionResult) if f.name in record}
    return QuestionResult(**{**kept, "claims": claims})


def summary(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """The citation scores as the run saved them and as re-scored, one line each."""
    rows = [
        (name, rep.fmt(name, old["scores"].get(name)), rep.fmt(name, new["scores"].get(name)))
        for name in SHOWN
    ]
    return rep.text_table(("score", "saved", "re-scored"), rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rag.evaluation.requote")
    parser.add_argument("report", help="a report.json written by rag eval")
    parser.add_argument("--index", default="index", help="the index the run used")
    parser.add_argument("--store", default=None, help="the store URL the run used, if not --index")
    parser.add_argument("--out", help="write the re-scored report.json here")
    args = parser.parse_args(argv)
    try:
        old = load_report(args.report)
        new = requote(old, chunk_texts(args.index, args.store))
    except RagError as exc:
        print(f"requote: error: {exc}", file=sys.stderr)
        return 2
    questions = new["settings"].get("questions_run", len(new["questions"]))
    print(f"{args.report}: {new['settings'].get('backend')}, {questions} questions")
    print("\n".join(summary(old, new)))
    if args.out:
        text = json.dumps(new, ensure_ascii=False, indent=2)
        Path(args.out).write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
