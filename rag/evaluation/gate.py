"""The gate: scores against the thresholds in eval/thresholds.json, per backend.

The file maps a backend to ``{"min": {score: bound}, "max": {score: bound}}``:
a score in ``min`` fails below its bound, one in ``max`` fails above it. ``"ids"``, when
present, lists the questions the bounds were measured on: ``rag eval --gate`` runs those
(unless ``--ids``, ``--limit`` or ``--half`` choose others). Other keys (``"note"``,
``"limit"``) are for people. A score that the run could not measure (None, e.g. refusal
recall on a slice without unanswerable questions) is skipped.

>>> check_gate({"hit_at_k": 0.9, "false_refusal_rate": 0.2},
...            {"min": {"hit_at_k": 0.95}, "max": {"false_refusal_rate": 0.3}})[0]
Check(score='hit_at_k', value=0.9, bound=0.95, direction='min', passed=False)
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.errors import ConfigError
from rag.evaluation.overall import SCORE_NAMES


@dataclass(frozen=True)
class Check:
    score: str
    value: float | None
    bound: float
    direction: str  # "min" or "max"
    passed: bool


def load_thresholds(path: str | Path, backend: str) -> dict[str, Any]:
    """The thresholds of one backend, validated; ConfigError names what is wrong."""
    file = Path(path)
    try:
        table = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read the thresholds file {str(file)!r}: {exc}") from exc
    if not isinstance(table, dict) or backend not in table:
        known = ", ".join(table) if isinstance(table, dict) else "none"
        raise ConfigError(f"{str(file)!r} has no thresholds for backend {backend!r}; has: {known}")
    entry = table[backend]
    for direction in ("min", "max"):
        bounds = entry.get(direction, {})
        unknown = sorted(set(bounds) - set(SCORE_NAMES))
        if unknown:
            raise ConfigError(
                f"{str(file)!r}: unknown score(s) {unknown} for {backend!r}; "
                f"known: {', '.join(SCORE_NAMES)}"
            )
        if not all(isinstance(v, int | float) for v in bounds.values()):
            raise ConfigError(f"{str(file)!r}: {backend!r} {direction} bounds must be numbers")
    ids = entry.get("ids")
    if ids is not None and not _is_id_list(ids):
        raise ConfigError(
            f"{str(file)!r}: {backend!r} 'ids' must be a non-empty list of question ids "
            f'such as ["q001", "q008"], got {ids!r:.60}'
        )
    return dict(entry)


def _is_id_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(i, str) for i in value)


def check_gate(scores: Mapping[str, Any], thresholds: Mapping[str, Any]) -> list[Check]:
    """One check per bound; ``passed`` is True for a score the run could not measure."""
    checks = []
    for direction in ("min", "max"):
        for name, bound in thresholds.get(direction, {}).items():
            value = scores.get(name)
            if value is None:
                passed = True
            else:
                passed = value >= bound if direction == "min" else value <= bound
            checks.append(Check(name, value, float(bound), direction, passed))
    return checks


def gate_passed(checks: list[Check]) -> bool:
    return all(c.passed for c in checks)


def gate_summary(
    checks: list[Check], thresholds: Mapping[str, Any], questions: int, ran: Sequence[str] = ()
) -> str:
    """One line for the terminal: passed, FAILED with the scores below their bounds, or
    nothing to check (a placeholder entry); warns when the bounds came from another slice
    (other ``ids`` than the run's question ids ``ran``, or another question count)."""
    failed = [c for c in checks if not c.passed]
    if not checks:
        line = f"gate: nothing to check ({thresholds.get('note', 'no bounds')})"
    elif failed:
        line = "gate: FAILED (" + "; ".join(_describe(c) for c in failed) + ")"
    else:
        line = f"gate: passed ({len(checks)} checks)"
    listed, limit = thresholds.get("ids"), thresholds.get("limit")
    if listed is not None and ran:
        if set(listed) != set(ran):
            line += (
                f"; note: the bounds are for the {len(listed)} questions listed in 'ids', "
                f"this run had another set of {questions}"
            )
    elif limit is not None and limit != questions:
        line += f"; note: the bounds are for {limit} questions, this run had {questions}"
    return line


def _describe(check: Check) -> str:
    sign = "<" if check.direction == "min" else ">"
    return f"{check.score} {check.value:.3f} {sign} {check.bound:.2f}"
