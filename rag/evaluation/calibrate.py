"""Write a backend's gate bounds into eval/thresholds.json from a report.json.

The bounds are the scores the run reached: a ``min`` score rounded down and a ``max``
rate rounded up, to 2 decimals, so the run that measured them passes and a
regression fails. Example::

    rag index seeds --index /tmp/evalidx
    rag eval --index /tmp/evalidx --backend extractive --out /tmp/eval
    python -m rag.evaluation.calibrate /tmp/eval/report.json   # updates eval/thresholds.json

>>> bounds_from({"correct": 0.5625, "mrr": None, "false_refusal_rate": 0.3958})
{'min': {'correct': 0.56}, 'max': {'false_refusal_rate': 0.4}}
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rag.errors import ConfigError, RagError
from rag.evaluation.compare import load_report
from rag.evaluation.overall import LOWER_IS_BETTER, RATES

GATED = tuple(name for name in RATES if not name.startswith("judge"))  # the judge is optional


def bounds_from(scores: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """The measured scores as bounds; scores the run could not measure are left out."""
    bounds: dict[str, dict[str, float]] = {"min": {}, "max": {}}
    for name in GATED:
        value = scores.get(name)
        if value is None:
            continue
        hundredths = round(value * 100, 6)  # 0.58 * 100 is 57.99999999999999
        if name in LOWER_IS_BETTER:
            bounds["max"][name] = math.ceil(hundredths) / 100
        else:
            bounds["min"][name] = math.floor(hundredths) / 100
    return bounds


def calibrate(report_file: str | Path, thresholds_file: str | Path) -> dict[str, Any]:
    """Replace the entry of the report's backend in the thresholds file; returns the entry."""
    report = load_report(report_file)
    settings = report["settings"]
    file = Path(thresholds_file)
    try:
        table = json.loads(file.read_text(encoding="utf-8")) if file.exists() else {}
    except json.JSONDecodeError as exc:
        raise ConfigError(f"the thresholds file {str(file)!r} is not valid JSON: {exc}") from exc
    entry: dict[str, Any] = {
        "note": f"measured on {settings.get('date', '?')}: rag eval --backend "
        f"{settings['backend']} over {settings.get('questions_run', '?')} questions of "
        f"{settings.get('questions')}, index {settings.get('index')} "
        f"({settings.get('embedder')}); min rounded down, max rounded up, to 2 decimals",
        **bounds_from(report["scores"]),
    }
    if settings.get("limit"):
        entry["limit"] = settings["limit"]
    if settings.get("ids"):  # the run's questions by id: the gate must run the same ones
        entry["ids"] = list(settings["ids"])
    table[settings["backend"]] = entry
    file.write_text(json.dumps(table, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return entry


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rag.evaluation.calibrate")
    parser.add_argument("report", help="a report.json written by rag eval")
    parser.add_argument("--thresholds", default="eval/thresholds.json")
    args = parser.parse_args(argv)
    try:
        entry = calibrate(args.report, args.thresholds)
    except RagError as exc:
        print(f"calibrate: error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(entry, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
