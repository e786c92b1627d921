"""The `rag` command as a user runs it: JSON shapes, one-line errors, exit codes."""

from __future__ import annotations

import json
import os
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
