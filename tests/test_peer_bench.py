"""bench/peer.py's and bench/peer_systems.py's pure parts: no LlamaIndex, no model, no index."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from rag.evaluation.records import Question

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def peer():
    spec = importlib.util.spec_from_file_location("bench_peer", ROOT / "bench" / "peer.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    sys.path.insert(0, str(ROOT / "bench"))  # as when it runs as a script: peer_systems beside it
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules[spec.name]
        sys.path.remove(str(ROOT / "bench"))


@pytest.fixture(scope="module")
def systems(peer):
    return sys.modules["peer_systems"]


def answerable(qid: str = "q002") -> Question:
    return Question(qid, "Who?", True, "factual", answers=("Mark Esper",), evidence="Mark Esper")


def unanswerable(qid: str = "q170") -> Question:
    return Question(qid, "What is the population of Kabul?", False, "unanswerable_absent")


def test_chatml_is_what_the_qwen_gguf_template_renders(systems):
    # Rendered by the bundled GGUF's own chat template (llama_cpp Jinja2ChatFormatter).
    assert systems.completion_to_prompt("QQQ") == (
        "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful "
        "assistant.<|im_end|>\n<|im_start|>user\nQQQ<|im_end|>\n<|im_start|>assistant\n"
    )

    class Role:
        def __init__(self, value: str) -> None:
            self.value = value

    class Msg:
        def __init__(self, role: str, content: str) -> None:
            self.role, self.content = Role(role), content

    turns = [Msg("system", "SSS"), Msg("user", "QQQ"), Msg("assistant", "AAA"), Msg("user", "Q2")]
    assert systems.messages_to_prompt(turns) == (
        "<|im_start|>system\nSSS<|im_end|>\n<|im_start|>user\nQQQ<|im_end|>\n"
        "<|im_start|>assistant\nAAA<|im_end|>\n<|im_start|>user\nQ2<|im_end|>\n"
        "<|im_start|>assistant\n"
    )


def test_stream_timed_counts_to_the_first_visible_piece(systems):
    ticks = iter([10.0, 13.0, 20.0])  # asking, the first visible piece, the end
    final = object()
    text, last, ttft, total = systems.stream_timed(
        lambda: iter(["", " ", "Mark", " Esper", final]), clock=lambda: next(ticks)
    )
    assert (text, last, ttft, total) == (" Mark Esper", final, 3.0, 10.0)


def test_stream_timed_without_visible_text_counts_the_whole_time(systems):
    ticks = iter([0.0, 4.0])
    assert systems.stream_timed(lambda: iter(["", "  "]), clock=lambda: next(ticks))[2:] == (
        4.0,
        4.0,
    )


def test_score_uses_the_eval_rules(peer):
    right = peer.score(answerable(), "llamaindex", True, ("It was Mark Esper.", False, 1.0, 2.0))
    wrong = peer.score(answerable(), "llamaindex", False, ("It was Carter.", False, 1.0, 2.0))
    refused = peer.score(answerable(), "rag-news", True, ("Mark Esper?", True, 1.0, 2.0))
    assert (right.correct, wrong.correct, refused.correct) == (True, False, False)
    caught = peer.score(unanswerable(), "rag-news", True, ("The articles do not say.", True, 1, 1))
    assert caught.correct is None and caught.refused


def test_a_failed_answer_is_wrong_and_untimed(peer):
    row = peer.score(answerable(), "rag-news", True, RuntimeError("llama.cpp\nfailed"))
    assert (row.correct, row.refused, row.ttft, row.error) == (
        False,
        False,
        None,
        "RuntimeError: llama.cpp failed",
    )


def rows(peer, system: str, ttfts: list[float]) -> list:
    replies = [
        (answerable("q002"), ("Mark Esper", False)),
        (answerable("q004"), ("Carter", False)),
        (answerable("q006"), ("", True)),  # a false refusal
        (unanswerable("q170"), ("The articles do not say.", True)),
        (unanswerable("q172"), ("About 4 million.", False)),
    ]
    return [
        peer.score(q, system, n % 2 == 0, (text, refused, ttft, ttft + 1.0))
        for n, ((q, (text, refused)), ttft) in enumerate(zip(replies, ttfts, strict=True))
    ]


def test_summary_counts_and_percentiles(peer):
    summary = peer.summarise(rows(peer, "rag-news", [1.0, 2.0, 3.0, 4.0, 5.0]), "rag-news")
    assert (summary.answerable, summary.correct, summary.false_refusals) == (3, 1, 1)
    assert (summary.unanswerable, summary.refused_unanswerable, summary.errors) == (2, 1, 0)
    assert summary.ttft_p50 == 3.0
    assert summary.ttft_p95 == pytest.approx(4.8)  # linear between ranks, as rag eval
    assert summary.total_p50 == 4.0


def test_table_has_one_row_per_system_and_the_ttft_ratio(peer):
    all_rows = rows(peer, "rag-news", [1.0, 2.0, 2.0, 4.0, 5.0]) + rows(
        peer, "llamaindex", [6.0, 6.0, 6.0, 7.0, 9.0]
    )
    table = peer.format_table([peer.summarise(all_rows, s) for s in ("rag-news", "llamaindex")])
    lines = table.splitlines()
    assert lines[0].startswith("| system") and "TTFT p50" in lines[0] and "total p50" in lines[0]
    assert set(lines[1]) == {"|", "-"}
    assert lines[2].split("|")[1:4] == [
        " rag-news   ",
        " 1/3 (33%)            ",
        " 1/3 (33%)      ",
    ]
    assert "1/2 (50%)" in lines[2] and "2.00 s" in lines[2] and "6.00 s" in lines[3]
    assert lines[-1] == "TTFT p50 ratio llamaindex / rag-news: 3.00x (6.00 s / 2.00 s)"
    assert len({len(line) for line in lines[:4]}) == 1  # the columns line up


def test_ratio_is_na_without_times(peer):
    empty = [peer.summarise([], "rag-news"), peer.summarise([], "llamaindex")]
    assert peer.ttft_ratio(empty).endswith("n/a (no time to first token for both systems)")
    assert "0/0 (n/a)" in peer.format_table(empty)


def test_questions_leave_out_follow_ups_then_spread(peer, tmp_path):
    lines = [
        {"id": f"q{n:03d}", "question": f"Q{n}?", "answerable": True, "kind": "factual",
         "answers": ["a"], "evidence": "a"}
        for n in range(10)
    ]  # fmt: skip
    lines[3] = {**lines[3], "kind": "followup", "history": [{"role": "user", "content": "Hi"}]}
    path = tmp_path / "q.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines))
    picked, left_out = peer.pick_questions(str(path), 3, None)
    assert left_out == 1 and [q.id for q in picked] == ["q000", "q004", "q007"]
    tune, _ = peer.pick_questions(str(path), None, "tune")
    assert [q.id for q in tune] == ["q000", "q002", "q004", "q006", "q008"]
    with pytest.raises(peer.InputError, match="--limit must be 1 or more, got 0"):
        peer.pick_questions(str(path), 0, None)


def test_turns_alternate_who_goes_first(peer):
    assert [peer.turn_order(["a", "b"], n)[0] for n in range(4)] == ["a", "b", "a", "b"]


def test_missing_extra_is_one_line_with_the_install_command(peer, systems, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "llama_index.core", None)  # importing it raises ImportError
    with pytest.raises(systems.MissingExtra, match=r"pip install -e '\.\[bench\]'"):
        systems.import_llamaindex()
    assert peer.main(["--limit", "1", "--out", "/nonexistent/peer.json"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: the bench extra is not installed: pip install -e '.[bench]'")
    assert "Traceback" not in err and len(err.splitlines()) == 1
