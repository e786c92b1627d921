"""The report of a run: report.json for machines, report.md for people, failures.txt.

``report.json`` holds ``settings``, ``scores`` (overall), ``by_kind``, ``gate`` and
``questions`` (one record per question, as :class:`QuestionResult` plus
``citations_ok``), so ``rag eval --compare`` can read it back. ``scores`` and each
kind of ``by_kind`` also hold ``point_recall``, the mean over the questions scored by
key points (list, summary, why_how), None where there are none.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rag.evaluation import metrics
from rag.evaluation.gate import Check
from rag.evaluation.grade import QuestionResult
from rag.evaluation.overall import Scores

Row = tuple[str, ...]


def score_table(scores: Scores, results: Sequence[QuestionResult]) -> dict[str, Any]:
    """The overall scores, with ``point_recall`` after ``correct``."""
    table: dict[str, Any] = {}
    for name, value in scores.as_dict().items():
        table[name] = value
        if name == "correct":
            table["point_recall"] = mean_point_recall(results)
    return table


def kind_table(
    kinds: Mapping[str, dict[str, Any]], results: Sequence[QuestionResult]
) -> dict[str, dict[str, Any]]:
    """``by_kind`` with each kind's ``point_recall`` (None for kinds without points)."""
    return {
        kind: {**row, "point_recall": mean_point_recall([r for r in results if r.kind == kind])}
        for kind, row in kinds.items()
    }


def mean_point_recall(results: Sequence[QuestionResult]) -> float | None:
    """The mean point recall over the results that have points; None when none has."""
    return metrics.mean(r.point_recall for r in results if r.point_recall is not None)


def question_record(result: QuestionResult) -> dict[str, Any]:
    return {**asdict(result), "citations_ok": result.citations_ok}


def fmt(name: str, value: Any) -> str:
    if value is None:
        return "n/a"
    if name.startswith("latency"):
        return f"{value:.3f} s"
    if isinstance(value, int):
        return str(value)
    return f"{value:.3f}"


def score_rows(scores: Mapping[str, Any], checks: Sequence[Check] = ()) -> list[Row]:
    """(score, value, gate) rows; the gate column is empty for scores without a bound."""
    gate = {c.score: c for c in checks}
    rows: list[Row] = []
    for name, value in scores.items():
        check = gate.get(name)
        verdict = ""
        if check is not None:
            sign = ">=" if check.direction == "min" else "<="
            verdict = f"{sign} {check.bound:.2f} {'ok' if check.passed else 'FAIL'}"
        rows.append((name, fmt(name, value), verdict))
    return rows


def text_table(header: Row, rows: Sequence[Row]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return [
        "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip()
        for r in [header, *rows]
    ]


def md_table(header: Row, rows: Sequence[Row]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    return lines + ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in rows]


def markdown(report: Mapping[str, Any], checks: Sequence[Check], comparison: Sequence[str]) -> str:
    settings, scores = report["settings"], report["scores"]
    kinds = [
        (
            kind,
            str(v["questions"]),
            fmt("", v["hit_at_k"]),
            fmt("", v["correct"]),
            fmt("", v["abstained"]),
            fmt("", v.get("point_recall")),
        )
        for kind, v in report["by_kind"].items()
    ]
    failures = failure_lines_from(report["questions"])
    out = [
        f"# Evaluation report: {settings['backend']}",
        "",
        *md_table(("setting", "value"), [(k, str(v)) for k, v in settings.items()]),
        "",
        "## Scores",
        "",
        "![scores](chart.png)",
        "",
        *md_table(("score", "value", "gate"), score_rows(scores, checks)),
        "",
        "## Citation support: two rules and the judge",
        "",
        *md_table(("", "word overlap", "exact quote", "judge"), support_rows(scores)),
        "",
        f"The two rules agree on {fmt('', scores.get('rule_agreement'))} of the cited claims.",
        "",
        "## By kind",
        "",
        *md_table(("kind", "questions", "hit@k", "correct", "abstained", "point recall"), kinds),
        "",
        f"## Failures ({len(failures)})",
        "",
        *(f"- {line}" for line in failures),
        "",
    ]
    if comparison:
        out += ["## Compared with the earlier report", "", "```", *comparison, "```", ""]
    return "\n".join(out)


def support_rows(scores: Mapping[str, Any]) -> list[Row]:
    """Citation recall and precision by each rule and the judge, and agreement with the judge."""
    names = [
        ("citation recall", "citation_recall", "quote_recall", "judge_citation_recall"),
        ("citation precision", "citation_precision", "quote_precision", ""),
        ("agreement with the judge", "judge_agreement", "judge_quote_agreement", ""),
    ]
    return [(label, *(fmt("", scores.get(k)) if k else "" for k in keys)) for label, *keys in names]


def failure_lines_from(records: Sequence[Mapping[str, Any]]) -> list[str]:
    return [
        f"{r['id']} [{r['kind']}] {'; '.join(r['failures'])}{_points_note(r)}: "
        f"{r['question']} -> " + " ".join(r["answer"].split())[:160]
        for r in records
        if r["failures"]
    ]


def _points_note(record: Mapping[str, Any]) -> str:
    recall = record.get("point_recall")  # absent from reports written before points
    return "" if recall is None else f" (point recall {recall:.2f})"


def write_files(out_dir: Path, report: Mapping[str, Any], md: str) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    text = json.dumps(report, ensure_ascii=False, indent=2)
    (out_dir / "report.json").write_text(text + "\n", encoding="utf-8")
    (out_dir / "report.md").write_text(md, encoding="utf-8")
    lines = failure_lines_from(report["questions"])
    (out_dir / "failures.txt").write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
