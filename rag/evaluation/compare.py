"""Compare two report.json files: what got better and worse, question by question.

>>> old = {"scores": {"correct": 0.5}, "questions": [
...     {"id": "q1", "answerable": True, "hit": True, "correct": False, "abstained": False}]}
>>> new = {"scores": {"correct": 0.75}, "questions": [
...     {"id": "q1", "answerable": True, "hit": True, "correct": True, "abstained": False}]}
>>> format_comparison(compare(old, new))
['better (1):', '  q1 answer: wrong -> correct', 'worse (0):', 'overall:', \
'  correct: 0.500 -> 0.750 (+0.250, better)']
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rag.errors import InputError
from rag.evaluation.overall import LOWER_IS_BETTER, NEUTRAL, SCORE_NAMES

# status -> (label, text when False, text when True); True is the good state.
STATUSES = {
    "hit": ("retrieval", "evidence missed", "evidence retrieved"),
    "correct": ("answer", "wrong", "correct"),
    "refusal_ok": ("refusal", "wrong call", "right call"),
    "citations_ok": ("citations", "unsupported", "supported"),
}


@dataclass(frozen=True)
class Change:
    id: str
    status: str  # a key of STATUSES
    new: bool  # the new state; the old one was its opposite
    detail: str = ""  # what the system did, e.g. "answered -> refused"

    def describe(self) -> str:
        label, bad, good = STATUSES[self.status]
        before, after = (bad, good) if self.new else (good, bad)
        return f"{self.id} {label}: {before} -> {after}{self.detail}"


@dataclass
class Comparison:
    better: list[Change] = field(default_factory=list)
    worse: list[Change] = field(default_factory=list)
    deltas: dict[str, tuple[float, float]] = field(default_factory=dict)  # score -> (old, new)
    only_old: list[str] = field(default_factory=list)  # question ids missing from the new run
    only_new: list[str] = field(default_factory=list)


def load_report(path: str | Path) -> dict[str, Any]:
    """A report.json written by ``rag eval``; InputError when it is not one."""
    file = Path(path)
    try:
        report = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read the report to compare with {str(file)!r}: {exc}") from exc
    if not isinstance(report, dict) or not {"scores", "questions"} <= report.keys():
        raise InputError(f"{str(file)!r} is not a report.json of rag eval (no scores/questions)")
    return report


def status(record: dict[str, Any]) -> dict[str, bool | None]:
    """The four pass/fail states of one question record (None where one does not apply)."""
    return {
        "hit": record.get("hit"),
        "correct": record.get("correct"),
        "refusal_ok": bool(record.get("abstained")) != bool(record.get("answerable")),
        "citations_ok": record.get("citations_ok"),
    }


def compare(old: dict[str, Any], new: dict[str, Any]) -> Comparison:
    before = {r["id"]: r for r in old["questions"]}
    after = {r["id"]: r for r in new["questions"]}
    result = Comparison(
        only_old=sorted(before.keys() - after.keys()), only_new=sorted(after.keys() - before.keys())
    )
    for qid in (i for i in after if i in before):
        for change in _changes(qid, before[qid], after[qid]):
            (result.better if change.new else result.worse).append(change)
    for name in SCORE_NAMES:
        a, b = old["scores"].get(name), new["scores"].get(name)
        if a is not None and b is not None:
            result.deltas[name] = (a, b)
    return result


def _changes(qid: str, old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    a, b = status(old), status(new)
    out = []
    for key in STATUSES:
        if a[key] is not None and b[key] is not None and a[key] != b[key]:
            detail = ""
            if key == "refusal_ok":
                did = ["answered", "refused"]
                was, now = bool(old.get("abstained")), bool(new.get("abstained"))
                detail = f" ({did[was]} -> {did[now]})"
            out.append(Change(qid, key, bool(b[key]), detail))
    return out


def format_comparison(comparison: Comparison) -> list[str]:
    lines = [f"better ({len(comparison.better)}):"]
    lines += [f"  {c.describe()}" for c in comparison.better]
    lines.append(f"worse ({len(comparison.worse)}):")
    lines += [f"  {c.describe()}" for c in comparison.worse]
    if comparison.only_old or comparison.only_new:
        lines.append(
            f"only in the old run: {', '.join(comparison.only_old) or '-'}; "
            f"only in the new run: {', '.join(comparison.only_new) or '-'}"
        )
    lines.append("overall:")
    for name, (a, b) in comparison.deltas.items():
        delta = f"{b - a:+d}" if isinstance(b - a, int) else f"{b - a:+.3f}"
        lines.append(f"  {name}: {_num(a)} -> {_num(b)} ({delta}, {_verdict(name, b - a)})")
    return lines


def _num(value: float) -> str:
    return str(value) if isinstance(value, int) else f"{value:.3f}"  # counts stay counts


def _verdict(name: str, delta: float) -> str:
    if abs(delta) < 1e-9:
        return "same"
    if name in NEUTRAL:
        return "changed"
    return "better" if (delta < 0) == (name in LOWER_IS_BETTER) else "worse"
