"""The `rag` command as a user runs it: JSON shapes, one-line errors, exit codes."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, SEEDS


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RAG_BACKEND": "extractive"}
    return subprocess.run(
        [sys.executable, "-m", "rag.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=600,
    )


@pytest.fixture(scope="module")
def hash_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("cli") / "ix"
    done = run("index", str(SEEDS), "--index", str(directory), "--embedder", "hash:256", "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert set(summary) == {"files", "articles", "chunks", "skipped", "seconds"}
    assert (summary["files"], summary["articles"], summary["skipped"]) == (2, 5, 0)
    return directory


def test_search_json(hash_index: Path) -> None:
    done = run(
        "search",
        "Steve Witkoff posture and a pose",
        "--index",
        str(hash_index),
        "-k",
        "3",
        "--json",
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["question"] == "Steve Witkoff posture and a pose"
    assert [h["rank"] for h in out["hits"]] == [1, 2, 3]
    assert set(out["hits"][0]) == {
        "rank",
        "chunk_id",
        "article_id",
        "title",
        "source",
        "text",
        "score",
        "publisher",
        "published",
        "author",
        "url",
    }
    assert any("a posture and a pose" in h["text"] for h in out["hits"])


def test_ask_json_with_extractive(hash_index: Path) -> None:
    done = run(
        "ask",
        "What did Steve Witkoff call the coalition, a posture?",
        "--index",
        str(hash_index),
        "--backend",
        "extractive",
        "--json",
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert {"question", "answer", "abstained", "citations", "backend", "timings"} <= set(out)
    assert out["backend"] == "extractive" and not out["abstained"]
    assert "a posture and a pose" in out["answer"] and "[1]" in out["answer"]
    assert out["citations"][0]["n"] == 1 and "a posture and a pose" in out["citations"][0]["text"]


def test_ask_streams_and_lists_sources(hash_index: Path) -> None:
    done = run(
        "ask", "What did Steve Witkoff call the coalition, a posture?", "--index", str(hash_index)
    )
    assert done.returncode == 0, done.stderr
    assert "[1]" in done.stdout and "Sources:" in done.stdout and "The Week" not in done.stderr


def test_ask_verbose_prints_timings_and_no_progress_when_piped(hash_index: Path) -> None:
    question = "What did Steve Witkoff call the coalition, a posture?"
    done = run("-v", "ask", question, "--index", str(hash_index))
    assert done.returncode == 0, done.stderr
    [timings] = [line for line in done.stderr.splitlines() if line.startswith("timings: ")]
    assert "retrieval" in timings and "total" in timings
    assert "\r" not in done.stderr and "\x1b[K" not in done.stderr  # status lines: terminals only
    quiet = run("ask", question, "--index", str(hash_index))
    assert quiet.stderr == ""  # piped, without -v: the answer alone


@pytest.mark.slow
def test_no_third_party_progress_bar_on_a_search(tmp_path: Path) -> None:
    index = tmp_path / "ix"
    assert run("index", str(SEEDS), "--index", str(index), "--json").returncode == 0
    done = run("search", "drones", "--index", str(index), "-k", "1")
    assert done.returncode == 0, done.stderr
    assert "Loading weights" not in done.stderr and "it/s" not in done.stderr, done.stderr


def test_index_skips_bad_files_and_summarises(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "good.txt").write_text("A headline\n\nThe council approved the budget on Monday.")
    (corpus / "latin1.txt").write_bytes("Caf\xe9 au lait".encode("latin-1"))
    (corpus / "blob.txt").write_bytes(b"\x00\x01\x02binary")
    (corpus / "empty.txt").write_text("")
    done = run("index", str(corpus), "--index", str(tmp_path / "ix"), "--embedder", "hash:64")
    assert done.returncode == 0, done.stderr
    for name in ("latin1.txt", "blob.txt", "empty.txt"):
        assert name in done.stderr
    assert "1 articles" in done.stdout and "3 skipped" in done.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["search", "q", "--index", "/nonexistent/ix"], "no index at /nonexistent/ix"),
        (["index", "/nonexistent/corpus", "--index", "/tmp/x"], "/nonexistent/corpus"),
        (["index", "seeds", "--embedder", "nope"], "unknown embedder 'nope'"),
        (["index", "seeds", "--max-tokens", "4"], "max_tokens must be between"),
    ],
)
def test_errors_are_one_line_with_exit_code_2(args: list[str], message: str) -> None:
    done = run(*args)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and message in done.stderr
    assert "Traceback" not in done.stderr


def test_search_rejects_bad_k_cleanly(hash_index: Path) -> None:
    done = run("search", "q", "--index", str(hash_index), "-k", "0")
    assert done.returncode == 2 and "k must be between 1 and 1000, got 0" in done.stderr


def test_help_lists_every_command() -> None:
    done = run("--help")
    for command in ("index", "search", "ask", "chat", "eval"):
        assert command in done.stdout


# --- bad input (issue 14): every one a one-line `rag: error:`, exit code 2 -----------------


def assert_one_line_error(done: subprocess.CompletedProcess[str], message: str) -> None:
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("rag: error: ") and done.stderr.count("\n") == 1, done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr


@pytest.fixture(scope="module")
def afile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bad") / "afile"
    path.write_text("not a folder")
    return path


def free_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return str(sock.getsockname()[1])


@pytest.mark.parametrize(
    ("command", "under"), [("index", ""), ("index", "sub"), ("search", ""), ("chat", "sub")]
)
def test_an_index_path_that_is_a_file_is_a_user_error(
    afile: Path, command: str, under: str
) -> None:
    args = {"index": ["seeds", "--embedder", "hash:64"], "search": ["q"]}
    index = afile / under if under else afile
    done = run(command, *args.get(command, ["--port", free_port()]), "--index", str(index))
    assert_one_line_error(done, f"{afile} is not a folder" if under else "it is not a folder")


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write in a read-only folder")
@pytest.mark.parametrize("command", ["index", "chat"])
def test_a_read_only_index_folder_is_a_user_error(tmp_path: Path, command: str) -> None:
    folder = tmp_path / "ro"
    folder.mkdir(mode=0o555)
    args = ["seeds", "--embedder", "hash:64"] if command == "index" else ["--port", free_port()]
    done = run(command, *args, "--index", str(folder / "ix"))
    assert_one_line_error(done, f"no permission to use {folder}")


@pytest.mark.parametrize("dim", ["0", "-5", "x", "99999999"])
def test_a_bad_hash_dimension_is_a_user_error(tmp_path: Path, dim: str) -> None:
    done = run("index", "seeds", "--embedder", f"hash:{dim}", "--index", str(tmp_path / "ix"))
    assert_one_line_error(done, f"dimension from 1 to 65536, e.g. 'hash:64'; got '{dim}'")


@pytest.mark.parametrize(
    ("address", "message"),
    [
        (["--port", "70000"], "--port must be between 1 and 65535, got 70000"),
        (["--port", "-1"], "--port must be between 1 and 65535, got -1"),
        (["--host", "256.1.1.1"], "256.1.1.1:7860: not an address or host name"),
    ],
)
def test_a_bad_chat_address_is_a_user_error(
    hash_index: Path, address: list[str], message: str
) -> None:
    assert_one_line_error(run("chat", "--index", str(hash_index), *address), message)


def test_eval_out_that_is_a_file_is_a_user_error(hash_index: Path, afile: Path) -> None:
    done = run("eval", "--index", str(hash_index), "--backend", "extractive", "--out", str(afile),
               "--questions", str(ROOT / "eval" / "questions.jsonl"), "--limit", "1")  # fmt: skip
    assert_one_line_error(done, f"cannot use {afile} as the report folder: it is not a folder")


@pytest.mark.parametrize(
    ("question", "message"),
    [("\u0001\u001b\t\u0007", "line 2 (m2): the question is empty"),
     ("x" * 2001, "line 2 (m2): the question is 2,001 characters long")],
)  # fmt: skip
def test_an_eval_question_ask_would_refuse_names_its_line(
    hash_index: Path, tmp_path: Path, question: str, message: str
) -> None:
    good = {"id": "m1", "question": "Who?", "answerable": False}
    lines = [good, {"id": "m2", "question": question, "answerable": False}]
    (tmp_path / "q.jsonl").write_text("".join(json.dumps(q) + "\n" for q in lines))
    done = run("eval", "--questions", str(tmp_path / "q.jsonl"), "--index", str(hash_index),
               "--backend", "extractive", "--out", str(tmp_path / "out"))  # fmt: skip
    assert_one_line_error(done, message)


def test_eval_runs_the_minimal_documented_format(hash_index: Path, tmp_path: Path) -> None:
    """id, question, answerable, answers, evidence: no kind (it is "unspecified"), no article."""
    minimal = [
        {"id": "m1", "question": "What did Steve Witkoff call the coalition?",
         "answerable": True, "answers": ["a posture and a pose"],
         "evidence": 'Witkoff called the coalition "a posture and a pose"'},
        {"id": "m2", "question": "Who won the 2018 World Cup?", "answerable": False,
         "answers": [], "evidence": ""},
    ]  # fmt: skip
    (tmp_path / "q.jsonl").write_text("".join(json.dumps(q) + "\n" for q in minimal))
    done = run("eval", "--questions", str(tmp_path / "q.jsonl"), "--index", str(hash_index),
               "--backend", "extractive", "--out", str(tmp_path / "out"))  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert list(report["by_kind"]) == ["unspecified"]
    assert report["by_kind"]["unspecified"]["questions"] == 2


@pytest.mark.parametrize(
    ("question", "message"),
    [("x" * 120_000, "120,000 characters long; the limit is 2,000"),
     ("\u0001\u0002\u001b\u007f", "the question is empty")],
)  # fmt: skip
def test_search_checks_its_question_like_ask(hash_index: Path, question: str, message: str) -> None:
    for command in ("search", "ask"):
        assert_one_line_error(run(command, question, "--index", str(hash_index)), message)


ESCAPES = "\x1b[2J\x1b[H\x1b]0;pwned\x07\x1b]8;;http://evil/\x1b\\"


def test_escape_sequences_in_articles_never_reach_the_terminal(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    body = f"The council{ESCAPES} approved the budget on Monday.\x9b2J It was close."
    (corpus / "a.txt").write_text(f"Budget{ESCAPES} passes\n\n{body}\n", encoding="utf-8")
    index = str(tmp_path / "ix")
    assert run("index", str(corpus), "--index", index, "--embedder", "hash:64").returncode == 0
    for command in ("search", "ask"):
        done = run(command, "What did the council approve?", "--index", index)
        assert done.returncode == 0, done.stderr
        assert "budget" in done.stdout and "council" in done.stdout
        assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f]", done.stdout + done.stderr)
