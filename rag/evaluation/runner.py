"""``rag eval``: the question set through ``kb.ask``, scored, reported, gated, compared.

>>> # rag eval --index /tmp/evalidx --backend extractive --gate
>>> # settings = Settings(index="/tmp/evalidx", backend="extractive", progress=False)
>>> # run(rag.load(settings.index), settings).scores.correct
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tqdm import tqdm

from rag.answer.backends import backend_name
from rag.errors import ConfigError, InputError
from rag.evaluation import report as rep
from rag.evaluation.chart import draw_chart
from rag.evaluation.compare import compare, format_comparison, load_report
from rag.evaluation.gate import Check, check_gate, gate_passed, gate_summary, load_thresholds
from rag.evaluation.grade import QuestionResult, score_answer
from rag.evaluation.judge import Judge, make_judge
from rag.evaluation.overall import Scores, by_kind, overall
from rag.evaluation.records import Question, load_questions, select_ids
from rag.kb import KnowledgeBase
from rag.paths import check_folder


@dataclass(frozen=True)
class Settings:
    """What ``rag eval`` was asked to do (the argparse Namespace, typed and checked)."""

    questions: str = "eval/questions.jsonl"
    index: str = "index"
    store: str | None = None  # a store URL instead of the index folder (rag.index.store)
    backend: str = "extractive"
    k: int = 5
    out: str = "eval/reports"
    compare: str | None = None
    limit: int | None = None
    half: str | None = None  # "tune" (even ids) or "test" (odd ids); None: all
    ids: tuple[str, ...] | None = None  # only these questions; None: all (or the gate's ids)
    judge: str | None = None
    gate: bool = False
    thresholds: str | None = None  # default: thresholds.json beside the questions file
    progress: bool = True

    def __post_init__(self) -> None:
        if not 1 <= self.k <= 1000:
            raise InputError(f"-k must be between 1 and 1000, got {self.k}")
        if self.limit is not None and self.limit < 1:
            raise InputError(f"--limit must be 1 or more, got {self.limit}")
        if self.ids is not None and not self.ids:
            raise InputError("--ids needs at least one question id, e.g. --ids q001,q008")

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Settings:
        given = {k: v for k, v in vars(args).items() if k in cls.__dataclass_fields__}
        given["backend"] = backend_name(given.get("backend"))  # None: $RAG_BACKEND or local
        if isinstance(given.get("ids"), str):  # --ids q001,q008
            given["ids"] = tuple(i.strip() for i in given["ids"].split(",") if i.strip())
        return cls(**{k: v for k, v in given.items() if v is not None})

    @property
    def thresholds_file(self) -> Path:
        return Path(self.thresholds or Path(self.questions).with_name("thresholds.json"))


@dataclass
class Outcome:
    scores: Scores
    results: list[QuestionResult]
    checks: list[Check] = field(default_factory=list)
    thresholds: dict[str, Any] = field(default_factory=dict)  # this backend's entry, when gated
    comparison: list[str] = field(default_factory=list)
    out_dir: Path = Path()

    @property
    def exit_code(self) -> int:
        return 0 if gate_passed(self.checks) else 1


def main(args: argparse.Namespace) -> int:
    """The ``rag eval`` command: 0, or 1 when ``--gate`` finds a score below its threshold."""
    import rag

    settings = Settings.from_args(args)
    select(settings)  # a bad file, id or thresholds entry fails before the index loads
    outcome = run(rag.load(settings.index, store=settings.store), settings)
    return outcome.exit_code if settings.gate else 0


def select(settings: Settings) -> tuple[Settings, list[Question], dict[str, Any]]:
    """The settings as run, their questions and, with --gate, the backend's thresholds.

    With --gate and no --ids, --limit or --half, an entry that lists ``"ids"`` (the
    slice its bounds were measured on) runs exactly those questions, so the slice
    stays the same when questions are added to the file.
    """
    check_folder(settings.out, "report folder", write=True)  # not FileExistsError at the end
    thresholds: dict[str, Any] = {}
    if settings.gate:
        thresholds = load_thresholds(settings.thresholds_file, settings.backend)
    chosen = (settings.ids, settings.limit, settings.half) != (None, None, None)
    if chosen or "ids" not in thresholds:
        questions = load_questions(settings.questions, settings.limit, settings.half, settings.ids)
        return settings, questions, thresholds
    every = load_questions(settings.questions)
    try:
        questions = select_ids(every, thresholds["ids"], Path(settings.questions))
    except InputError as exc:
        where = f"{str(settings.thresholds_file)!r}, {settings.backend!r} 'ids'"
        raise ConfigError(f"{where}: {exc}") from exc
    return replace(settings, ids=tuple(thresholds["ids"])), questions, thresholds


def run(kb: KnowledgeBase, settings: Settings, judge: Judge | None = None) -> Outcome:
    """Evaluate, print the score table, write the report files; ``judge`` overrides --judge."""
    # Everything that can fail on a bad argument fails before the slow part.
    settings, questions, thresholds = select(settings)
    old = load_report(settings.compare) if settings.compare else None
    judge = judge if judge is not None else make_judge(kb, settings.judge)
    started = time.perf_counter()
    results = evaluate(kb, questions, settings.backend, settings.k, judge, settings.progress)
    scores = overall(results)
    outcome = Outcome(scores, results, check_gate(scores.as_dict(), thresholds), thresholds)
    report = build_report(kb, settings, outcome, time.perf_counter() - started, judge)
    if old is not None:
        outcome.comparison = format_comparison(compare(old, report))
    outcome.out_dir = write(Path(settings.out), report, outcome)
    show(outcome, settings)
    return outcome


def evaluate(
    kb: KnowledgeBase,
    questions: Sequence[Question],
    backend: str,
    k: int = 5,
    judge: Judge | None = None,
    progress: bool = False,
) -> list[QuestionResult]:
    """Ask every question through ``kb.ask`` (the chat's own path) and score the answers.

    The first question is asked once, untimed, before the run: models load on first
    use, and their loading time is not the latency of an answer.
    """
    if questions:
        kb.ask(questions[0].question, backend=backend, k=k)
    results = []
    for q in tqdm(questions, desc=f"eval {backend}", unit="q", disable=not progress):
        answer = kb.ask(q.question, history=list(q.history) or None, backend=backend, k=k)
        results.append(score_answer(q, answer, k, judge))
    return results


def build_report(
    kb: KnowledgeBase, settings: Settings, outcome: Outcome, seconds: float, judge: Judge | None
) -> dict[str, Any]:
    meta = {
        **asdict(settings),
        "judge": judge.name if judge else None,
        "thresholds": str(settings.thresholds_file) if settings.gate else None,
        "store": kb.store.location if kb.store_kind != "faiss" else None,  # no password
        "embedder": kb.embedder.name,
        "questions_run": len(outcome.results),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "seconds": round(seconds, 1),
    }
    meta.pop("progress")
    return {
        "settings": meta,
        "scores": rep.score_table(outcome.scores, outcome.results),
        "by_kind": rep.kind_table(by_kind(outcome.results), outcome.results),
        "gate": [asdict(c) for c in outcome.checks],
        "questions": [rep.question_record(r) for r in outcome.results],
    }


def write(out_dir: Path, report: dict[str, Any], outcome: Outcome) -> Path:
    md = rep.markdown(report, outcome.checks, outcome.comparison)
    rep.write_files(out_dir, report, md)
    title = f"{report['settings']['backend']}: {len(outcome.results)} questions"
    bounds = {c.score: c.bound for c in outcome.checks}
    draw_chart(report["scores"], title, out_dir / "chart.png", bounds)
    return out_dir


def show(outcome: Outcome, settings: Settings) -> None:
    rows = rep.score_rows(rep.score_table(outcome.scores, outcome.results), outcome.checks)
    print("\n".join(rep.text_table(("score", "value", "gate"), rows)))
    if outcome.comparison:
        print("\n" + "\n".join(outcome.comparison))
    failed = sum(bool(r.failures) for r in outcome.results)
    print(
        f"\n{failed} of {len(outcome.results)} questions failed (see failures.txt); "
        f"report in {outcome.out_dir}: report.md, report.json, chart.png"
    )
    if settings.gate:
        ran = [r.id for r in outcome.results]
        print(gate_summary(outcome.checks, outcome.thresholds, len(outcome.results), ran))
