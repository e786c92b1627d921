"""The exact-quote support rule, its scores beside the word-overlap rule's, the agreement
figures, and re-scoring a saved report (rag.evaluation.quotes, rag.evaluation.requote)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from rag.errors import InputError
from rag.evaluation import metrics
from rag.evaluation import report as rep
from rag.evaluation.calibrate import bounds_from
from rag.evaluation.gate import check_gate, load_thresholds
from rag.evaluation.grade import score_answer
from rag.evaluation.judge import LLMJudge
from rag.evaluation.overall import RATES, SHARES, overall
from rag.evaluation.quotes import key_facts, quote_supports, quoted_share
from rag.evaluation.requote import chunk_texts, main, requote
from rag.evaluation.runner import Settings, run
from rag.evaluation.support import ClaimScore, supports
from rag.kb import KnowledgeBase
from rag.llm.base import Message
from rag.llm.scripted import ScriptedLLM
from rag.text.sentences import split_sentences
from rag.types import Answer, Citation, Hit

from conftest import ESPER, OTHER, RIGHT

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = ROOT / "eval" / "questions.jsonl"
QUOTE_SCORES = ("quote_recall", "quote_precision", "rule_agreement", "judge_quote_agreement")

QUOTED = "Mark Esper admitted “the road ahead won’t be easy” [1]."
WRONG_NUMBER = "Drones struck 12 oil refineries deep inside Russia on Tuesday night [2]."
PARAPHRASE = "Unmanned aircraft hit a fuel plant far within Russian territory [2]."


def answer(text: str, cited: Sequence[Hit]) -> Answer:
    citations = [Citation(n, h) for n, h in enumerate(cited, 1)]
    return Answer("q", text, citations, False, list(cited), "test")


# ---------------------------------------------------------------- the rule


def test_a_quotation_is_supported_whatever_its_quote_marks_and_markers() -> None:
    assert quote_supports(QUOTED, [RIGHT.text])
    assert quote_supports('Mark Esper admitted "the road ahead won\'t be easy".', [RIGHT.text])
    assert quote_supports("His defense secretary Mark Esper admitted it [1][2].", [RIGHT.text])
    assert not quote_supports(QUOTED, [])  # nothing cited, nothing quoted
    assert not quote_supports(QUOTED, [OTHER.text])


def test_a_wrong_number_fails_although_every_other_word_matches() -> None:
    assert quoted_share(WRONG_NUMBER, [OTHER.text]) >= 0.5  # the words are there, in order
    assert key_facts(WRONG_NUMBER) == ["drones", "12", "russia", "tuesday"]
    assert not quote_supports(WRONG_NUMBER, [OTHER.text])
    assert supports(WRONG_NUMBER, [OTHER.text], ESPER)  # the word-overlap rule lets it pass
    passage = "Officials said 2,400 troops were sent."
    assert quote_supports("Officials said 2400 troops were sent.", [passage])
    assert not quote_supports("Officials said 10,000 troops were sent.", [passage])


def test_a_wrong_name_fails_but_openers_and_titles_are_not_names() -> None:
    assert not quote_supports("Lloyd Austin admitted the road ahead won't be easy.", [RIGHT.text])
    assert key_facts("Yes, according to Mr Esper, Russia’s drones flew [1].") == ["esper", "russia"]
    assert key_facts("1. Poland spends 4.7% of GDP") == ["poland", "47%", "gdp"]  # not "1"
    assert quote_supports("Yes, Esper admitted the road ahead won't be easy.", [RIGHT.text])


def test_a_true_paraphrase_fails_the_strict_rule() -> None:
    assert quoted_share(PARAPHRASE, [OTHER.text]) == 0.0
    assert not quote_supports(PARAPHRASE, [OTHER.text])
    passage = "Each aircraft looked like a giant, grey metal mosquito."
    assert not quote_supports("The unmanned planes resembled a huge grey mosquito.", [passage])


def test_word_order_counts_inside_a_run_not_between_clauses() -> None:
    passage = "Steve Witkoff called the coalition “a posture and a pose”."
    assert quoted_share("The coalition called Witkoff a pose.", [passage]) == 0.0
    assert quoted_share("A posture and a pose, Witkoff called the coalition.", [passage]) == 1.0
    # every word occurs, so the word-overlap rule passes it; no two are in the passage's order
    assert supports("Pose coalition called Witkoff.", [passage], ESPER)
    assert not quote_supports("Pose coalition called Witkoff.", [passage])


def test_runs_do_not_cross_from_one_passage_into_the_next() -> None:
    claim = "Alpha bravo charlie delta echo."
    assert quoted_share(claim, ["x alpha bravo charlie delta echo y"]) == 1.0
    assert quoted_share(claim, ["x alpha bravo charlie", "delta echo y"]) == 1.0  # two runs
    assert quoted_share(claim, ["x alpha", "bravo y", "charlie", "delta echo"]) == pytest.approx(
        0.4
    )  # only "delta echo" is a run of two; single words are not quotations
    assert quoted_share("Doha [1].", [RIGHT.text]) == 1.0  # one content word is its own run


# ---------------------------------------------------------------- scores and agreement


def test_quote_precision_and_recall_are_averaged_per_answer_then_over_answers() -> None:
    text = f"{QUOTED[:-5]} [1][2]. {WRONG_NUMBER}"
    a = score_answer(ESPER, answer(text, [RIGHT, OTHER]), 5)
    assert [c.quote_support for c in a.claims] == [[True, False], [False]]
    assert [c.quote_supported for c in a.claims] == [True, False]
    assert (a.quote_recall, a.quote_precision) == (0.5, pytest.approx(1 / 3))
    assert (a.citation_recall, a.citation_precision) == (1.0, pytest.approx(2 / 3))
    b = score_answer(
        ESPER, answer("Drones struck an oil refinery deep inside Russia [1].", [OTHER]), 5
    )
    assert (b.quote_recall, b.quote_precision) == (1.0, 1.0)
    refused = Answer("q", "The articles do not say.", [], True, [], "test")
    c = score_answer(ESPER, refused, 5)
    assert (c.quote_recall, c.quote_precision) == (None, None)
    s = overall([a, b, c])
    assert s.quote_recall == 0.75 and s.quote_precision == pytest.approx(2 / 3)
    assert s.rule_agreement == pytest.approx(2 / 3)  # the wrong-number claim splits them
    assert s.judge_quote_agreement is None  # no judge ran


def claim(supported: bool, quoted: bool, judge: bool | None, cited: bool = True) -> ClaimScore:
    ids = ["a:1"] if cited else []
    return ClaimScore(
        "x", [1] if cited else [], ids, supported, judge=judge, quote_supported=quoted
    )


def test_rule_agreement_counts_cited_claims_and_judge_agreement_each_rule() -> None:
    claims = [
        claim(True, True, True),
        claim(True, False, False),
        claim(False, False, True),
        claim(False, False, None, cited=False),  # both rules say no by definition: left out
    ]
    assert metrics.rule_agreement(claims) == (2, 3)
    assert metrics.agreement(claims) == (1, 3)  # the judge and the word-overlap rule
    assert metrics.agreement(claims, quote=True) == (2, 3)  # the judge and the quote rule
    assert metrics.rule_agreement([]) == (0, 0)


def test_the_scripted_judge_is_compared_with_both_rules() -> None:
    def verdict(messages: Sequence[Message]) -> str:  # believes the paraphrase, not the "12"
        return "no" if "12 oil" in messages[-1].content else "yes"

    judge = LLMJudge(ScriptedLLM(verdict))
    text = f"{QUOTED} {WRONG_NUMBER} {PARAPHRASE}"
    result = score_answer(ESPER, answer(text, [RIGHT, OTHER]), 5, judge)
    assert [(c.supported, c.quote_supported, c.judge) for c in result.claims] == [
        (True, True, True),
        (True, False, False),
        (False, False, True),
    ]
    s = overall([result])
    assert s.rule_agreement == pytest.approx(2 / 3)
    assert s.judge_agreement == pytest.approx(1 / 3)
    assert s.judge_quote_agreement == pytest.approx(2 / 3)


def test_the_quote_scores_have_no_gate_bound_and_the_gate_tolerates_that() -> None:
    s = overall([score_answer(ESPER, answer(QUOTED, [RIGHT]), 5)]).as_dict()
    assert all(s[name] is not None for name in QUOTE_SCORES[:3])
    checks = check_gate(s, {"min": {"citation_recall": 0.9}})
    assert [c.score for c in checks] == ["citation_recall"] and checks[0].passed
    rows = {name: gate for name, _, gate in rep.score_rows(s, checks)}
    assert rows["citation_recall"] == ">= 0.90 ok" and rows["quote_recall"] == ""
    bounds = bounds_from(s)
    assert "citation_recall" in bounds["min"]
    assert not set(QUOTE_SCORES) & (bounds["min"].keys() | bounds["max"].keys())
    assert set(QUOTE_SCORES) <= set(SHARES) and not set(QUOTE_SCORES[:3]) & set(RATES)
    for backend in ("extractive", "local"):  # not in eval/thresholds.json yet
        entry = load_thresholds(ROOT / "eval" / "thresholds.json", backend)
        assert not set(QUOTE_SCORES) & (entry["min"].keys() | entry.get("max", {}).keys())


def test_a_run_reports_the_quote_scores_in_every_file(
    hash_kb: KnowledgeBase, tmp_path: Path
) -> None:
    settings = Settings(questions=str(QUESTIONS), out=str(tmp_path), limit=8, progress=False)
    outcome = run(hash_kb, settings, judge=LLMJudge(ScriptedLLM("yes")))
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert all(report["scores"][name] is not None for name in QUOTE_SCORES)
    claims = [c for q in report["questions"] for c in q["claims"]]
    assert claims and all({"quote_supported", "quote_support"} <= c.keys() for c in claims)
    assert any(q["quote_recall"] is not None for q in report["questions"])
    md = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "| word overlap | exact quote | judge |" in md and "| quote_precision |" in md
    assert "The two rules agree on" in md and outcome.checks == []


# ---------------------------------------------------------------- re-scoring a saved report


def saved_report() -> dict[str, object]:
    """Two answers as an older rag eval saved them: no exact-quote fields anywhere."""
    text = f"{QUOTED[:-5]} [1][2]. {WRONG_NUMBER}"
    results = [
        score_answer(ESPER, answer(text, [RIGHT, OTHER]), 5),
        score_answer(ESPER, answer("Drones struck an oil refinery [1].", [OTHER]), 5),
    ]
    records = [rep.question_record(r) for r in results]
    for record in records:
        del record["quote_recall"], record["quote_precision"]
        for c in record["claims"]:
            del c["quote_supported"], c["quote_support"]
    scores = {
        k: v for k, v in rep.score_table(overall(results), results).items() if "quote" not in k
    }
    return {"settings": {"backend": "local"}, "scores": scores, "questions": records}


def test_requote_rescores_the_claims_of_a_saved_report() -> None:
    old = saved_report()
    new = requote(old, {RIGHT.chunk_id: RIGHT.text, OTHER.chunk_id: OTHER.text})
    first = new["questions"][0]
    assert [c["quote_support"] for c in first["claims"]] == [[True, False], [False]]
    assert (first["quote_recall"], first["quote_precision"]) == (0.5, pytest.approx(1 / 3))
    assert new["scores"]["quote_recall"] == 0.75
    assert new["scores"]["quote_precision"] == pytest.approx(2 / 3)
    assert new["scores"]["rule_agreement"] == pytest.approx(2 / 3)
    assert new["scores"]["citation_precision"] == old["scores"]["citation_precision"]  # type: ignore[index]
    assert new["settings"] == old["settings"] and "quote_recall" not in old["scores"]  # type: ignore[operator]
    with pytest.raises(InputError, match=r"lacks 1 chunk\(s\) the report cites \(a:2\)"):
        requote(old, {RIGHT.chunk_id: RIGHT.text})


def test_requote_main_reads_chunk_texts_from_the_index(
    hash_kb: KnowledgeBase, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    texts = chunk_texts(hash_kb.index_dir)
    chunk_id, text = next(iter(texts.items()))
    quoted = Hit(chunk_id, "a", "T", "x.txt", text, 0, len(text), 1.0)
    sentence = next(s for s in split_sentences(text) if len(s.split()) >= 4)
    result = score_answer(ESPER, answer(f"{sentence} [1]", [quoted]), 5)
    path = tmp_path / "report.json"
    report = {
        "settings": {"backend": "local"},
        "scores": {},
        "questions": [rep.question_record(result)],
    }
    path.write_text(json.dumps(report), encoding="utf-8")
    out = tmp_path / "requoted.json"
    assert main([str(path), "--index", str(hash_kb.index_dir), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "quote_recall           n/a    1.000" in printed
    assert json.loads(out.read_text(encoding="utf-8"))["scores"]["quote_precision"] == 1.0
    report["questions"][0]["claims"][0]["chunk_ids"] = ["nowhere:0"]  # type: ignore[index]
    path.write_text(json.dumps(report), encoding="utf-8")
    assert main([str(path), "--index", str(hash_kb.index_dir)]) == 2
    assert "rescore with the index the run used" in capsys.readouterr().err
